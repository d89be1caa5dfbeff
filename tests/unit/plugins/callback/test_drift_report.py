"""drift_report with real Task/Host/TaskResult objects, censored by Ansible's own no_log code path."""

import json
import string
from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st
import yaml
from markdown_it import MarkdownIt
from ansible.errors import AnsibleError
from ansible.executor.stats import AggregateStats
from ansible.executor.task_result import _RawTaskResult
from ansible.inventory.host import Host
from ansible.playbook.play import Play
from ansible.playbook.task import Task
from ansible.constants import config

from ansible_collections.trident.gitops.plugins.callback import drift_report
from ansible_collections.trident.gitops.plugins.plugin_utils import drift_markdown, drift_terminal
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import (
    DriftReport, parse_step_map, scrub, step_of)

SECRET = "hunter2-very-secret"


NAME = "trident.gitops.drift_report"


def load_callback():
    """What the plugin loader does: register the documented options, then instantiate.

    The unit tests import the collection as a plain package (tests/conftest.py), which Ansible's
    collection loader refuses to load plugins from, so its two steps are done here.
    """
    if not config.has_configuration_definition("callback", NAME):
        options = yaml.safe_load(drift_report.DOCUMENTATION)["options"]
        config.initialize_plugin_configuration_definitions("callback", NAME, options)
    plugin = drift_report.CallbackModule()
    plugin._load_name = NAME
    plugin.set_options()
    return plugin


def task(action, name, task_vars=None, no_log=False):
    new = Task()
    new.action, new.name, new.vars, new.no_log = action, name, task_vars or {}, no_log
    return new


def result(host, new_task, data):
    """The object Ansible hands to callbacks, through its own no_log censoring."""
    return _RawTaskResult(Host(host), new_task, data, {}).as_callback_task_result()


@pytest.fixture()
def callback(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIDENT_DRIFT_REPORT_DIR", str(tmp_path / "report"))
    return load_callback()


def finish(plugin, custom=None):
    stats = AggregateStats()
    for key, value in (custom or {}).items():
        stats.set_custom_stats(key, value)
    plugin.v2_playbook_on_stats(stats)


def feed_a_run(plugin):
    kube = task("trident.gitops.kube_diff", "kube diff")
    plugin.v2_runner_on_ok(result("aliyun", task("trident.gitops.git_source", "fetch"), {"changed": False}))
    plugin.v2_runner_on_ok(result("aliyun", kube, {"changed": True, "drift": [
        {"kind": "Deployment", "name": "web", "action": "update"},
        {"kind": "Secret", "name": "db", "action": "update", "data": {"password": SECRET},
         "stringData": {"password": SECRET}}], "diff": {"after": SECRET}}))
    plugin.v2_runner_on_ok(result("aliyun", task("trident.gitops.sops_decrypt", "decrypt", no_log=True),
                                  {"changed": True, "content": SECRET, "drift": [{"value": SECRET}]}))
    plugin.v2_runner_on_ok(result("aliyun", task("trident.gitops.terraform_apply", "plan"), {
        "changed": True, "summary": {"add": 1, "change": 0, "destroy": 0},
        "resource_changes": [{"address": "local_file.x", "actions": ["create"], "content": SECRET}]}))
    plugin.v2_runner_on_ok(result("k3s", kube, {"changed": False, "drift": []}))
    plugin.v2_runner_on_skipped(result("k3s", task("trident.gitops.terraform_apply", "plan"), {"skipped": True}))
    plugin.v2_runner_on_failed(result("broken", task("trident.gitops.kube_diff", "kube diff"),
                                      {"failed": True, "msg": "cannot reach the API server | <b>"}))
    plugin.v2_runner_on_ok(result("aliyun", task("ansible.builtin.debug", "not a step"), {"changed": True}))


def test_json_report_per_env_and_step_without_secret_values(callback, tmp_path):
    feed_a_run(callback)
    finish(callback)
    folder = tmp_path / "report"
    raw = (folder / "drift-report.json").read_text()
    assert SECRET not in raw and SECRET not in (folder / "drift-report.md").read_text()
    assert SECRET not in (folder / "drift-report.xml").read_text()
    report = json.loads(raw)
    assert report["summary"] == {"environments": 3, "drifted": ["aliyun"], "failed": ["broken"]}
    aliyun = report["environments"]["aliyun"]["steps"]
    assert aliyun["source"] == {"status": "ok", "count": 0, "tasks": []}
    assert aliyun["kubernetes"]["status"] == "changed" and aliyun["kubernetes"]["count"] == 2
    assert aliyun["kubernetes"]["tasks"][0]["drift"][1] == {"kind": "Secret", "name": "db", "action": "update"}
    assert "diff" not in aliyun["kubernetes"]["tasks"][0]
    assert aliyun["secrets"]["tasks"] == [{"task": "decrypt", "module": "trident.gitops.sops_decrypt",
                                           "changed": True, "censored": True}]
    assert aliyun["terraform"]["tasks"][0]["summary"] == {"add": 1, "change": 0, "destroy": 0}
    assert aliyun["terraform"]["tasks"][0]["resource_changes"] == [{"address": "local_file.x", "actions": ["create"]}]
    assert set(aliyun) == {"source", "secrets", "terraform", "kubernetes"}, "debug has no step"
    k3s = report["environments"]["k3s"]
    assert k3s["status"] == "ok"
    assert k3s["steps"]["terraform"]["status"] == "skipped" and k3s["steps"]["kubernetes"]["status"] == "ok"
    assert report["environments"]["broken"]["steps"]["kubernetes"]["tasks"][0]["msg"].startswith("cannot reach")


def test_markdown_is_a_table_then_details_and_escapes_html(callback, tmp_path):
    callback.report.check_mode = True  # as under --check
    feed_a_run(callback)
    finish(callback)
    markdown = (tmp_path / "report" / "drift-report.md").read_text()
    lines = markdown.splitlines()
    assert "**1 of 3 environments drifted**; 1 failed." in markdown
    assert "| Environment | Source | Secrets | Terraform | Kubernetes | Health |" in lines
    assert "| `aliyun` | ✅ in sync | ⚠️ 1 change | ⚠️ 1 change | ⚠️ 2 changes | — |" in lines
    assert "| `k3s` | — | — | — | ✅ in sync | — |" in lines
    assert "| `broken` | — | — | — | ❌ failed | — |" in lines
    assert "- **`Secret`** `db` *update*" in lines
    assert "- `local_file.x` *create*" in lines
    assert "- details hidden (no_log)" in lines
    # A message is shown as it is, in a code span (tests/unit/plugins/plugin_utils/test_report_text.py).
    assert "- ❌ `cannot reach the API server | <b>`" in lines
    assert "<summary><b><code>k3s</code></b>" not in markdown, "an env in sync has no details"


def test_junit_has_a_suite_per_env_and_drift_as_failure(callback, tmp_path):
    feed_a_run(callback)
    finish(callback)  # apply mode: the drift was corrected, and it is still reported
    root = ET.parse(tmp_path / "report" / "drift-report.xml").getroot()
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert sorted(suites) == ["aliyun", "broken", "k3s"]
    cases = {case.get("name"): case for case in suites["aliyun"].findall("testcase")}
    assert list(cases) == ["source", "secrets", "terraform", "kubernetes"]
    assert cases["source"].find("failure") is None
    assert cases["kubernetes"].find("failure").get("message") == "2 changes corrected"
    assert suites["aliyun"].get("failures") == "3" and suites["aliyun"].get("tests") == "4"
    assert suites["broken"].find("testcase/error") is not None and suites["broken"].get("errors") == "1"
    assert suites["k3s"].find("testcase[@name='terraform']/skipped") is not None
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "3", "1")


def test_trident_step_var_overrides_the_module_and_check_mode_changes_wording(callback, tmp_path):
    copy = task("ansible.builtin.copy", "render", task_vars={"trident_step": "kubernetes"})
    copy.check_mode = True
    callback.v2_runner_on_ok(result("web", copy, {"changed": True, "changed_files": ["a.yaml", "b.yaml"]}))
    finish(callback)
    report = json.loads((tmp_path / "report" / "drift-report.json").read_text())
    assert report["mode"] == "check"
    assert report["environments"]["web"]["steps"]["kubernetes"]["count"] == 2
    assert "check mode, nothing was changed" in (tmp_path / "report" / "drift-report.md").read_text()


def test_set_stats_are_merged_into_the_report(callback, tmp_path):
    callback.v2_runner_on_ok(result("aliyun", task("trident.gitops.kube_diff", "diff"), {"changed": False}))
    finish(callback, {"trident_drift": {
        "aliyun": {"kubernetes": {"changed": True, "count": 4, "items": [{"kind": "ConfigMap", "data": {"k": SECRET}}]}},
        "edge": {"terraform": {"changed": False}}}})
    report = json.loads((tmp_path / "report" / "drift-report.json").read_text())
    kube = report["environments"]["aliyun"]["steps"]["kubernetes"]
    assert (kube["status"], kube["count"]) == ("changed", 4)
    assert kube["stats"]["items"] == [{"kind": "ConfigMap"}]
    assert report["environments"]["edge"]["steps"]["terraform"]["status"] == "ok"


def test_summary_is_printed(callback, capsys):
    feed_a_run(callback)
    finish(callback)
    out = capsys.readouterr().out
    assert "aliyun: Secrets 1 change corrected; Terraform 1 created (local_file.x); " \
           "Kubernetes 2 updated (Deployment web, Secret db)" in out
    assert "broken: Kubernetes FAILED: cannot reach the API server | <b>" in out and "k3s: in sync" in out
    assert "1 of 3 environments had drift corrected; report written to" in out


def test_bad_step_map_entry_is_an_error(monkeypatch):
    monkeypatch.setenv("TRIDENT_DRIFT_REPORT_STEP_MAP", "ansible.builtin.copy")
    with pytest.raises(AnsibleError, match="step_map entry 'ansible.builtin.copy' is not of the form module=step"):
        load_callback()


def test_step_of_by_var_fqcn_short_name_and_map():
    step_map = parse_step_map(["community.general.foo=extra"])
    assert step_of("trident.gitops.kube_diff", {}, step_map) == "kubernetes"
    assert step_of("kube_diff", {}, step_map) == "kubernetes"
    assert step_of("foo", {}, step_map) == "extra"
    assert step_of("ansible.builtin.debug", {}, step_map) is None
    assert step_of("ansible.builtin.debug", {"trident_step": "source"}, step_map) == "source"
    assert step_of("kube_diff", {"trident_step": "{{ x }}"}, step_map) == "kubernetes"


def test_scrub_drops_content_keys_at_any_depth():
    data = {"a": [{"data": 1, "stringData": 2, "binary_data": 3, "Content": 4, "name": "x"}], "metadata": {"k": 1}}
    assert scrub(data) == {"a": [{"name": "x"}], "metadata": {"k": 1}}


def test_loop_items_are_joined_and_a_censored_item_stays_hidden(callback, tmp_path):
    loop_task = task("trident.gitops.kube_diff", "per folder")
    callback.v2_runner_on_ok(result("e", loop_task, {"changed": True, "results": [
        {"changed": True, "drift": [{"kind": "ConfigMap", "name": "a", "data": {"k": SECRET}}]},
        {"changed": False, "drift": [{"kind": "ConfigMap", "name": "unchanged"}]},
        {"changed": True, "censored": "hidden by no_log"},
        {"changed": True, "drift": [{"kind": "Service", "name": "c"}]}]}))
    finish(callback)
    raw = (tmp_path / "report" / "drift-report.json").read_text()
    assert SECRET not in raw
    (entry,) = json.loads(raw)["environments"]["e"]["steps"]["kubernetes"]["tasks"]
    assert entry["drift"] == [{"kind": "ConfigMap", "name": "a"}, {"kind": "Service", "name": "c"}]
    assert entry["censored"] is True


def test_failed_status_wins_over_changed():
    report = DriftReport(check_mode=True)
    report.record("e", "kubernetes", "t1", "m", "changed", {"changed": True})
    report.record("e", "kubernetes", "t2", "m", "failed", {"msg": "boom"})
    report.record("e", "kubernetes", "t3", "m", "ok", {})
    assert report.as_dict()["environments"]["e"]["steps"]["kubernetes"]["status"] == "failed"
    assert report.summary() == {"environments": 1, "drifted": ["e"], "failed": ["e"]}


def test_objects_in_sync_are_not_counted_as_drift(callback, tmp_path):
    # kube_diff lists every desired object in drift; only those with an action other than none drifted.
    callback.v2_runner_on_ok(result("e", task("trident.gitops.kube_diff", "diff"), {"changed": True, "drift": [
        {"kind": "ConfigMap", "name": "a", "action": "update", "fields": ["data.k"]},
        {"kind": "ConfigMap", "name": "b", "action": "none", "fields": []},
        {"kind": "Deployment", "name": "c", "action": "create", "fields": []}]}))
    finish(callback)
    kube = json.loads((tmp_path / "report" / "drift-report.json").read_text())["environments"]["e"]["steps"]["kubernetes"]
    assert kube["count"] == 2
    assert [item["name"] for item in kube["tasks"][0]["drift"]] == ["a", "c"]


# -- the Markdown a merge-request reviewer reads -------------------------------------------------------
BEFORE, AFTER = "1f0c2a9b8e7d6c5b4a39281706f5e4d3c2b1a098", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807"
MASKED = "<masked:3f2a9c01d4e5>"
INVENTORY_ERROR = "environment broken: environments/broken/env.yml: 'kubeconfig' must be a string, got a list"


def feed_a_reviewed_run(plugin):
    """A drift.yml run as the roles make it: plays in check mode, the source fetch with check_mode false
    that fails for one environment, Kubernetes behind no_log with its account in set_stats."""
    play = Play()
    play.check_mode = True
    plugin.v2_playbook_on_play_start(play)
    fetch = task("trident.gitops.git_source", "Fetch the GitOps repository")
    fetch.check_mode = False
    plugin.v2_runner_on_failed(result("broken", fetch, {"failed": True, "msg": INVENTORY_ERROR}))
    for env in ("production", "staging"):
        plugin.v2_runner_on_ok(result(env, fetch, {"changed": False, "before": BEFORE, "after": AFTER}))
    kube = task("trident.gitops.kube_diff", "Compare the environment's manifests with the cluster", no_log=True)
    plugin.v2_runner_on_ok(result("production", kube, {"changed": True, "drift": [{"kind": "Secret"}]}))
    plugin.v2_runner_on_ok(result("staging", kube, {"changed": False}))
    plugin.v2_runner_on_ok(result("production", task("trident.gitops.terraform_apply", "Converge the Terraform root module"), {
        "changed": True, "summary": {"add": 3, "change": 0, "destroy": 3},
        "resource_changes": [
            {"address": "local_file.motd", "actions": ["create"]},
            {"address": "null_resource.cache", "actions": ["delete", "create"], "action_reason": "replace_because_tainted"},
            {"address": "aws_instance.web", "actions": ["delete", "create"],
             "action_reason": "replace_because_cannot_update", "replace_paths": [["ami"], ["ebs_block_device", 0, "size"]]},
            {"address": "local_file.old", "actions": ["delete"], "action_reason": "delete_because_no_resource_config"},
            {"address": "local_file.banner", "actions": ["update"]}],
        "resource_drift": [{"address": "local_file.motd", "actions": ["delete"]},
                           {"address": "local_file.banner", "actions": ["update"]}]}))
    finish(plugin, {"trident_drift": {
        "production": {
            "source": {"changed": True, "count": 2, "revision": AFTER, "before": BEFORE,
                       "commits": [{"sha": AFTER, "subject": "web: v6.2.0, 1 replica <for now>"}],
                       "changed_files": ["environments/production/k8s/web.yaml", "environments/production/k8s/db.sops.yaml"]},
            "kubernetes": {"changed": True, "count": 3, "health": {"status": "Degraded", "counts": {}}, "items": [
                {"kind": "Deployment", "namespace": "app", "name": "web", "action": "update",
                 "fields": ["spec.replicas", "spec.template.spec.containers[name=web].image", "metadata.labels.tier"],
                 "health": {"status": "Degraded", "reason": "Deployment exceeded its progress deadline"},
                 "changes": [{"path": "spec.replicas", "before": 3, "after": 1},
                             {"path": "spec.template.spec.containers[name=web].image",
                              "before": "registry/web:v6.1.1-hotfix", "after": "registry/web:v6.2.0"}]},
                {"kind": "Secret", "namespace": "app", "name": "db", "action": "update", "fields": ["data.password"],
                 "health": {"status": "Healthy", "reason": ""},
                 "changes": [{"path": "data.password", "before": MASKED, "after": SECRET},
                             {"path": "stringData", "before": None, "after": {"token": SECRET}}]},
                {"kind": "ClusterRole", "namespace": None, "name": "web-reader", "action": "create", "fields": [],
                 "health": {"status": "Missing", "reason": "not found in the cluster"}}]}},
        "staging": {"kubernetes": {"changed": False, "count": 0, "items": [],
                                   "health": {"status": "Healthy", "counts": {"Healthy": 4}}}}}})


def reviewed_markdown(callback, tmp_path):
    feed_a_reviewed_run(callback)
    return (tmp_path / "report" / "drift-report.md").read_text()


def test_markdown_snapshot_for_a_reviewer(callback, tmp_path):
    markdown = reviewed_markdown(callback, tmp_path)
    lines = markdown.splitlines()
    assert lines[0] == "### Trident drift report (check mode, nothing was changed)", "a failed check run is a check"
    assert "**1 of 3 environments drifted**; 1 failed." in lines
    assert "| `broken` | ❌ failed | — | — | — | — |" in lines
    assert "| `production` | ⚠️ 2 changes | — | ⚠️ 5 changes | ⚠️ 3 changes | 💔 Degraded |" in lines
    assert "| `staging` | ✅ in sync | — | — | ✅ in sync | 💚 Healthy |" in lines
    assert f"- ❌ `{INVENTORY_ERROR}`" in lines
    # Source: revision range, commits, changed files.
    assert "Revision `1f0c2a9b8e7d` → `9e8d7c6b5a4f`" in lines
    assert "- `9e8d7c6b5a4f` `web: v6.2.0, 1 replica <for now>`" in lines
    assert "- `environments/production/k8s/web.yaml`" in lines
    # Kubernetes: Kind namespace/name action, then paths with before → after.
    assert "- **`Deployment`** `app/web` *update* — 💔 Degraded: `Deployment exceeded its progress deadline`" in lines
    assert "  - `spec.replicas`: `3` → `1`" in lines
    assert "  - `spec.template.spec.containers[name=web].image`: `registry/web:v6.1.1-hotfix` → `registry/web:v6.2.0`" in lines
    assert "  - `metadata.labels.tier`" in lines, "a field without values is still listed"
    assert "- **`Secret`** `app/db` *update* — 💚 Healthy" in lines
    assert "  - `data.password`: changed (masked)" in lines
    assert "  - `stringData`: changed (masked)" in lines
    assert "- **`ClusterRole`** `web-reader` *create* — 👻 Missing: `not found in the cluster`" in lines
    # Terraform: address, action, reason in words.
    assert "- `local_file.motd` *create* — deleted outside Terraform" in lines
    assert "- `local_file.banner` *update* — changed outside Terraform" in lines
    assert "- `null_resource.cache` *replace* — tainted" in lines
    assert "- `aws_instance.web` *replace* — config changed; forced by `ami`, `ebs_block_device[0].size`" in lines
    assert "- `local_file.old` *delete* — removed from config" in lines
    # No noise, no long task names, no values of a Secret, masked or not.
    for noise in ("None", "=[]", "namespace=", "Converge the Terraform root module", "Fetch the GitOps", SECRET, MASKED):
        assert noise not in markdown


def test_json_keeps_the_account_but_not_a_secrets_values(callback, tmp_path):
    reviewed_markdown(callback, tmp_path)
    raw = (tmp_path / "report" / "drift-report.json").read_text()
    assert SECRET not in raw and MASKED not in raw
    report = json.loads(raw)
    assert report["mode"] == "check"
    production = report["environments"]["production"]["steps"]
    web, db = production["kubernetes"]["stats"]["items"][:2]
    assert web["changes"][0] == {"path": "spec.replicas", "before": 3, "after": 1}
    assert db["changes"] == [{"path": "data.password", "masked": True}, {"path": "stringData", "masked": True}]
    terraform = production["terraform"]["tasks"][0]
    assert terraform["resource_changes"][2]["replace_paths"] == [["ami"], ["ebs_block_device", 0, "size"]]
    assert terraform["resource_drift"][0] == {"address": "local_file.motd", "actions": ["delete"]}
    assert production["source"]["stats"]["commits"][0]["subject"].startswith("web: v6.2.0")
    junit = ET.parse(tmp_path / "report" / "drift-report.xml").getroot()
    assert junit.get("failures") == "3" and junit.get("errors") == "1"
    assert "None" not in ET.tostring(junit, encoding="unicode")


def test_markdown_renders_as_gfm_table_and_details(callback, tmp_path):
    # markdown-it-py is CommonMark; its table rule is GitHub's/GitLab's pipe-table extension.
    html_text = MarkdownIt("commonmark").enable("table").render(reviewed_markdown(callback, tmp_path))
    tree = ET.fromstring(f"<root>{html_text}</root>")
    rows = tree.findall("table/tbody/tr")
    assert [row.find("td/code").text for row in rows] == ["broken", "production", "staging"]
    assert [th.text for th in tree.findall("table/thead/tr/th")] == [
        "Environment", "Source", "Secrets", "Terraform", "Kubernetes", "Health"]
    summaries = ["".join(summary.itertext()) for summary in tree.iter("summary")]
    assert summaries == ["broken — Source ❌ failed",
                         "production — Source ⚠️ 2 changes, Terraform ⚠️ 5 changes, Kubernetes ⚠️ 3 changes, 💔 Degraded"], \
        "a details section per drifted or failed environment, none in sync"
    headings = [h.text for h in tree.iter("h4")]
    assert headings == ["Source: ❌ failed", "Source: ⚠️ 2 changes", "Terraform: ⚠️ 5 changes", "Kubernetes: ⚠️ 3 changes"]
    objects = [li for ul in tree.iter("ul") for li in ul.findall("li") if li.find("strong") is not None]
    assert [li.find("strong/code").text for li in objects] == ["Deployment", "Secret", "ClusterRole"]
    assert [len(li.findall("ul/li")) for li in objects] == [3, 2, 0], "a list of field paths per object"
    assert "None" not in html_text and "<for now>" not in html_text and "&lt;for now&gt;" in html_text


def test_the_example_in_the_docs_is_this_report(callback, tmp_path):
    docs = (Path(__file__).parents[4] / "docs" / "drift-report.md").read_text()
    example = docs.split("<!-- example report: begin -->\n````markdown\n")[1].split("````\n<!-- example report: end -->")[0]
    assert example == reviewed_markdown(callback, tmp_path)


SECRET_PATHS = st.sampled_from(["data", "stringData", "binaryData"]).flatmap(
    lambda top: st.sampled_from([top, f"{top}.password", f"{top}[tls.key]"]))
# A prefix no report text has, so a hit is a leak.
SECRET_VALUES = st.text(alphabet=string.ascii_letters + string.digits + "+/=_-", min_size=4, max_size=40).map(
    "zq-".__add__)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(path=SECRET_PATHS, value=SECRET_VALUES, through_stats=st.booleans())
def test_no_value_of_a_secret_reaches_any_report(path, value, through_stats):
    """Whatever a producer leaves in a Secret's change (masked or not), no format prints it."""
    item = {"kind": "Secret", "namespace": "app", "name": "db", "action": "update", "fields": [path],
            "changes": [{"path": path, "before": value, "after": {"nested": value}}]}
    report = DriftReport(check_mode=True)
    if through_stats:
        report.merge_stats({"e": {"kubernetes": {"changed": True, "items": [item]}}})
    else:
        report.record("e", "kubernetes", "diff", "trident.gitops.kube_diff", "changed", {"drift": [item]})
    markdown = drift_markdown.render(report)
    for text in (markdown, report.to_json(), report.to_junit(), drift_terminal.render(report),
                 "\n".join(drift_terminal.summary_lines(report))):
        assert value not in text
    assert f"  - `{path}`: changed (masked)" in markdown.splitlines()


def test_an_environment_in_sync_but_degraded_has_its_health_and_a_section():
    from ansible_collections.trident.gitops.plugins.plugin_utils import drift_markdown, drift_terminal
    from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import DriftReport
    report = DriftReport(check_mode=True)
    report.merge_stats({"staging": {"kubernetes": {
        "changed": False, "count": 0, "items": [], "health": {"status": "Degraded", "counts": {"Degraded": 1}},
        "unhealthy": [{"kind": "Deployment", "namespace": "app", "name": "web", "action": "none",
                       "health": {"status": "Degraded", "reason": "exceeded its progress deadline"}}]}}})
    assert report.as_dict()["environments"]["staging"]["health"] == "Degraded"
    lines = drift_markdown.render(report).splitlines()
    assert "| `staging` | — | — | — | ✅ in sync | 💔 Degraded |" in lines
    assert "#### Kubernetes: in sync, not Healthy" in lines
    assert "- **`Deployment`** `app/web` *none* — 💔 Degraded: `exceeded its progress deadline`" in lines


FORGE_TOKEN = "forge-token-callback-5be1"
DEPLOYED = "ab" * 20


@pytest.mark.parametrize("answer", [201, 500])
def test_the_forge_hears_the_preview_and_the_statuses_and_its_failure_is_a_warning(tmp_path, monkeypatch, answer):
    from testbed.recorder import RequestRecorder

    def respond(request):
        if request.method == "GET":  # the token's own user, then the pull request's comments (none)
            return 200, {"id": 1} if request.path == "/api/v1/user" else []
        return answer, {"id": 1}

    with RequestRecorder(respond=respond) as forge:
        for name, value in {"TRIDENT_FORGE": "gitea", "TRIDENT_FORGE_API_URL": f"{forge.url}/api/v1",
                            "TRIDENT_FORGE_PROJECT": "ops/gitops", "TRIDENT_FORGE_TOKEN": FORGE_TOKEN,
                            "TRIDENT_FORGE_PULL_REQUEST": "3",
                            "TRIDENT_DRIFT_REPORT_DIR": str(tmp_path / "report")}.items():
            monkeypatch.setenv(name, value)
        plugin = load_callback()
        shown, warned = [], []
        monkeypatch.setattr(plugin._display, "display", lambda msg, *a, **k: shown.append(msg))
        monkeypatch.setattr(plugin._display, "warning", lambda msg, *a, **k: warned.append(msg))
        monkeypatch.setattr("ansible_collections.trident.gitops.plugins.plugin_utils.forge.time.sleep", lambda s: None)
        plugin.v2_runner_on_ok(result("k3s", task("trident.gitops.kube_diff", "kube diff"),
                                      {"changed": False, "drift": []}))
        finish(plugin, {"trident_environments": {"k3s": {"verdict": "in_sync", "revision": DEPLOYED,
                                                         "target": DEPLOYED}}})
    assert list(dict.fromkeys((r.method, r.path) for r in forge.requests if r.method != "GET")) == [
        ("POST", "/api/v1/repos/ops/gitops/issues/3/comments"), ("POST", f"/api/v1/repos/ops/gitops/statuses/{DEPLOYED}")]
    assert (tmp_path / "report" / "verdict").read_text() == "in_sync\n", "the report is written whatever the forge"
    assert not any(FORGE_TOKEN in m for m in shown + warned)
    if answer == 201:
        assert warned == [] and "forge: commit status k3s: success on abababababab" in shown
    else:
        assert [w.split(": HTTP")[0].rsplit(" ", 1)[0] for w in warned] == [
            "trident.gitops.drift_report: forge: preview comment on #3: POST",
            "trident.gitops.drift_report: forge: commit status k3s: POST"]


def test_policy_verdicts_in_every_format(callback, tmp_path):
    """The policy step (issue 28): a Policy column, its denials and warnings per environment (quoted, never
    markup), a failing JUnit case per denial; an environment whose policies only warn gets its section too."""
    hostile = "<img src=x onerror=alert(1)> [link](http://evil) @all"
    denial = {"policy": "policy/limits.rego", "package": "main", "rule": "deny", "origin": "repository",
              "subject": "Deployment web/api", "source": "environments/prod/yaml/api.yaml", "message": hostile}
    warning = {**denial, "rule": "warn", "policy": "environments/stage/policy/labels.rego", "message": "no label"}
    finish(callback, {"trident_drift": {
        "prod": {"policy": {"changed": True, "count": 1, "status": "changed", "denials": [denial], "warnings": [],
                            "refusal": "denied by policy: ..."}},
        "stage": {"policy": {"changed": False, "count": 0, "status": "ok", "denials": [], "warnings": [warning]}}}})
    folder = tmp_path / "report"
    report = json.loads((folder / "drift-report.json").read_text())
    assert report["environments"]["prod"]["steps"]["policy"]["stats"]["denials"] == [denial]
    markdown = (folder / "drift-report.md").read_text()
    assert any(line.startswith("| Environment") and "| Policy |" in line for line in markdown.splitlines())
    assert "⛔ 1 denied" in markdown and "✅ passed, 1 warning" in markdown
    html = MarkdownIt("commonmark").enable(["table"]).render(markdown)
    assert "<img" not in html and "<a " not in html
    assert "<code>policy/limits.rego</code> <code>deny</code>: <code>Deployment web/api</code>" in html
    assert "<code>environments/stage/policy/labels.rego</code> <code>warn</code>" in html
    suites = {s.get("name"): s for s in ET.fromstring((folder / "drift-report.xml").read_text()).iter("testsuite")}
    denied = [c for c in suites["prod"].iter("testcase") if c.get("name").startswith("policy: ")]
    assert [c.get("name") for c in denied] == ["policy: policy/limits.rego deny: Deployment web/api"]
    assert denied[0].find("failure").get("message") == hostile
    assert not [c for c in suites["stage"].iter("testcase") if c.find("failure") is not None]


def test_policy_exceptions_are_counted_and_listed_never_denials(callback, tmp_path):
    """A rule a package's exception excepted (conftest's exceptions): counted in the Policy column, listed in the
    environment's section, in the JSON stats, and never a failing JUnit case."""
    excepted = {"policy": "policy/limits.rego", "package": "main", "rule": "deny_run_as_root", "origin": "repository",
                "subject": "Deployment web/legacy", "source": "environments/prod/yaml/api.yaml",
                "message": "deny_run_as_root excepted by main.exception"}
    finish(callback, {"trident_drift": {"prod": {"policy": {
        "changed": False, "count": 0, "status": "ok", "denials": [], "warnings": [], "exceptions": [excepted]}}}})
    folder = tmp_path / "report"
    report = json.loads((folder / "drift-report.json").read_text())
    assert report["environments"]["prod"]["steps"]["policy"]["stats"]["exceptions"] == [excepted]
    markdown = (folder / "drift-report.md").read_text()
    assert "✅ passed, 1 excepted" in markdown
    html = MarkdownIt("commonmark").enable(["table"]).render(markdown)
    assert ("➖ excepted: <code>policy/limits.rego</code> <code>deny_run_as_root</code>: "
            "<code>Deployment web/legacy</code>") in html
    assert not [c for c in ET.fromstring((folder / "drift-report.xml").read_text()).iter("testcase")
                if c.find("failure") is not None]
