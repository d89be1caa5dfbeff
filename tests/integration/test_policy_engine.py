"""The policy step's engine with the real opa (issue 28): conftest's verdicts on the same files, the sandbox, secrets.

Oracle: ``conftest test`` (the same pinned OPA) on the same manifests and plan JSON must give exactly the messages
our one ``opa eval`` gives; policies are written in the style of conftest's popular examples (Kubernetes, Terraform
plan), in Rego v1 and v0. Attacks: a policy that calls ``http.send`` at a spy server (which must see nothing), reads
the environment with ``opa.runtime``, or is a symlink out of the repository; a repository policy that tries to
switch off an operator's rule; a Secret whose value is a canary that must reach neither the input nor any output.
"""

import json
import os
import subprocess
import uuid

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.policy.engine import excepted_name
from ansible_collections.trident.gitops.plugins.module_utils.policy.request import PolicyRequest, run
from testbed import tool
from testbed.spy import Spy

# In the style of conftest's examples/kubernetes (deployment.rego): a Deployment's containers must not run as root,
# must set resource limits, and should carry an app label.
K8S_POLICY = """\
package main

deny contains msg if {
    input.kind == "Deployment"
    not input.spec.template.spec.securityContext.runAsNonRoot
    msg := "Containers must not run as root"
}

deny contains msg if {
    input.kind == "Deployment"
    some container in input.spec.template.spec.containers
    not container.resources.limits
    msg := sprintf("Deployment %s: container %s has no resource limits", [input.metadata.name, container.name])
}

warn contains msg if {
    input.kind == "Deployment"
    not input.metadata.labels.app
    msg := sprintf("Deployment %s should have an app label", [input.metadata.name])
}
"""
# The same in Rego v0 (conftest's older examples), in another namespace conftest would be asked for.
K8S_POLICY_V0 = """\
package main

deny[msg] {
    input.kind == "Service"
    input.spec.type == "NodePort"
    msg := sprintf("Service %s: NodePort is not allowed", [input.metadata.name])
}

violation[{"msg": msg}] {
    input.kind == "Deployment"
    image := input.spec.template.spec.containers[_].image
    endswith(image, ":latest")
    msg := sprintf("image %s uses the latest tag", [image])
}
"""
# In the style of conftest's examples/terraform (a plan's resource_changes): forbidden resource types, and too
# many deletions.
TF_POLICY = """\
package main

forbidden := {"null_resource", "terraform_data"}

deny contains msg if {
    some change in input.resource_changes
    change.type in forbidden
    "create" in change.change.actions
    msg := sprintf("%s: resource type %s is not allowed", [change.address, change.type])
}

warn_deletes contains msg if {
    deletes := [c | some c in input.resource_changes; "delete" in c.change.actions]
    count(deletes) > 0
    msg := sprintf("%d resources are deleted", [count(deletes)])
}
"""


def deployment(name, limits=True, root=False, image="registry.invalid/app:1", labels=None):
    container = {"name": "app", "image": image}
    if limits:
        container["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    spec = {"containers": [container]}
    if not root:
        spec["securityContext"] = {"runAsNonRoot": True}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "web", **({"labels": labels} if labels else {})},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"spec": spec}}}


def service(name, kind="ClusterIP"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "web"},
            "spec": {"type": kind, "ports": [{"port": 80}]}}


def plan(*changes):
    return {"format_version": "1.2", "terraform_version": "1.11.4",
            "resource_changes": [{"address": f"{kind}.{name}", "mode": "managed", "type": kind, "name": name,
                                  "change": {"actions": actions, "before": None, "after": {"input": "x"},
                                             "after_unknown": {}, "before_sensitive": False,
                                             "after_sensitive": {}}}
                                 for kind, name, actions in changes]}


def repository(tmp_path, files):
    root = tmp_path / "repo"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "environments" / "prod").mkdir(parents=True, exist_ok=True)
    return root


def check(root, objects=(), plan_document=None, operator_dirs=(), rego_version="v1", dirs=("policy",)):
    request = PolicyRequest(repository_root=str(root), policy_dirs=tuple(dirs), operator_dirs=tuple(operator_dirs),
                            objects=tuple({"source": "environments/prod/yaml/app.yaml", "object": o}
                                          for o in objects),
                            plan=plan_document, environment={"name": "prod", "dir": "environments/prod",
                                                             "settings": {"namespace": "web"}},
                            binary=tool("opa"), rego_version=rego_version)
    return run(request, CommandRunner())


def conftest(root, documents, rego_version="v1"):
    """``conftest test`` on each document written as a file: {(file index, failures|warnings|exceptions):
    [messages]} (an exception's message is conftest's query naming the excepted name)."""
    found = {}
    for index, document in enumerate(documents):
        path = root / f"input-{index}.{'json' if 'resource_changes' in document else 'yaml'}"
        path.write_text(json.dumps(document) if path.suffix == ".json" else yaml.safe_dump(document))
        proc = subprocess.run([tool("conftest"), "test", "--no-color", "--output", "json", "--all-namespaces",
                               "--rego-version", rego_version, "--policy", "policy", path.name],
                              cwd=root, capture_output=True, text=True, check=False)
        assert proc.returncode in (0, 1, 2), proc.stderr
        for result in json.loads(proc.stdout):
            for key in ("failures", "warnings", "exceptions"):
                for entry in result.get(key) or []:
                    found.setdefault((index, key), []).append(entry["msg"])
        path.unlink()
    return {key: sorted(value) for key, value in found.items()}


def ours(result, documents):
    """Our verdicts keyed like :func:`conftest`'s (by the document the subject names)."""
    found = {}
    subjects = [f"{d['kind']} {d['metadata']['namespace']}/{d['metadata']['name']}" if "kind" in d
                else "Terraform plan" for d in documents]
    addresses = [[c["address"] for c in d.get("resource_changes", [])] for d in documents]
    for key, entries in (("failures", result["denials"]), ("warnings", result["warned"]),
                         ("exceptions", result["excepted"])):
        for entry in entries:
            index = next(i for i, s in enumerate(subjects) if entry["subject"] == s or entry["subject"] in addresses[i])
            message = entry["message"] if key != "exceptions" else \
                f'data.{entry["package"]}.exception[_][_] == "{excepted_name(entry["rule"])}"'
            found.setdefault((index, key), []).append(message)
    return {key: sorted(value) for key, value in found.items()}


def test_conftest_example_policies_run_unchanged_and_agree_with_conftest(tmp_path):
    root = repository(tmp_path, {"policy/kubernetes.rego": K8S_POLICY, "policy/terraform.rego": TF_POLICY})
    documents = [deployment("ok", labels={"app": "ok"}), deployment("bare", limits=False, root=True),
                 deployment("unlabelled"), service("svc"),
                 plan(("terraform_data", "a", ["create"]), ("local_file", "b", ["delete"]),
                      ("null_resource", "c", ["no-op"]))]
    objects, plan_document = documents[:-1], documents[-1]
    result = check(root, objects, plan_document)
    assert ours(result, documents) == conftest(root, documents)
    assert result["refused"] is True
    bare = [d for d in result["denials"] if d["subject"] == "Deployment web/bare"]
    assert {(d["policy"], d["rule"], d["source"]) for d in bare} == {
        ("policy/kubernetes.rego", "deny", "environments/prod/yaml/app.yaml")}
    [tf] = [d for d in result["denials"] if d["policy"] == "policy/terraform.rego"]
    assert tf["subject"] == "terraform_data.a"  # the address the message names
    assert ("policy/kubernetes.rego deny: Deployment web/bare: Deployment bare: container app has no resource limits"
            in result["refusal"])
    assert {w["rule"] for w in result["warned"]} == {"warn", "warn_deletes"}


def test_v0_policies_run_with_the_operators_v0_setting(tmp_path):
    root = repository(tmp_path, {"policy/old.rego": K8S_POLICY_V0})
    documents = [service("open", "NodePort"), service("closed"), deployment("latest", image="nginx:latest")]
    result = check(root, documents, rego_version="v0")
    assert ours(result, documents) == conftest(root, documents, rego_version="v0")
    assert {d["rule"] for d in result["denials"]} == {"deny", "violation"}
    with pytest.raises(TridentError, match="repository's policies do not evaluate"):
        check(root, documents)  # v0 syntax is not v1


def test_nothing_to_deny_passes(tmp_path):
    root = repository(tmp_path, {"policy/kubernetes.rego": K8S_POLICY})
    result = check(root, [deployment("ok", labels={"app": "ok"})])
    assert (result["refused"], result["refusal"], result["denials"], result["warned"]) == (False, None, [], [])
    assert result["checked"] == {"documents": 1, "policies": 1, "environment": "prod"}


def test_a_secret_value_reaches_neither_input_nor_output(tmp_path):
    canary = f"canary-{uuid.uuid4().hex}"
    # A policy that denies every object with its whole input, and the environment, in the message.
    leak = ('package main\n\ndeny contains msg if {\n    msg := sprintf("%v %v", [input, data.trident.environment])\n}\n'
            'warn contains msg if {\n    some k, v in input.data\n    msg := sprintf("%s=%v", [k, v])\n}\n')
    root = repository(tmp_path, {"policy/leak.rego": leak})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "web"},
              "data": {"password": canary}, "stringData": {"token": canary}}
    result = check(root, [secret])
    text = json.dumps(result)
    assert canary not in text
    assert result["denials"] and "<masked:" in result["denials"][0]["message"]
    assert {w["message"].split("=")[0] for w in result["warned"]} == {"password"}


@pytest.fixture()
def spy():
    with Spy() as server:
        yield server


def test_a_policy_cannot_reach_the_network_or_the_environment(tmp_path, spy, monkeypatch):
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("TRIDENT_CANARY", canary)
    attacks = {
        "http.send": f'package main\n\ndeny contains msg if {{\n    r := http.send({{"method": "GET", '
                     f'"url": "{spy.url}/leak"}})\n    msg := sprintf("%v", [r])\n}}\n',
        "opa.runtime": 'package main\n\ndeny contains msg if {\n    msg := sprintf("%v", [opa.runtime().env])\n}\n',
        "net.lookup_ip_addr": 'package main\n\ndeny contains msg if {\n    a := net.lookup_ip_addr("localhost")\n'
                              '    msg := sprintf("%v", [a])\n}\n',
    }
    for builtin, policy in attacks.items():
        root = repository(tmp_path / builtin, {"policy/attack.rego": policy})
        with pytest.raises(TridentError) as caught:
            check(root, [service("svc")])
        assert builtin in caught.value.message and "policy/attack.rego" in caught.value.message
        assert canary not in caught.value.message
    assert spy.requests == []
    # The oracle works: the same http.send policy, run by opa without our capabilities, does reach the spy.
    root = tmp_path / "http.send" / "repo"
    proc = subprocess.run([tool("opa"), "eval", "--data", "policy/attack.rego", "--stdin-input", "data.main.deny"],
                          cwd=root, input="{}", capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [r.path for r in spy.requests] == ["/leak"]


def test_a_policy_file_leading_out_of_the_repository_is_refused(tmp_path):
    outside = tmp_path / "controller.rego"
    outside.write_text('package main\n\ndeny contains "controller file" if { true }\n')
    root = repository(tmp_path, {"policy/ok.rego": K8S_POLICY})
    os.symlink(outside, root / "policy" / "linked.rego")
    with pytest.raises(TridentError, match="symlink that leads outside the repository"):
        check(root, [service("svc")])
    os.unlink(root / "policy" / "linked.rego")
    os.symlink(tmp_path, root / "environments" / "prod" / "policy")
    with pytest.raises(TridentError, match="outside the repository"):
        check(root, [service("svc")], dirs=("policy", "environments/prod/policy"))


def test_the_repository_cannot_weaken_the_operators_policies(tmp_path):
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "registry.rego").write_text(
        'package main\n\ndefault exempt := false\n\nexempt if input.metadata.labels.exempt == "yes"\n\n'
        'deny contains msg if {\n    input.kind == "Deployment"\n    some c in input.spec.template.spec.containers\n'
        '    not startswith(c.image, "registry.example/")\n    not exempt\n'
        '    msg := sprintf("image %s is not from registry.example", [c.image])\n}\n')
    # The repository's own package main exempts everything: compiled with the operator's rule, it would switch it off.
    root = repository(tmp_path, {"policy/weaken.rego": 'package main\n\nexempt if true\n'})
    result = check(root, [deployment("api")], operator_dirs=[str(operator)])
    [denial] = result["denials"]
    assert (denial["origin"], denial["policy"], denial["subject"]) == (
        "operator", str(operator / "registry.rego"), "Deployment web/api")


# conftest's exceptions (docs: "exception contains rules"): a package's exception rule names rules of the same
# package, without their deny_/violation_/warn_ prefix ("" for the bare deny/violation/warn), to except for a document.
EXCEPTIONS = """\
package main

deny_run_as_root contains msg if {
    input.kind == "Deployment"
    not input.spec.template.spec.securityContext.runAsNonRoot
    msg := sprintf("%s runs as root", [input.metadata.name])
}

deny contains msg if {
    input.kind == "Deployment"
    some container in input.spec.template.spec.containers
    not container.resources.limits
    msg := sprintf("%s: container %s has no resource limits", [input.metadata.name, container.name])
}

warn_labels contains msg if {
    input.kind == "Deployment"
    not input.metadata.labels.app
    msg := sprintf("%s has no app label", [input.metadata.name])
}

violation_nodeport contains {"msg": msg} if {
    input.spec.type == "NodePort"
    msg := sprintf("Service %s: NodePort", [input.metadata.name])
}

exception contains rules if {
    input.metadata.name == "legacy"
    rules := ["run_as_root", "labels"]
}

exception contains rules if {
    input.metadata.labels.exempt == "all"
    rules := [""]
}

exception contains rules if {
    input.kind == "Service"
    rules := ["nodeport", "nodeport"]
}
"""
# Another package's exception never excepts main's rules.
OTHER_EXCEPTION = """\
package other

exception contains rules if {
    rules := ["run_as_root", ""]
}

warn_other contains msg if {
    input.kind == "Service"
    msg := "other: a Service"
}
"""


def test_conftest_exceptions_except_the_rules_they_name_as_conftest_does(tmp_path):
    root = repository(tmp_path, {"policy/exceptions.rego": EXCEPTIONS, "policy/other.rego": OTHER_EXCEPTION})
    documents = [deployment("legacy", root=True), deployment("exempt", limits=False, labels={"exempt": "all"}),
                 deployment("plain", limits=False, root=True), service("open", "NodePort"), service("closed")]
    result = check(root, documents)
    assert ours(result, documents) == conftest(root, documents)
    excepted = {(e["subject"], e["rule"]) for e in result["excepted"]}
    assert excepted == {("Deployment web/legacy", "deny_run_as_root"), ("Deployment web/legacy", "warn_labels"),
                        ("Deployment web/exempt", "deny"), ("Service web/open", "violation_nodeport"),
                        ("Service web/closed", "violation_nodeport")}
    assert {(d["subject"], d["rule"]) for d in result["denials"]} == {
        ("Deployment web/plain", "deny_run_as_root"), ("Deployment web/plain", "deny")}
    assert len([e for e in result["excepted"] if e["subject"] == "Service web/open"]) == 2  # two bindings
    assert {e["policy"] for e in result["excepted"]} == {"policy/exceptions.rego"}


def test_the_repositorys_exceptions_never_except_an_operators_rule(tmp_path):
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "limits.rego").write_text(
        'package main\n\ndeny_limits contains msg if {\n    input.kind == "Deployment"\n'
        '    some c in input.spec.template.spec.containers\n    not c.resources.limits\n'
        '    msg := sprintf("%s has no limits", [input.metadata.name])\n}\n')
    # In the same package: compiled with the operator's rule, it would except it.
    root = repository(tmp_path, {"policy/except.rego": 'package main\n\nexception contains rules if {\n'
                                                       '    rules := ["limits", ""]\n}\n'})
    result = check(root, [deployment("api", limits=False)], operator_dirs=[str(operator)])
    [denial] = result["denials"]
    assert (denial["origin"], denial["rule"], denial["subject"]) == ("operator", "deny_limits", "Deployment web/api")
    assert result["excepted"] == [] and result["refused"] is True
