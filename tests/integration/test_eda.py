"""Continuous reconcile (issue 19): the real ansible-rulebook runs the collection's reconcile_on_push
rulebook; its git_push source hears webhooks from the tests (as GitLab and GitHub send them) or polls
the local git server, and the reconcile playbook applies to the real control plane.

Two environments with their own namespace; which of them a run touched shows in the cluster.
"""

import json
import time

import pytest

from testbed.eda import PushWorkspace, github_headers, gitlab_headers, gitlab_push
from testbed.process import wait_until

pytestmark = pytest.mark.slow

TOKEN = "eda-test-webhook-secret-4f1c9a"
ENVIRONMENTS = ("edaalpha", "edabeta")
ZERO = "0" * 40


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, control_plane, git_server):
    return PushWorkspace(tmp_path_factory.mktemp("eda"), control_plane, git_server, ENVIRONMENTS)


@pytest.fixture(scope="module")
def webhook_rulebook(workspace):
    """Webhook only (no polling): whatever it reconciles, a webhook triggered."""
    with workspace.rulebook("webhook", TOKEN, trident_poll_interval=0, trident_push_quiet=1) as rulebook:
        yield rulebook


def test_a_webhook_push_reconciles_only_the_changed_environment(workspace, webhook_rulebook):
    before = workspace.head
    workspace.set_mode("edaalpha", "webhook-1")
    after = workspace.push("alpha: webhook-1")
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(before, after)) == 202
    wait_until(lambda: workspace.mode("edaalpha") == "webhook-1", 120, "alpha applied", webhook_rulebook.service)
    webhook_rulebook.wait_idle()
    assert webhook_rulebook.events() == [(after, ["edaalpha"])]
    assert webhook_rulebook.runs() == 1
    assert workspace.mode("edabeta") is None, "beta's folder did not change: its run never happened"


def test_a_bad_token_triggers_nothing(workspace, webhook_rulebook):
    events_before = len(webhook_rulebook.events())
    before = workspace.head
    workspace.set_mode("edabeta", "signed")
    after = workspace.push("beta: signed")
    body = gitlab_push(before, after)
    assert webhook_rulebook.webhook({"X-Gitlab-Event": "Push Hook"}, body) == 401
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN[:-1]), body) == 401
    assert webhook_rulebook.webhook(github_headers("not-the-secret-at-all-0000", body), body) == 401
    assert webhook_rulebook.webhook({**github_headers(TOKEN, body), "X-GitHub-Event": "push"}, body + b" ") == 401
    # Authenticated but not a push of the branch: refused or ignored, nothing fetched.
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), b"{not json") == 400
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(ZERO, after, "feature")) == 202
    big = json.dumps({"object_kind": "push", "padding": "x" * (2 * 1024 * 1024)}).encode()
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), big) == 413
    time.sleep(3)  # several quiet periods: an accepted webhook would have emitted an event by now
    assert len(webhook_rulebook.events()) == events_before
    assert workspace.mode("edabeta") is None
    # The same push, signed as GitHub signs it, is reconciled.
    assert webhook_rulebook.webhook(github_headers(TOKEN, body), body) == 202
    wait_until(lambda: workspace.mode("edabeta") == "signed", 120, "beta applied", webhook_rulebook.service)
    webhook_rulebook.wait_idle()
    assert webhook_rulebook.events()[events_before:] == [(after, ["edabeta"])]


def test_ten_pushes_in_two_seconds_give_at_most_two_runs_ending_at_the_newest(workspace, webhook_rulebook):
    webhook_rulebook.wait_idle()
    runs_before, events_before = webhook_rulebook.runs(), len(webhook_rulebook.events())
    started = time.monotonic()
    for number in range(10):
        before = workspace.head
        workspace.set_mode("edaalpha", f"burst-{number}")
        assert webhook_rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(before, workspace.push(f"burst {number}"))) \
            == 202
    burst_seconds = time.monotonic() - started
    wait_until(lambda: workspace.mode("edaalpha") == "burst-9", 120, "the newest revision applied",
               webhook_rulebook.service)
    webhook_rulebook.wait_idle()
    new_events = webhook_rulebook.events()[events_before:]
    assert 1 <= webhook_rulebook.runs() - runs_before <= 2, (burst_seconds, new_events)
    assert new_events[-1] == (workspace.head, ["edaalpha"])
    assert workspace.mode("edaalpha") == "burst-9"


def test_a_push_during_a_run_triggers_one_more_run(workspace, webhook_rulebook):
    webhook_rulebook.wait_idle()
    runs_before = webhook_rulebook.runs()
    plays_before = webhook_rulebook.log().count("PLAY [")
    before = workspace.head
    workspace.set_mode("edaalpha", "during-1")
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(before, workspace.push("during 1"))) == 202
    wait_until(lambda: webhook_rulebook.log().count("PLAY [") > plays_before, 60, "the first run to start",
               webhook_rulebook.service, 0.05)
    before = workspace.head
    workspace.set_mode("edaalpha", "during-2")
    assert webhook_rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(before, workspace.push("during 2"))) == 202
    wait_until(lambda: workspace.mode("edaalpha") == "during-2", 120, "the second push applied",
               webhook_rulebook.service)
    webhook_rulebook.wait_idle()
    assert webhook_rulebook.runs() - runs_before == 2, "the push during the run was neither lost nor merged into it"
    assert webhook_rulebook.events()[-1] == (workspace.head, ["edaalpha"])


def test_polling_catches_a_push_without_a_webhook(workspace):
    with workspace.rulebook("poll", TOKEN, trident_webhook=False, trident_poll_interval=1,
                            trident_push_quiet=0.5) as rulebook:
        before = workspace.head
        workspace.set_mode("edabeta", "polled")
        workspace.push("beta: polled")
        wait_until(lambda: workspace.mode("edabeta") == "polled", 120, "beta applied by polling", rulebook.service)
        rulebook.wait_idle()
        assert rulebook.events() == [(workspace.head, ["edabeta"])]
        assert before != workspace.head
