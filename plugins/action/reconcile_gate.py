# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.reconcile_gate (docs: plugins/modules/reconcile_gate.py): pipeline.gate on the
controller, from the steps' registered plan results."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import pipeline
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import OPERATOR_OPTION, PipelineAction
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.io import ControllerIo

ARGUMENT_SPEC = dict(
    run=dict(type="dict", required=True),
    operator=OPERATOR_OPTION,
    decided=dict(type="dict"),
)


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        operator = self.operator(params)
        run = params["run"]
        promote_from = run["environment"]["settings"].get("promote_from")
        hostvars = task_vars.get("hostvars") or {}
        upstream = None
        if promote_from and promote_from in hostvars and "reconcile_state" in hostvars[promote_from]:
            upstream = dict(hostvars[promote_from]["reconcile_state"])
        io = ControllerIo(operator.revisions_dir, self.owner_pid())
        decided = pipeline.gate(run, operator, self.step_results(task_vars), upstream, io, params.get("decided"))
        # Whether the role's apply stage has anything to do: plan a held revision, apply, or forget decrypted secrets.
        result = {"changed": False, **decided,
                  "records": {step["name"]: step.get("record") or {} for step in decided["apply"]},
                  "apply_stage": bool(decided["replan"] or decided["apply"] or run.get("secrets"))}
        if decided.get("stop"):
            result.update(failed=True, msg=decided["stop"]["message"], trident_step=decided["stop"]["step"])
        return result
