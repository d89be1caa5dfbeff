"""Runs cut short, through real ansible-playbook.

SIGTERM during ``terraform apply`` (what systemd, a container runtime or an AWX cancel does to the run's
process group): Terraform stops gracefully in its sandbox, no private file with a secret is left on disk, and
the rerun replaces the resource the interrupted create left tainted, without allow_destroy, and converges. The
API server killed in the middle of an apply: the run fails naming it; after its restart the rerun converges."""

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from kube_support import get
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

SECRET = "db-password-3b9f0c"
# A slow create that runs no program on the controller (local-exec is refused): remote-exec on the environment's
# own target, here the test's sshd on loopback.
SLOW_TF = """
variable "db_password" {
  type      = string
  sensitive = true
}
variable "started" { type = string }
variable "delay" { type = number }
variable "ssh" {
  type      = object({ port = number, user = string, key = string })
  sensitive = true
}

resource "terraform_data" "slow" {
  input = "v1"
  connection {
    type        = "ssh"
    host        = "127.0.0.1"
    port        = var.ssh.port
    user        = var.ssh.user
    private_key = var.ssh.key
  }
  provisioner "remote-exec" {
    inline = ["touch ${var.started}", "sleep ${var.delay}"]
  }
}
"""


@pytest.fixture
def repo(tmp_path, ssh_server):
    env = tmp_path / "repo" / "environments" / "infra"
    env.mkdir(parents=True)
    (env / "main.tf").write_text(SLOW_TF)
    ssh = {"port": ssh_server.port, "user": ssh_server.user, "key": ssh_server.client_key.read_text()}
    # The secret is given to the run (as a decrypted SOPS file's value would be), never committed: the copy of the
    # configuration in the state dir holds the repository's files, and no file there may hold the secret.
    (env / "env.yml").write_text(json.dumps({"terraform_binary": "terraform"}))
    variables = {"db_password": SECRET, "started": str(tmp_path / "apply-started"), "delay": 120, "ssh": ssh}
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    state_dir = tmp_path / "terraform-state" / "infra"
    return {"inventory": inventory, "work": tmp_path, "state_dir": state_dir, "started": tmp_path / "apply-started",
            "variables": variables}


def secret_files(*roots):
    found = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    if SECRET.encode() in handle.read():
                        found.append(path)
    return found


def private_folders(state_dir):
    return sorted(path.name for path in state_dir.iterdir() if path.name.startswith((".run-", ".plan-saved")))


def test_sigterm_during_apply_stops_gracefully_leaves_no_secret_and_the_rerun_converges(repo):
    work, state_dir = repo["work"], repo["state_dir"]
    env = {**os.environ, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp"), "ANSIBLE_REMOTE_TMP": str(work / "remote-tmp")}
    argv = ["ansible-playbook", "-i", str(repo["inventory"]), "trident.gitops.reconcile",
            "-e", json.dumps({**isolated_vars(work), "terraform_vars": repo["variables"]})]
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while not repo["started"].exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-4000:]
        time.sleep(0.1)
    # Plan, then apply: the apply runs the saved plan, which holds the secret (the var file died with the plan).
    assert (state_dir / ".plan-saved" / "plan.tfplan").exists(), "the saved plan exists during the apply"
    os.killpg(proc.pid, signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0
    # The module went on after the signal until Terraform had stopped, then removed its private folder.
    deadline = time.monotonic() + 60
    while private_folders(state_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert private_folders(state_dir) == [], "the private folders (var file, saved plan) are removed"
    assert secret_files(state_dir, work / ".ansible-tmp", work / "remote-tmp") == []
    assert SECRET not in output
    state = json.loads((state_dir / "terraform.tfstate").read_text())
    assert state["resources"][0]["instances"][0].get("status") == "tainted", "Terraform wrote its state"

    # A SIGKILLed run would leave its private folder: the next start removes it.
    leftover = state_dir / ".run-killed"
    leftover.mkdir()
    (leftover / "trident.tfvars.json").write_text(json.dumps({"db_password": SECRET}))
    saved = state_dir / ".plan-saved"
    saved.mkdir()
    (saved / "plan.tfplan").write_text(SECRET)

    # The rerun replaces what the interrupted create left tainted without allow_destroy: nothing of value was
    # there yet (terraform_apply recorded it as its own unfinished create).
    fast = {**repo["variables"], "delay": 0}
    converged = run_gitops("reconcile", repo["inventory"], work,
                           extra_vars={**isolated_vars(work), "terraform_vars": fast})
    assert converged.rc == 0, converged.explain()
    assert not leftover.exists() and not saved.exists()
    state = json.loads((state_dir / "terraform.tfstate").read_text())
    assert "status" not in state["resources"][0]["instances"][0], "replaced: no longer tainted"
    again = run_gitops("reconcile", repo["inventory"], work, extra_vars={**isolated_vars(work), "terraform_vars": fast})
    assert again.rc == 0 and again.changed_hosts() == [], again.explain()
    assert secret_files(state_dir, work / ".ansible-tmp", work / "remote-tmp") == []


def test_apiserver_killed_mid_apply_then_restarted_the_rerun_converges(tmp_path, control_plane):
    env = tmp_path / "repo" / "environments" / "apps"
    (env / "yaml").mkdir(parents=True)
    (env / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
    (env / "yaml" / "all.yaml").write_text("---\n".join(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "killed-mid-apply"}})
        if i < 0 else yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": f"cm-{i:04d}", "namespace": "killed-mid-apply"}, "data": {"i": str(i)}}) for i in range(-1, 300)))
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    extra = {**isolated_vars(tmp_path), "kubernetes_workers": 2}
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(run_gitops, "reconcile", inventory, tmp_path, extra_vars=extra)
        deadline = time.monotonic() + 120
        while get(control_plane, "configmap", "cm-0000", "killed-mid-apply") is None:
            assert not first.done() and time.monotonic() < deadline, first.result().explain()
            time.sleep(0.05)
        control_plane.kill_apiserver()
        cut = first.result(timeout=180)
    control_plane.restart_apiserver()
    assert cut.rc != 0
    assert f"cannot reach the Kubernetes API server at {control_plane.server}" in cut.stdout, cut.explain()
    rerun = run_gitops("reconcile", inventory, tmp_path, extra_vars=extra)
    assert rerun.rc == 0, rerun.explain()
    assert get(control_plane, "configmap", "cm-0299", "killed-mid-apply")["data"] == {"i": "299"}
    assert run_gitops("reconcile", inventory, tmp_path, extra_vars=extra).changed_hosts() == []
