"""`make demo`: reconcile examples/gitops-repo against local services, make a drift, detect and correct it.

Starts a real cluster on loopback (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok's fake
nodes, so Deployments really roll out and end Healthy) and a git server, pushes a copy of
examples/gitops-repo to it (the placeholder kubeconfigs pointed at the local API server), adds the
seed's SOPS secrets the way the seed does it (a PGP key, ``.sops.yaml`` with an ``encrypted_regex``
rule, ``sops -e``): a Kubernetes Secret manifest and a Terraform variable. Then it runs the
collection's playbooks the way users run them:

    ansible-playbook -i gitops.environments.yml trident.gitops.reconcile
    ansible-playbook -i gitops.environments.yml trident.gitops.drift

Each run's report is shown as text for a terminal (drift-report.txt); the Markdown, JSON and JUnit files are next
to it. Nothing outside one temporary folder is written, and the demo fails if a secret value appears in anything a
run printed or reported. At the end every service is stopped and the folder removed, unless ``--keep``
(``make demo DEMO_ARGS=--keep``): then the cluster and git server stay up until Ctrl-C, and the demo's last screen
says how to reach the cluster (a kubeconfig), the repository (a clone) and the report; the folder stays after Ctrl-C.
"""

import argparse
import base64
import json
import os
import shlex
import shutil
import signal
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from testbed import tool
from testbed.controlplane import ControlPlane
from testbed.gitops import GitOpsRepo, copy_example, isolated_vars, run_gitops, write_inventory
from testbed.gitserver import GitServer
from testbed.keys import GnuPGHome
from testbed.sops import sops

# The seed's Secret (its values, base64 in `data`), and a database password for Terraform.
SECRET_VALUES = {"username": "xiaomage-demo-user", "company": "JiHu(GitLab)-demo"}
CHANGED_USERNAME = "xiaomage-rotated-user"
DB_PASSWORD = "demo-db-password-4b1d"
SECRET_MANIFEST = "environments/aliyun/yaml/secret.sops.yaml"
SECRET_VARS = "environments/aliyun/secrets/app.sops.yaml"


def say(text):
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(run, title):
    """Print what the run changed: the drift report for a terminal (drift-report.txt)."""
    say(f"{title}: ansible-playbook exited {run.rc}")
    if run.rc != 0:
        print(run.stdout[-6000:], run.stderr[-3000:], sep="\n")
    report = run.report_dir / "drift-report.txt"
    print(report.read_text() if report.exists() else "(no drift report written)")
    return run


def rolled_out(plane):
    """Every Deployment has observed its latest generation and runs its replicas updated and available."""
    for item in request(plane, "/apis/apps/v1/deployments")["items"]:
        status, want = item.get("status") or {}, (item.get("spec") or {}).get("replicas", 1)
        if status.get("observedGeneration", 0) < item["metadata"]["generation"] or any(
                status.get(key, 0) != want for key in ("updatedReplicas", "availableReplicas", "replicas")):
            return False
    return True


def wait_for_rollout(plane, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rolled_out(plane):
            return True
        time.sleep(1)
    return False


def healthy(run):
    """Every environment of the report with objects is Healthy."""
    envs = (run.report or {}).get("environments", {})
    return bool(envs) and all(env.get("health") in (None, "Healthy") for env in envs.values()) and any(
        env.get("health") == "Healthy" for env in envs.values())


def write_run_script(work, inventory, gnupg, report_dir):
    """``run.sh drift|reconcile``: the playbooks again, with the demo's settings, for someone exploring what --keep
    left."""
    extra_vars = json.dumps(isolated_vars(work))
    exports = {"PATH": os.environ.get("PATH", ""), "ANSIBLE_COLLECTIONS_PATH": os.environ.get(
        "ANSIBLE_COLLECTIONS_PATH", ""), "GNUPGHOME": str(gnupg.path), "TRIDENT_DRIFT_REPORT_DIR": str(report_dir),
        "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"}
    lines = ["#!/bin/sh", "# Written by make demo --keep: run trident.gitops.drift or .reconcile as the demo did.",
             "set -eu", f"cd {shlex.quote(str(work))}"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in exports.items()]
    lines.append(f'exec ansible-playbook -i {shlex.quote(str(inventory))} -e {shlex.quote(extra_vars)} '
                 '"trident.gitops.${1:-drift}"')
    script = work / "run.sh"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def where_to_look(work, plane, repo, report_dir, detected, kept):
    """The demo's last screen: where the cluster, the repository and the report are, and how to stop."""
    say("Where to look")
    print(f"  report       {report_dir}/drift-report.txt (and .md, .json, .xml, verdict)")
    print(f"  the drift    {detected}/drift-report.md (the check that found it, as a merge-request comment shows it)")
    print(f"  repository   {repo.path}   (a clone; git log, edit, then git push to change what is deployed)")
    if not kept:
        print("  everything above is removed now; run `make demo DEMO_ARGS=--keep` to keep it and the cluster")
        return
    print(f"  cluster      export KUBECONFIG={plane.kubeconfig}; {tool('kubectl')} get deployments,pods -A")
    print(f"  again        {work / 'run.sh'} drift   (or reconcile: the demo's own settings, report in {report_dir})")
    print(f"  stop         press Ctrl-C (or kill {os.getpid()}): the cluster and git server stop; the files stay "
          f"in {work} until you remove them (rm -rf {work})")


def request(plane, path, body=None, method="GET"):
    """Talk to the API server the way someone with kubectl would (another field manager)."""
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{plane.server}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {plane.admin_token}", "Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(req, context=context, timeout=30) as response:
        return json.loads(response.read() or b"null")


def secret_manifest(values):
    data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "sops-demo", "namespace": "gitops-demo", "labels": {"app": "demo"}}, "data": data}


def add_secrets(repo, gnupg):
    """The seed's steps: a PGP key, .sops.yaml naming it, then `sops -e -i` on each plaintext file."""
    key = gnupg.generate(uid="GitOps Demo <demo@trident.invalid>")
    rules = repo.path / ".sops.yaml"
    rules.write_text(rules.read_text().replace("0" * 40, key.fingerprint))
    repo.write(SECRET_MANIFEST, json.dumps(secret_manifest(SECRET_VALUES), indent=2))
    repo.write(SECRET_VARS, f"db_password: {DB_PASSWORD}\n")
    for relative in (SECRET_MANIFEST, SECRET_VARS):
        sops("--encrypt", "--in-place", relative, gnupghome=gnupg.path, cwd=repo.path)
    print(f"PGP key {key.fingerprint}; {SECRET_MANIFEST} has only data encrypted (encrypted_regex), "
          f"{SECRET_VARS} every value")


def live_secret_matches(plane, values):
    secret = request(plane, "/api/v1/namespaces/gitops-demo/secrets/sops-demo")
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()} == values


def leaked(runs, secrets):
    """Names of the runs whose output or reports contain any secret value (plain or base64)."""
    needles = set(secrets) | {base64.b64encode(s.encode()).decode() for s in secrets}
    found = []
    for title, run in runs:
        texts = [run.stdout, run.stderr] + [p.read_text() for p in run.report_dir.glob("*") if p.is_file()]
        if any(needle in text for needle in needles for text in texts):
            found.append(title)
    return found


def make_drift(plane, repo, gnupg):
    request(plane, "/apis/apps/v1/namespaces/gitops-demo/deployments/deploy?fieldManager=kubectl-edit",
            {"spec": {"replicas": 7}}, method="PATCH")
    request(plane, "/api/v1/namespaces/gitops-demo/configmaps/demo-config", method="DELETE")
    app = repo.path / "environments/k3s/yaml/app.yaml"
    app.write_text(app.read_text().replace("app:v6.1.0", "app:v6.2.0"))
    encoded = base64.b64encode(CHANGED_USERNAME.encode()).decode()
    sops("set", SECRET_MANIFEST, '["data"]["username"]', json.dumps(encoded), gnupghome=gnupg.path, cwd=repo.path)
    repo.push("k3s: demo app v6.2.0; aliyun: rotate the demo Secret's username")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the cluster, git server, repository and reports until Ctrl-C, and the files after it")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="trident-demo-"))
    try:
        return demo(work, args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def demo(work, keep):
    say("Starting a local cluster (kube-apiserver, controllers, scheduler, kwok nodes) and git server")
    started = time.monotonic()
    with ControlPlane(work / "control-plane", workloads=True) as plane, GitServer(work / "git") as server, \
            GnuPGHome(work / "gnupg") as gnupg:
        print(f"kube-apiserver {plane.server}, git daemon port {server.daemon_port} "
              f"({time.monotonic() - started:.1f}s)")
        repo = GitOpsRepo(server, "gitops", work / "clone")
        copy_example(repo.path, plane)
        say("Encrypting the seed's Secret and a Terraform variable with sops and a PGP key")
        add_secrets(repo, gnupg)
        repo.push("Demo: the example GitOps repository, pointed at the local API server, with SOPS secrets")
        inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
        print(f"GitOps repository {repo.url}, inventory {inventory}")
        runs = []

        def run(playbook, title):
            result = run_gitops(playbook, inventory, work, extra_vars=isolated_vars(work),
                                env={"GNUPGHOME": str(gnupg.path)}, stdout_callback="ansible.builtin.default")
            runs.append((title, show(result, title)))
            return result

        run("reconcile", "Reconcile (first run converges everything)")
        applied = live_secret_matches(plane, SECRET_VALUES)
        say(f"Secret gitops-demo/sops-demo {'holds' if applied else 'does NOT hold'} the values from Git "
            "(compared in the demo, never printed)")
        wait_for_rollout(plane)
        run("drift", "Drift check (nothing differs)")

        say("Making drift: scale the aliyun Deployment by hand, delete its ConfigMap, merge a commit for k3s "
            "and rotate the Secret's username in Git (sops set)")
        make_drift(plane, repo, gnupg)
        drift = run("drift", "Drift check (detects it; check mode changes nothing)")
        # Kept apart (the next drift check writes report-drift again): the report that has something to show.
        detected = work / "report-drift-detected"
        shutil.copytree(drift.report_dir, detected, dirs_exist_ok=True)
        secret_drift = any(item.get("kind") == "Secret" for item in drift.items("aliyun", "kubernetes"))
        run("reconcile", "Reconcile (corrects it)")
        rotated = live_secret_matches(plane, {**SECRET_VALUES, "username": CHANGED_USERNAME})
        say("Waiting for the Deployments to roll out (the controllers and kwok's nodes run them)")
        rolled = wait_for_rollout(plane)
        clean = run("drift", "Drift check (in sync again, and Healthy)")
        leaks = leaked(runs, [*SECRET_VALUES.values(), CHANGED_USERNAME, DB_PASSWORD])
        checks = {"secret applied": applied, "drift detected in both environments":
                  drift.rc == 0 and drift.drifted() == ["aliyun", "k3s"],
                  "secret drift reported": secret_drift, "secret rotated": rotated,
                  "in sync at the end": clean.drifted() == [],
                  "rolled out and Healthy at the end": rolled and healthy(clean),
                  "no secret value in any output": not leaks}
        for name, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAILED'}] {name}")
        if leaks:
            print(f"  secret values appeared in: {', '.join(leaks)}")
        ok = all(checks.values())
        say("Demo " + ("finished: secrets reconciled, drift detected and corrected" if ok else "FAILED"))
        where_to_look(work, plane, repo, clean.report_dir, detected, keep)
        if keep:
            write_run_script(work, inventory, gnupg, clean.report_dir)
            wait_for_interrupt()
        return 0 if ok else 1


def wait_for_interrupt():
    """Until Ctrl-C (SIGINT) or SIGTERM; then the context managers stop the services."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        say("Stopping the cluster and the git server")


if __name__ == "__main__":
    sys.exit(main())
