import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.source import (
    SyncRequest, SyncResult, lock_path, normalized_repo, validate)
from ansible_collections.trident.gitops.plugins.module_utils.git.worktree import LocalChanges


@pytest.mark.parametrize("request_, message", [
    (SyncRequest("", "/d"), "repo must not be empty"),
    (SyncRequest("https://u:p@h/r.git", "/d"), "must not embed"),
    (SyncRequest("--upload-pack=touch /tmp/x", "/d"), "must not start with '-'"),
    (SyncRequest("r", "/d", depth=-1), "depth"),
    (SyncRequest("r", "/d", verify_signature=True), "needs trusted_keys"),
    (SyncRequest("r", "/d", verify_signature=True, trusted_keys=("nope",)), r"trusted_keys\[0\]"),
])
def test_validate_refuses_bad_input(request_, message):
    with pytest.raises(TridentError, match=message):
        validate(request_)


def test_validate_refuses_a_file_as_dest(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(TridentError, match="not a directory"):
        validate(SyncRequest("r", str(tmp_path / "f")))


def test_lock_is_next_to_dest():
    assert lock_path("/srv/checkout/") == "/srv/checkout.lock"


def test_local_repo_paths_become_absolute_urls_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo").mkdir()
    assert normalized_repo("repo") == str(tmp_path / "repo")
    assert normalized_repo("https://h/r.git") == "https://h/r.git"


def test_diff_lists_changes_and_discards():
    result = SyncResult(True, "a" * 40, "b" * 40, "branch", "main", ["x.yaml"],
                        discarded=LocalChanges(["m"], ["u"]))
    diff = result.diff()
    assert diff["before"] == "a" * 40 + "\n"
    assert diff["after"] == "b" * 40 + "\nchanged: x.yaml\ndiscarded (modified): m\ndiscarded (untracked): u\n"
    assert result.as_dict()["discarded"] == {"modified": ["m"], "untracked": ["u"]}
    assert SyncResult(True, None, "b" * 40, "branch", "main").diff()["before"] == "(no checkout)\n"
