"""A real forge in the loop (issue 30): the GitOps repository lives on the testbed's Gitea; the push webhook Gitea
really sends reaches the real ansible-rulebook's git_push source, which reconciles only the changed environment on
the real control plane; the drift_report callback then sets ``trident/<env>`` on the deployed commit through Gitea's
API. A pull request's drift preview is one comment, updated on the next push; a wrong webhook secret triggers
nothing; with Gitea down the reconcile still succeeds and the failed status is a warning.
"""

import secrets
import time

import pytest

from testbed.eda import PushWorkspace
from testbed.gitops import isolated_vars, run_gitops, write_inventory
from testbed.gitserver import git
from testbed.process import wait_until

pytestmark = pytest.mark.slow

TOKEN = "gitea-webhook-secret-7d2e91c4"
ENVIRONMENTS = ("giteaone", "giteatwo")
MARKER = "<!-- trident.gitops drift preview -->"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, control_plane, gitea_server):
    return PushWorkspace(tmp_path_factory.mktemp("forge"), control_plane, gitea_server, ENVIRONMENTS,
                         repo_name=f"gitops-{secrets.token_hex(3)}")


def forge_env(gitea, workspace, **extra):
    """The operator's settings of the drift_report callback for the workspace's repository on Gitea."""
    return {"TRIDENT_FORGE": "gitea", "TRIDENT_FORGE_API_URL": gitea.api_url,
            "TRIDENT_FORGE_PROJECT": f"{gitea.username}/{workspace.repo.name}", "TRIDENT_FORGE_TOKEN": gitea.token,
            **extra}


def statuses(gitea, workspace, sha):
    answer = gitea.api("GET", f"repos/{gitea.username}/{workspace.repo.name}/commits/{sha}/status")
    return {s["context"]: (s["status"], s["description"]) for s in answer["statuses"] or []}


@pytest.fixture(scope="module")
def hook(gitea_server, workspace):
    return gitea_server.add_webhook(workspace.repo.name, "http://127.0.0.1:1/", TOKEN, events=("push",))


@pytest.fixture(scope="module")
def rulebook(workspace, gitea_server, hook):
    book = workspace.rulebook("webhook", TOKEN, env={
        **forge_env(gitea_server, workspace), "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report",
        "TRIDENT_DRIFT_REPORT_DIR": str(workspace.tmp / "eda-report")},
        trident_poll_interval=0, trident_push_quiet=1)
    set_hook(gitea_server, workspace, hook, f"http://127.0.0.1:{book.port}/", TOKEN)
    with book:
        yield book


def set_hook(gitea, workspace, hook, url, secret):
    gitea.api("PATCH", f"repos/{gitea.username}/{workspace.repo.name}/hooks/{hook['id']}",
              {"config": {"url": url, "content_type": "json", "secret": secret}, "active": True})


def test_a_gitea_push_reconciles_the_changed_environment_and_sets_its_commit_status(
        workspace, gitea_server, rulebook):
    workspace.set_mode("giteaone", "pushed-1")
    after = workspace.push("one: pushed-1")
    wait_until(lambda: workspace.mode("giteaone") == "pushed-1", 180, "giteaone applied", rulebook.service)
    rulebook.wait_idle(180)
    assert rulebook.events() == [(after, ["giteaone"])]
    assert workspace.mode("giteatwo") is None, "giteatwo's folder did not change: it was not reconciled"
    wait_until(lambda: "trident/giteaone" in statuses(gitea_server, workspace, after), 60, "the commit status",
               rulebook.service)
    assert statuses(gitea_server, workspace, after) == {"trident/giteaone": ("success", "in sync, Healthy")}
    assert gitea_server.token not in rulebook.log()


def test_a_wrong_webhook_secret_triggers_nothing(workspace, gitea_server, rulebook, hook):
    events = len(rulebook.events())
    refused = rulebook.log().count("refused a webhook")
    hooks = f"repos/{gitea_server.username}/{workspace.repo.name}/hooks"
    # Gitea keeps a hook's secret on edit: the right hook is switched off, one with a wrong secret added.
    gitea_server.api("PATCH", f"{hooks}/{hook['id']}", {"active": False})
    wrong = gitea_server.add_webhook(workspace.repo.name, f"http://127.0.0.1:{rulebook.port}/", TOKEN[::-1],
                                     events=("push",))
    try:
        workspace.set_mode("giteatwo", "unsigned")
        after = workspace.push("two: unsigned")
        wait_until(lambda: rulebook.log().count("refused a webhook") > refused, 60, "the refusal", rulebook.service)
        time.sleep(3)  # several quiet periods: an accepted webhook would have emitted an event by now
        assert len(rulebook.events()) == events
        assert workspace.mode("giteatwo") is None and statuses(gitea_server, workspace, after) == {}
    finally:
        gitea_server.api("DELETE", f"{hooks}/{wrong['id']}")
        gitea_server.api("PATCH", f"{hooks}/{hook['id']}", {"active": True})


def test_a_pull_requests_preview_is_one_comment_updated_on_the_next_push(workspace, gitea_server, tmp_path):
    owner, repo = gitea_server.username, workspace.repo.name
    git("checkout", "--quiet", "-B", "preview", cwd=workspace.repo.path)
    try:
        workspace.set_mode("giteatwo", "preview-1")
        git("add", "--all", cwd=workspace.repo.path)
        git("commit", "--quiet", "-m", "two: preview-1", cwd=workspace.repo.path)
        git("push", "--quiet", "origin", "preview", cwd=workspace.repo.path)
        first = git("rev-parse", "HEAD", cwd=workspace.repo.path)
        pull = gitea_server.api("POST", f"repos/{owner}/{repo}/pulls",
                                {"head": "preview", "base": "main", "title": "two: preview"})
        inventory = write_inventory(tmp_path / "inventory", workspace.repo.url, tmp_path / "cache", version="preview")
        env = forge_env(gitea_server, workspace, TRIDENT_FORGE_PULL_REQUEST=str(pull["number"]))
        gitea_server.api("POST", f"repos/{owner}/{repo}/issues/{pull['number']}/comments", {"body": "a reviewer"})

        run = run_gitops("drift", inventory, tmp_path, isolated_vars(tmp_path / "runs"), env=env)
        assert run.rc == 0 and run.report["environments"]["giteatwo"]["verdict"] == "drift", run.explain()
        comments = gitea_server.api("GET", f"repos/{owner}/{repo}/issues/{pull['number']}/comments")
        ours = [c for c in comments if c["body"].startswith(MARKER)]
        assert len(comments) == 2 and len(ours) == 1 and first[:7] in ours[0]["body"]
        assert "giteatwo" in ours[0]["body"]

        workspace.set_mode("giteatwo", "preview-2")
        git("add", "--all", cwd=workspace.repo.path)
        git("commit", "--quiet", "-m", "two: preview-2", cwd=workspace.repo.path)
        git("push", "--quiet", "origin", "preview", cwd=workspace.repo.path)
        second = git("rev-parse", "HEAD", cwd=workspace.repo.path)
        run = run_gitops("drift", inventory, tmp_path, isolated_vars(tmp_path / "runs"), env=env)
        assert run.rc == 0, run.explain()
        comments = gitea_server.api("GET", f"repos/{owner}/{repo}/issues/{pull['number']}/comments")
        again = [c for c in comments if c["body"].startswith(MARKER)]
        assert [c["id"] for c in again] == [ours[0]["id"]] and len(comments) == 2, "updated, not duplicated"
        assert second[:7] in again[0]["body"] and first[:7] not in again[0]["body"]
        assert statuses(gitea_server, workspace, second) == {}, "a preview sets no commit status"
        assert workspace.mode("giteatwo") is None, "a preview changes nothing"
    finally:
        git("checkout", "--quiet", "main", cwd=workspace.repo.path)


def test_with_gitea_down_the_reconcile_succeeds_and_the_status_failure_is_a_warning(
        workspace, gitea_server, tmp_path):
    # The repository is read from a mirror of Gitea's: only the forge is down, not the source.
    mirror = tmp_path / "mirror.git"
    git("clone", "--quiet", "--mirror", workspace.repo.url, str(mirror))
    inventory = write_inventory(tmp_path / "inventory", str(mirror), tmp_path / "cache")
    gitea_server.pause()
    try:
        started = time.monotonic()
        run = run_gitops("reconcile", inventory, tmp_path, isolated_vars(tmp_path / "runs"),
                         env=forge_env(gitea_server, workspace), args=("-e", f"trident_hosts={ENVIRONMENTS[0]}"))
        took = time.monotonic() - started
    finally:
        gitea_server.resume()
    assert run.rc == 0, run.explain()
    assert run.report["environments"]["giteaone"]["verdict"] in ("in_sync", "corrected")
    warnings = [line for line in run.stderr.splitlines() if "forge: commit status giteaone" in line]
    assert warnings and "Connection refused" in warnings[0], run.stderr[-3000:]
    assert gitea_server.token not in run.stdout + run.stderr
    assert took < 300
