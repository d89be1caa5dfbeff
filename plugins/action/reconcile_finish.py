# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.reconcile_finish (docs: plugins/modules/reconcile_finish.py): pipeline.finish on the
controller; releases the environment lock and says what the environment runs."""

from __future__ import annotations

import shutil

from ansible_collections.trident.gitops.plugins.module_utils.kube.lease import stop_renewer
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import pipeline
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import PipelineAction, registered
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.io import ControllerIo
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import BY_NAME

ARGUMENT_SPEC = dict(
    environment=dict(type="dict", required=True),
    run=dict(type="raw"),
    gate=dict(type="raw"),
    failed=dict(type="bool", default=False),
)


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        run = registered(params.get("run"), "plan")
        gate = registered(params.get("gate"), "deploy")
        failure = None
        if params["failed"]:
            failure = pipeline.failure_of(task_vars.get("ansible_failed_task"), task_vars.get("ansible_failed_result"),
                                          str(params["environment"].get("name") or "")) \
                or pipeline.Failure("source", "the run failed before this environment's steps began (a task shared by "
                                              "every environment, see the failed task above)")
        if run and run.get("lock", {}).get("holder"):
            ControllerIo.release(run["lock"]["holder"])
        # The environment's Lease across controllers, when the kubernetes step took one (roles/kubernetes lease.yml).
        held = task_vars.get("kubernetes_lease")
        if isinstance(held, dict) and held.get("renewer"):
            stop_renewer(int(held["renewer"]))
        results = self.step_results(task_vars)
        for path in pipeline.leftovers(run, gate, results, failure):
            shutil.rmtree(path, ignore_errors=True)
        report = pipeline.finish(params["environment"], run, gate, results, failure,
                                 self.check_mode, ControllerIo.now())
        name = report.name
        result = {
            # Changed only for drift no step task showed as changed (the source's new commits, a held promotion).
            "changed": report.verdict == ("drift" if self.check_mode else "corrected")
            and any(BY_NAME[step].role is None for step in report.drifted_steps),
            "verdict": report.verdict,
            "ansible_facts": {"reconcile_state": report.state(), "reconcile_finished": failure is None,
                              "reconcile_verdict": report.verdict, "reconcile_drifted_steps": report.drifted_steps,
                              "reconcile_degraded": report.degraded()},
            "ansible_stats": {"data": {"trident_drift": {name: report.step_stats()},
                                       "trident_environments": {name: report.summary()}},
                              "per_host": False, "aggregate": True},
        }
        if failure is not None:
            # Not failed here: Ansible sets no facts or stats from a failed task. The role fails the host next.
            result["failure"] = failure.message
        return result
