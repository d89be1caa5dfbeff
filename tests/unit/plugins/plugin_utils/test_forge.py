"""The forge client's requests against GitLab's, GitHub's and Gitea's documented shapes (URL, method, headers,
JSON body), sent over real HTTP to a recording loopback server that plays the forge's answers; the mapping of a
report's environment to a commit status; a forge that is down, refuses or redirects."""

import json
import socket

import pytest

from ansible_collections.trident.gitops.plugins.plugin_utils.forge import (
    MARKER, MAX_COMMENT, ForgeSettings, comment_text, commit_state, http_send, publish)
from testbed.recorder import RequestRecorder

TOKEN = "forge-token-9f3c2a7d1e"
SHA = "0123456789abcdef0123456789abcdef01234567"
OLD = "fedcba9876543210fedcba9876543210fedcba98"
REPORT = {"environments": {
    "dev": {"verdict": "corrected", "status": "changed", "health": "Healthy", "revision": SHA, "target": SHA},
    "prod": {"verdict": "drift", "status": "changed", "revision": OLD, "target": SHA, "held": "waiting for dev"},
}}


def fast_send():
    return http_send(timeout=5, attempts=2, delay=0.05)


ME = 31  # the token's own user id
THEM = 32


def mine(comment_id, body, author=ME, key="user"):
    return {"id": comment_id, "body": body, key: {"id": author}}


def is_whoami(request):
    return request.method == "GET" and request.path.split("?")[0].endswith("/user")


def serve(comments=()):
    """A forge whose token is user ``ME``, that lists ``comments`` and answers every other request with 201."""

    def respond(request):
        if is_whoami(request):
            return 200, {"id": ME, "login": "trident-bot"}
        if request.method == "GET":
            return 200, list(comments)
        return 201, {"id": 99}

    return RequestRecorder(respond=respond)


def settings(kind, recorder, api="", **extra):
    return ForgeSettings(kind=kind, api_url=f"{recorder.url}{api}", project=extra.pop("project", "ops/gitops"),
                         token=TOKEN, **extra)


def sent(recorder):
    """Every request but the one asking who the token is."""
    return [(r.method, r.path, json.loads(r.body) if r.body else None) for r in recorder.requests
            if not is_whoami(r)]


def test_github_updates_its_comment_and_sets_statuses():
    comments = [mine(21, "looks good"), mine(22, f"{MARKER}\nold report")]
    with serve(comments) as forge:
        done, failed = publish(settings("github", forge, pull_request=7, target_url="https://ci.example/run/5"),
                               REPORT, "## new report\n", check_mode=False, send=fast_send())
    assert failed == []
    assert sent(forge) == [
        ("GET", "/repos/ops/gitops/issues/7/comments?per_page=100&page=1", None),
        ("PATCH", "/repos/ops/gitops/issues/comments/22", {"body": f"{MARKER}\n## new report\n"}),
        ("POST", f"/repos/ops/gitops/statuses/{SHA}", {"state": "success", "context": "trident/dev",
                                                       "description": "in sync, Healthy",
                                                       "target_url": "https://ci.example/run/5"}),
        ("POST", f"/repos/ops/gitops/statuses/{SHA}", {"state": "pending", "context": "trident/prod",
                                                       "description": "waiting for promotion",
                                                       "target_url": "https://ci.example/run/5"}),
    ]
    for request in forge.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"] == "trident.gitops"
        if request.body:
            assert request.headers["content-type"] == "application/json"
    assert done == ["preview comment updated on #7", f"commit status dev: success on {SHA[:12]}",
                    f"commit status prod: pending on {SHA[:12]}"]


def test_gitlab_creates_a_note_then_sets_statuses_with_its_own_words():
    with serve([mine(5, "a reviewer's note", key="author")]) as forge:
        done, failed = publish(settings("gitlab", forge, "/api/v4", project="group/sub/gitops", pull_request=12),
                               {"environments": {"prod": {"verdict": "error", "status": "failed", "target": SHA}}},
                               "report", check_mode=False, send=fast_send())
    assert failed == []
    project = "/api/v4/projects/group%2Fsub%2Fgitops"
    assert sent(forge) == [
        ("GET", f"{project}/merge_requests/12/notes?per_page=100&page=1&sort=asc&order_by=created_at", None),
        ("POST", f"{project}/merge_requests/12/notes", {"body": f"{MARKER}\nreport"}),
        ("POST", f"{project}/statuses/{SHA}", {"state": "failed", "name": "trident/prod",
                                               "description": "reconcile failed"}),
    ]
    assert all(r.headers["private-token"] == TOKEN and "authorization" not in r.headers for r in forge.requests)
    assert done[0] == "preview comment created on #12"


def test_gitlab_updates_its_note_with_put():
    with serve([mine(5, f"{MARKER}\nold", key="author")]) as forge:
        publish(settings("gitlab", forge, "/api/v4", project="42", pull_request=3), {}, "new", check_mode=True,
                send=fast_send())
    assert sent(forge)[1] == ("PUT", "/api/v4/projects/42/merge_requests/3/notes/5", {"body": f"{MARKER}\nnew"})


def test_gitea_uses_its_token_header_and_lists_comments_unpaged():
    with serve([mine(3, f"{MARKER}\nold")]) as forge:
        publish(settings("gitea", forge, "/api/v1", pull_request=4), REPORT, "new", check_mode=True, send=fast_send())
    assert sent(forge) == [("GET", "/api/v1/repos/ops/gitops/issues/4/comments", None),
                           ("PATCH", "/api/v1/repos/ops/gitops/issues/comments/3", {"body": f"{MARKER}\nnew"})]
    assert all(r.headers["authorization"] == f"token {TOKEN}" for r in forge.requests)


def test_check_mode_sets_no_status_and_no_pull_request_posts_no_comment():
    with serve() as forge:
        done, failed = publish(settings("github", forge), REPORT, "r", check_mode=True, send=fast_send())
    assert forge.requests == [] and done == [] and failed == []


def test_every_page_of_comments_is_read_before_creating():
    pages = {1: [mine(n, "chatter") for n in range(100)], 2: [mine(500, f"{MARKER}\nx")]}

    def respond(request):
        if is_whoami(request):
            return 200, {"id": ME}
        if request.method == "GET":
            return 200, pages[int(request.path.rsplit("page=", 1)[1])]
        return 200, {}

    with RequestRecorder(respond=respond) as forge:
        assert publish(settings("github", forge, pull_request=1), {}, "y", True, fast_send())[0] == [
            "preview comment updated on #1"]
    assert [(method, path) for method, path, _body in sent(forge)][1:] == [
        ("GET", "/repos/ops/gitops/issues/1/comments?per_page=100&page=2"),
        ("PATCH", "/repos/ops/gitops/issues/comments/500")]


@pytest.mark.parametrize("kind, key", [("github", "user"), ("gitea", "user"), ("gitlab", "author")])
def test_a_marked_comment_someone_else_wrote_is_never_edited(kind, key):
    """A merge-request author who copies the marker into their own comment must not get the preview written under
    their name: only the token's own comments are candidates, the newest of them is updated."""
    comments = [mine(8, f"{MARKER}\nposted by the MR author", author=THEM, key=key),
                mine(9, f"{MARKER}\nour old one", key=key), mine(10, f"{MARKER}\nalso someone else's", THEM, key)]
    with serve(comments) as forge:
        done, failed = publish(settings(kind, forge, pull_request=2), {}, "z", True, fast_send())
    edits = [(method, path) for method, path, _body in sent(forge) if method in ("PATCH", "PUT")]
    assert len(edits) == 1 and edits[0][1].endswith("/9") and failed == [] and done == ["preview comment updated on #2"]

    with serve([comments[0], comments[2]]) as forge:
        done, failed = publish(settings(kind, forge, pull_request=2), {}, "z", True, fast_send())
    assert [method for method, _path, _body in sent(forge)] == ["GET", "POST"] and failed == []
    assert done == ["preview comment created on #2"]


def test_a_forge_that_does_not_say_who_the_token_is_gets_no_comment():
    def respond(request):
        return 200, {} if is_whoami(request) else []

    with RequestRecorder(respond=respond) as forge:
        done, failed = publish(settings("github", forge, pull_request=3), {}, "z", True, fast_send())
    assert done == [] and failed == ["preview comment on #3: reading the token's own user: the answer has no id"]
    assert [r.method for r in forge.requests] == ["GET"]


def test_a_forge_that_is_down_is_reported_without_the_token():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    down = ForgeSettings(kind="gitea", api_url=f"http://127.0.0.1:{port}/api/v1", project="ops/gitops", token=TOKEN,
                         pull_request=1)
    done, failed = publish(down, REPORT, "report", check_mode=False, send=fast_send())
    assert done == []
    assert [m.split(":")[0] for m in failed] == ["preview comment on #1", "commit status dev", "commit status prod"]
    assert all("Connection refused" in m for m in failed) and not any(TOKEN in m for m in failed)


def test_errors_and_redirects_are_failures_and_the_token_goes_nowhere_else():
    with RequestRecorder() as elsewhere:
        def respond(request):
            if request.path.startswith("/repos/ops/gitops/statuses/"):
                return 302, {}, {"Location": f"{elsewhere.url}/steal"}
            return 500, {"message": f"echo {TOKEN}"}

        with RequestRecorder(respond=respond) as forge:
            done, failed = publish(settings("github", forge, pull_request=9), REPORT, "r", False, fast_send())
    assert elsewhere.requests == []
    assert done == [] and failed == [
        f"preview comment on #9: GET {forge.url}/user: HTTP 500",
        f"commit status dev: POST {forge.url}/repos/ops/gitops/statuses/{SHA}: HTTP 302",
        f"commit status prod: POST {forge.url}/repos/ops/gitops/statuses/{SHA}: HTTP 302"]
    assert len([r for r in forge.requests if r.method == "GET"]) == 2  # a 5xx is tried again, once


@pytest.mark.parametrize(("entry", "expected"), [
    ({"verdict": "in_sync", "health": "Healthy", "revision": SHA}, ("success", SHA, "in sync, Healthy")),
    ({"verdict": "corrected", "revision": SHA}, ("success", SHA, "in sync")),
    ({"verdict": "corrected", "health": "Progressing", "revision": SHA}, ("pending", SHA, "Progressing")),
    ({"verdict": "drift", "held": "waiting", "revision": OLD, "target": SHA}, ("pending", SHA, "waiting for promotion")),
    ({"verdict": "drift", "held": "waiting", "revision": None, "target": SHA}, ("pending", SHA, "waiting for promotion")),
    ({"verdict": "in_sync", "health": "Degraded", "revision": SHA}, ("failure", SHA, "Degraded")),
    ({"verdict": "drift", "refused": ["x"], "revision": OLD, "target": SHA}, ("failure", SHA, "refused")),
    ({"verdict": "error", "status": "failed", "revision": OLD, "target": SHA}, ("failure", SHA, "reconcile failed")),
    ({"verdict": "error", "status": "failed"}, None),
    ({"verdict": "in_sync", "revision": "main"}, None),
    ({"verdict": "in_sync", "revision": SHA[:12]}, None),
])
def test_commit_state(entry, expected):
    assert commit_state(entry) == expected


def test_a_long_report_is_cut_below_githubs_limit():
    text = comment_text("x" * 70000)
    assert text.startswith(MARKER + "\n") and len(text) < 65536 and text.count("x") == MAX_COMMENT


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "bitbucket"}, "forge must be one of"),
    ({"api_url": "file:///etc/passwd"}, "http(s) URL"),
    ({"api_url": "https://user:pw@forge.example/api/v1"}, "without credentials"),
    ({"project": ""}, "forge_project is required"),
    ({"project": "just-a-name"}, "owner/name"),
    ({"token": ""}, "TRIDENT_FORGE_TOKEN"),
])
def test_settings_are_checked(changes, message):
    values = {"kind": "gitea", "api_url": "https://forge.example/api/v1", "project": "ops/gitops", "token": TOKEN,
              **changes}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ForgeSettings(**values)
    assert TOKEN not in repr(ForgeSettings(kind="gitea", api_url="https://f.example", project="a/b", token=TOKEN))
