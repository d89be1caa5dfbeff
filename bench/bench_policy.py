"""The policy step's evaluation vs `conftest test` by hand, on the same files (issue 28).

500 Kubernetes objects and a 50-resource Terraform plan against 20 rules (deny and warn, Kubernetes and plan):
- ours: policy_check's module_utils (what the module runs: one `opa capabilities` and one `opa eval` with every
  document as input, sandboxed);
- conftest: `conftest test` on the manifests file and the plan JSON, one process.
The step may cost no more than conftest plus one process (its `opa capabilities`).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from bench.harness import REPO, compare, run_command

sys.path.insert(0, str(REPO / "tools"))
sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]

from testbed import tool  # noqa: E402

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.policy.request import PolicyRequest, run  # noqa: E402


def _rules():
    """20 rules: 15 on Kubernetes objects, 5 on the plan."""
    rules = []
    for index in range(15):
        kind = "deny" if index % 3 else "warn"
        rules.append(f"{kind} contains msg if {{\n    input.kind == \"Deployment\"\n"
                     f"    some c in input.spec.template.spec.containers\n"
                     f"    not c.env[{index}]\n    input.metadata.labels.rule == \"r{index}\"\n"
                     f"    msg := sprintf(\"%s: rule {index}\", [input.metadata.name])\n}}\n")
    for index in range(5):
        rules.append(f"deny contains msg if {{\n    some change in input.resource_changes\n"
                     f"    change.type == \"forbidden_{index}\"\n"
                     f"    msg := sprintf(\"%s: forbidden\", [change.address])\n}}\n")
    return "package main\n\n" + "\n".join(rules)


def _objects(count):
    return [{"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": f"app-{index}", "namespace": "bench", "labels": {"rule": f"r{index % 20}"}},
             "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}}
            for index in range(count)]


def _plan(count):
    return {"format_version": "1.2", "resource_changes": [
        {"address": f"terraform_data.r{index}", "type": "terraform_data" if index % 10 else "forbidden_0",
         "name": f"r{index}", "mode": "managed",
         "change": {"actions": ["create"], "before": None, "after": {"input": str(index)}}} for index in range(count)]}


def main():
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "policy").mkdir()
        (root / "policy" / "rules.rego").write_text(_rules())
        objects, plan = _objects(500), _plan(50)
        (root / "manifests.yaml").write_text(yaml.safe_dump_all(objects))
        (root / "plan.json").write_text(json.dumps(plan))
        request = PolicyRequest(repository_root=str(root), policy_dirs=("policy",), operator_dirs=(),
                                objects=tuple({"source": "manifests.yaml", "object": o} for o in objects), plan=plan,
                                environment={"name": "bench", "dir": "bench", "settings": {}}, binary=tool("opa"),
                                rego_version="v1")
        result = run(request, CommandRunner())
        print(f"ours: {len(result['denials'])} denials, {len(result['warned'])} warnings")

        def conftest():
            run_command([tool("conftest"), "test", "--no-color", "--policy", "policy", "manifests.yaml", "plan.json"],
                        cwd=root, check=False)

        compare("policy: 500 objects + a 50-resource plan, 20 rules",
                {"ours (policy_check)": lambda: run(request, CommandRunner()), "conftest test": conftest,
                 "opa capabilities (the extra process)": lambda: run_command([tool("opa"), "capabilities",
                                                                              "--current"])})
