"""The examples users copy: AWX configuration as code, the demo GitOps repository and its GitLab CI."""

import json
import os
import re
import shlex
import subprocess

import yaml
from run_sanity import REPO
from test_inventory_environments import plain

EXAMPLES = REPO / "examples"
GITOPS = EXAMPLES / "gitops-repo"
# The playbooks this collection ships (playbooks/*.yml), by FQCN.
COLLECTION_PLAYBOOKS = {"trident.gitops.reconcile", "trident.gitops.drift"}


def run(argv, cwd=REPO, env=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "ANSIBLE_NOCOLOR": "1", **(env or {})})


def test_awx_configuration_passes_syntax_check():
    proc = run(["ansible-playbook", "--syntax-check", str(EXAMPLES / "awx" / "configure.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr


class PlaybookLoader(yaml.SafeLoader):
    """Reads a playbook's structure; an !unsafe string is just its text here."""


PlaybookLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def awx_tasks():
    play = yaml.load((EXAMPLES / "awx" / "configure.yml").read_text(), Loader=PlaybookLoader)[0]  # noqa: S506
    return {task["name"]: task for task in play["tasks"]}


def test_awx_credential_type_injectors_use_only_its_inputs_and_files():
    (task,) = [t["awx.awx.credential_type"] for t in awx_tasks().values() if "awx.awx.credential_type" in t]
    inputs = {field["id"] for field in task["inputs"]["fields"]}
    assert all(field["secret"] for field in task["inputs"]["fields"]), "every key is stored as a secret"
    files = {name.split(".", 1)[1] for name in task["injectors"]["file"]}
    for template in task["injectors"]["file"].values():
        assert set(re.findall(r"{{\s*(\w+)\s*}}", template)) <= inputs
    for template in task["injectors"]["env"].values():
        assert set(re.findall(r"{{\s*tower\.filename\.(\w+)\s*}}", template)) <= files
    assert set(task["injectors"]["env"]) == {"SOPS_AGE_KEY_FILE", "TRIDENT_GPG_KEY_FILE", "KUBECONFIG"}


def test_awx_objects_reference_each_other_consistently():
    tasks = awx_tasks()
    source = next(t["awx.awx.inventory_source"] for t in tasks.values() if "awx.awx.inventory_source" in t)
    assert (GITOPS / source["source_path"]).is_file(), "the inventory source file exists in the GitOps repo"
    assert yaml.safe_load((GITOPS / source["source_path"]).read_text())["plugin"] == "trident.gitops.environments"
    templates = [t["awx.awx.job_template"] for t in tasks.values() if "awx.awx.job_template" in t]
    assert sorted(t["playbook"] for t in templates) == ["drift.yml", "reconcile.yml"]
    drift = next(t for t in templates if t["playbook"] == "drift.yml")
    assert drift["ask_scm_branch_on_launch"] is True, "a merge request's branch can be previewed"
    assert all(t["credentials"] == ["{{ trident_awx_keys_credential }}"] for t in templates)
    schedules = [t["awx.awx.schedule"] for t in tasks.values() if "awx.awx.schedule" in t]
    assert {s["unified_job_template"] for s in schedules} == {t["name"] for t in templates}
    credential = next(t for t in tasks.values() if "awx.awx.credential" in t)
    assert credential["no_log"] is True


def test_gitlab_ci_is_valid_against_gitlab_schema():
    proc = run(["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(GITOPS / ".gitlab-ci.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gitlab_ci_previews_merge_requests_and_reconciles_main():
    ci = yaml.safe_load((GITOPS / ".gitlab-ci.yml").read_text())
    jobs = {name: job for name, job in ci.items() if isinstance(job, dict) and "script" in job}
    assert set(jobs) == {"drift-preview", "drift-scheduled", "reconcile"}
    for job in jobs.values():
        assert job["stage"] in ci["stages"]
    assert jobs["drift-preview"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert jobs["reconcile"]["rules"][-1] == {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}
    assert jobs["reconcile"]["resource_group"], "reconciles never overlap"

    playbooks = {}
    for name, job in jobs.items():
        for line in job["script"]:
            argv = shlex.split(line)
            if argv[0] == "ansible-playbook":
                playbooks[name] = [a for a in argv[1:] if a.startswith("trident.gitops.")]
                inventory = argv[argv.index("-i") + 1]
                assert (GITOPS / inventory).is_file()
    assert playbooks == {"drift-preview": ["trident.gitops.drift"], "drift-scheduled": ["trident.gitops.drift"],
                         "reconcile": ["trident.gitops.reconcile"]}
    assert set().union(*playbooks.values()) <= COLLECTION_PLAYBOOKS

    report_dir = ci["variables"]["TRIDENT_DRIFT_REPORT_DIR"].replace("$CI_PROJECT_DIR/", "")
    assert ci["variables"]["ANSIBLE_CALLBACKS_ENABLED"] == "trident.gitops.drift_report"
    for job in jobs.values():
        assert job["artifacts"]["reports"]["junit"] == f"{report_dir}/drift-report.xml"
        assert job["artifacts"]["when"] == "always", "a failed run still publishes its report"
    # The callback keeps the merge request's note and sets commit statuses (docs/forge.md) when the token is set.
    assert jobs["drift-preview"]["variables"] == {"TRIDENT_FORGE_PULL_REQUEST": "$CI_MERGE_REQUEST_IID"}
    for name in ("drift-preview", "reconcile"):
        assert "export TRIDENT_FORGE=gitlab TRIDENT_FORGE_TOKEN=\"$TRIDENT_MR_NOTE_TOKEN\"" in \
            jobs[name]["before_script"][0]
    assert ci["variables"]["TRIDENT_FORGE_API_URL"] == "$CI_API_V4_URL"
    assert ci["variables"]["TRIDENT_FORGE_PROJECT"] == "$CI_PROJECT_ID"


def test_demo_repository_inventory_through_its_ansible_cfg():
    """The demo repo as CI uses it: ansible.cfg in the checkout, the inventory file read by our plugin."""
    proc = run(["ansible-inventory", "--list"], cwd=GITOPS,
               env={"ANSIBLE_CONFIG": str(GITOPS / "ansible.cfg"), "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert proc.returncode == 0, proc.stderr
    data = plain(json.loads(proc.stdout))
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["aliyun", "k3s"]
    aliyun, k3s = hostvars["aliyun"]["trident_environment"], hostvars["k3s"]["trident_environment"]
    assert aliyun["kubeconfig"] == "kubeconfig.yaml"
    assert aliyun["steps"] == ["source", "terraform", "kubernetes"]
    assert aliyun["manifest_files"] == [
        "yaml/app.yaml", "yaml/configmap.yaml", "yaml/namespace.yaml", "yaml/service.yaml"]
    assert k3s["kubeconfig"] == "yaml/kubeconfig.yaml"
    assert k3s["manifest_files"] == ["yaml/app.yaml", "yaml/namespace.yaml"]
    assert data["cloud"]["hosts"] == ["aliyun"] and data["edge"]["hosts"] == ["k3s"]
