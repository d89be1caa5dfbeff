"""A Terraform-only environment reconciled by controller A is in sync for controller B (issue 29): B has an empty
HOME, its own Terraform state dir and no record file, and shares only the backend (a local backend whose state file
the operator points both at, as a remote backend would be shared). Its plan against the shared state is empty, which
proves the environment runs the branch: no source drift. Real terraform, real git, real ansible-playbook."""

import subprocess

import pytest

from testbed.gitops import isolated_vars, run_gitops

MAIN_TF = """terraform {
  backend "local" {}
}

resource "terraform_data" "app" {
  input = "%s"
}
"""


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def story(tmp_path):
    repo = tmp_path / "repo"
    (repo / "environments" / "infra").mkdir(parents=True)
    (repo / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (tmp_path / "shared").mkdir()
    return {"repo": repo, "root": tmp_path, "state": str(tmp_path / "shared" / "infra.tfstate")}


def commit(story, value):
    (story["repo"] / "environments" / "infra" / "main.tf").write_text(MAIN_TF % value)
    git(story["repo"], "add", "-A")
    git(story["repo"], "commit", "-q", "-m", value)


def run(story, controller, playbook):
    work = story["root"] / controller
    (work / "home").mkdir(parents=True, exist_ok=True)
    result = run_gitops(playbook, story["repo"] / "gitops.environments.yml", work,
                        extra_vars={**isolated_vars(work), "terraform_backend_config": {"path": story["state"]},
                                    "terraform_sandbox_write_paths": [str(story["root"] / "shared")]},
                        env={"HOME": str(work / "home")})
    assert result.rc == 0, result.explain()
    return result


def steps(result):
    return {name: step["status"] for name, step in result.report["environments"]["infra"]["steps"].items()}


def test_a_terraform_only_environment_reconciled_by_a_is_in_sync_for_b(story):
    commit(story, "v1")
    first = run(story, "a", "reconcile")
    assert first.report["environments"]["infra"]["verdict"] == "corrected"
    # B never ran it: no record in its HOME or state dir, yet the shared state proves it runs the branch.
    # (A reconcile, not drift.yml: a check-mode preview sees a local backend's state file read-only and cannot
    # take Terraform's state lock; a remote backend has no such limit.)
    second = run(story, "b", "reconcile")
    assert second.report["environments"]["infra"]["verdict"] == "in_sync", steps(second)
    assert steps(second)["source"] == "ok" and steps(second)["terraform"] == "ok"
    # A change on the branch is drift for both: A's record is older, and B's plan is not empty.
    commit(story, "v2")
    changed = run(story, "b", "reconcile")
    assert changed.report["environments"]["infra"]["verdict"] == "corrected"
    assert steps(changed)["terraform"] == "changed" and steps(changed)["source"] == "changed"
    # A's record says v1 and the state holds v2: A's plan is empty, the source differs from its (stale) record.
    behind = run(story, "a", "reconcile")
    assert steps(behind)["terraform"] == "ok", steps(behind)
