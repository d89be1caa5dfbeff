"""Webhook checks, payload schema, changed environments, coalescing and arguments of the git_push source."""

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.plugin_utils.push_events import (
    GITEA, GITHUB, GITLAB, Coalescer, PayloadError, authenticate, changed_environments, parse_push, source_settings)

TOKEN = "s3cret-webhook-token-0123"
SHA_A = "a" * 40
SHA_B = "b" * 40


def github_signature(body, token=TOKEN):
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def push_body(**overrides):
    return json.dumps({"object_kind": "push", "ref": "refs/heads/main", "before": SHA_A, "after": SHA_B,
                       **overrides}).encode()


def test_gitlab_token_must_match_exactly():
    body = push_body()
    assert authenticate({"X-Gitlab-Token": TOKEN}, body, TOKEN) == GITLAB
    for wrong in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        assert authenticate({"X-Gitlab-Token": wrong}, body, TOKEN) is None


def test_github_signature_covers_the_body_and_the_token():
    body = push_body()
    assert authenticate({"X-Hub-Signature-256": github_signature(body)}, body, TOKEN) == GITHUB
    assert authenticate({"x-hub-signature-256": github_signature(body)}, body, TOKEN) == GITHUB
    assert authenticate({"X-Hub-Signature-256": github_signature(body)}, body + b" ", TOKEN) is None
    assert authenticate({"X-Hub-Signature-256": github_signature(body, "another-token-0123456")}, body, TOKEN) is None
    # The old SHA-1 header alone is not accepted.
    sha1 = "sha1=" + hmac.new(TOKEN.encode(), body, hashlib.sha1).hexdigest()
    assert authenticate({"X-Hub-Signature": sha1}, body, TOKEN) is None


def test_gitea_signature_is_the_hex_hmac_of_the_body_and_is_checked_first():
    body = push_body(object_kind=None)
    hexdigest = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    # Gitea sends its own header and GitHub's; its own decides.
    both = {"X-Gitea-Signature": hexdigest, "X-Hub-Signature-256": f"sha256={hexdigest}"}
    assert authenticate(both, body, TOKEN) == GITEA
    assert authenticate({"X-Gitea-Signature": hexdigest}, body, TOKEN) == GITEA
    for wrong in ("", f"sha256={hexdigest}", hexdigest.upper(), hexdigest[:-1],
                  hmac.new(b"another-token-0123456", body, hashlib.sha256).hexdigest()):
        assert authenticate({**both, "X-Gitea-Signature": wrong}, body, TOKEN) is None
    assert authenticate(both, body + b" ", TOKEN) is None
    push = parse_push(GITEA, {"X-Gitea-Event": "push", "X-GitHub-Event": "push"}, body)
    assert (push.provider, push.ref, push.after) == (GITEA, "refs/heads/main", SHA_B)
    with pytest.raises(PayloadError, match="not a push event"):
        parse_push(GITEA, {"X-Gitea-Event": "pull_request", "X-GitHub-Event": "push"}, body)


def test_no_credentials_or_no_configured_token_authenticates_nothing():
    body = push_body()
    assert authenticate({}, body, TOKEN) is None
    assert authenticate({"X-Gitlab-Token": ""}, body, "") is None


def test_gitlab_and_github_push_payloads_parse():
    push = parse_push(GITLAB, {"X-Gitlab-Event": "Push Hook"}, push_body())
    assert (push.ref, push.before, push.after, push.ping) == ("refs/heads/main", SHA_A, SHA_B, False)
    push = parse_push(GITHUB, {"X-GitHub-Event": "push"}, push_body(object_kind=None))
    assert push.after == SHA_B
    assert parse_push(GITHUB, {"X-GitHub-Event": "ping"}, b"{}").ping


@pytest.mark.parametrize("provider,headers,body,message", [
    (GITLAB, {"X-Gitlab-Event": "Tag Push Hook"}, push_body(), "not a push event"),
    (GITHUB, {"X-GitHub-Event": "issues"}, push_body(), "not a push event"),
    (GITLAB, {}, push_body(), "not a push event"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, b"payload=%7B%7D", "not JSON"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, b"[1, 2]", "JSON object"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, push_body(object_kind="merge_request"), "object_kind"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, push_body(ref=None), "'ref'"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, push_body(ref="main"), "full ref name"),
    (GITLAB, {"X-Gitlab-Event": "Push Hook"}, push_body(after="HEAD"), "'after'"),
    (GITHUB, {"X-GitHub-Event": "push"}, push_body(before=12), "'before'"),
])
def test_payloads_that_are_not_pushes_are_refused(provider, headers, body, message):
    with pytest.raises(PayloadError, match=message):
        parse_push(provider, headers, body)


def test_changed_paths_map_to_environment_folders():
    paths = ["environments/alpha/yaml/app.yaml", "environments/alpha/env.yml", "environments/beta/main.tf",
             "README.md", "environments/README.md", "environments/.hidden/x", "envs/gamma/x",
             "environmentsX/delta/x"]
    assert changed_environments(paths) == ["alpha", "beta"]
    assert changed_environments(["deploy/envs/prod/a.yaml", "environments/alpha/x"], "deploy/envs/") == ["prod"]
    assert changed_environments([]) == []


def test_a_burst_becomes_one_event_with_the_newest_revision():
    pending = Coalescer(quiet=1.0, max_delay=10.0)
    assert pending.due_in(0.0) is None
    pending.note("r0", "r1", ["alpha"], "webhook", now=0.0)
    pending.note("r1", "r2", ["beta"], "poll", now=0.5)
    pending.note("r2", "r3", [], "webhook", now=0.8)  # changes no environment, still the newest revision
    assert pending.due_in(1.0) == pytest.approx(0.8)
    assert pending.due_in(1.8) == 0
    assert pending.take() == {"revision": "r3", "before": "r0", "environments": ["alpha", "beta"],
                              "triggers": ["poll", "webhook"], "pushes": 3}
    assert pending.due_in(2.0) is None


def test_a_push_that_changes_no_environment_alone_is_no_event():
    pending = Coalescer(quiet=1.0, max_delay=10.0)
    pending.note("r0", "r1", [], "webhook", now=0.0)
    assert pending.due_in(5.0) is None


def test_a_steady_stream_of_pushes_still_yields_an_event_after_max_delay():
    pending = Coalescer(quiet=1.0, max_delay=3.0)
    for step in range(10):
        pending.note(f"r{step}", f"r{step + 1}", ["alpha"], "webhook", now=step * 0.5)
    assert pending.due_in(3.0) == 0  # pushes every 0.5 s never leave a quiet second


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
                          st.floats(min_value=0, max_value=5)), min_size=1, max_size=20))
def test_coalescing_loses_no_environment_and_keeps_the_newest_revision(pushes):
    """Whenever events are taken, together they name every environment pushed and end at the newest revision."""
    pending = Coalescer(quiet=1.0, max_delay=4.0)
    now, events, newest = 0.0, [], None
    for number, (environments, gap) in enumerate(pushes):
        now += gap
        if pending.due_in(now) == 0:
            events.append((pending.take(), newest))
        pending.note(f"r{number}", f"r{number + 1}", environments, "webhook", now)
        newest = f"r{number + 1}"
    if pending.due_in(now + 10) == 0:
        events.append((pending.take(), newest))
    pushed = {env for environments, _gap in pushes for env in environments}
    assert {env for event, _newest in events for env in event["environments"]} == pushed
    for event, newest_then in events:
        assert event["environments"] and event["revision"] == newest_then


def test_settings_require_a_repository_and_a_long_enough_token():
    with pytest.raises(ValueError, match="'repo'"):
        source_settings({}, {})
    with pytest.raises(ValueError, match="shared secret"):
        source_settings({"repo": "r"}, {})
    with pytest.raises(ValueError, match="shared secret"):
        source_settings({"repo": "r", "token": "short"}, {})
    with pytest.raises(ValueError, match="poll_interval must be positive"):
        source_settings({"repo": "r", "webhook": False, "poll_interval": 0}, {})
    with pytest.raises(ValueError, match="'port' must be a number"):
        source_settings({"repo": "r", "token": TOKEN, "port": "http"}, {})


def test_settings_defaults_bind_loopback_and_read_the_token_from_the_environment():
    found = source_settings({"repo": "r"}, {"TRIDENT_WEBHOOK_TOKEN": TOKEN})
    assert (found.host, found.port, found.webhook, found.token) == ("127.0.0.1", 5000, True, TOKEN)
    assert TOKEN not in repr(found)
    found = source_settings({"repo": "r", "token_env": "HOOK", "port": "5001", "poll_interval": "10",
                             "webhook": "true"}, {"HOOK": TOKEN})
    assert (found.port, found.poll_interval, found.token) == (5001, 10.0, TOKEN)
    polling = source_settings({"repo": "r", "webhook": False, "poll_interval": 10}, {"TRIDENT_WEBHOOK_TOKEN": TOKEN})
    assert polling.token == "" and not polling.webhook
