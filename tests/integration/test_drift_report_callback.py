"""The drift_report callback inside a real ansible-playbook run over the environments inventory."""

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import yaml

SECRET = "s3cr3t-value-that-must-not-leak"


def make_run(tmp_path, check):
    repo = tmp_path / "repo"
    for env in ("aliyun", "k3s", "quiet"):
        (repo / "environments" / env / "yaml").mkdir(parents=True, exist_ok=True)
    live = tmp_path / "live"
    for env in ("aliyun", "k3s", "quiet"):
        (live / env).mkdir(parents=True, exist_ok=True)
    (live / "k3s" / "app.yaml").write_text("replicas: 2\n")  # k3s is in sync, aliyun has no app.yaml yet
    (tmp_path / "inv.environments.yml").write_text(yaml.safe_dump({"plugin": "trident.gitops.environments",
                                                                   "path": str(repo)}))
    tasks = [
        {"name": "Render the app", "vars": {"trident_step": "kubernetes"}, "ansible.builtin.copy": {
            "content": "replicas: 2\n", "dest": f"{live}/{{{{ inventory_hostname }}}}/app.yaml", "mode": "0644"},
         "when": "inventory_hostname != 'quiet'"},
        {"name": "Write a secret", "vars": {"trident_step": "secrets"}, "no_log": True,
         "when": "inventory_hostname == 'aliyun'",
         "ansible.builtin.copy": {"content": SECRET, "dest": f"{live}/{{{{ inventory_hostname }}}}/secret",
                                  "mode": "0600"}},
        {"name": "Not a step", "ansible.builtin.debug": {"msg": "hello"}},
        {"name": "Report terraform drift as stats", "when": "inventory_hostname == 'quiet'", "no_log": True,
         # set_stats does not template keys: the env-keyed mapping is built in one expression.
         "ansible.builtin.set_stats": {"data": {"trident_drift": (
             "{{ {inventory_hostname: {'terraform': {'changed': true, 'count': 1, 'items': [{'address': "
             "'local_file.motd', 'action': 'update', 'content': '" + SECRET + "'}]}}} }}")}}},
    ]
    playbook = tmp_path / "drift.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Drift", "hosts": "environments", "gather_facts": False,
                                         "tasks": tasks}], sort_keys=False))
    report = tmp_path / "report"
    env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report",
           "TRIDENT_DRIFT_REPORT_DIR": str(report), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
           "ANSIBLE_SHOW_CUSTOM_STATS": "0"}
    argv = ["ansible-playbook", "-i", str(tmp_path / "inv.environments.yml"), str(playbook), "--diff", "-vvvv"]
    proc = subprocess.run(argv + (["--check"] if check else []), env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    return proc, report, live


def test_check_run_reports_exactly_the_drifted_envs_and_steps(tmp_path):
    proc, report, live = make_run(tmp_path, check=True)
    assert not (live / "aliyun" / "app.yaml").exists(), "check mode changes nothing"
    names = ("drift-report.json", "drift-report.md", "drift-report.xml")
    files = {name: (report / name).read_text() for name in names}
    for text in files.values():
        assert SECRET not in text
    data = json.loads(files["drift-report.json"])
    assert data["mode"] == "check"
    assert data["summary"] == {"environments": 3, "drifted": ["aliyun", "quiet"], "failed": []}
    aliyun = data["environments"]["aliyun"]["steps"]
    assert aliyun["kubernetes"]["status"] == "changed" and aliyun["kubernetes"]["count"] == 1
    assert aliyun["kubernetes"]["tasks"][0]["task"] == "Render the app"
    assert aliyun["secrets"]["tasks"] == [{"task": "Write a secret", "module": "ansible.builtin.copy",
                                           "changed": True, "censored": True}]
    k3s = data["environments"]["k3s"]["steps"]
    assert k3s["kubernetes"]["status"] == "ok" and k3s["secrets"]["status"] == "skipped"
    quiet = data["environments"]["quiet"]["steps"]
    assert quiet["terraform"]["status"] == "changed"
    assert quiet["terraform"]["stats"]["items"] == [{"address": "local_file.motd", "action": "update"}]
    assert quiet["kubernetes"]["status"] == "skipped"

    assert "| `aliyun` | — | ⚠️ 1 change | — | ⚠️ 1 change |" in files["drift-report.md"]
    assert "| `k3s` | — | — | — | ✅ in sync |" in files["drift-report.md"]
    suites = {s.get("name"): s for s in ET.fromstring(files["drift-report.xml"].encode()).findall("testsuite")}
    assert suites["aliyun"].get("failures") == "2" and suites["k3s"].get("failures") == "0"

    assert "TRIDENT DRIFT REPORT" in proc.stdout
    # One summary line per environment, naming each drifted step (drift_terminal.summary_lines).
    aliyun = [line for line in proc.stdout.splitlines() if line.startswith("aliyun: ")]
    assert len(aliyun) == 1 and "kubernetes 1" in aliyun[0].lower() and "secrets 1" in aliyun[0].lower(), aliyun
    assert "k3s: in sync" in proc.stdout
    assert f"2 of 3 environments drifted; report written to {report}" in proc.stdout
    assert SECRET not in proc.stdout


def test_apply_run_then_rerun_is_in_sync(tmp_path):
    make_run(tmp_path, check=False)
    first = json.loads((tmp_path / "report" / "drift-report.json").read_text())
    assert first["mode"] == "apply" and "aliyun" in first["summary"]["drifted"]
    assert (tmp_path / "live" / "aliyun" / "app.yaml").read_text() == "replicas: 2\n"
    proc, report, _live = make_run(tmp_path, check=False)
    second = json.loads((report / "drift-report.json").read_text())
    # Only the stats-reported terraform drift of 'quiet' remains (the play reports it every time).
    assert second["summary"]["drifted"] == ["quiet"]
    assert second["environments"]["aliyun"]["status"] == "ok"
    assert "1 of 3 environments had drift corrected" in proc.stdout


def test_loop_item_with_its_own_no_log_stays_hidden(tmp_path):
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"edge": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}))
    playbook = tmp_path / "loop.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Loop", "hosts": "all", "gather_facts": False, "tasks": [{
        "name": "Write files", "vars": {"trident_step": "secrets"}, "loop": ["public", "private"],
        "no_log": "{{ item == 'private' }}",
        "ansible.builtin.copy": {"content": "{{ '" + SECRET + "' if item == 'private' else 'plain' }}",
                                 "dest": f"{tmp_path}/{{{{ item }}}}", "mode": "0600"}}]}]))
    env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "ANSIBLE_NOCOLOR": "1",
           "TRIDENT_DRIFT_REPORT_DIR": str(tmp_path / "report")}
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(playbook), "--check", "-vvv"],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    raw = (tmp_path / "report" / "drift-report.json").read_text()
    assert SECRET not in raw and SECRET not in (tmp_path / "report" / "drift-report.md").read_text()
    (entry,) = json.loads(raw)["environments"]["edge"]["steps"]["secrets"]["tasks"]
    assert entry["censored"] is True and entry["changed"] is True


def test_a_check_play_whose_first_step_fails_is_reported_as_a_check(tmp_path):
    # drift.yml's plays set check_mode: true and its source fetch runs with check_mode: false; when that
    # fetch fails no task ran in check mode, and the report still must say check mode.
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"edge": {"ansible_connection": "local"}}}}))
    playbook = tmp_path / "drift.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Drift", "hosts": "all", "gather_facts": False, "check_mode": True,
                                         "tasks": [{"name": "Fetch", "vars": {"trident_step": "source"},
                                                    "check_mode": False,
                                                    "ansible.builtin.fail": {"msg": "cannot fetch"}}]}]))
    env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report", "ANSIBLE_NOCOLOR": "1",
           "TRIDENT_DRIFT_REPORT_DIR": str(tmp_path / "report")}
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(playbook)],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr
    markdown = (tmp_path / "report" / "drift-report.md").read_text()
    assert markdown.startswith("### Trident drift report (check mode, nothing was changed)\n")
    assert "- ❌ `cannot fetch`" in markdown.splitlines()
    assert json.loads((tmp_path / "report" / "drift-report.json").read_text())["mode"] == "check"
