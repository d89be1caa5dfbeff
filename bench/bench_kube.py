"""kube_diff vs `kubectl diff --server-side` vs a kubernetes.core.k8s loop, on a real control plane.

N objects (ConfigMaps, Secrets, Services, Deployments, and custom resources of one CRD) per size;
sizes from TRIDENT_BENCH_KUBE_N (default "100,500,1000"), rounds from TRIDENT_BENCH_KUBE_ROUNDS.
The kubernetes.core loop costs seconds per object, so it runs once over a sample of
TRIDENT_BENCH_KUBE_K8S_SAMPLE objects (default 20, every kind) and its per-object time is
extrapolated linearly to each N, clearly labelled as an estimate.
Requests per object come from the apiserver's audit log. Dry-runs per in-sync object come from the
module's own count. The completeness of the in-sync proof (the share of in-sync objects it settles
without a dry-run) is measured over the differential test's generated corpus
(TRIDENT_BENCH_KUBE_CORPUS examples, default 200; 0 skips it), which also checks each verdict.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, ansible_floor, compare, playbook_task, print_table, run_command

sys.path.insert(0, str(REPO / "tools"))
# `make bench` links this checkout as trident.gitops on ANSIBLE_COLLECTIONS_PATH (for the in-process case).
sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]

import yaml  # noqa: E402

from testbed import tool  # noqa: E402
from testbed.controlplane import ControlPlane  # noqa: E402

GROUP = "bench.trident.example.com"


def crd():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "integer", "default": 1}, "tier": {"type": "string", "default": "gold"}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gizmos.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo", "listKind": "GizmoList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def objects(n):
    """n namespaced objects: 30% ConfigMaps, 20% Secrets, 20% Services, 20% Deployments, 10% Gizmos."""
    made = []
    for i in range(n):
        slot = i % 10
        name = f"obj-{i:05d}"
        if slot < 3:
            made.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                         "data": {"index": str(i), "mode": "blue"}})
        elif slot < 5:
            made.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                         "stringData": {"password": f"pw-{i}"}})
        elif slot < 7:
            made.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                         # Headless: the test plane's service IP range (/24) cannot hold 1000+ services.
                         "spec": {"clusterIP": "None", "selector": {"app": name},
                                  "ports": [{"port": 80, "targetPort": 8080}]}})
        elif slot < 9:
            made.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                         "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                             "metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                                 "name": "app", "image": "nginx:1.27",
                                 "resources": {"limits": {"cpu": "0.5", "memory": "128Mi"}}}]}}}})
        else:
            made.append({"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": name},
                         "spec": {"size": i % 5}})
    return made


class Bench:
    def __init__(self, plane, workdir):
        self.plane = plane
        self.workdir = workdir
        self.env = {"KUBECONFIG": str(plane.kubeconfig)}

    def write(self, ns, docs):
        path = self.workdir / f"{ns}.yaml"
        for doc in docs:
            if doc["kind"] != "CustomResourceDefinition":
                doc["metadata"]["namespace"] = ns
        path.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                                            crd(), *docs], sort_keys=False))
        return path

    def kube_diff(self, path, ns, check=True, apply=False):
        task = {"name": "kube_diff", "trident.gitops.kube_diff": {
            "src": [str(path)], "namespace": ns, "kubeconfig": str(self.plane.kubeconfig), "apply": apply,
            "discovery_cache": str(self.workdir / "discovery")}}
        return playbook_task(self.workdir / "play", task, check=check)

    def ansible_floor(self):
        ansible_floor(self.workdir / "ping")

    def in_process(self, path, ns):
        from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
        from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

        return run(validated_request({"src": [str(path)], "namespace": ns, "kubeconfig": str(self.plane.kubeconfig),
                                      "discovery_cache": str(self.workdir / "discovery")}), check_mode=True)

    def kubectl_diff(self, path):
        proc = run_command([tool("kubectl"), "diff", "--server-side", "--field-manager=trident-gitops",
                            "--force-conflicts", "-f", path], env=self.env, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
        return proc

    def k8s_loop(self, path, sample):
        docs = list(yaml.safe_load_all(path.read_text()))[:sample]
        task = {"name": "k8s loop", "kubernetes.core.k8s": {
            "definition": "{{ item }}", "state": "present", "kubeconfig": str(self.plane.kubeconfig),
            "server_side_apply": {"field_manager": "trident-gitops", "force_conflicts": True}},
            "loop": docs, "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"}}
        playbook_task(self.workdir / "k8s", task, check=True)

    def requests(self):
        return sum(self.plane.count_audit_requests().values())


def main():
    sizes = [int(n) for n in os.environ.get("TRIDENT_BENCH_KUBE_N", "100,500,1000").split(",") if n.strip()]
    rounds = int(os.environ.get("TRIDENT_BENCH_KUBE_ROUNDS", "3"))
    sample = int(os.environ.get("TRIDENT_BENCH_KUBE_K8S_SAMPLE", "20"))
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench-kube-") as tmp, ControlPlane(Path(tmp) / "cp", audit=True) as plane:
        bench = Bench(plane, Path(tmp))
        k8s_per_object = None
        for n in sizes:
            ns = f"bench-{n}"
            path = bench.write(ns, objects(n))
            row = {"N": n}

            # (4) full apply into an empty namespace: one run each (namespaces cannot be reused: without a
            # controller-manager a namespace is never deleted), ours vs kubectl apply --server-side.
            started = time.perf_counter()
            applied = bench.kube_diff(path, ns, check=False, apply=True)
            row["apply_ours"] = time.perf_counter() - started
            # The namespace and the N objects are new; the CRD exists after the first size.
            assert applied["summary"]["create"] >= n + 1 and applied["summary"]["update"] == 0, applied["summary"]
            other = bench.write(f"{ns}-kubectl", objects(n))
            started = time.perf_counter()
            run_command([tool("kubectl"), "apply", "--server-side", "--field-manager=kubectl-bench", "-f", other],
                        env=bench.env)
            row["apply_kubectl"] = time.perf_counter() - started
            print_table(f"N={n}: full apply into an empty namespace (one run)",
                        {"kube_diff apply": row["apply_ours"], "kubectl apply --server-side": row["apply_kubectl"]},
                        1)

            # (2) requests per in-sync object, from the audit log (discovery cache warm).
            before = bench.requests()
            result = bench.kube_diff(path, ns)
            row["requests"] = bench.requests() - before
            assert result["changed"] is False, [d for d in result["drift"] if d["action"] != "none"][:5]
            row["dry_runs"] = result["stats"]["dry_runs"]
            before = bench.requests()
            bench.kubectl_diff(path)
            row["requests_kubectl"] = bench.requests() - before

            # (1) in-sync check.
            cases = {"kube_diff (check mode, ansible-playbook)": lambda: bench.kube_diff(path, ns),
                     "reference: ansible-playbook start-up alone (ping)": bench.ansible_floor,
                     "kube_diff module_utils in-process (no Ansible start-up)": lambda: bench.in_process(path, ns),
                     "kubectl diff --server-side": lambda: bench.kubectl_diff(path)}
            medians = compare(f"N={n}: in-sync check", cases, rounds=rounds, warmup=1)
            row["check_ours"] = medians["kube_diff (check mode, ansible-playbook)"]
            row["check_inproc"] = medians["kube_diff module_utils in-process (no Ansible start-up)"]
            row["check_kubectl"] = medians["kubectl diff --server-side"]
            row["floor"] = medians["reference: ansible-playbook start-up alone (ping)"]
            if k8s_per_object is None and sample:
                started = time.perf_counter()
                bench.k8s_loop(path, sample)
                k8s_per_object = (time.perf_counter() - started) / sample
                print(f"\nkubernetes.core.k8s loop, check mode, server-side apply: {sample} objects in "
                      f"{k8s_per_object * sample:.1f}s = {k8s_per_object:.2f}s per object (one run)")
            if k8s_per_object:
                row["check_k8s"] = k8s_per_object * (n + 2)

            # (3) one drifted object among N.
            victim = "obj-00001"
            run_command([tool("kubectl"), "-n", ns, "patch", "configmap", victim, "--type=merge", "-p",
                         json.dumps({"data": {"mode": "green"}}), "--field-manager=someone"], env=bench.env)
            started = time.perf_counter()
            drift = bench.kube_diff(path, ns)
            row["drift_ours"] = time.perf_counter() - started
            found = [d for d in drift["drift"] if d["action"] != "none"]
            assert [(d["name"], d["fields"]) for d in found] == [(victim, ["data.mode"])], found
            started = time.perf_counter()
            assert bench.kubectl_diff(path).returncode == 1
            row["drift_kubectl"] = time.perf_counter() - started
            summary.append(row)
        print_summary(summary)
    print_completeness(int(os.environ.get("TRIDENT_BENCH_KUBE_CORPUS", "200")))


def print_completeness(examples):
    """Run the differential test over ``examples`` generated cases and print the proof's completeness."""
    if not examples:
        return
    with tempfile.TemporaryDirectory(prefix="bench-kube-corpus-") as tmp:
        stats_file = Path(tmp) / "stats.json"
        env = {**os.environ, "TRIDENT_FUZZ_KUBE_EXAMPLES": str(examples), "TRIDENT_FUZZ_KUBE_STATS": str(stats_file)}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(REPO / "tests/integration/test_kube_diff_differential.py")], cwd=REPO, env=env, check=True)
        stats = json.loads(stats_file.read_text())
    share = stats["proven"] / stats["in_sync"] if stats["in_sync"] else 0.0
    print(f"\n## in-sync proof over the differential corpus ({examples} generated cases, every verdict checked "
          f"against a dry-run): {stats['proven']}/{stats['in_sync']} in-sync objects proven without a dry-run "
          f"= {share:.0%} complete; {stats['drift']} drifted objects, {stats['rejected']} generated objects refused")


def print_summary(rows):
    print("\n## kube_diff summary (seconds; x = anchor / ours (ansible-playbook); ping = Ansible's own start-up; "
          "in-proc = module_utils without Ansible; k8s loop* extrapolated from a timed sample)")
    print(f"{'N':>5} {'ours':>7} {'ping':>5} {'in-proc':>7} {'kubectl diff':>12} {'x':>6} {'k8s loop*':>9} {'x':>7} {'req/obj':>8} "
          f"{'kubectl req/obj':>15} {'dry-runs':>8} {'dry/obj':>7} {'1 drift':>8} {'kubectl':>8} {'apply':>7} {'kubectl apply':>13}")
    for r in rows:
        k8s = r.get("check_k8s")
        k8s_text = f"{k8s:9.1f}" if k8s else f"{'-':>9}"
        ratio = f"{k8s / r['check_ours']:6.1f}x" if k8s else f"{'-':>7}"
        objects_n = r["N"] + 2
        print(f"{r['N']:>5} {r['check_ours']:7.2f} {r['floor']:5.2f} {r['check_inproc']:7.2f} "
              f"{r['check_kubectl']:12.2f} {r['check_kubectl'] / r['check_ours']:5.1f}x "
              f"{k8s_text} {ratio} {r['requests'] / objects_n:8.3f} {r['requests_kubectl'] / objects_n:15.2f} "
              f"{r['dry_runs']:8d} {r['dry_runs'] / objects_n:7.3f} {r['drift_ours']:8.2f} {r['drift_kubectl']:8.2f} {r['apply_ours']:7.2f} "
              f"{r['apply_kubectl']:13.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
