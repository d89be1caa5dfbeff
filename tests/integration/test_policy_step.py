"""The policy step in the pipeline (issue 28): real opa, real kube-apiserver, real terraform and git server.

A deny on a Deployment without resource limits refuses the environment with nothing applied (the Terraform change
planned before it is not applied either) and names the policy file, the rule and the object; check mode reports it
(Markdown with a Policy column, rendered by markdown-it-py; JSON; JUnit with a failing case per denial); a warning
passes and is reported; a Terraform plan policy forbidding a resource type refuses the same way; a Secret's value
never reaches a policy's message, the report or the playbook output at -vvv; the operator's own policy folder runs
the step for an environment without one and the repository cannot switch it off.
"""

import json
import urllib.error
import uuid
import xml.etree.ElementTree as ET

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from test_reconcile_e2e import Cluster, configmap, deployment
from testbed.browser import open_page
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.spy import Spy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("policy_step")]

LIMITS = """\
package main

deny contains msg if {
    input.kind == "Deployment"
    some container in input.spec.template.spec.containers
    not container.resources.limits
    msg := sprintf("container %s has no resource limits", [container.name])
}
"""
LABELS = """\
package main

warn contains msg if {
    input.kind == "ConfigMap"
    not input.metadata.labels.owner
    msg := sprintf("ConfigMap %s has no owner label", [input.metadata.name])
}
"""
TERRAFORM = """\
package terraform.types

deny contains msg if {
    some change in input.resource_changes
    change.type == "terraform_data"
    "create" in change.change.actions
    startswith(change.name, "forbidden")
    msg := sprintf("%s: terraform_data named forbidden* may not be created", [change.address])
}
"""
TF = """
resource "terraform_data" "a" {
  input = "%s"
}
"""
LIMITED = """          resources:
            limits:
              cpu: 100m
              memory: 64Mi
"""
MARKDOWN_IT = MarkdownIt("commonmark").enable(["table"])
CANARY = f"canary{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def gitops(tmp_path_factory, control_plane, git_server):
    work = tmp_path_factory.mktemp("policy")
    repo = GitOpsRepo(git_server, "policy-gitops", work / "clone")
    repo.write("policy/limits.rego", LIMITS)
    repo.write("environments/web/env.yml", json.dumps({"namespace": "default", "terraform_binary": "terraform"}))
    repo.write("environments/web/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/web/main.tf", TF % "one")
    repo.write("environments/web/policy/labels.rego", LABELS)
    repo.write("environments/web/manifests/all.yaml",
               configmap("policy-settings", "default", "blue") + deployment("policy-api", "default", "nginx:1"))
    repo.push("web: a Deployment without limits")
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")

    def run(playbook, args=(), **extra):
        return run_gitops(playbook, inventory, work, extra_vars={**isolated_vars(work), **extra}, args=args)

    return {"repo": repo, "run": run, "work": work, "cluster": Cluster(control_plane)}


def exists(cluster, path):
    try:
        cluster.get(path)
        return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False


def state_file(work):
    return work / "terraform-state" / "web" / "terraform.tfstate"


def report_files(result):
    return {name: (result.report_dir / name).read_text() for name in
            ("drift-report.json", "drift-report.md", "drift-report.xml")}


def test_a_denied_deployment_refuses_the_environment_with_nothing_applied(gitops):
    run, work, cluster = gitops["run"], gitops["work"], gitops["cluster"]
    refused = run("reconcile")
    assert refused.rc != 0
    messages = [msg for host, task, msg in refused.failures() if host == "web"]
    assert any("policy/limits.rego deny: Deployment default/policy-api: container policy-api has no resource limits"
               in msg and "nothing was applied" in msg for msg in messages), refused.explain()
    assert not exists(cluster, "/apis/apps/v1/namespaces/default/deployments/policy-api")
    assert not exists(cluster, "/api/v1/namespaces/default/configmaps/policy-settings")
    assert not state_file(work).exists(), "the Terraform plan was not applied"
    assert not list((work / "terraform-state" / "web").glob(".plan-saved/*"))
    policy = refused.report["environments"]["web"]["steps"]["policy"]
    assert policy["status"] == "failed"
    assert [d["subject"] for d in policy["stats"]["denials"]] == ["Deployment default/policy-api"]


def test_check_mode_reports_denials_and_warnings_in_every_format(gitops):
    drift = gitops["run"]("drift")
    assert drift.rc == 0, drift.explain()
    policy = drift.report["environments"]["web"]["steps"]["policy"]
    assert (policy["status"], policy["count"]) == ("changed", 1)
    [denial] = policy["stats"]["denials"]
    assert (denial["policy"], denial["rule"], denial["source"]) == (
        "policy/limits.rego", "deny", "environments/web/manifests/all.yaml#1")
    [warning] = policy["stats"]["warnings"]
    assert (warning["policy"], warning["subject"]) == ("environments/web/policy/labels.rego",
                                                       "ConfigMap default/policy-settings")
    files = report_files(drift)
    markdown = files["drift-report.md"]
    header = next(line for line in markdown.splitlines() if line.startswith("| Environment"))
    assert "| Policy |" in header
    assert "⛔ 1 denied, 1 warning" in markdown
    html = MARKDOWN_IT.render(markdown)
    assert "<th>Policy</th>" in html
    assert "<code>policy/limits.rego</code> <code>deny</code>: <code>Deployment default/policy-api</code>" in html
    assert "<code>ConfigMap policy-settings has no owner label</code>" in html
    cases = ET.fromstring(files["drift-report.xml"]).iter("testcase")
    denied = [c for c in cases if c.get("name", "").startswith("policy: ")]
    assert [c.get("name") for c in denied] == ["policy: policy/limits.rego deny: Deployment default/policy-api"]
    assert denied[0].find("failure").get("message") == "container policy-api has no resource limits"


class Shown(HTMLParser):
    """The elements of a page and the text of each ``code`` element."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags, self.codes, self._code = set(), [], None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "code":
            self._code = []

    def handle_endtag(self, tag):
        if tag == "code" and self._code is not None:
            self.codes.append("".join(self._code))
            self._code = None

    def handle_data(self, data):
        if self._code is not None:
            self._code.append(data)


LIVE = {"a", "img", "script", "iframe", "object", "embed", "style", "link", "form", "input", "video", "audio"}


def test_the_policy_section_renders_in_markdown_it_and_chromium_as_text_and_a_hostile_message_is_inert(gitops):
    """The check-mode preview with denials and warnings, rendered by markdown-it-py and opened in headless Chromium:
    the denial's policy, rule and object are text; a policy message made of HTML, Markdown and a script is shown
    as text, makes no element and fetches nothing (the spy server sees no request, Chromium's net log none)."""
    run, repo, work = gitops["run"], gitops["repo"], gitops["work"]
    with Spy() as spy:
        hostile = (f"<img src={spy.url}/img.png><script>document.title='pwned'</script> [approve]({spy.url}/link) "
                   f"![i]({spy.url}/md.png) @all **bold** | cell |")
        rego_text = hostile.replace("\\", "\\\\").replace('"', '\\"')
        repo.write("policy/hostile.rego", f'package hostile\n\ndeny contains msg if {{\n    input.kind == "Deployment"\n'
                                          f'    msg := "{rego_text}"\n}}\n')
        repo.push("a policy whose message is HTML, Markdown and a script")
        try:
            drift = run("drift")
            assert drift.rc == 0, drift.explain()
            denials = drift.report["environments"]["web"]["steps"]["policy"]["stats"]["denials"]
            assert hostile in [d["message"] for d in denials]
            markdown = (drift.report_dir / "drift-report.md").read_text()
            html = MARKDOWN_IT.render(markdown)
            page_file = work / "policy-preview.html"
            page_file.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>preview</title></head>'
                                 f"<body>{html}</body></html>")
            page = open_page(page_file, work / "artifacts")
            for name, rendered in (("markdown-it", html), ("chromium", page.dom)):
                shown = Shown(rendered)
                assert not shown.tags & LIVE, f"{name}: live elements {shown.tags & LIVE}\n{markdown}"
                assert {"policy/limits.rego", "deny", "Deployment default/policy-api",
                        "environments/web/policy/labels.rego", "ConfigMap default/policy-settings"} <= set(shown.codes)
                assert "container policy-api has no resource limits" in shown.codes, name
                assert hostile in shown.codes, f"{name}: the hostile message is not one code element\n{markdown}"
            assert "pwned" not in page.dom.split("<body")[0], "the script ran"
            assert page.requested == [] and spy.requests == [], (page.requested, spy.requests)
        finally:
            (repo.path / "policy/hostile.rego").unlink()
            repo.push("no hostile policy")


def test_limits_added_pass_with_a_warning_and_apply(gitops):
    run, repo, work, cluster = gitops["run"], gitops["repo"], gitops["work"], gitops["cluster"]
    repo.write("environments/web/manifests/all.yaml", configmap("policy-settings", "default", "blue")
               + deployment("policy-api", "default", "nginx:1") + LIMITED)
    repo.push("web: limits")
    applied = run("reconcile")
    assert applied.rc == 0, applied.explain()
    assert exists(cluster, "/apis/apps/v1/namespaces/default/deployments/policy-api")
    assert state_file(work).exists()
    policy = applied.report["environments"]["web"]["steps"]["policy"]
    assert policy["status"] == "ok" and len(policy["stats"]["warnings"]) == 1
    assert "✅ passed, 1 warning" in report_files(applied)["drift-report.md"]


def test_a_terraform_plan_policy_refuses_a_resource_type_the_same_way(gitops):
    run, repo, work, cluster = gitops["run"], gitops["repo"], gitops["work"], gitops["cluster"]
    serial = json.loads(state_file(work).read_text())["serial"]
    repo.write("policy/terraform.rego", TERRAFORM)
    repo.write("environments/web/extra.tf", 'resource "terraform_data" "forbidden_x" {\n  input = "x"\n}\n')
    repo.write("environments/web/manifests/all.yaml", configmap("policy-settings", "default", "red")
               + deployment("policy-api", "default", "nginx:1") + LIMITED)
    repo.push("web: a forbidden resource, settings red")
    refused = run("reconcile")
    assert refused.rc != 0
    assert any("policy/terraform.rego deny: terraform_data.forbidden_x: terraform_data.forbidden_x: terraform_data "
               "named forbidden* may not be created" in msg for _h, _t, msg in refused.failures()), refused.explain()
    assert json.loads(state_file(work).read_text())["serial"] == serial
    assert cluster.get("/api/v1/namespaces/default/configmaps/policy-settings")["data"] == {"mode": "blue"}
    (repo.path / "environments/web/extra.tf").unlink()
    repo.push("web: no forbidden resource")


def test_a_secret_value_never_reaches_a_policy_message_the_report_or_the_output(gitops):
    run, repo = gitops["run"], gitops["repo"]
    repo.write("policy/echo.rego", 'package echo\n\nwarn contains msg if {\n    input.kind == "Secret"\n'
                                   '    msg := sprintf("%v", [input])\n}\n')
    repo.write("environments/web/manifests/secret.yaml",
               f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: policy-canary\n  namespace: default\n"
               f"stringData:\n  token: {CANARY}\n")
    repo.push("web: a Secret, a policy echoing its input")
    drift = run("drift", args=("-vvv",))
    assert drift.rc == 0, drift.explain()
    [echo] = [w for w in drift.report["environments"]["web"]["steps"]["policy"]["stats"]["warnings"]
              if w["policy"] == "policy/echo.rego"]
    assert "policy-canary" in echo["message"] and "<masked:" in echo["message"]
    assert CANARY not in drift.stdout + drift.stderr
    assert all(CANARY not in text for text in report_files(drift).values())


def test_the_operators_policies_run_for_every_environment_and_cannot_be_switched_off(gitops, tmp_path):
    run, repo = gitops["run"], gitops["repo"]
    operator = tmp_path / "operator-policy"
    operator.mkdir()
    (operator / "settings.rego").write_text(
        'package main\n\ndefault exempt := false\n\ndeny contains msg if {\n    input.kind == "ConfigMap"\n'
        '    input.data.mode == "red"\n'
        '    not exempt\n    msg := "mode red is forbidden by the operator"\n}\n')
    for name in ("policy/echo.rego", "policy/terraform.rego", "policy/limits.rego", "environments/web/policy/labels.rego"):
        (repo.path / name).unlink()
    (repo.path / "environments/web/manifests/secret.yaml").unlink()
    # Not in a policy folder: never loaded (and in one it would be compiled apart from the operator's rule).
    repo.write("environments/web/exempt.rego", "package main\n\nexempt := true\n")
    repo.push("web: no policies of the repository's own")
    refused = run("reconcile", policy_operator_dirs=[str(operator)])
    assert refused.rc != 0
    assert any(f"{operator}/settings.rego deny: ConfigMap default/policy-settings: mode red is forbidden by the "
               "operator" in msg for _h, _t, msg in refused.failures()), refused.explain()
    assert gitops["cluster"].get("/api/v1/namespaces/default/configmaps/policy-settings")["data"] == {"mode": "blue"}


def test_a_denial_takes_back_the_namespace_the_plan_created_and_leaves_an_existing_one(gitops):
    """Outside check mode the kubernetes plan creates the namespaces the batch introduces, to dry-run the objects in
    them; a refusal at the gate takes back exactly those (a failed run leaves the previous state): not a namespace
    that existed before, whose objects and fields stay as they were."""
    run, repo, cluster = gitops["run"], gitops["repo"], gitops["cluster"]
    new, old = f"policy-new-{uuid.uuid4().hex[:8]}", f"policy-old-{uuid.uuid4().hex[:8]}"
    cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": old, "labels": {"owner": "someone"}}})
    repo.write("policy/limits.rego", LIMITS)
    repo.write("environments/web/manifests/namespaces.yaml",
               f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {new}\n"
               f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {old}\n  labels:\n    team: web\n"
               + configmap("in-new", new, "x") + configmap("in-old", old, "y")
               + deployment("unlimited", new, "nginx:1"))
    repo.push("web: a new namespace with a Deployment without limits")
    refused = run("reconcile")
    assert refused.rc != 0
    assert any(f"policy/limits.rego deny: Deployment {new}/unlimited" in msg and "nothing was applied" in msg
               for _h, _t, msg in refused.failures()), refused.explain()
    # The plan created it (annotated with its run) and the refusal deleted it: the bare control plane has no
    # namespace controller to finish a deletion, so it stays, empty, being deleted.
    created = cluster.get(f"/api/v1/namespaces/{new}")["metadata"]
    assert "trident.gitops/created-for-dry-run" in created["annotations"]
    assert created.get("deletionTimestamp"), refused.explain()
    assert not exists(cluster, f"/api/v1/namespaces/{new}/configmaps/in-new")
    kept = cluster.get(f"/api/v1/namespaces/{old}")["metadata"]
    assert not kept.get("deletionTimestamp")
    assert kept["labels"].get("owner") == "someone" and "team" not in kept["labels"]
    assert "trident.gitops/created-for-dry-run" not in (kept.get("annotations") or {})
    assert not exists(cluster, f"/api/v1/namespaces/{old}/configmaps/in-old")
