"""`make demo`: reconcile examples/gitops-repo against local services, make a drift, detect and correct it.

Starts a real kube-apiserver (+ etcd) and a git server on loopback, pushes a copy of
examples/gitops-repo to it (the placeholder kubeconfigs pointed at the local API server), and runs the
collection's playbooks the way users run them:

    ansible-playbook -i gitops.environments.yml trident.gitops.reconcile
    ansible-playbook -i gitops.environments.yml trident.gitops.drift

Nothing outside a temporary folder is written, and every service is stopped at the end.
"""

import json
import shutil
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from testbed.controlplane import ControlPlane
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.gitserver import GitServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gitops-repo"
KUBECONFIGS = ("environments/aliyun/kubeconfig.yaml", "environments/k3s/yaml/kubeconfig.yaml")


def say(text):
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(run, title):
    """Print what the run changed and the Markdown drift report it wrote."""
    say(f"{title}: ansible-playbook exited {run.rc}")
    if run.rc != 0:
        print(run.stdout[-6000:], run.stderr[-3000:], sep="\n")
    report = run.report_dir / "drift-report.md"
    print(report.read_text() if report.exists() else "(no drift report written)")
    return run


def patch(plane, path, body, method="PATCH"):
    """Change the cluster the way someone with kubectl would (another field manager)."""
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{plane.server}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {plane.admin_token}", "Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(request, context=context, timeout=30):
        pass


def main():
    with tempfile.TemporaryDirectory(prefix="trident-demo-") as tmp:
        work = Path(tmp)
        say("Starting a local kube-apiserver and git server")
        started = time.monotonic()
        with ControlPlane(work / "control-plane") as plane, GitServer(work / "git") as server:
            print(f"kube-apiserver {plane.server}, git daemon port {server.daemon_port} "
                  f"({time.monotonic() - started:.1f}s)")
            repo = GitOpsRepo(server, "gitops", work / "clone")
            repo.copy_from(EXAMPLES, ignore=shutil.ignore_patterns(".git"))
            for path in KUBECONFIGS:
                repo.write(path, kubeconfig_text(plane, cluster=path.split("/")[1]))
            repo.push("Demo: the example GitOps repository, pointed at the local API server")
            inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
            print(f"GitOps repository {repo.url}, inventory {inventory}")

            def run(playbook):
                return run_gitops(playbook, inventory, work, extra_vars=isolated_vars(work),
                                  stdout_callback="ansible.builtin.default")

            show(run("reconcile"), "Reconcile (first run converges everything)")
            show(run("drift"), "Drift check (nothing differs)")

            say("Making drift: scale the aliyun Deployment by hand, delete its ConfigMap, and merge a commit for k3s")
            patch(plane, "/apis/apps/v1/namespaces/gitops-demo/deployments/deploy?fieldManager=kubectl-edit",
                  {"spec": {"replicas": 7}})
            patch(plane, "/api/v1/namespaces/gitops-demo/configmaps/demo-config", None, method="DELETE")
            app = repo.path / "environments/k3s/yaml/app.yaml"
            app.write_text(app.read_text().replace("app:v6.1.0", "app:v6.2.0"))
            repo.push("k3s: demo app v6.2.0")

            drift = show(run("drift"), "Drift check (detects it; check mode changes nothing)")
            show(run("reconcile"), "Reconcile (corrects it)")
            clean = show(run("drift"), "Drift check (in sync again)")
            ok = drift.rc == 0 and drift.drifted() == ["aliyun", "k3s"] and clean.drifted() == []
            say("Demo " + ("finished: drift detected and corrected" if ok else "FAILED"))
            return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
