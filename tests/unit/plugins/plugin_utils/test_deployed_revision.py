"""An environment folder's tree and its history since the deployed revision, on a real Git repository."""

import subprocess

import pytest

from ansible_collections.trident.gitops.plugins.plugin_utils.deployed_revision import folder_tree, history, run_git


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    for env in ("a", "b"):
        (tmp_path / "environments" / env).mkdir(parents=True)
        (tmp_path / "environments" / env / "app.yaml").write_text("v: 1\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "both")
    (tmp_path / "environments" / "b" / "app.yaml").write_text("v: 2\n")
    _git(tmp_path, "commit", "-qam", "b only")
    (tmp_path / "environments" / "a" / "app.yaml").write_text("v: 2\n")
    _git(tmp_path, "commit", "-qam", "a: v2")
    return tmp_path


def test_a_commit_touching_another_folder_keeps_the_tree(repo):
    git = run_git(str(repo))
    trees = [folder_tree(git, f"HEAD~{n}", "environments/a") for n in (2, 1, 0)]
    assert trees[0][1] == trees[1][1] != trees[2][1]
    assert trees[2] == (_git(repo, "rev-parse", "HEAD"), _git(repo, "rev-parse", "HEAD:environments/a"))


def test_history_lists_the_folder_s_commits_and_files_since_the_record(repo):
    git = run_git(str(repo))
    commit, tree = folder_tree(git, "", "environments/a")
    old_commit, old_tree = folder_tree(git, "HEAD~2", "environments/a")
    found = history(git, {"revision": old_commit, "tree": old_tree}, commit, tree, "environments/a")
    assert found == {"commits": [{"sha": commit, "subject": "a: v2"}],
                     "changed_files": ["environments/a/app.yaml"], "history": "complete"}


def test_a_recorded_commit_the_checkout_lacks_gives_no_history(repo):
    git = run_git(str(repo))
    commit, tree = folder_tree(git, "", "environments/a")
    found = history(git, {"revision": "0" * 40, "tree": "1" * 40}, commit, tree, "environments/a")
    assert found == {"commits": [], "changed_files": [], "history": "unavailable"}


def test_no_git_repository_has_no_tree(tmp_path):
    assert folder_tree(run_git(str(tmp_path)), "", "environments/a") == (None, None)
