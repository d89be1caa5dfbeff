"""The per-environment lock of the reconcile role: held = wait naming the holder, then fail; a failed step
releases it; a run killed with SIGKILL leaves nothing that blocks the next one."""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.lock import hold_for, release
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lock-test"}, "data": {"k": "v"}}


@pytest.fixture
def repo(tmp_path, control_plane):
    env = tmp_path / "repo" / "environments" / "locked"
    (env / "yaml").mkdir(parents=True)
    (env / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
    (env / "yaml" / "cm.yaml").write_text(yaml.safe_dump(CONFIGMAP))
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    return {"env": env, "inventory": inventory, "work": tmp_path, "lock": tmp_path / "locks" / "locked.lock"}


def run(repo, **extra):
    return run_gitops("reconcile", repo["inventory"], repo["work"], extra_vars={**isolated_vars(repo["work"]), **extra})


def test_a_held_lock_makes_the_run_wait_naming_the_holder_then_fail(repo):
    holder = hold_for(str(repo["lock"]), os.getpid(), timeout=1, what="test")
    try:
        result = run(repo, reconcile_lock_timeout=3)
    finally:
        release(holder)
    assert result.rc != 0
    assert f"waiting up to 3s for the lock on the environment ({repo['lock']}), held by pid {os.getpid()}" \
        in result.stdout
    assert f"timed out after 3s waiting for the lock on the environment ({repo['lock']}): another run is in " \
           f"progress: pid {os.getpid()}" in result.stdout
    # Nothing ran after the lock: the report says so (not checked), never "in sync".
    assert result.report["environments"]["locked"]["steps"]["kubernetes"]["status"] == "not_checked"


def test_a_failing_step_releases_the_lock_and_a_rerun_converges(repo, control_plane):
    good = (repo["env"] / "kubeconfig.yaml").read_text()
    (repo["env"] / "kubeconfig.yaml").write_text(good.replace(control_plane.server, "https://127.0.0.1:9"))
    failed = run(repo)
    assert failed.rc != 0
    assert failed.report["environments"]["locked"]["steps"]["kubernetes"]["status"] == "failed"
    (repo["env"] / "kubeconfig.yaml").write_text(good)
    rerun = run(repo)
    assert rerun.rc == 0, rerun.explain()
    assert "waiting up to" not in rerun.stdout


def test_sigkill_mid_reconcile_then_an_immediate_rerun_converges_without_waiting(repo):
    argv = ["ansible-playbook", "-i", str(repo["inventory"]), "trident.gitops.reconcile",
            "-e", json.dumps(isolated_vars(repo["work"]))]
    env = {**os.environ, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(repo["work"] / ".ansible-tmp")}
    proc = subprocess.Popen(argv, cwd=repo["work"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        # The lock file names the run that holds it: then the steps run under it.
        while f'"pid": {proc.pid},' not in _read(repo["lock"]):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never took its lock"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    started = time.monotonic()
    rerun = run(repo, reconcile_lock_timeout=120)
    took = time.monotonic() - started
    assert rerun.rc == 0, rerun.explain()
    assert "waiting up to" not in rerun.stdout, "the killed run's lock must be gone, not waited for"
    print(f"rerun after SIGKILL converged in {took:.1f}s")
    assert run(repo).changed_hosts() == []


def _read(path):
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
