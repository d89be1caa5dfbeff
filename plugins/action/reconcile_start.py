# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.reconcile_start (docs: plugins/modules/reconcile_start.py): pipeline.start on the
controller."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import pipeline
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import OPERATOR_OPTION, PipelineAction
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.io import ControllerIo

display = Display()

ARGUMENT_SPEC = dict(
    environment=dict(type="dict", required=True),
    operator=OPERATOR_OPTION,
    source=dict(type="dict", required=True, options=dict(
        repo=dict(type="str", default=""),
        dest=dict(type="str", default=""),
        local_path=dict(type="str", default=""),
        playbook_dir=dict(type="str", default=""),
        fetch=dict(type="dict", default={}))),
)


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        operator = self.operator(params)
        environment = params["environment"]
        hostvars = task_vars.get("hostvars") or {}
        # The environments this one waits for that ran earlier in this run, and whether they finished.
        finished = {}
        for dependency in environment.get("depends_on") or []:
            facts = hostvars[dependency] if dependency in hostvars else {}
            if "reconcile_finished" in facts:
                finished[dependency] = bool(facts["reconcile_finished"])
        io = ControllerIo(operator.revisions_dir, self.owner_pid(), on_wait=display.display)
        run = pipeline.start(environment, operator, params["source"], finished, io)
        return {"changed": False, **run}
