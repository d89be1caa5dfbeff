"""Waves (env.yml depends_on, docs/promotion.md): independent environments still reconcile in parallel.

The same environments three ways, no-op reconciles through trident.gitops.reconcile on one control plane:
independent (one wave) with forks = the number of environments, chained by depends_on (one wave each, so
one after the other) with the same forks, and independent with forks=1 (the serial anchor). Independent
environments should take about the time of the chain divided by the number of environments, on a machine
with cores to spare; the chain about the serial anchor.

Sizes (environment variables): TRIDENT_BENCH_WAVE_ENVS (default 4), TRIDENT_BENCH_OBJECTS (ConfigMaps per
environment, default 150), TRIDENT_BENCH_ROUNDS (default 1).
"""

import os
import tempfile
from pathlib import Path

import yaml

from bench.harness import compare
from testbed.controlplane import ControlPlane
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

ENVS = int(os.environ.get("TRIDENT_BENCH_WAVE_ENVS", "4"))
OBJECTS = int(os.environ.get("TRIDENT_BENCH_OBJECTS", "150"))
ROUNDS = int(os.environ.get("TRIDENT_BENCH_ROUNDS", "1"))


def make_repo(root, plane, chained):
    """ENVS environments of OBJECTS ConfigMaps each; ``chained``: env n depends_on env n-1."""
    for n in range(ENVS):
        ns = f"waves-{'chain' if chained else 'free'}-{n}"
        env = root / "environments" / f"env{n}"
        (env / "yaml").mkdir(parents=True)
        settings = {"namespace": ns, **({"depends_on": [f"env{n - 1}"]} if chained and n else {})}
        (env / "env.yml").write_text(yaml.safe_dump(settings))
        (env / "kubeconfig.yaml").write_text(kubeconfig_text(plane))
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
        objects += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:03d}"},
                     "data": {"index": str(i)}} for i in range(OBJECTS)]
        (env / "yaml" / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    inventory = root / "bench.environments.yml"
    inventory.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", "path": "."}))
    return inventory


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-waves-") as tmp, \
            ControlPlane(Path(tmp) / "control-plane") as plane:
        work = Path(tmp)
        extra = isolated_vars(work)
        inventories = {chained: make_repo(work / ("chain" if chained else "free"), plane, chained)
                       for chained in (False, True)}

        def reconcile(chained, forks):
            def case():
                result = run_gitops("reconcile", inventories[chained], work, extra_vars=extra,
                                    args=(f"--forks={forks}",))
                if result.rc != 0 or result.changed_hosts():
                    raise RuntimeError(f"the no-op reconcile failed or changed something: {result.explain()}")
            return case

        for inventory in inventories.values():
            first = run_gitops("reconcile", inventory, work, extra_vars=extra, args=(f"--forks={ENVS}",))
            if first.rc != 0:
                raise RuntimeError(first.explain())
        compare(f"no-op reconcile, {ENVS} environments x {OBJECTS} ConfigMaps",
                {f"independent (1 wave), forks={ENVS}": reconcile(False, ENVS),
                 f"chained by depends_on ({ENVS} waves), forks={ENVS}": reconcile(True, ENVS),
                 "independent, forks=1 (serial anchor)": reconcile(False, 1)},
                rounds=ROUNDS, warmup=0)


if __name__ == "__main__":
    main()
