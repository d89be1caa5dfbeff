"""The repository at another revision, with real git: a shallow clone fetches what it lacks."""

import os
import subprocess

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.snapshot import folder_tree, materialise

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY}).stdout.strip()


def commit(repo, files, message):
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):  # ("link", target)
            path.symlink_to(content[1])
        else:
            path.write_text(content)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture()
def history(tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    git("init", "--quiet", "-b", "main", cwd=origin)
    first = commit(origin, {"environments/prod/yaml/app.yaml": "v: 1\n", "shared/kubeconfig.yaml": "k\n"}, "one")
    second = commit(origin, {"environments/prod/yaml/app.yaml": "v: 2\n", "environments/dev/env.yml": "{}\n"}, "two")
    shallow = tmp_path / "checkout"
    git("clone", "--quiet", "--depth", "1", f"file://{origin}", str(shallow), cwd=tmp_path)
    return origin, shallow, first, second


def test_an_old_revision_is_fetched_into_a_shallow_checkout_and_copied_outside_it(history, tmp_path):
    checkout, first = history[1], history[2]
    runner = CommandRunner()
    copy = materialise(runner, str(checkout), first, str(tmp_path / "cache"))
    assert copy == str(tmp_path / "cache" / first)
    assert (tmp_path / "cache" / first / "environments/prod/yaml/app.yaml").read_text() == "v: 1\n"
    assert (tmp_path / "cache" / first / "shared/kubeconfig.yaml").exists()  # the whole tree, not only the folder
    assert not (tmp_path / "cache" / first / "environments/dev").exists()
    assert (checkout / "environments/prod/yaml/app.yaml").read_text() == "v: 2\n"  # the checkout did not move
    assert git("status", "--porcelain", cwd=checkout) == ""
    assert materialise(runner, str(checkout), first, str(tmp_path / "cache")) == copy  # reused


def test_folder_trees_tell_whether_a_folder_changed(history):
    origin, checkout, first, second = history
    runner = CommandRunner()
    assert folder_tree(runner, str(checkout), second, "environments/prod") == git(
        "rev-parse", f"{second}:environments/prod", cwd=origin)
    assert folder_tree(runner, str(checkout), first, "environments/prod") != folder_tree(
        runner, str(checkout), second, "environments/prod")
    assert folder_tree(runner, str(checkout), first, "environments/dev") is None


@pytest.mark.parametrize("revision", ["main", "abc123", "--upload-pack=x", "0" * 39])
def test_only_full_commit_shas_are_revisions(history, tmp_path, revision):
    checkout = history[1]
    with pytest.raises(TridentError, match="is not a full commit SHA"):
        materialise(CommandRunner(), str(checkout), revision, str(tmp_path / "cache"))


def test_an_unknown_commit_is_an_error_naming_it(history, tmp_path):
    checkout = history[1]
    with pytest.raises(TridentError, match=f"commit {'1' * 40} is not in the checkout"):
        materialise(CommandRunner(), str(checkout), "1" * 40, str(tmp_path / "cache"))
    assert not (tmp_path / "cache" / ("1" * 40)).exists()


def test_a_link_leading_outside_is_refused_and_nothing_is_left(history, tmp_path):
    origin, checkout = history[0], history[1]
    bad = commit(origin, {"environments/prod/yaml/leak.yaml": ("link", "/etc/passwd")}, "leak")
    with pytest.raises(TridentError, match="environments/prod/yaml/leak.yaml leads outside the repository"):
        materialise(CommandRunner(), str(checkout), bad, str(tmp_path / "cache"))
    assert os.listdir(tmp_path / "cache") == []
