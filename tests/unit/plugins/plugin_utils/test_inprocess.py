"""The in-process action base with small fakes of ActionBase's parts: argument errors as AnsibleModule words them,
masking of no_log values (whole in the invocation, long ones in free text too), check/diff passed through, failures, the task's
environment, and when the module runs instead."""

import os
import sys
from types import SimpleNamespace

import pytest

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.trident.gitops.plugins.module_utils.common.deps import MissingLibrary
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask
from ansible_collections.trident.gitops.plugins.plugin_utils import inprocess
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import (
    InProcessAction, in_process_refusal, missing_library_failure, module_result, same_python)

MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
TOKEN = "t0ken-Value-42"


class FakeTemplar:
    def copy_with_new_env(self, available_variables):
        return SimpleNamespace(template=lambda value: available_variables.get("ref", value) if value == "{{ ref }}"
                               else value)


class Probe(InProcessAction):
    argument_spec = dict(name=dict(type="str", required=True), token=dict(type="str", no_log=True),
                         path=dict(type="str"), content=dict(type="str"), count=dict(type="int", default=3))
    rules = dict(mutually_exclusive=[("path", "content")])
    calls = []

    def work(self, params, check_mode, diff):
        self.calls.append((params, check_mode, diff, os.environ.get("PROBE_ENV")))
        if params["name"] == "boom":
            raise KeyError("bad key")
        if params["name"] == "refused":
            raise TridentError("refused: app/settings", object="ConfigMap/settings")
        if params["name"] == "missing":
            raise MissingLibrary("gnupg")
        return {"changed": check_mode, "masked": mask("same value"), "echo": f"{params['token']} and apps/v1",
                "ok": True, "nested": [{"value": params["token"]}], "diff": {"after": params["token"]} if diff else None}


def action(args, transport="local", become=False, check_mode=False, diff=False, environment=None,
           cls=Probe, async_val=0):
    task = SimpleNamespace(args=args, check_mode=check_mode, diff=diff, action="trident.gitops.probe",
                           async_val=async_val, delegate_to=None, environment=environment or [], no_log=False)
    connection = SimpleNamespace(transport=transport, has_native_async=False, _shell=SimpleNamespace(tmpdir=None))
    play_context = SimpleNamespace(become=become, remote_addr="env-a")
    plugin = cls(task, connection, play_context, loader=None, templar=FakeTemplar())
    plugin._execute_module = lambda task_vars=None, wrap_async=False: {"ran": "module"}
    plugin._remove_tmp_path = lambda path: None
    plugin._compute_environment_string = lambda out=None: out.update(environment or {}) if out is not None else ""
    Probe.calls = []
    return plugin


def run(args, task_vars=None, **kwargs):
    return action(args, **kwargs).run(task_vars={"ansible_playbook_python": sys.executable, **(task_vars or {})})


def test_argument_errors_are_the_modules_messages():
    assert run({"token": TOKEN})["msg"] == "missing required arguments: name"
    unsupported = run({"name": "a", "colour": "red"})
    assert unsupported["failed"] is True
    assert unsupported["msg"].startswith("Unsupported parameters for (trident.gitops.probe) module: colour.")
    assert run({"name": "a", "path": "p", "content": "c"})["msg"] == "parameters are mutually exclusive: path|content"
    bad_type = run({"name": "a", "count": "many", "token": TOKEN})
    assert "count" in bad_type["msg"] and bad_type["invocation"]["module_args"]["token"] == MASK
    assert Probe.calls == [], "nothing runs after an argument error"


def test_no_log_values_are_masked_whole_in_the_invocation_and_long_ones_in_free_text_too():
    result = run({"name": "a", "token": TOKEN}, diff=True)
    assert TOKEN not in repr(result)
    # remove_values: a whole value becomes MASK, a value inside a longer string "********".
    assert result["echo"] == "******** and apps/v1" and result["nested"] == [{"value": MASK}]
    assert result["diff"] == {"after": MASK}
    assert result["ok"] is True and result["changed"] is False
    assert result["invocation"] == {"module_args": {"name": "a", "token": MASK, "path": None, "content": None,
                                                    "count": 3}}


def test_a_short_no_log_value_is_masked_in_the_invocation_and_never_searched_for_in_text():
    result = run({"name": "a", "token": "app"})
    assert result["invocation"]["module_args"]["token"] == MASK
    assert result["echo"] == "app and apps/v1", "text is not rewritten around a short value (********s/v1)"


def test_each_task_masks_with_its_own_key_as_a_module_process():
    assert run({"name": "a"})["masked"] != run({"name": "a"})["masked"]


def test_check_and_diff_mode_and_defaults_reach_the_work():
    run({"name": "a"}, check_mode=True, diff=True)
    params, check_mode, diff = Probe.calls[0][:3]
    assert (len(Probe.calls), check_mode, diff, params["count"]) == (1, True, True, 3)
    run({"name": "a", "count": "7"})
    params, check_mode, diff = Probe.calls[0][:3]
    assert (len(Probe.calls), check_mode, diff, params["count"]) == (1, False, False, 7)


def test_failures_end_as_the_modules_failures():
    refused = run({"name": "refused", "token": TOKEN})
    assert refused["failed"] is True and refused["msg"] == "refused: app/settings"
    assert refused["object"] == "ConfigMap/settings" and refused["invocation"]["module_args"]["token"] == MASK
    boom = run({"name": "boom"})
    assert boom["failed"] is True and boom["msg"] == "probe: unexpected KeyError", "its text may quote a secret"
    assert run({"name": "missing"})["msg"] == "the Python library gnupg is required"


def test_a_missing_library_is_reported_as_the_module_reports_it():
    assert missing_library_failure(MissingLibrary("gnupg")) == {"msg": missing_required_lib("gnupg")}
    assert missing_library_failure(TridentError("other")) is None

    class Requiring(Probe):
        required_libraries = (("PyYAML", None), ("urllib3", "Traceback: no module named urllib3"))

    result = run({"name": "a", "token": TOKEN}, cls=Requiring)
    assert result["failed"] is True and result["msg"] == missing_required_lib("urllib3")
    assert result["invocation"]["module_args"]["token"] == MASK and Probe.calls == []


def test_the_tasks_environment_is_set_during_the_work_and_restored(monkeypatch):
    monkeypatch.delenv("PROBE_ENV", raising=False)
    run({"name": "a"}, environment={"PROBE_ENV": "from-task"})
    assert Probe.calls[0][3] == "from-task"
    assert "PROBE_ENV" not in os.environ
    monkeypatch.setenv("PROBE_ENV", "before")
    run({"name": "a"}, environment={"PROBE_ENV": "from-task"})
    assert os.environ["PROBE_ENV"] == "before"


@pytest.mark.parametrize("kwargs, task_vars", [
    ({"transport": "ssh"}, {}),
    ({"become": True}, {}),
    ({"async_val": 30}, {}),
    ({}, {"ansible_python_interpreter": "/usr/bin/python3"}),
    ({}, {"ansible_python_interpreter": "{{ ref }}", "ref": "/opt/other/bin/python"}),
])
def test_the_module_runs_where_in_process_is_not_equivalent(kwargs, task_vars):
    assert run({"name": "a"}, task_vars, **kwargs) == {"ran": "module"}
    assert Probe.calls == []


@pytest.mark.parametrize("task_vars", [
    {}, {"ansible_python_interpreter": sys.executable},
    {"ansible_python_interpreter": "{{ ref }}", "ref": sys.executable},
])
def test_local_hosts_with_the_controllers_python_run_in_process(task_vars):
    assert run({"name": "a"}, task_vars)["echo"] == "None and apps/v1"
    assert len(Probe.calls) == 1


def test_refusal_reasons():
    python = sys.executable
    assert in_process_refusal("local", False, None, python, 0, None) is None
    assert in_process_refusal("local", False, python, python, 0, None) is None
    assert in_process_refusal("ssh", False, None, python, 0, None) == "connection ssh"
    assert in_process_refusal("local", True, None, python, 0, None) == "become"
    assert in_process_refusal("local", False, None, python, 10, None) == "async"
    assert in_process_refusal("local", False, None, python, 0, "other") == "delegate_to"
    assert in_process_refusal("local", False, "python3", python, 0, None) == "interpreter python3"


def test_same_python_is_the_same_file_from_the_same_folder(tmp_path):
    real = tmp_path / "real" / "python3.11"
    real.parent.mkdir()
    real.write_text("")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python3").symlink_to(real)
    (venv / "python").symlink_to("python3")
    assert same_python(str(venv / "python"), str(venv / "python3"))
    assert not same_python(str(real), str(venv / "python3")), "the venv's base Python is another environment"
    assert not same_python("python3", str(venv / "python3"))
    assert not same_python(str(venv / "python"), None)


def test_module_result_adds_the_file_attributes_as_add_path_info(tmp_path):
    dest = tmp_path / "out.yaml"
    dest.write_text("a: 1\n")
    dest.chmod(0o600)
    result = module_result({"changed": True, "dest": str(dest)}, {"dest": str(dest)}, [])
    assert result["mode"] == "0600" and result["state"] == "file" and result["size"] == 5
    assert result["uid"] == os.getuid() and isinstance(result["owner"], str)
    assert "mode" not in module_result({"changed": False, "dest": str(tmp_path / "none")}, {}, [])


def test_module_result_has_the_json_types_of_a_module_result():
    result = module_result({"changed": False, "items": ("a", "b"), "when": None}, {"x": ("y",)}, [])
    assert result == {"changed": False, "items": ["a", "b"], "when": None, "invocation": {"module_args": {"x": ["y"]}}}


def test_arguments_pass_through_the_modules_json():
    assert inprocess.module_arguments({"src": ("a", "b"), "n": 1}) == {"src": ["a", "b"], "n": 1}
