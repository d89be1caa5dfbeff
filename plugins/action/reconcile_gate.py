# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.reconcile_gate (docs: plugins/modules/reconcile_gate.py): pipeline.gate on the
controller, from the steps' registered plan results."""

from __future__ import annotations

import os
import posixpath

from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import describe_environment
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import pipeline
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import ENV_NAME
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.records import OPERATOR_KEYS, read_environment_record
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import OPERATOR_OPTION, PipelineAction
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.io import ControllerIo

display = Display()

ARGUMENT_SPEC = dict(
    run=dict(type="dict", required=True),
    operator=OPERATOR_OPTION,
    decided=dict(type="dict"),
)


def upstream_of(name: str, hostvars, repository_root: str, environments_dir: str) -> dict | None:
    """What the environment ``name`` runs and its health: its ``reconcile_state`` when it ran earlier in this run (what
    its own report says), else read from the environment itself (its ApplySet parent), so that promotion holds across
    slices, ``--limit`` and controllers; None when neither is known (the decision says so). An environment this
    inventory does not hold (a slice of AWX's job slicing lists only its own hosts) is described from the checkout,
    with no operator variables of its own."""
    host = hostvars[name] if name in hostvars else {}
    if "reconcile_state" in host:
        return dict(host["reconcile_state"])
    environment = host["trident_environment"] if "trident_environment" in host else None
    if environment is None and name not in hostvars:
        environment = described_upstream(name, repository_root, environments_dir)
    if not isinstance(environment, dict) or environment.get("error"):
        return None
    operator_vars = {key: host[key] for key in OPERATOR_KEYS if key in host}
    try:
        record = read_environment_record(dict(environment), operator_vars, repository_root)
    except TridentError as exc:
        display.warning(f"promote_from {name}: {exc.message}")
        return None
    return {"revision": record["revision"], "tree": record["tree"], "health": record["health"]} if record else None


def described_upstream(name: str, repository_root: str, environments_dir: str) -> dict | None:
    """The environment ``name`` as the checkout lays it out (its folder next to this environment's), None when the
    checkout has no such environment or it cannot be described (a warning says why). ``name`` is env.yml's
    ``promote_from``, repository data: only an environment's name is looked up, never a path."""
    if not ENV_NAME.fullmatch(name):
        display.warning(f"promote_from {name!r}: not an environment name; the upstream is unknown")
        return None
    try:
        return describe_environment(os.path.join(repository_root, environments_dir, name), repository_root).as_variable()
    except TridentError as exc:
        display.warning(f"promote_from {name}: {exc.message}")
        return None


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        operator = self.operator(params)
        run = params["run"]
        promote_from = run["environment"]["settings"].get("promote_from")
        upstream = upstream_of(promote_from, task_vars.get("hostvars") or {}, run["checkout"]["path"],
                               posixpath.dirname(run["environment"]["dir"])) \
            if promote_from and not params.get("decided") else None
        io = ControllerIo(operator.revisions_dir, self.owner_pid())
        decided = pipeline.gate(run, operator, self.step_results(task_vars), upstream, io, params.get("decided"))
        # Whether the role's apply stage has anything to do: plan a held revision, apply, take back what a plan wrote
        # for an apply that is not coming, or forget decrypted secrets.
        result = {"changed": False, **decided,
                  "records": {step["name"]: step.get("record") or {} for step in decided["apply"]},
                  "apply_stage": bool(decided["replan"] or decided["apply"] or decided["discard"]
                                      or run.get("secrets"))}
        if decided.get("stop"):
            result.update(failed=True, msg=decided["stop"]["message"], trident_step=decided["stop"]["step"])
        return result
