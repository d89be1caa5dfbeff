"""reconcile.yml and drift.yml run through ansible-runner the way AWX runs a job: a private data dir
with the project (the GitOps repository, with the one-line playbooks of examples/gitops-repo), an
inventory synced beforehand from the project's inventory source (an executable script printing the
JSON, as AWX writes it) and extra vars in env/extravars."""

import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import ansible_runner
import pytest
import yaml

from testbed.gitops import kubeconfig_text

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gitops-repo"


def manifests(ns, value):
    return yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
         "data": {"mode": value}},
    ])


@pytest.fixture(scope="module")
def awx_job(tmp_path_factory, control_plane):
    root = tmp_path_factory.mktemp("runner")
    project = root / "project"
    project.mkdir()
    for name in ("reconcile.yml", "drift.yml", "gitops.environments.yml"):
        shutil.copy(EXAMPLES / name, project / name)
    for env in ("one", "two"):
        folder = project / "environments" / env
        (folder / "yaml").mkdir(parents=True)
        (folder / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
        (folder / "yaml" / "settings.yaml").write_text(manifests(f"runner-{env}", "blue"))
        (folder / "env.yml").write_text(f"namespace: runner-{env}\n")

    # The inventory update: AWX runs the inventory source, stores the hosts, and hands each job a script.
    listing = subprocess.run(["ansible-inventory", "-i", "gitops.environments.yml", "--list"], cwd=project,
                             env={**os.environ, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"},
                             capture_output=True, text=True, check=True).stdout
    inventory = root / "inventory"
    inventory.mkdir()
    script = inventory / "hosts"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({listing!r})\n")
    script.chmod(0o700)
    (root / "env").mkdir()
    (root / "env" / "extravars").write_text(yaml.safe_dump({
        "reconcile_lock_dir": str(root / "locks"),
        "terraform_state_dir": str(root / "state")}))

    def run(playbook):
        shutil.rmtree(root / "artifacts", ignore_errors=True)
        return ansible_runner.run(private_data_dir=str(root), playbook=playbook, inventory=str(script),
                                  quiet=True, envvars={"ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report"})

    return run


def changed_hosts(result):
    """Hosts with a changed task, from the job events AWX stores."""
    return sorted({event["event_data"]["host"] for event in result.events
                   if event["event"] == "runner_on_ok" and event["event_data"]["res"].get("changed")})


def edit_configmap(plane, ns):
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    request = urllib.request.Request(
        f"{plane.server}/api/v1/namespaces/{ns}/configmaps/settings?fieldManager=kubectl-edit",
        data=json.dumps({"data": {"mode": "red"}}).encode(), method="PATCH",
        headers={"Authorization": f"Bearer {plane.admin_token}", "Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(request, context=context, timeout=30):
        pass


def test_awx_style_jobs_report_drift_in_events_and_artifacts(awx_job, control_plane):
    first = awx_job("reconcile.yml")
    assert first.rc == 0, first.stdout.read()
    assert changed_hosts(first) == ["one", "two"]
    assert set(first.stats["changed"]) == {"one", "two"}

    edit_configmap(control_plane, "runner-two")

    drift = awx_job("drift.yml")
    assert drift.rc == 0, drift.stdout.read()
    assert changed_hosts(drift) == ["two"]
    changed_tasks = {event["event_data"]["task_action"] for event in drift.events
                     if event["event"] == "runner_on_ok" and event["event_data"]["res"].get("changed")}
    assert changed_tasks == {"trident.gitops.kube_diff"}
    # AWX keeps set_stats data as the job's artifacts: the artifact_data of the playbook_on_stats event.
    stats_event = next(event for event in drift.events if event["event"] == "playbook_on_stats")
    trident = stats_event["event_data"]["artifact_data"]["trident_drift"]
    assert trident["two"]["kubernetes"]["changed"] is True
    assert trident["two"]["kubernetes"]["items"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "runner-two", "name": "settings", "action": "update",
         "reason": "", "fields": ["data.mode"], "changes": [{"path": "data.mode", "before": "red", "after": "blue"}],
         "health": {"status": "Healthy", "reason": ""}, "checked_by": "dry-run", "pending": None}]
    assert trident["two"]["kubernetes"]["health"]["status"] == "Healthy"
    assert trident["one"]["kubernetes"]["changed"] is False

    fix = awx_job("reconcile.yml")
    assert fix.rc == 0
    assert changed_hosts(fix) == ["two"]
    clean = awx_job("drift.yml")
    assert clean.rc == 0
    assert changed_hosts(clean) == []
