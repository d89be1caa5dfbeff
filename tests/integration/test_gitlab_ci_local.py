"""The example repository's merge-request flow run for real: its .gitlab-ci.yml under gitlab-ci-local
(pinned, with the pinned Node.js it needs; tools/toolchain.py), against a real control plane (issue 18).

The example repository with `aliyun` promoting from `k3s` (docs/promotion.md) is a Git clone of the local
git server. The merge-request pipeline's drift-preview job runs drift.yml and posts the Markdown report as a
merge-request note to the API URL GitLab gives jobs (here a local HTTP endpoint that records what it gets);
the next merge-request pipeline updates that note instead of adding one; the default-branch pipeline's reconcile
job reconciles k3s, and aliyun waits for k3s to be Healthy (the
control plane has no controllers, so k3s's Deployment stays Progressing).
"""

import json
import os
import subprocess

import pytest
import yaml

from kube_support import client
from testbed import tool
from testbed.gitops import copy_example
from testbed.gitserver import git
from testbed.recorder import RequestRecorder
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError

pytestmark = pytest.mark.slow
NOTE_TOKEN = "glpat-test-note-token"
MARKER = "<!-- trident.gitops drift preview -->"


class GitLabAPI:
    """A recording loopback server standing where GitLab's API is (``CI_API_V4_URL``): it keeps the notes posted
    to merge requests (listed back on GET, edited on PUT) and answers commit statuses."""

    def __init__(self):
        self.notes = []
        self.recorder = RequestRecorder(respond=self.respond).start()

    def respond(self, request):
        path = request.path.split("?")[0]
        if request.method == "GET" and path.endswith("/api/v4/user"):
            return 200, {"id": 1, "username": "trident-bot"}
        if request.method == "GET" and path.endswith("/notes"):
            return 200, self.notes
        if request.method == "POST" and path.endswith("/notes"):
            self.notes.append({"id": len(self.notes) + 1, "body": json.loads(request.body)["body"], "author": {"id": 1}})
            return 201, self.notes[-1]
        if request.method == "PUT" and "/notes/" in path:
            note = self.notes[int(path.rsplit("/", 1)[1]) - 1]
            note["body"] = json.loads(request.body)["body"]
            return 200, note
        return 201, {"id": 1}

    @property
    def url(self):
        return f"{self.recorder.url}/api/v4"

    def sent(self, method=None):
        return [(r.method, r.path.split("?")[0], r.headers.get("private-token")) for r in self.recorder.requests
                if method in (None, r.method)]

    def close(self):
        self.recorder.stop()


@pytest.fixture()
def notes():
    endpoint = GitLabAPI()
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

    mr = {**common, "CI_PIPELINE_SOURCE": "merge_request_event", "CI_API_V4_URL": notes.url, "CI_PROJECT_ID": "42",
          "CI_MERGE_REQUEST_IID": "7", "TRIDENT_MR_NOTE_TOKEN": NOTE_TOKEN}
    preview = gitlab_ci_local(project, home, "drift-preview", mr)
    assert "PASS  drift-preview" in preview.stdout, preview.stdout[-6000:] + preview.stderr[-3000:]
    mr_notes = "/api/v4/projects/42/merge_requests/7/notes"
    # Who the token is (only its own note is ever edited), the notes, then the new one.
    whoami = ("GET", "/api/v4/user", NOTE_TOKEN)
    assert notes.sent() == [whoami, ("GET", mr_notes, NOTE_TOKEN), ("POST", mr_notes, NOTE_TOKEN)]
    report = (project / "drift-report" / "drift-report.md").read_text()
    assert [n["body"] for n in notes.notes] == [f"{MARKER}\n{report}"]
    note = notes.notes[0]["body"]
    assert "k3s" in note and f"waiting for k3s to be Healthy at {head[:7]}" in note
    assert NOTE_TOKEN not in preview.stdout + preview.stderr
    # The next pipeline of the merge request updates the note: one note per merge request.
    again = gitlab_ci_local(project, home, "drift-preview", mr)
    assert "PASS  drift-preview" in again.stdout, again.stdout[-6000:] + again.stderr[-3000:]
    assert notes.sent()[3:] == [whoami, ("GET", mr_notes, NOTE_TOKEN), ("PUT", f"{mr_notes}/1", NOTE_TOKEN)]
    assert len(notes.notes) == 1 and notes.notes[0]["body"].startswith(MARKER)
    kube = client(control_plane)
    with pytest.raises(ApiError):  # a preview changes nothing
        kube.request("GET", f"/apis/apps/v1/namespaces/ci-edge-{suffix}/deployments/deploy")

    merged = gitlab_ci_local(project, home, "reconcile", {
        **common, "CI_PIPELINE_SOURCE": "push", "CI_API_V4_URL": notes.url, "CI_PROJECT_ID": "42",
        "TRIDENT_MR_NOTE_TOKEN": NOTE_TOKEN})
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
    # Each environment's commit status: k3s runs the head, Progressing; aliyun waits for it.
    statuses = [(r.path, json.loads(r.body)) for r in notes.recorder.requests if "/statuses/" in r.path]
    assert sorted((path, body["name"], body["state"], body["description"]) for path, body in statuses) == [
        (f"/api/v4/projects/42/statuses/{head}", "trident/aliyun", "pending", "waiting for promotion"),
        (f"/api/v4/projects/42/statuses/{head}", "trident/k3s", "pending", "Progressing")]
