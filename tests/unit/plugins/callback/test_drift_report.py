"""drift_report with real Task/Host/TaskResult objects, censored by Ansible's own no_log code path."""

import json
import xml.etree.ElementTree as ET

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.executor.stats import AggregateStats
from ansible.executor.task_result import _RawTaskResult
from ansible.inventory.host import Host
from ansible.playbook.task import Task
from ansible.constants import config

from ansible_collections.trident.gitops.plugins.callback import drift_report
from ansible_collections.trident.gitops.plugins.module_utils.gitops.drift import (
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
    assert "| Environment | source | secrets | terraform | kubernetes |" in lines
    assert "| aliyun | ✅ in sync | ⚠️ 1 change | ⚠️ 1 change | ⚠️ 2 changes |" in lines
    assert "| k3s | — | — | — | ✅ in sync |" in lines
    assert "| broken | — | — | — | ❌ failed |" in lines
    assert "  - kind=Secret, name=db, action=update" in lines
    assert "  - address=local_file.x, actions=[create]" in lines
    assert "  - details hidden (no_log)" in lines
    assert "cannot reach the API server \\| &lt;b&gt;" in markdown and "<b>" not in markdown.replace(
        "<b>aliyun</b>", "").replace("<b>broken</b>", "")
    assert "<summary><b>k3s</b>" not in markdown, "an env in sync has no details"


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
    assert "aliyun: kubernetes 2, secrets 1, terraform 1" in out
    assert "broken: kubernetes FAILED" in out and "k3s: in sync" in out
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
