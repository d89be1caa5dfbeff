# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base of the collection's controller-side actions (reconcile_start, reconcile_gate, reconcile_finish,
kube_lease, environment_status).

They run in the Ansible worker on the controller, never as modules: they read and lock things on the controller
and decide. Each validates its arguments with its argument spec (the same text its documentation module shows),
calls one function and shapes the result; a :class:`pipeline.Stop` fails the task with ``trident_step`` naming the
step that stopped the environment, and a failure's message has the action's secret values (:meth:`secret_values`)
replaced. Whether the run only checks is the task's own check mode (the play's
``check_mode: true`` or ``--check``), never a variable.
"""

from __future__ import annotations

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.operator import OPERATOR_SPEC, operator_settings
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.pipeline import Stop
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import REGISTRY

OPERATOR_OPTION = dict(type="dict", default={}, options=OPERATOR_SPEC)


class PipelineAction(ActionBase):
    """Subclasses set ARGUMENT_SPEC and implement :meth:`work` (validated parameters, task vars) -> result dict;
    those given secret values name them in :meth:`secret_values`."""

    ARGUMENT_SPEC: dict = {}
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(self.ARGUMENT_SPEC).validate(dict(self._task.args))
        if validated.error_messages:
            return {**result, "failed": True, "msg": "; ".join(validated.error_messages)}
        params = validated.validated_parameters
        try:
            result.update(self.work(params, task_vars or {}))
        except Stop as exc:
            result.update(failed=True, msg=without(exc.message, self.secret_values(params)), trident_step=exc.step)
        except TridentError as exc:
            result.update(failed=True, msg=without(exc.message, self.secret_values(params)))
        return result

    def work(self, params: dict, task_vars: dict) -> dict:
        raise NotImplementedError

    def secret_values(self, params: dict) -> list:
        """The secret values among ``params`` that a failure's message must not show (none by default)."""
        return []

    @property
    def check_mode(self) -> bool:
        return bool(self._task.check_mode) or bool(getattr(self._play_context, "check_mode", False))

    def operator(self, params: dict):
        return operator_settings({**params["operator"], "check_mode": self.check_mode})

    @staticmethod
    def owner_pid() -> int:
        """The ansible-playbook run: the worker running this task is its child."""
        return os.getppid()

    @staticmethod
    def step_results(task_vars: dict) -> dict:
        """Every step's registered result, by the variable name the registry gives it."""
        return {step.result: task_vars[step.result] for step in REGISTRY
                if step.result and isinstance(task_vars.get(step.result), dict)}


def without(message: str, secrets: list) -> str:
    """``message`` with each of ``secrets`` replaced by ``********``."""
    for value in secrets:
        message = message.replace(value, "********")
    return message


def registered(value: object, key: str) -> dict | None:
    """A registered result of one of the pipeline's actions that holds ``key`` (a stopped gate still holds its
    account), or None when it did not run or stopped before it had one."""
    if not isinstance(value, dict) or value.get("skipped") or key not in value:
        return None
    return value
