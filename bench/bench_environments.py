"""Cost of the environments inventory and the drift_report callback next to Ansible's own equivalents.

- Inventory: ``ansible-inventory --list`` over a repository of 20 and 200 environments (50 manifests
  each) with our plugin, against a static YAML inventory holding the same hosts, groups and variables
  (what a hand-written inventory costs).
- Callback: a playbook of 20 environments x 4 changed step tasks
  with drift_report writing all three formats, against the same run without an extra callback and
  with ``ansible.builtin.junit`` (Ansible's own aggregate report writer).
"""

import json
import os
import tempfile
from pathlib import Path

import yaml

from bench.harness import compare, run_command

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: v{i}\n"


def make_repo(root, count, manifests=50):
    for n in range(count):
        env = root / "environments" / f"env{n:03d}"
        (env / "yaml").mkdir(parents=True)
        (env / "env.yml").write_text(yaml.safe_dump({"tags": [f"zone{n % 4}"], "namespace": f"ns{n}",
                                                     "terraform_vars": {"n": n}}))
        (env / "main.tf").write_text('resource "terraform_data" "x" {}\n')
        (env / "yaml" / "kubeconfig.yaml").write_text("apiVersion: v1\nkind: Config\n")
        for i in range(manifests):
            (env / "yaml" / f"cm{i:02d}.yaml").write_text(MANIFEST.format(i=i))
    (root / "bench.environments.yml").write_text(yaml.safe_dump({"plugin": "trident.gitops.environments",
                                                                 "path": "."}))
    return root / "bench.environments.yml"


def static_copy(config, target):
    """The same inventory written out as a static YAML inventory."""
    data = json.loads(run_command(["ansible-inventory", "-i", config, "--list", "--export"]).stdout)
    hostvars = data["_meta"]["hostvars"]
    groups = {name: {"hosts": {h: (hostvars.get(h) if name == "environments" else None)
                               for h in body.get("hosts", [])}}
              for name, body in data.items() if name not in ("_meta", "all") and body.get("hosts")}
    target.write_text(json.dumps({"all": {"children": groups}}))
    return target


def bench_inventory(tmp):
    cases = {}
    for count in (20, 200):
        root = tmp / f"repo{count}"
        config = make_repo(root, count)
        static = static_copy(config, tmp / f"static{count}.yml")
        cases[f"ours: environments plugin, {count} envs"] = (
            lambda c=config: run_command(["ansible-inventory", "-i", c, "--list"]))
        cases[f"anchor: static yaml, {count} envs"] = (
            lambda s=static: run_command(["ansible-inventory", "-i", s, "--list"]))
    compare("ansible-inventory --list", cases, rounds=3)


def bench_callback(tmp):
    config = make_repo(tmp / "cb-repo", 20, manifests=1)
    # debug with changed_when runs on the controller: the run's cost is Ansible's and the callbacks'.
    tasks = [{"name": f"step {step}", "vars": {"trident_step": step}, "changed_when": True,
              "ansible.builtin.debug": {"msg": "drift"}} for step in ("source", "secrets", "terraform", "kubernetes")]
    playbook = tmp / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "bench", "hosts": "environments", "gather_facts": False,
                                         "tasks": tasks}]))
    base = {"ANSIBLE_FORKS": "10", "TRIDENT_DRIFT_REPORT_DIR": str(tmp / "report"),
            "JUNIT_OUTPUT_DIR": str(tmp / "junit")}

    def play(callbacks):
        env = {**base, **({"ANSIBLE_CALLBACKS_ENABLED": callbacks} if callbacks else {})}
        return lambda: run_command(["ansible-playbook", "-i", config, playbook, "--check"], env=env)

    compare("20 environments x 4 changed steps, --check", {
        "ours: drift_report": play("trident.gitops.drift_report"),
        "anchor: no extra callback": play(None),
        "anchor: ansible.builtin.junit": play("ansible.builtin.junit"),
    }, rounds=3)


def main():
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    with tempfile.TemporaryDirectory(prefix="trident-bench-env-") as tmp:
        bench_inventory(Path(tmp))
        bench_callback(Path(tmp))


if __name__ == "__main__":
    main()
