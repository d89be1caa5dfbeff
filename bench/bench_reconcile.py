"""No-op reconcile of many environments: trident.gitops.reconcile with forks 1, 5 and 10, next to the
anchor a hand-rolled reconciler would use (``kubectl apply --server-side`` per environment, in turn).

Sizes (environment variables): TRIDENT_BENCH_ENVS (comma-separated environment counts, default "20,100"),
TRIDENT_BENCH_OBJECTS (ConfigMaps per environment, default 50), TRIDENT_BENCH_ROUNDS (default 1; each round
runs every case once), TRIDENT_BENCH_FORKS (default "10,5,1").
TRIDENT_BENCH_BASELINE=<collections root> (a folder holding ansible_collections/trident/gitops, e.g. a
``git archive`` of main) adds the same cases run with that copy of the collection, in the same run, so a
before/after table shares its anchor and its machine load.
Prints wall time, the ratio to the first case, the cost per environment, and a per-task profile (forks=1,
seconds per environment for each task, from the JSON callback's task durations), with the host-tasks an
environment runs (skipped ones included: each costs a worker process) in normal and in check mode (drift.yml).
"""

import os
import resource
import statistics
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import yaml

from bench.harness import compare, run_command
from testbed import tool
from testbed.controlplane import ControlPlane
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

SIZES = [int(n) for n in os.environ.get("TRIDENT_BENCH_ENVS", "20,100").split(",")]
OBJECTS = int(os.environ.get("TRIDENT_BENCH_OBJECTS", "50"))
ROUNDS = int(os.environ.get("TRIDENT_BENCH_ROUNDS", "1"))
FORKS = [int(n) for n in os.environ.get("TRIDENT_BENCH_FORKS", "10,5,1").split(",")]
BASELINE = os.environ.get("TRIDENT_BENCH_BASELINE")
# Environments in the profiling run (forks=1): enough to average, few enough to stay quick.
PROFILE_ENVS = 5


def make_repo(root, plane, envs):
    kubeconfig = kubeconfig_text(plane)
    for n in range(envs):
        env = root / "environments" / f"env{n:03d}"
        (env / "yaml").mkdir(parents=True)
        (env / "env.yml").write_text(f"namespace: bench-{n:03d}\n")
        (env / "kubeconfig.yaml").write_text(kubeconfig)
        objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{n:03d}"}}]
        objects += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:03d}"},
                     "data": {"index": str(i), "env": str(n)}} for i in range(OBJECTS)]
        (env / "yaml" / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    inventory = root / "bench.environments.yml"
    inventory.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", "path": "."}))
    return inventory


def _collections(name):
    """Environment overrides that run a case with the baseline copy of the collection, or none."""
    return {"ANSIBLE_COLLECTIONS_PATH": BASELINE} if name == "baseline" else {}


class Bench:
    """One size: a repository of ``envs`` environments in ``work``, reconciled against ``plane``."""

    def __init__(self, work, plane, envs):
        self.work = work
        self.envs = envs
        self.repo = work / "repo"
        self.inventory = make_repo(self.repo, plane, envs)
        self.extra = isolated_vars(work)

    def run(self, forks, collection="ours", limit=None, playbook="reconcile"):
        args = [f"--forks={forks}"] + ([f"--limit={limit}"] if limit else [])
        return run_gitops(playbook, self.inventory, self.work, extra_vars=self.extra, args=args,
                          env=_collections(collection))

    def reconcile(self, forks, collection="ours"):
        def case():
            result = self.run(forks, collection)
            if result.rc != 0 or result.changed_hosts():
                raise RuntimeError(f"the no-op reconcile failed or changed something: {result.explain()}")
        return case

    def kubectl_apply(self):
        kubectl = tool("kubectl")
        for n in range(self.envs):
            env = self.repo / "environments" / f"env{n:03d}"
            run_command([kubectl, "--kubeconfig", env / "kubeconfig.yaml", "apply", "--server-side",
                         "--field-manager=bench", "-n", f"bench-{n:03d}", "-f", env / "yaml" / "objects.yaml"])

    def cases(self, cpu):
        """The timed cases; ``cpu`` collects, per case, the CPU seconds its processes used (all cores)."""
        collections = ["ours"] + (["baseline"] if BASELINE else [])
        cases = {}
        for collection in collections:
            for forks in FORKS:
                label = "reconcile" if collection == "ours" else "reconcile BEFORE (baseline)"
                name = f"{label} forks={forks}"
                cases[name] = self.reconcile(forks, collection)
        cases["kubectl apply --server-side, serial"] = self.kubectl_apply
        return {name: _with_cpu(case, cpu.setdefault(name, [])) for name, case in cases.items()}


def _with_cpu(case, samples):
    def measured():
        before = _children_cpu()
        case()
        samples.append(_children_cpu() - before)
    return measured


def _children_cpu():
    """User and system CPU seconds of every finished child process so far (ansible-playbook and its forks)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(duration):
    start, end = (datetime.fromisoformat(duration[key].replace("Z", "+00:00")) for key in ("start", "end"))
    return (end - start).total_seconds()


def task_profile(result, envs):
    """Seconds per environment of every task (name -> seconds), from a forks=1 run's JSON document."""
    totals = defaultdict(float)
    for play in result.data["plays"]:
        for task in play["tasks"]:
            if task["task"]["duration"].get("end"):
                totals[task["task"]["name"]] += _seconds(task["task"]["duration"])
    return {name: seconds / envs for name, seconds in totals.items()}


def host_tasks(result, envs):
    """Task results (host-tasks, skipped ones included) per environment host, from a run's JSON document."""
    hosts = [task["hosts"] for play in result.data["plays"] for task in play["tasks"]]
    return sum(len(set(results) - {"localhost"}) for results in hosts) / envs


def print_profile(bench, collection):
    limit = ",".join(f"env{n:03d}" for n in range(min(PROFILE_ENVS, bench.envs)))
    envs = min(PROFILE_ENVS, bench.envs)
    result = bench.run(1, collection, limit=limit)
    check = bench.run(1, collection, limit=limit, playbook="drift")
    for run in (result, check):
        if run.rc != 0 or run.data is None:
            raise RuntimeError(run.explain())
    profile = task_profile(result, envs)
    print(f"\n### per-task profile ({collection}), forks=1, {envs} environments: seconds per environment")
    for name, seconds in sorted(profile.items(), key=lambda item: -item[1]):
        print(f"  {seconds:7.3f}  {name}")
    print(f"  {sum(profile.values()):7.3f}  (all tasks)")
    print(f"  host-tasks per environment: {host_tasks(result, envs):.1f} (reconcile), "
          f"{host_tasks(check, envs):.1f} (drift, check mode)")


def bench_size(root, plane, envs):
    work = root / f"envs-{envs}"
    work.mkdir()
    bench = Bench(work, plane, envs)
    first = bench.run(10)
    if first.rc != 0:
        raise RuntimeError(first.explain())
    title = f"no-op reconcile, {envs} environments x {OBJECTS} ConfigMaps"
    cpu = {}
    medians = compare(title, bench.cases(cpu), rounds=ROUNDS, warmup=0)
    print(f"\nper environment ({envs} environments): wall seconds, and CPU seconds of the run's processes "
          "(the machine's load does not inflate those; wall >= CPU / cores)")
    for name, seconds in medians.items():
        used = f"{statistics.median(cpu[name]) / envs:7.3f} s CPU" if cpu.get(name) else ""
        print(f"  {name:<42} {seconds / envs:7.3f} s  {used}")
    for collection in ["ours"] + (["baseline"] if BASELINE else []):
        print_profile(bench, collection)


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-reconcile-") as tmp, \
            ControlPlane(Path(tmp) / "control-plane") as plane:
        for envs in SIZES:
            bench_size(Path(tmp), plane, envs)


if __name__ == "__main__":
    main()
