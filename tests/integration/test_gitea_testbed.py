"""The testbed's real Gitea: a repository made over the API, a git push over HTTP, the signed push webhook
it sends to a loopback receiver, and the pull request, comment and commit status APIs the forge issue needs."""

import hashlib
import hmac
import json
import secrets

import pytest

from testbed.gitea import GiteaError
from testbed.gitserver import git


def push_commit(tmp_path, url, branch="main", files=None):
    """Commit ``files`` in a fresh clone-less repository and push it to ``url``; returns the commit id."""
    work = tmp_path / f"work-{secrets.token_hex(3)}"
    git("init", "--initial-branch", branch, str(work))
    for name, text in (files or {"environments/dev/env.yml": "name: dev\n"}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-m", "testbed commit", cwd=work)
    git("push", url, f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work), work


def test_a_push_over_http_sends_a_signed_webhook_to_loopback(gitea_server, request_recorder, tmp_path):
    repo = f"gitops-{secrets.token_hex(3)}"
    created = gitea_server.create_repo(repo)
    assert created["full_name"] == f"trident/{repo}" and created["empty"] is True
    secret = secrets.token_hex(16)
    gitea_server.add_webhook(repo, f"{request_recorder.url}/hooks/gitea", secret)

    commit, _work = push_commit(tmp_path, gitea_server.http_url(repo, with_credentials=True))

    hook = request_recorder.wait_for(lambda r: r.headers.get("x-gitea-event") == "push")
    assert hook.method == "POST" and hook.path == "/hooks/gitea"
    payload = json.loads(hook.body)
    assert payload["ref"] == "refs/heads/main" and payload["after"] == commit
    assert payload["repository"]["full_name"] == f"trident/{repo}"
    expected = hmac.new(secret.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["x-gitea-signature"] == expected
    # GitHub's header names and format are sent too.
    assert hook.headers["x-hub-signature-256"] == f"sha256={expected}"
    assert hook.headers["x-github-event"] == "push"
    assert gitea_server.api("GET", f"repos/trident/{repo}/branches/main")["commit"]["id"] == commit


def test_pull_request_comment_and_commit_status_apis(gitea_server, tmp_path):
    repo = f"review-{secrets.token_hex(3)}"
    gitea_server.create_repo(repo)
    url = gitea_server.http_url(repo, with_credentials=True)
    push_commit(tmp_path, url)
    head, _work = push_commit(tmp_path, url, branch="change", files={"environments/dev/env.yml": "name: dev2\n"})

    pull = gitea_server.api("POST", f"repos/trident/{repo}/pulls",
                            {"head": "change", "base": "main", "title": "Change dev"})
    assert pull["head"]["sha"] == head
    comment = gitea_server.api("POST", f"repos/trident/{repo}/issues/{pull['number']}/comments",
                               {"body": "## Drift preview\n\n| env | changes |\n| --- | --- |\n| dev | 1 |"})
    gitea_server.api("PATCH", f"repos/trident/{repo}/issues/comments/{comment['id']}", {"body": "updated"})
    comments = gitea_server.api("GET", f"repos/trident/{repo}/issues/{pull['number']}/comments")
    assert [c["body"] for c in comments] == ["updated"]

    gitea_server.api("POST", f"repos/trident/{repo}/statuses/{head}",
                     {"state": "success", "context": "trident/dev", "description": "in sync, Healthy"})
    combined = gitea_server.api("GET", f"repos/trident/{repo}/commits/{head}/status")
    assert [(s["context"], s["status"]) for s in combined["statuses"]] == [("trident/dev", "success")]

    with pytest.raises(GiteaError) as refused:
        gitea_server.api("GET", f"repos/trident/{repo}/pulls/{pull['number']}", token="not-a-token")
    assert refused.value.status == 401
