"""The per-environment lock of the reconcile role: held = wait then fail, stale = broken, failure = released."""

import os
import time

import pytest
import yaml

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


def test_a_held_lock_makes_the_run_wait_and_fail_without_touching_it(repo):
    repo["lock"].mkdir(parents=True)
    started = time.monotonic()
    result = run(repo, reconcile_lock_timeout=4)
    assert result.rc != 0
    assert time.monotonic() - started >= 4
    assert f"Another run is reconciling locked (lock {repo['lock']})" in result.stdout
    assert repo["lock"].is_dir(), "the other run's lock stays"
    assert "kubernetes" not in (result.report or {}).get("environments", {}).get("locked", {}).get("steps", {})


def test_a_stale_lock_is_broken_and_the_run_releases_its_own(repo):
    repo["lock"].mkdir(parents=True)
    old = time.time() - 3600
    os.utime(repo["lock"], (old, old))
    result = run(repo, reconcile_lock_stale_after=600)
    assert result.rc == 0, result.explain()
    assert result.changed_hosts() == ["locked"]
    assert not repo["lock"].exists()


def test_a_failing_step_releases_the_lock_and_a_rerun_converges(repo, control_plane):
    good = (repo["env"] / "kubeconfig.yaml").read_text()
    (repo["env"] / "kubeconfig.yaml").write_text(good.replace(control_plane.server, "https://127.0.0.1:9"))
    failed = run(repo)
    assert failed.rc != 0
    assert failed.report["environments"]["locked"]["steps"]["kubernetes"]["status"] == "failed"
    assert not repo["lock"].exists()
    (repo["env"] / "kubeconfig.yaml").write_text(good)
    assert run(repo).rc == 0
