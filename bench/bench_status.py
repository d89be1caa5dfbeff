"""``trident.gitops.status`` over 100 environments on a real kube-apiserver, next to one module run per environment.

The repository (a local checkout read by the environments inventory) has 100 environments, each a namespace with
one ConfigMap. Their records are written as a reconcile leaves them: the ApplySet parent (applyset.py's own
``parent`` manifest, with the revision and tree of the environment's folder) and a member labelled part of the set;
half of them then drift (a commit changes their folder). Cases:

- ours: ``ansible-playbook trident.gitops.status`` (one action reads all 100 in one process, 16 at a time);
- anchor: a play over the same 100 environment hosts running one ``ansible.builtin.ping`` each (forks 10): the
  least any design that runs one task per environment pays, before it reads anything.

Sizes: TRIDENT_BENCH_STATUS_ENVS (default 100).

Measured (2 shared, busy cores; docs/status.md): ours 21.6 s, anchor 88.7 s (4.1x).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import compare, run_command  # first: it puts tools/ on sys.path for testbed
from testbed.controlplane import ControlPlane
from testbed.gitops import kubeconfig_text

# `make bench` links this checkout as trident.gitops on ANSIBLE_COLLECTIONS_PATH.
sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF, ApplySet  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (  # noqa: E402
    ConnectionSettings, connect)

COUNT = int(os.environ.get("TRIDENT_BENCH_STATUS_ENVS", "100"))


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root, plane):
    kubeconfig = kubeconfig_text(plane)
    for n in range(COUNT):
        env = root / "environments" / f"env{n:03d}"
        (env / "yaml").mkdir(parents=True)
        (env / "env.yml").write_text(json.dumps({"namespace": f"status-bench-{n:03d}"}))
        (env / "kubeconfig.yaml").write_text(kubeconfig)
        (env / "yaml" / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
                                              f"  namespace: status-bench-{n:03d}\ndata:\n  k: v1\n")
    (root / "bench.environments.yml").write_text(json.dumps({"plugin": "trident.gitops.environments", "path": "."}))
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "first", cwd=root)
    return root / "bench.environments.yml"


def record(plane, root):
    """What a reconcile leaves: per environment its namespace, a member, and the ApplySet parent with the record."""
    client = connect(ConnectionSettings(kubeconfig=str(root / "environments" / "env000" / "kubeconfig.yaml"),
                                        repository_root=str(root)))
    revision = git("rev-parse", "HEAD", cwd=root)
    for n in range(COUNT):
        name, ns = f"env{n:03d}", f"status-bench-{n:03d}"
        tree = git("rev-parse", f"HEAD:environments/{name}", cwd=root)
        applyset = ApplySet(f"trident-{name}", ns)
        client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
        client.request("POST", f"/api/v1/namespaces/{ns}/secrets",
                       body=applyset.parent({("", "ConfigMap")}, {ns}, {"revision": revision, "tree": tree}))
        client.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body={
            "metadata": {"name": "cm", "namespace": ns, "labels": {PART_OF: applyset.id}}, "data": {"k": "v1"}})
    for n in range(0, COUNT, 2):  # half of them drift
        (root / "environments" / f"env{n:03d}" / "yaml" / "cm.yaml").write_text("# changed\n")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qam", "drift", cwd=root)


def main():
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        tmp = Path(tmp)
        plane = ControlPlane(tmp / "plane")
        plane.start()
        try:
            root = tmp / "repo"
            root.mkdir()
            inventory = make_repo(root, plane)
            record(plane, root)
            ping = tmp / "ping.yml"
            ping.write_text(json.dumps([{"name": "one task per environment", "hosts": "all", "gather_facts": False,
                                         "tasks": [{"ansible.builtin.ping": {}}]}]))
            env = {"ANSIBLE_FORKS": "10", "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"}
            out = tmp / "status.json"
            status = ["ansible-playbook", "-i", inventory, "trident.gitops.status", "-e", f"status_json={out}"]
            run_command(status, env=env, cwd=root)
            summary = json.loads(out.read_text())["summary"]
            if summary != {"drifted": COUNT // 2 + COUNT % 2, "in sync": COUNT // 2}:
                raise RuntimeError(f"status read {summary}")
            compare(f"status of {COUNT} environments (Kubernetes, real kube-apiserver)", {
                "ours: trident.gitops.status": lambda: run_command(status, env=env, cwd=root),
                "anchor: one ping per environment (forks 10)":
                    lambda: run_command(["ansible-playbook", "-i", inventory, ping], env=env, cwd=root),
            }, rounds=3)
        finally:
            plane.stop()


if __name__ == "__main__":
    main()
