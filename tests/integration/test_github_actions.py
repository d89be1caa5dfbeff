"""The example repository's GitHub Actions workflow (examples/gitops-repo/.github/workflows/trident.yml) run for real,
the way the GitLab jobs are (test_schedule.py): jobs picked by their ``if`` for the event, their ``run`` steps in
bash with the workflow's, job's and step's ``env`` (``${{ }}`` expressions filled from the event's context,
``$GITHUB_ENV`` honoured), ``actions/checkout`` played by a clone of the event's commit; the job's container is not
used. The forge is the testbed's real Gitea, whose ``/api/v1`` speaks GitHub's paths, bodies and ``Bearer`` token:
``github.api_url`` points there, so the GitHub request shapes of plugin_utils/forge.py meet a real server.

A pull request's drift preview is one comment, updated by the next push's run; after the merge the push run
reconciles and sets ``trident/<env>`` on the merge commit.
"""

import os
import re
import secrets
import subprocess

import pytest
import yaml
from run_sanity import REPO

from test_reconcile_e2e import configmap, namespace
from testbed import tool
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text
from testbed.gitserver import git

pytestmark = pytest.mark.slow

WORKFLOW = REPO / "examples" / "gitops-repo" / ".github" / "workflows" / "trident.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([a-z_.A-Z]+)\s*\}\}")
EVENT_CONDITION = re.compile(r"^github\.event_name == '(\w+)'$")
MARKER = "<!-- trident.gitops drift preview -->"
ENV = "ghaone"


def fill(text, context):
    """``${{ a.b.c }}`` replaced by the context's value; an expression the context lacks is an error."""
    def lookup(match):
        value = context
        for part in match.group(1).split("."):
            value = value[part]
        return str(value)
    return EXPRESSION.sub(lookup, str(text))


def triggers(workflow):
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true


def jobs_for(workflow, event):
    chosen = []
    for name, job in workflow["jobs"].items():
        found = EVENT_CONDITION.match(job.get("if", ""))
        assert found, f"{name}: its `if` is not a plain event test"
        if found.group(1) == event:
            chosen.append(name)
    return chosen


def run_job(workflow, name, context, workspace, runner_temp):
    """The job's steps; returns {step name: (rc, output)} and stops at the first failing step."""
    job = workflow["jobs"][name]
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp), "GITHUB_ENV": str(runner_temp / "github_env"),
           "ANSIBLE_NOCOLOR": "1"}
    env.update({key: fill(value, context) for key, value in {**workflow.get("env", {}), **job.get("env", {})}.items()})
    (runner_temp / "github_env").write_text("")
    results = {}
    for index, step in enumerate(job["steps"]):
        label = step.get("name") or step.get("uses") or str(index)
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in ("actions/checkout", "actions/upload-artifact"), step["uses"]
            if action == "actions/upload-artifact":
                assert (workspace / step["with"]["path"]).is_dir(), "the report the callback writes is uploaded"
            continue
        step_env = {**env, **{key: fill(value, context) for key, value in step.get("env", {}).items()}}
        proc = subprocess.run(["bash", "-e", "-c", fill(step["run"], context)], cwd=workspace, env=step_env,
                              capture_output=True, text=True, check=False, timeout=900)
        results[label] = (proc.returncode, proc.stdout + proc.stderr)
        for line in (runner_temp / "github_env").read_text().splitlines():
            key, _sep, value = line.partition("=")
            env[key] = value
        if proc.returncode:
            break
    return results


def test_github_workflow_is_valid_against_its_schema():
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(triggers(workflow)) == {"pull_request", "push"}
    assert jobs_for(workflow, "pull_request") == ["drift-preview"] and jobs_for(workflow, "push") == ["reconcile"]
    # The token may write what each job needs, nothing more.
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["drift-preview"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert workflow["jobs"]["reconcile"]["permissions"] == {"contents": "read", "statuses": "write"}
    assert workflow["jobs"]["reconcile"]["concurrency"] == {"group": "reconcile", "cancel-in-progress": False}


def test_pull_request_preview_comment_then_reconcile_with_commit_status(
        tmp_path, control_plane, gitea_server):
    workflow = yaml.safe_load(WORKFLOW.read_text())
    name = f"gha-{secrets.token_hex(3)}"
    repo = GitOpsRepo(gitea_server, name, tmp_path / "clone")
    example = REPO / "examples" / "gitops-repo"
    repo.write("gitops.environments.yml", (example / "gitops.environments.yml").read_text())
    repo.write("ansible.cfg", (example / "ansible.cfg").read_text())
    repo.write("group_vars/all.yml", yaml.safe_dump(isolated_vars(tmp_path / "ci-runs")))
    repo.write(f"environments/{ENV}/kubeconfig.yaml", kubeconfig_text(control_plane))
    suffix = secrets.token_hex(3)
    manifests = f"environments/{ENV}/yaml/all.yaml"
    repo.write(manifests, namespace(f"{ENV}-{suffix}") + configmap("settings", f"{ENV}-{suffix}", "one"))
    repo.push("one environment")
    api = f"repos/{gitea_server.username}/{name}"
    context = {"github": {"workspace": "", "api_url": gitea_server.api_url, "repository": f"trident/{name}",
                          "server_url": gitea_server.url, "run_id": 4242, "event": {}},
               "secrets": {"GITHUB_TOKEN": gitea_server.token, "SOPS_AGE_KEY": ""}}

    def checkout(ref, folder):
        workspace = tmp_path / folder
        git("clone", "--quiet", "--branch", ref, repo.url, str(workspace))
        context["github"]["workspace"] = str(workspace)
        return workspace

    def our_comments(number):
        return [c for c in gitea_server.api("GET", f"{api}/issues/{number}/comments") if c["body"].startswith(MARKER)]

    git("checkout", "--quiet", "-b", "change", cwd=repo.path)
    repo.write(manifests, namespace(f"{ENV}-{suffix}") + configmap("settings", f"{ENV}-{suffix}", "two"))
    git("commit", "--quiet", "-am", "two", cwd=repo.path)
    git("push", "--quiet", "origin", "change", cwd=repo.path)
    pull = gitea_server.api("POST", f"{api}/pulls", {"head": "change", "base": "main", "title": "two"})
    context["github"]["event_name"] = "pull_request"
    context["github"]["event"] = {"pull_request": {"number": pull["number"]}}

    for round_ in ("first", "second"):
        workspace = checkout("change", f"pr-{round_}")
        head = git("rev-parse", "HEAD", cwd=workspace)
        steps = run_job(workflow, "drift-preview", context, workspace, tmp_path)
        assert all(rc == 0 for rc, _out in steps.values()), {k: out[-4000:] for k, (_rc, out) in steps.items()}
        comments = our_comments(pull["number"])
        assert len(comments) == 1 and head[:7] in comments[0]["body"] and ENV in comments[0]["body"]
        if round_ == "first":
            first_id = comments[0]["id"]
            repo.write(f"environments/{ENV}/README.md", "second push\n")
            git("add", "--all", cwd=repo.path)
            git("commit", "--quiet", "-m", "second push", cwd=repo.path)
            git("push", "--quiet", "origin", "change", cwd=repo.path)
    assert comments[0]["id"] == first_id, "updated, never duplicated"
    assert gitea_server.token not in "".join(out for _rc, out in steps.values())

    gitea_server.api("POST", f"{api}/pulls/{pull['number']}/merge", {"Do": "merge"})
    context["github"]["event_name"] = "push"
    workspace = checkout("main", "main")
    merged = git("rev-parse", "HEAD", cwd=workspace)
    steps = run_job(workflow, "reconcile", context, workspace, tmp_path)
    assert all(rc == 0 for rc, _out in steps.values()), {k: out[-4000:] for k, (_rc, out) in steps.items()}
    status = gitea_server.api("GET", f"{api}/commits/{merged}/status")
    assert [(s["context"], s["status"], s["target_url"]) for s in status["statuses"]] == [
        (f"trident/{ENV}", "success", f"{gitea_server.url}/trident/{name}/actions/runs/4242")]
