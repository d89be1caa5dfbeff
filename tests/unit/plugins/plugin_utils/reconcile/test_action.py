"""The base of the controller-side actions (plugins/plugin_utils/reconcile/action.py): one ``run`` validates the
arguments, calls ``work`` and shapes its failures, masking the values ``secret_values`` names; run as Ansible runs
an action, with a real task, play context and local connection."""

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import PipelineAction, without
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.pipeline import Stop

SECRET = "s3cret-token-value"


class Failing(PipelineAction):
    ARGUMENT_SPEC = dict(token=dict(type="str", no_log=True), fail=dict(type="str", choices=["none", "error", "stop"]))

    def work(self, params, task_vars):
        if params["fail"] == "error":
            raise TridentError(f"the server refused {params['token']}")
        if params["fail"] == "stop":
            raise Stop("kubernetes", f"stopped with {params['token']}")
        return {"changed": False, "seen": sorted(task_vars)}

    def secret_values(self, params):
        return [params["token"]]


def run(action_class, args, task_vars=None):
    task = Task()
    task.action, task.args = "trident.gitops.failing", args
    context = PlayContext()
    action = action_class(task, connection_loader.get("local", context, None), context, DataLoader(), None, None)
    return action.run(task_vars=task_vars)


def test_work_gets_the_validated_parameters_and_task_vars():
    assert run(Failing, {"token": SECRET, "fail": "none"}, {"a": 1}) == {"changed": False, "seen": ["a"]}


@pytest.mark.parametrize("fail, step", [("error", None), ("stop", "kubernetes")])
def test_a_failure_names_its_step_and_never_shows_a_secret_value(fail, step):
    result = run(Failing, {"token": SECRET, "fail": fail})
    assert result["failed"] and SECRET not in result["msg"] and "********" in result["msg"]
    assert result.get("trident_step") == step


def test_invalid_arguments_fail_before_work_runs():
    result = run(Failing, {"token": SECRET, "fail": "maybe"})
    assert result["failed"] and "fail" in result["msg"] and SECRET not in result["msg"]


def test_without_replaces_every_occurrence_of_every_value():
    assert without("a-b a-b c", ["a-b", "c"]) == "******** ******** ********"
    assert without("nothing here", []) == "nothing here"
