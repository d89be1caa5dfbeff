"""git_source against a real git daemon: revisions, shallow fetches, drift, check mode, lock, force-push."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from git_source_support import Upstream, head_of, run_source, snapshot

from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from testbed.gitserver import git


@pytest.fixture()
def upstream(git_server, tmp_path, request):
    repo = Upstream(git_server, tmp_path, request.node.name.replace("[", "-").replace("]", ""))
    repo.first = repo.commit({"README.md": "hello\n", "environments/dev/app.yaml": "replicas: 1\n"}, "first")
    repo.second = repo.commit({"environments/dev/app.yaml": "replicas: 2\n"}, "second")
    return repo


def commit_count(dest):
    return int(git("rev-list", "--count", "HEAD", cwd=dest))


def is_shallow(dest):
    return (Path(dest) / ".git" / "shallow").exists()


def test_clones_remote_head_shallow_then_is_idempotent(upstream, tmp_path):
    dest = tmp_path / "checkout"
    stale = tmp_path / ".checkout.clone-killed"  # what a run killed in the middle of a first clone leaves
    (stale / ".git").mkdir(parents=True)
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert result["changed"] is True and result["before"] is None
    assert not stale.exists()
    assert result["after"] == upstream.second == head_of(dest)
    assert result["kind"] == "branch" and result["ref"] == "main"
    assert result["changed_files"] == ["README.md", "environments/dev/app.yaml"]
    assert result["commit"]["subject"] == "second" and result["commit"]["author"] == "Trident Test"
    assert result["commit"]["sha"] == upstream.second
    assert git("symbolic-ref", "--short", "HEAD", cwd=dest) == "main"
    assert is_shallow(dest) and commit_count(dest) == 1
    holder = json.loads(Path(f"{dest}.lock").read_text())
    assert set(holder) == {"pid", "command", "host", "what", "since"}, "the lock file names its last holder only"
    assert not [p for p in tmp_path.iterdir() if ".clone-" in p.name], "no temporary clone left behind"

    again = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert again["changed"] is False and again["before"] == again["after"] == upstream.second
    assert again["changed_files"] == []


def test_update_after_new_commit_reports_changed_files_and_diff(upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    third = upstream.commit({"environments/prod/app.yaml": "replicas: 3\n", "README.md": None}, "third")
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), diff=True)
    assert result["changed"] is True
    assert (result["before"], result["after"]) == (upstream.second, third)
    assert result["changed_files"] == ["README.md", "environments/prod/app.yaml"]
    assert not (dest / "README.md").exists() and (dest / "environments/prod/app.yaml").read_text() == "replicas: 3\n"
    diff = result["diff"]
    assert diff["before"] == f"{upstream.second}\n"
    assert diff["after"].startswith(f"{third}\n") and "changed: environments/prod/app.yaml" in diff["after"]


@pytest.mark.parametrize("annotated", [True, False], ids=["annotated", "lightweight"])
def test_tag_is_fetched_shallow_and_detached(upstream, tmp_path, annotated):
    upstream.git("checkout", "--quiet", upstream.first)
    upstream.tag("v1.0", annotated=annotated)
    dest = tmp_path / "checkout"
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), version="v1.0")
    assert result["changed"] is True and result["kind"] == "tag" and result["after"] == upstream.first
    assert head_of(dest) == upstream.first
    assert subprocess.run(["git", "-C", str(dest), "symbolic-ref", "HEAD"], capture_output=True,
                          check=False).returncode != 0
    assert is_shallow(dest) and commit_count(dest) == 1
    assert (dest / "environments/dev/app.yaml").read_text() == "replicas: 1\n"


def test_full_sha_that_is_no_tip_is_fetched_shallow(upstream, tmp_path):
    dest = tmp_path / "checkout"
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), version=upstream.first)
    assert result["kind"] == "commit" and result["after"] == upstream.first == head_of(dest)
    assert is_shallow(dest) and commit_count(dest) == 1


def test_sha_falls_back_to_full_fetch_when_server_refuses_it(upstream, tmp_path):
    # Protocol v0 servers refuse unadvertised SHAs unless uploadpack.allowReachableSHA1InWant is set.
    global_config = tmp_path / "gitconfig"
    global_config.write_text("[protocol]\n\tversion = 0\n")
    env = {"GIT_CONFIG_GLOBAL": str(global_config)}
    probe = subprocess.run(["git", "fetch", "--depth", "1", upstream.url, upstream.first], cwd=upstream.work,
                           env={**os.environ, **env}, capture_output=True, text=True, check=False)
    assert "unadvertised object" in probe.stderr, "the fallback path must really be exercised"
    dest = tmp_path / "checkout"
    result = run_source(tmp_path, env=env, repo=upstream.url, dest=str(dest), version=upstream.first)
    assert result["changed"] is True and head_of(dest) == upstream.first
    assert not is_shallow(dest) and commit_count(dest) == 1  # full history of the first commit


def test_short_sha_tip_and_non_tip(upstream, tmp_path):
    tip = run_source(tmp_path, repo=upstream.url, dest=str(tmp_path / "tip"), version=upstream.second[:8])
    assert tip["after"] == upstream.second and is_shallow(tmp_path / "tip")
    old = run_source(tmp_path, repo=upstream.url, dest=str(tmp_path / "old"), version=upstream.first[:8])
    assert old["after"] == upstream.first == head_of(tmp_path / "old")


def test_depth_zero_fetches_full_history_and_unshallows(upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert is_shallow(dest)
    upstream.commit({"x": "1\n"}, "third")
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), depth=0)
    assert result["changed"] is True and not is_shallow(dest) and commit_count(dest) == 3


def test_force_pushed_branch_moves_to_new_head(upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    upstream.git("reset", "--quiet", "--hard", upstream.first)
    rewritten = upstream.commit({"environments/dev/app.yaml": "replicas: 5\n"}, "rewritten", push=False)
    upstream.push(force=True)
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert result["changed"] is True and (result["before"], result["after"]) == (upstream.second, rewritten)
    assert result["changed_files"] == ["environments/dev/app.yaml"]
    assert head_of(dest) == rewritten and (dest / "environments/dev/app.yaml").read_text() == "replicas: 5\n"


def test_unknown_ref_deleted_branch_and_missing_sha_leave_checkout_intact(upstream, tmp_path):
    dest = tmp_path / "checkout"
    upstream.git("push", "--quiet", "origin", "HEAD:refs/heads/feature")
    run_source(tmp_path, repo=upstream.url, dest=str(dest), version="feature")
    before = snapshot(dest)
    upstream.git("push", "--quiet", "origin", ":refs/heads/feature")
    deleted = run_source(tmp_path, repo=upstream.url, dest=str(dest), version="feature")
    assert deleted["failed"] is True and "unknown ref 'feature'" in deleted["msg"]
    typo = run_source(tmp_path, repo=upstream.url, dest=str(dest), version="no-such-branch")
    assert typo["failed"] is True and "unknown ref 'no-such-branch'" in typo["msg"]
    missing = run_source(tmp_path, repo=upstream.url, dest=str(dest), version="0" * 39 + "1")
    assert missing["failed"] is True and "0" * 39 + "1" in missing["msg"]
    assert snapshot(dest) == before


def test_local_changes_are_discarded_and_reported(upstream, tmp_path):
    dest = tmp_path / "checkout"
    upstream.commit({".gitignore": "*.tfstate\n"}, "ignore state")
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    (dest / "README.md").write_text("edited by hand\n")
    (dest / "environments/dev/app.yaml").unlink()
    (dest / "stray.txt").write_text("x")
    (dest / "environments/dev/terraform.tfstate").write_text("{}")
    check = run_source(tmp_path, repo=upstream.url, dest=str(dest), check=True)
    assert check["changed"] is True
    assert (dest / "stray.txt").exists(), "check mode discards nothing"
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert result["changed"] is True and result["before"] == result["after"]
    assert result["discarded"] == {"modified": ["README.md", "environments/dev/app.yaml"],
                                   "untracked": ["environments/dev/terraform.tfstate", "stray.txt"]}
    assert (dest / "README.md").read_text() == "hello\n" and (dest / "environments/dev/app.yaml").exists()
    assert not (dest / "stray.txt").exists() and not (dest / "environments/dev/terraform.tfstate").exists()
    assert git("status", "--porcelain", "--ignored", cwd=dest) == ""
    again = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert again["changed"] is False


def test_clean_false_fails_on_local_changes_and_keeps_them(upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    upstream.commit({"x": "new\n"}, "third")
    (dest / "README.md").write_text("mine\n")
    (dest / "notes.txt").write_text("mine too\n")
    before = snapshot(dest)
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), clean=False)
    assert result["failed"] is True and "local changes" in result["msg"] and "README.md" in result["msg"]
    assert result["local_changes"] == {"modified": ["README.md"], "untracked": ["notes.txt"]}
    assert snapshot(dest) == before


def test_check_mode_resolves_remotely_and_touches_nothing(upstream, tmp_path):
    fresh = tmp_path / "fresh"
    result = run_source(tmp_path, repo=upstream.url, dest=str(fresh), check=True)
    assert result["changed"] is True and result["after"] == upstream.second
    assert not fresh.exists() and not Path(f"{fresh}.lock").exists()

    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    Path(f"{dest}.lock").unlink()
    third = upstream.commit({"x": "1\n"}, "third")
    before_files = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), check=True, diff=True)
    assert result["changed"] is True and (result["before"], result["after"]) == (upstream.second, third)
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before_files, "nothing fetched"
    assert not Path(f"{dest}.lock").exists()
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    unchanged = run_source(tmp_path, repo=upstream.url, dest=str(dest), check=True)
    assert unchanged["changed"] is False


def test_lock_serializes_runs_on_the_same_dest(upstream, tmp_path):
    dest = tmp_path / "checkout"
    with file_lock(f"{dest}.lock"):
        blocked = run_source(tmp_path, repo=upstream.url, dest=str(dest), lock_timeout=1)
    assert blocked["failed"] is True and "another run is in progress" in blocked["msg"]
    assert not dest.exists()

    # Two real concurrent runs on a fresh dest: one clones, the other waits and finds it up to date.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda n: run_source(tmp_path / f"concurrent-{n}", repo=upstream.url,
                                                  dest=str(dest)), range(2)))
    assert [run.get("failed", False) for run in runs] == [False, False]
    assert sorted(run["changed"] for run in runs) == [False, True]
    assert head_of(dest) == upstream.second and git("status", "--porcelain", "--ignored", cwd=dest) == ""


def test_refuses_a_non_git_directory_and_converges_an_empty_one(upstream, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "precious").write_text("keep")
    result = run_source(tmp_path, repo=upstream.url, dest=str(occupied))
    assert result["failed"] is True and "not a git checkout" in result["msg"]
    assert [p.name for p in occupied.iterdir()] == ["precious"]
    empty = tmp_path / "empty"
    empty.mkdir()
    created = run_source(tmp_path, repo=upstream.url, dest=str(empty))
    assert created["changed"] is True and head_of(empty) == upstream.second


def test_submodules_are_checked_out_updated_and_cleaned(git_server, upstream, tmp_path):
    library = Upstream(git_server, tmp_path, "library-for-submodules")
    lib_first = library.commit({"lib.txt": "v1\n"}, "lib v1")
    upstream.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add", library.url, "vendor/lib")
    upstream.commit({}, "add submodule")
    dest = tmp_path / "checkout"
    result = run_source(tmp_path, repo=upstream.url, dest=str(dest), submodules=True)
    assert result["changed"] is True and (dest / "vendor/lib/lib.txt").read_text() == "v1\n"
    assert head_of(dest / "vendor/lib") == lib_first

    (dest / "vendor/lib/lib.txt").write_text("local edit\n")
    (dest / "vendor/lib/junk").write_text("x")
    cleaned = run_source(tmp_path, repo=upstream.url, dest=str(dest), submodules=True)
    assert cleaned["changed"] is True and "vendor/lib" in cleaned["discarded"]["modified"]
    assert (dest / "vendor/lib/lib.txt").read_text() == "v1\n" and not (dest / "vendor/lib/junk").exists()

    lib_second = library.commit({"lib.txt": "v2\n"}, "lib v2")
    upstream.git("-C", "vendor/lib", "pull", "--quiet", "origin", "main")
    upstream.git("add", "vendor/lib")
    upstream.git("commit", "--quiet", "-m", "bump lib")
    upstream.push()
    bumped = run_source(tmp_path, repo=upstream.url, dest=str(dest), submodules=True)
    assert bumped["changed"] is True and bumped["changed_files"] == ["vendor/lib"]
    assert head_of(dest / "vendor/lib") == lib_second and (dest / "vendor/lib/lib.txt").read_text() == "v2\n"
    idle = run_source(tmp_path, repo=upstream.url, dest=str(dest), submodules=True)
    assert idle["changed"] is False


def test_local_bare_repository_path_and_a_moved_remote(git_server, upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    bare = git_server.root / f"{upstream.name}.git"
    third = upstream.commit({"x": "1\n"}, "third")
    moved = run_source(tmp_path, repo=str(bare), dest=str(dest))
    assert moved["changed"] is True and moved["after"] == third == head_of(dest)
    assert git("remote", "get-url", "origin", cwd=dest) == str(bare)
    git("remote", "remove", "origin", cwd=dest)
    restored = run_source(tmp_path, repo=upstream.url, dest=str(dest))
    assert restored["changed"] is False and git("remote", "get-url", "origin", cwd=dest) == upstream.url


def test_switching_between_branch_and_sha_of_the_same_commit_is_a_change(upstream, tmp_path):
    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    detached = run_source(tmp_path, repo=upstream.url, dest=str(dest), version=upstream.second)
    assert detached["changed"] is True and detached["before"] == detached["after"] == upstream.second
    assert run_source(tmp_path, repo=upstream.url, dest=str(dest), version=upstream.second)["changed"] is False
    back = run_source(tmp_path, repo=upstream.url, dest=str(dest), version="main")
    assert back["changed"] is True and git("symbolic-ref", "--short", "HEAD", cwd=dest) == "main"


def test_a_branch_that_moves_between_listing_and_fetching_converges_to_its_new_tip(upstream, tmp_path):
    """The race a push during a reconcile makes: ls-remote saw one commit, the fetch brings a newer one."""
    from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
    from ansible_collections.trident.gitops.plugins.module_utils.git import source

    dest = tmp_path / "checkout"
    run_source(tmp_path, repo=upstream.url, dest=str(dest))
    upstream.commit({"environments/dev/app.yaml": "replicas: 3\n"}, "what ls-remote lists")
    listed = []
    runner = CommandRunner()

    def pushing_runner(argv, **kwargs):
        result = runner(argv, **kwargs)
        if "ls-remote" in argv and not listed:
            listed.append(upstream.commit({"environments/dev/app.yaml": "replicas: 4\n"}, "pushed meanwhile"))
        return result

    pushing_runner.mask_text, pushing_runner.env = runner.mask_text, runner.env
    result = source.sync(source.SyncRequest(repo=upstream.url, dest=str(dest)), pushing_runner)
    assert result.after == listed[0] == head_of(dest)
    assert (dest / "environments/dev/app.yaml").read_text() == "replicas: 4\n"
