"""A new step is one registry entry and one role (issue 26, docs/reconcile.md "Adding a step").

A copy of the collection gets a toy step exactly that way: an entry in the step registry and a role with ``plan``
and ``apply`` entry points that keep a controller file equal to the environment's ``motd.txt``. Nothing else
changes, and the playbooks run it in order, report it (its own column, its drift counted by the verdict and
``fail_on_drift``), apply it, and converge. The repository is a local checkout (the quick start's mode), so the
test also shows that an uncommitted edit is reported and not deployed.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.gitops import isolated_vars, run_gitops

pytestmark = pytest.mark.slow

COLLECTION = Path(__file__).resolve().parents[2]
ENTRY = '''    Step("toy", "Toy", "trident.gitops.toy", result="toy_result", read=_toy, has_work=_toy_work,
         present=lambda env: env["name"].startswith("toy")),
'''
READERS = '''

def _toy(result):
    return Outcome("changed" if result.get("changed") else "ok", int(bool(result.get("changed"))),
                   {"items": [{"path": result.get("dest")}] if result.get("changed") else []})


def _toy_work(result):
    return bool(result.get("changed"))
'''
PLAN = """---
- name: Compare the controller's file with the environment's motd.txt
  ansible.builtin.copy:
    src: "{{ trident_checkout.env_path }}/motd.txt"
    dest: "{{ toy_dest }}"
    mode: "0644"
  check_mode: true
  register: toy_result
"""
APPLY = """---
- name: Write the environment's motd.txt to the controller's file
  ansible.builtin.copy:
    src: "{{ trident_checkout.env_path }}/motd.txt"
    dest: "{{ toy_dest }}"
    mode: "0644"
  register: toy_result
"""
SPEC = """---
argument_specs:
  plan: &toy
    short_description: Plan the toy step
    options:
      toy_dest:
        description: The controller file.
        type: str
        required: true
  apply: *toy
"""


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def collection_with_a_toy_step(root):
    """The collection copied to ``root`` (a collections root), plus one registry entry and one role."""
    target = root / "ansible_collections" / "trident" / "gitops"
    shutil.copytree(COLLECTION, target, ignore=shutil.ignore_patterns(".git", "tests", "*.pyc"))
    registry = target / "plugins" / "plugin_utils" / "reconcile" / "steps.py"
    text = registry.read_text()
    anchor = "    # Which revision the environment deploys"
    assert anchor in text and "\nREGISTRY = (" in text
    registry.write_text(text.replace(anchor, ENTRY + anchor).replace("\nREGISTRY = (", READERS + "\n\nREGISTRY = ("))
    role = target / "roles" / "toy"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks" / "plan.yml").write_text(PLAN)
    (role / "tasks" / "apply.yml").write_text(APPLY)
    (role / "meta" / "argument_specs.yml").write_text(SPEC)
    return root


@pytest.fixture()
def toy(tmp_path):
    repo = tmp_path / "repo"
    (repo / "environments" / "toy-a").mkdir(parents=True)
    (repo / "environments" / "plain").mkdir(parents=True)
    (repo / "environments" / "toy-a" / "motd.txt").write_text("hello\n")
    (repo / "environments" / "plain" / "README.md").write_text("nothing to deploy\n")
    (repo / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "toy", cwd=repo)
    collections = collection_with_a_toy_step(tmp_path / "collections")
    dest = tmp_path / "motd"

    def run(playbook, **extra):
        return run_gitops(playbook, repo / "gitops.environments.yml", tmp_path,
                          extra_vars={**isolated_vars(tmp_path), "toy_dest": str(dest), **extra},
                          env={"ANSIBLE_COLLECTIONS_PATH": str(collections)})
    return {"run": run, "repo": repo, "dest": dest}


def steps(result, env):
    return {name: step["status"] for name, step in result.report["environments"][env]["steps"].items()}


def test_a_step_added_to_the_registry_runs_reports_and_converges(toy):
    run, dest, repo = toy["run"], toy["dest"], toy["repo"]
    drift = run("drift", fail_on_drift=True)
    assert drift.rc != 0, drift.explain()
    assert steps(drift, "toy-a")["toy"] == "changed" and "toy" not in steps(drift, "plain")
    assert drift.report["environments"]["toy-a"]["verdict"] == "drift"
    assert (drift.report_dir / "verdict").read_text() == "drift\n"
    assert "| Toy |" in (drift.report_dir / "drift-report.md").read_text()
    assert not dest.exists(), "check mode applies nothing"

    applied = run("reconcile")
    assert applied.rc == 0, applied.explain()
    assert dest.read_text() == "hello\n"
    assert steps(applied, "toy-a")["toy"] == "changed"
    assert (applied.report_dir / "verdict").read_text() == "corrected\n"

    again = run("drift", fail_on_drift=True)
    assert again.rc == 0, again.explain()
    assert steps(again, "toy-a")["toy"] == "ok" and (again.report_dir / "verdict").read_text() == "in_sync\n"

    # An edit that is not committed is drift of the checkout and is never deployed.
    (repo / "environments" / "toy-a" / "motd.txt").write_text("uncommitted\n")
    edited = run("reconcile")
    assert edited.rc == 0, edited.explain()
    assert dest.read_text() == "hello\n", "the uncommitted edit was deployed"
    source = edited.report["environments"]["toy-a"]["steps"]["source"]["stats"]
    assert source["uncommitted"] == ["environments/toy-a/motd.txt"]
    assert json.loads((edited.report_dir / "drift-report.json").read_text())["environments"]["toy-a"]["verdict"] == \
        "drift"
