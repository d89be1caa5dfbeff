"""No-op reconcile of many environments: trident.gitops.reconcile with forks 1, 5 and 10, next to the
anchor a hand-rolled reconciler would use (``kubectl apply --server-side`` per environment, in turn).

Sizes (environment variables): TRIDENT_BENCH_ENVS (default 20), TRIDENT_BENCH_OBJECTS (ConfigMaps per
environment, default 50), TRIDENT_BENCH_ROUNDS (default 1; each round runs every case once).
Prints wall time, the ratio to the first case, and the cost per environment.
"""

import os
import tempfile
from pathlib import Path

import yaml

from bench.harness import compare, run_command
from testbed import tool
from testbed.controlplane import ControlPlane
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

ENVS = int(os.environ.get("TRIDENT_BENCH_ENVS", "20"))
OBJECTS = int(os.environ.get("TRIDENT_BENCH_OBJECTS", "50"))
ROUNDS = int(os.environ.get("TRIDENT_BENCH_ROUNDS", "1"))


def make_repo(root, plane):
    kubeconfig = kubeconfig_text(plane)
    for n in range(ENVS):
        env = root / "environments" / f"env{n:02d}"
        (env / "yaml").mkdir(parents=True)
        (env / "env.yml").write_text(f"namespace: bench-{n:02d}\n")
        (env / "kubeconfig.yaml").write_text(kubeconfig)
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{n:02d}"}}]
        objects += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:03d}"},
                     "data": {"index": str(i), "env": str(n)}} for i in range(OBJECTS)]
        (env / "yaml" / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    inventory = root / "bench.environments.yml"
    inventory.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", "path": "."}))
    return inventory


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-reconcile-") as tmp, \
            ControlPlane(Path(tmp) / "control-plane") as plane:
        work = Path(tmp)
        repo = work / "repo"
        inventory = make_repo(repo, plane)
        extra = isolated_vars(work)

        def reconcile(forks):
            def case():
                result = run_gitops("reconcile", inventory, work, extra_vars=extra, args=(f"--forks={forks}",))
                if result.rc != 0 or result.changed_hosts():
                    raise RuntimeError(f"the no-op reconcile failed or changed something: {result.explain()}")
            return case

        first = run_gitops("reconcile", inventory, work, extra_vars=extra, args=("--forks=10",))
        if first.rc != 0:
            raise RuntimeError(first.explain())
        kubectl = tool("kubectl")

        def kubectl_apply():
            for n in range(ENVS):
                env = repo / "environments" / f"env{n:02d}"
                run_command([kubectl, "--kubeconfig", env / "kubeconfig.yaml", "apply", "--server-side",
                             "--field-manager=bench", "-n", f"bench-{n:02d}", "-f", env / "yaml" / "objects.yaml"])

        title = f"no-op reconcile, {ENVS} environments x {OBJECTS} ConfigMaps"
        medians = compare(title, {"reconcile forks=10": reconcile(10), "reconcile forks=5": reconcile(5),
                                  "reconcile forks=1": reconcile(1), "kubectl apply --server-side, serial": kubectl_apply},
                          rounds=ROUNDS, warmup=0)
        print(f"\nper environment ({ENVS} environments):")
        for name, seconds in medians.items():
            print(f"  {name:<38} {seconds / ENVS:7.3f} s")


if __name__ == "__main__":
    main()
