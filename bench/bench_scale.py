"""``python -m bench scale [--environments 50,200] [--forks 10] [--slices 3]``: many environments on one controller
and in slices (issue 29).

N environments x 5 Kubernetes objects each (a Namespace, a ConfigMap, a ServiceAccount, a Role and a RoleBinding) on
the testbed's real kube-apiserver. Two cases, each run once per size, one after the other:

- **1 controller**: one ``ansible-playbook -i all.environments.yml trident.gitops.reconcile`` (``--forks``);
- **N slices**: ``--slices`` ansible-playbook processes at once, each with its own HOME, checkout, locks and inventory
  ``slice<i>.environments.yml`` (the inventory's ``slice``/``slice_count`` options), each ``--forks`` too.

Each case deploys its own copy of the environments (other namespaces), so both pay a real **first deploy**, then a
**no-op** reconcile (nothing changed). Printed per case: wall seconds, seconds per environment, CPU seconds per
environment (all processes, all cores: the busy machine's load does not inflate it), and memory: the peak RSS of the
largest single process of each ansible-playbook tree (``wait4``'s ``ru_maxrss``, which covers the workers it reaped;
max and sum over the slices) and the peak of the whole tree's RSS summed (sampled from /proc every 0.5 s; max and sum
over the slices), the number comparable to one controller process's memory. Then the cost per environment at each
size against the smallest (1.00x is linear growth) and the published anchor: Flux 2.9 reconciles 1000 Kustomizations
in 4 min 13 s with 223 MiB on 16 cores.

Sizes also from TRIDENT_BENCH_SCALE_ENVS (comma-separated), the options win.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import yaml

# First: bench.harness puts tools/ on sys.path for testbed.
import bench.harness  # noqa: F401  # pylint: disable=unused-import
from testbed.controlplane import ControlPlane
from testbed.gitops import isolated_vars, kubeconfig_text

FLUX = {"environments": 1000, "seconds": 4 * 60 + 13, "mib": 223, "cores": 16}
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def objects(namespace):
    meta = {"namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", **meta}, "data": {"ns": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", **meta}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "read", **meta},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "app-read", **meta},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read"},
         "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": namespace}]},
    ]


def make_repo(root, plane, count, label, slices):
    kubeconfig = kubeconfig_text(plane)
    for n in range(count):
        namespace = f"scale-{label}-{count}-{n:04d}"
        env = root / "environments" / f"env{n:04d}"
        (env / "yaml").mkdir(parents=True)
        (env / "env.yml").write_text(json.dumps({"namespace": namespace}))
        (env / "kubeconfig.yaml").write_text(kubeconfig)
        (env / "yaml" / "objects.yaml").write_text(yaml.safe_dump_all(objects(namespace)))
    (root / "all.environments.yml").write_text(json.dumps({"plugin": "trident.gitops.environments", "path": "."}))
    for number in range(1, slices + 1):
        (root / f"slice{number}.environments.yml").write_text(json.dumps(
            {"plugin": "trident.gitops.environments", "path": ".", "slice_count": slices, "slice": number}))


def tree_rss_kib(root_pid):
    """RSS (KiB) of ``root_pid`` and every process below it, from /proc."""
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_KIB
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


class Worker:
    """One ansible-playbook process (a controller, or one slice): started, sampled, reaped with its rusage."""

    def __init__(self, work, inventory, forks):
        self.work = work
        (work / "home").mkdir(parents=True, exist_ok=True)
        self.report_dir = work / "report"
        argv = ["ansible-playbook", "-i", str(inventory), "trident.gitops.reconcile", f"--forks={forks}",
                "-e", json.dumps(isolated_vars(work))]
        env = {**os.environ, "HOME": str(work / "home"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "TRIDENT_DRIFT_REPORT_DIR": str(self.report_dir),
               "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp"), "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"}
        self.log = open(work / "output.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(argv, cwd=work, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_tree_kib = 0
        self.rusage = None
        self.rc = None
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while self.rc is None:
            self.peak_tree_kib = max(self.peak_tree_kib, tree_rss_kib(self.proc.pid))
            time.sleep(0.5)

    def wait(self):
        _pid, status, self.rusage = os.wait4(self.proc.pid, 0)
        self.rc = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.rc
        self._sampler.join()
        self.log.close()
        if self.rc != 0:
            tail = (self.work / "output.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"ansible-playbook in {self.work} failed ({self.rc}):\n{tail}")
        return json.loads((self.report_dir / "drift-report.json").read_text())


def run_case(work, inventories, forks, expected_changes):
    """The workers at once; wall seconds, CPU seconds and memory; checks every environment was reconciled once."""
    started = time.perf_counter()
    workers = [Worker(work / f"worker-{index}", inventory, forks) for index, inventory in enumerate(inventories)]
    reports = [worker.wait() for worker in workers]
    wall = time.perf_counter() - started
    seen = [env for report in reports for env in report["environments"]]
    drifted = sum(len(report["summary"]["drifted"]) for report in reports)
    failed = [env for report in reports for env in report["summary"]["failed"]]
    if failed or len(seen) != len(set(seen)) or drifted != expected_changes:
        raise RuntimeError(f"{work.name}: failed {failed}, {len(seen)} environments reported "
                           f"({len(set(seen))} distinct), {drifted} changed (expected {expected_changes})")
    return {"wall": wall, "environments": len(seen),
            "cpu": sum(w.rusage.ru_utime + w.rusage.ru_stime for w in workers),
            "process_mib": [w.rusage.ru_maxrss / 1024 for w in workers],
            "tree_mib": [w.peak_tree_kib / 1024 for w in workers]}


def bench_size(root, plane, count, forks, slices):
    """Both cases at one size: first deploy, then no-op."""
    cases = {}
    for label, workers in (("1 controller", 1), (f"{slices} slices", slices)):
        work = root / f"{count}-{workers}"
        make_repo(work / "repo", plane, count, f"w{workers}", slices)
        cases[label] = (work, [work / "repo" / "all.environments.yml"] if workers == 1 else
                        [work / "repo" / f"slice{number}.environments.yml" for number in range(1, slices + 1)])
    results = {}
    # Phase by phase, so that a run cut short still compares both cases of the phases it finished.
    for phase, changes in (("first deploy", count), ("no-op", 0)):
        for label, (work, inventories) in cases.items():
            results[f"{phase}, {label}"] = run_case(work / phase.replace(" ", "-"), inventories, forks, changes)
            print_row(f"{phase}, {label}", count, results[f"{phase}, {label}"])
    return results


HEADER = (f"{'case':<26} {'wall s':>8} {'s/env':>7} {'CPU s/env':>9} {'max proc MiB':>12} {'sum proc MiB':>12} "
          f"{'max tree MiB':>12} {'sum tree MiB':>12}")


def print_row(name, count, result):
    print(f"{name:<26} {result['wall']:8.1f} {result['wall'] / count:7.3f} {result['cpu'] / count:9.3f} "
          f"{max(result['process_mib']):12.0f} {sum(result['process_mib']):12.0f} "
          f"{max(result['tree_mib']):12.0f} {sum(result['tree_mib']):12.0f}", flush=True)


def print_summary(sizes, by_size, forks):
    smallest = sizes[0]
    print(f"\n## cost per environment against {smallest} environments (1.00x: linear growth), forks={forks}")
    print(f"{'case':<26} " + " ".join(f"{f'{n} envs s/env':>15} {'ratio':>6}" for n in sizes))
    for name in by_size[smallest]:
        base = by_size[smallest][name]["wall"] / smallest
        cells = [f"{by_size[n][name]['wall'] / n:15.3f} {by_size[n][name]['wall'] / n / base:5.2f}x" for n in sizes]
        print(f"{name:<26} " + " ".join(cells))
    flux = FLUX["seconds"] / FLUX["environments"]
    print(f"\n## anchor: Flux 2.9, {FLUX['environments']} Kustomizations in {FLUX['seconds']} s ({flux:.3f} s/env), "
          f"{FLUX['mib']} MiB, {FLUX['cores']} cores (its own benchmark)")
    largest = sizes[-1]
    for name, result in by_size[largest].items():
        per_env = result["wall"] / largest
        print(f"{name:<26} at {largest}: {per_env:7.3f} s/env = {per_env / flux:6.1f}x Flux's; projected "
              f"{per_env * FLUX['environments'] / 60:6.1f} min for {FLUX['environments']}; memory "
              f"{sum(result['tree_mib']):5.0f} MiB = {sum(result['tree_mib']) / FLUX['mib']:4.1f}x Flux's "
              f"({os.cpu_count()} cores here, {len(result['tree_mib'])} process(es) x forks {forks})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench scale")
    parser.add_argument("--environments", default=os.environ.get("TRIDENT_BENCH_SCALE_ENVS", "50,200"),
                        help="comma-separated environment counts (default 50,200)")
    parser.add_argument("--forks", type=int, default=10, help="forks of every ansible-playbook process (default 10)")
    parser.add_argument("--slices", type=int, default=3, help="slices of the sliced case (default 3)")
    options = parser.parse_args(argv or [])
    sizes = sorted(int(n) for n in options.environments.split(","))
    with tempfile.TemporaryDirectory(prefix="trident-bench-scale-") as tmp, \
            ControlPlane(Path(tmp) / "control-plane") as plane:
        by_size = {}
        for count in sizes:
            print(f"\n## {count} environments x 5 objects, forks={options.forks}, {os.cpu_count()} cores")
            print(HEADER)
            by_size[count] = bench_size(Path(tmp), plane, count, options.forks, options.slices)
        print_summary(sizes, by_size, options.forks)


if __name__ == "__main__":
    main()
