"""The example repository's merge-request flow run for real: its .gitlab-ci.yml under gitlab-ci-local
(pinned, with the pinned Node.js it needs; tools/toolchain.py), against a real control plane (issue 18).

The example repository with `aliyun` promoting from `k3s` (docs/promotion.md) is a Git clone of the local
git server. The merge-request pipeline's drift-preview job runs drift.yml and posts the Markdown report as a
merge-request note to the API URL GitLab gives jobs (here a local HTTP endpoint that records what it gets);
the default-branch pipeline's reconcile job reconciles k3s, and aliyun waits for k3s to be Healthy (the
control plane has no controllers, so k3s's Deployment stays Progressing).
"""

import json
import os
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from kube_support import client
from testbed import tool
from testbed.gitops import copy_example
from testbed.gitserver import git
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError

pytestmark = pytest.mark.slow
NOTE_TOKEN = "glpat-test-note-token"


class NotesEndpoint:
    """An HTTP endpoint standing where GitLab's API is, recording every POST (path, token, form)."""

    def __init__(self):
        self.posts = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                owner.posts.append({"path": self.path, "token": self.headers.get("PRIVATE-TOKEN"),
                                    "form": dict(urllib.parse.parse_qsl(body))})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": 1}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v4"

    def close(self):
        self.server.shutdown()


@pytest.fixture()
def notes():
    endpoint = NotesEndpoint()
    yield endpoint
    endpoint.close()


def gitlab_ci_local(project, home, job, variables):
    """One job of the project's .gitlab-ci.yml in the shell executor; the job's image is not used."""
    argv = [tool("gitlab-ci-local"), "--force-shell-executor", "--home", str(home / ".gitlab-ci-local"),
            "--ignore-predefined-vars", ",".join(variables), "--artifacts-to-source"]
    for name, value in variables.items():
        argv += ["--variable", f"{name}={value}"]
    # HOME keeps the reconciler's cache (checkout, locks, records) inside the test's folder.
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run([*argv, job], cwd=project, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    return proc


def test_merge_request_preview_posts_the_report_and_the_merge_reconciles_with_promotion(
        git_server, control_plane, notes, tmp_path):
    project = copy_example(tmp_path / "project", control_plane)
    # Namespaces of this test only: the control plane is shared with the other tests of the session.
    suffix = tmp_path.name[-6:].lower().replace("_", "-")
    for path in (project / "environments").rglob("*.y*ml"):
        path.write_text(path.read_text().replace("gitops-edge", f"ci-edge-{suffix}")
                        .replace("gitops-demo", f"ci-demo-{suffix}"))
    env_file = project / "environments" / "aliyun" / "env.yml"
    env_file.write_text(env_file.read_text() + "promote_from: k3s\n")
    git_server.create_repo("ci-example")
    git("init", "--quiet", "-b", "main", cwd=project)
    git("remote", "add", "origin", git_server.git_url("ci-example"), cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", "example with promotion", cwd=project)
    git("push", "--quiet", "origin", "main", cwd=project)
    head = git("rev-parse", "HEAD", cwd=project)
    home = tmp_path / "home"
    home.mkdir()
    common = {"CI_PROJECT_DIR": str(project), "TRIDENT_DRIFT_REPORT_DIR": str(project / "drift-report")}

    preview = gitlab_ci_local(project, home, "drift-preview", {
        **common, "CI_PIPELINE_SOURCE": "merge_request_event", "CI_API_V4_URL": notes.url, "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7", "TRIDENT_MR_NOTE_TOKEN": NOTE_TOKEN})
    assert "PASS  drift-preview" in preview.stdout, preview.stdout[-6000:] + preview.stderr[-3000:]
    assert [(p["path"], p["token"]) for p in notes.posts] == [("/api/v4/projects/42/merge_requests/7/notes",
                                                              NOTE_TOKEN)]
    note = notes.posts[0]["form"]["body"]
    assert note == (project / "drift-report" / "drift-report.md").read_text()
    assert "k3s" in note and f"waiting for k3s to be Healthy at {head[:7]}" in note
    kube = client(control_plane)
    with pytest.raises(ApiError):  # a preview changes nothing
        kube.request("GET", f"/apis/apps/v1/namespaces/ci-edge-{suffix}/deployments/deploy")

    merged = gitlab_ci_local(project, home, "reconcile", {**common, "CI_PIPELINE_SOURCE": "push"})
    assert "PASS  reconcile" in merged.stdout, merged.stdout[-6000:] + merged.stderr[-3000:]
    assert kube.request("GET", f"/apis/apps/v1/namespaces/ci-edge-{suffix}/deployments/deploy")["metadata"]["name"]
    report = json.loads((project / "drift-report" / "drift-report.json").read_text())
    waiting = report["environments"]["aliyun"]["steps"]["promotion"]["stats"]["items"]
    assert waiting == [{"revision": None, "branch": head, "reason": (
        f"waiting for k3s to be Healthy at {head[:7]} (k3s runs {head[:7]}, Progressing); "
        "aliyun stays at nothing deployed")}]
    with pytest.raises(ApiError):  # production deployed nothing: k3s is not Healthy
        kube.request("GET", f"/apis/apps/v1/namespaces/ci-demo-{suffix}/deployments/deploy")
    assert yaml.safe_load(env_file.read_text())["promote_from"] == "k3s"
