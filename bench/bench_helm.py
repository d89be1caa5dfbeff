"""A chart rendering 100 objects, in-sync (no-op) check: ours through ansible-playbook vs
`helm template | kubectl diff --server-side -f -`, on a real control plane with the pinned helm.

"ours" is one kube_diff task with the ``helm`` option in check mode through ansible-playbook: it
renders the chart with the real helm for the cluster (version and API versions from discovery) and
checks the rendered objects, as the kubernetes role does for env.yml's helm_releases. helm-diff
(`helm upgrade --dry-run` with the plugin) is not built here: it needs a Helm release recorded in
the cluster, which this tool never creates. N from TRIDENT_BENCH_HELM_N (default 100), rounds from
TRIDENT_BENCH_HELM_ROUNDS (default 3).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.harness import REPO, ansible_floor, compare, playbook_task, run_command

sys.path.insert(0, str(REPO / "tools"))
sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]

from testbed import tool  # noqa: E402
from testbed.controlplane import ControlPlane  # noqa: E402

from ansible_collections.trident.gitops.plugins.module_utils.helm.render import Cluster  # noqa: E402

NAMESPACE = "bench-helm"
# One template, N objects: a third each ConfigMaps, Secrets and headless Services.
TEMPLATE = """{{- range $i := until (int .Values.count) }}
---
{{- if eq (mod $i 3) 0 }}
apiVersion: v1
kind: ConfigMap
metadata: {name: "obj-{{ $i }}"}
data: {index: "{{ $i }}", mode: {{ $.Values.mode | quote }}}
{{- else if eq (mod $i 3) 1 }}
apiVersion: v1
kind: Secret
metadata: {name: "obj-{{ $i }}"}
stringData: {password: "pw-{{ $i }}"}
{{- else }}
apiVersion: v1
kind: Service
metadata: {name: "obj-{{ $i }}"}
spec: {clusterIP: None, selector: {app: "obj-{{ $i }}"}, ports: [{port: 80}]}
{{- end }}
{{- end }}
"""


def write_repository(root, count):
    chart = root / "charts" / "bench"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text(f"count: {count}\nmode: blue\n")
    (chart / "templates" / "objects.yaml").write_text(TEMPLATE)
    env = root / "environments" / "bench"
    env.mkdir(parents=True)
    return chart, env


class Bench:
    def __init__(self, plane, workdir, count):
        self.plane = plane
        self.workdir = workdir
        self.chart, self.env = write_repository(workdir / "repo", count)
        self.kubectl_env = {"KUBECONFIG": str(plane.kubeconfig)}
        version = json.loads(run_command([tool("kubectl"), "version", "-o", "json"], env=self.kubectl_env).stdout)
        api_versions = run_command([tool("kubectl"), "api-versions"], env=self.kubectl_env).stdout.decode().split()
        self.cluster = Cluster(version["serverVersion"]["gitVersion"], tuple(api_versions))

    def ours(self, apply=False):
        helm = {"releases": [{"name": "bench", "namespace": NAMESPACE, "chart": {"path": "../../charts/bench"}}],
                "env_path": str(self.env), "repo_path": str(self.workdir / "repo"), "binary": tool("helm"),
                "chart_cache": str(self.workdir / "chart-cache")}
        task = {"name": "kube_diff", "trident.gitops.kube_diff": {
            "helm": helm, "namespace": NAMESPACE, "kubeconfig": str(self.plane.kubeconfig),
            "apply": apply, "discovery_cache": str(self.workdir / "discovery")}}
        return playbook_task(self.workdir / "play", task, check=not apply)

    def ansible_floor(self):
        ansible_floor(self.workdir / "ping")

    def helm_template_kubectl_diff(self):
        # The anchor gets what ours gets: the cluster's version and API versions.
        template = (f"{tool('helm')} template bench {self.chart} --namespace {NAMESPACE} --kube-version "
                    f"{self.cluster.kube_version} --api-versions {','.join(self.cluster.api_versions)}")
        diff = (f"{tool('kubectl')} diff --namespace {NAMESPACE} --server-side --field-manager=trident-gitops "
                "--force-conflicts -f -")
        proc = run_command(["bash", "-o", "pipefail", "-c", f"{template} | {diff}"], env=self.kubectl_env,
                           check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
        return proc


def main():
    count = int(os.environ.get("TRIDENT_BENCH_HELM_N", "100"))
    rounds = int(os.environ.get("TRIDENT_BENCH_HELM_ROUNDS", "3"))
    with tempfile.TemporaryDirectory(prefix="bench-helm-") as tmp, ControlPlane(Path(tmp) / "cp") as plane:
        bench = Bench(plane, Path(tmp), count)
        run_command([tool("kubectl"), "create", "namespace", NAMESPACE], env=bench.kubectl_env)
        applied = bench.ours(apply=True)
        assert applied["summary"]["create"] >= count, applied["summary"]
        assert bench.ours()["changed"] is False
        assert bench.helm_template_kubectl_diff().returncode == 0, "kubectl diff sees drift right after the apply"
        compare(f"chart rendering {count} objects: in-sync check", {
            "ours: kube_diff helm option, check (ansible-playbook)": bench.ours,
            "helm template | kubectl diff --server-side -f -": bench.helm_template_kubectl_diff,
            "reference: ansible-playbook start-up alone (ping)": bench.ansible_floor,
        }, rounds=rounds, warmup=1)
