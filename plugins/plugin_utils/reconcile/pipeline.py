# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The environment pipeline's decisions, in the order the reconcile role runs them (docs/reconcile.md).

    start  -> plan every step (the step roles) -> gate -> [plan the held revision -> gate] -> apply -> finish

:func:`start` fails an environment that cannot start (the inventory could not read it, an environment it depends on
failed in this run), resolves the committed content it is deployed from (checkout.py) and takes its lock.
:func:`gate` reads the plans' results: what the environment runs (its record), which revision it deploys
(promotion.py), who signed the commits that lead there, the source drift, the refusals, and what to apply and record.
:func:`finish` turns everything into the environment's one verdict (verdict.py), releases the lock and says what the
environment runs. Each takes the repository data (the environment), the operator's settings and the results, and an
``io`` that reads Git and the disk, so every decision is tested without Ansible (tests/unit/.../reconcile).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import checkout as checkouts
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import from_variable
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.operator import Operator
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.promotion import (
    decide, required_signers, short)
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import (
    BY_NAME, MODULE_STEPS, REGISTRY, Outcome, outcome_of, record_step, scrub, title)
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.verdict import Failure, Report, settle

__all__ = ["Failure", "Report", "Stop", "Source", "start", "gate", "finish", "failure_of", "leftovers", "source_of",
           "discard_steps"]


class Stop(TridentError):
    """The environment cannot go on; ``step`` is the step (or pipeline stage) that says why."""

    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class Source:
    """Where the source step found the repository: the exposed folder, the fetched commit (None: a local
    checkout, HEAD) and the files the fetch changed."""

    path: str
    revision: str | None = None
    fetched_files: tuple = ()


def source_of(exposed: dict, environment: dict) -> Source:
    """The folder the source step exposes (the source role's ``source_exposed``): git_source's checkout when it
    fetched (``repo`` set), else the local checkout the operator names, else the playbook's folder when it holds the
    environment (an AWX project, a CI checkout running the repository's own playbook), else the checkout the
    inventory read (at the commit it read, when it fetched)."""
    repository = environment.get("repository") or {}
    if exposed.get("repo"):
        fetch = exposed.get("fetch") or {}
        return Source(os.path.expanduser(exposed["dest"]), fetch.get("after"), tuple(fetch.get("changed_files") or ()))
    if exposed.get("local_path"):
        return Source(os.path.expanduser(exposed["local_path"]))
    playbook_dir = exposed.get("playbook_dir") or ""
    if playbook_dir and os.path.isdir(os.path.join(playbook_dir, environment["dir"])):
        return Source(playbook_dir)
    return Source(repository.get("path") or playbook_dir, repository.get("commit"))


def _where(env: dict) -> str:
    return f"environment {env['name']}: {env['dir']}/env.yml"


# -- start ---------------------------------------------------------------------------------------------------------

def start(environment: dict, operator: Operator, exposed: dict, finished: dict, io) -> dict:
    """What this run of the environment works on. ``exposed`` is what the source step exposes (:func:`source_of`),
    ``finished`` maps the environments of this run that already ran to whether every step of theirs succeeded
    (their ``reconcile_finished``)."""
    env = from_variable(environment)
    source = source_of(exposed, env)
    if env.get("error"):
        raise Stop("source", env["error"])
    waiting = [dep for dep in env["depends_on"] if dep in finished and not finished[dep]]
    if waiting:
        raise Stop("source", f"{_where(env)}: waits for {', '.join(waiting)}, which failed in this run; nothing of "
                             f"{env['name']} was changed")
    checkout = checkouts.resolve(io.git(source.path), env["dir"], source.path, source.revision,
                                 tuple(source.fetched_files), lambda revision: io.snapshot(source.path, revision))
    if checkout.path != source.path:  # a copy of the committed content: described from the copy
        env = _described(env, io, checkout.path)
    plan = _plan_of(env, operator)
    lock_file = os.path.join(os.path.expanduser(operator.lock_dir), f"{env['name']}.lock")
    try:
        holder = io.lock(lock_file, operator.lock_timeout)
    except TridentError as exc:
        raise Stop("source", f"environment {env['name']}: {exc.message}") from None
    return {"name": env["name"], "environment": env, "checkout": checkout.as_dict(env["dir"]), "plan": plan,
            "registry": [{"name": step.name, "role": step.role} for step in REGISTRY if step.role],
            "record_step": record_step([step["name"] for step in plan]), "check_mode": operator.check_mode,
            "discard": discard_steps(plan, operator.check_mode),
            "secrets": any(step["name"] == "secrets" for step in plan),
            "lock": {"file": lock_file, "holder": holder}, "started": io.now()}


def discard_steps(plan: list, check_mode: bool) -> list:
    """The planned steps whose plan may write something for the apply (the kubernetes plan creates the namespaces
    the batch introduces, to dry-run the objects in them), in order: the role runs their ``discard`` entry point
    when the environment's apply does not follow (refused at the gate, failed before that step's apply), so that a
    failed run leaves the previous state. Their entry point takes back only what the registered result, still the
    plan's, lists. Check mode writes nothing: none."""
    return [] if check_mode else [step["name"] for step in plan if BY_NAME[step["name"]].discards]


def _plan_of(env: dict, operator: Operator) -> list:
    """The steps to plan for ``env`` (as one revision lays it out): those it has content for, or the operator's
    settings give it, that the operator runs, in the registry's order."""
    return [{"name": step.name, "role": step.role} for step in REGISTRY
            if step.role and (step.name in env["steps"] or step.operator_present(operator))
            and step.name in operator.steps]


def _described(env: dict, io, root: str) -> dict:
    """The environment as the copy at ``root`` lays it out; its name, order and where the inventory read it stay."""
    try:
        described = io.describe(os.path.join(root, env["dir"]), root)
    except TridentError as exc:
        raise Stop("source", f"environment {env['name']}: {exc.message}") from None
    fresh = described.as_variable(source={k: v for k, v in env["repository"].items() if k != "path"})
    return {**fresh, "repository": env["repository"], "depends_on": env["depends_on"], "wave": env["wave"]}


# -- gate ----------------------------------------------------------------------------------------------------------

def recorded_of(run: dict, results: dict) -> dict | None:
    """The deployed revision the plans read where the environment keeps it ({revision, tree}), None if none."""
    step = run.get("record_step")
    result = results.get(BY_NAME[step].result) if step else None
    recorded = (result or {}).get("recorded") if isinstance(result, dict) else None
    return recorded if isinstance(recorded, dict) and recorded.get("revision") else None


def gate(run: dict, operator: Operator, results: dict, upstream: dict | None, io, decided: dict | None = None) -> dict:
    """Decide from the plans. With ``decided`` (the first gate, after the plans of a held revision ran), the
    revision is the one decided then. A refused plan outside check mode sets ``stop`` (the step and why): the
    environment fails there, with nothing applied; in check mode the refusals are only reported."""
    env, checkout = run["environment"], run["checkout"]
    recorded = decided["recorded"] if decided else recorded_of(run, results)
    if decided:
        deploy, held = decided["deploy"], decided["held"]
    else:
        try:
            decision = decide(env["name"], checkout["revision"], recorded, env["settings"].get("promote_from"),
                              upstream, operator.pinned(env["name"]))
        except TridentError as exc:
            raise Stop("promotion", f"{_where(env)}: {exc.message}") from None
        deploy, held = decision.deploy, decision.held
        _check_signers(env, operator, checkout, recorded, deploy, io)
        if deploy and deploy != checkout["revision"]:
            copy = io.snapshot(checkout["repository"], deploy)
            tree = io.folder_tree(checkout["repository"], deploy, env["dir"])
            if tree is None:
                raise Stop("promotion", f"environment {env['name']}: {env['dir']} is not in the repository at {deploy}")
            held_env = _described(env, io, copy)
            # The held revision's own steps: a step only it has (its secrets/*.vault.yaml) is planned too, one only
            # the branch has is not (the branch's secrets are forgotten before, roles/reconcile/tasks/held.yml).
            replan = _plan_of(held_env, operator)
            return {"replan": replan, "plan": replan, "recorded": recorded,
                    "deploy": deploy, "held": held, "environment": held_env, "apply": [], "refused": [],
                    "record": None, "stop": None, "discard": [],
                    "checkout": {**checkout, "path": copy, "env_path": os.path.join(copy, env["dir"]),
                                 "revision": deploy, "tree": tree, "uncommitted": []}}
    deployed = decided["checkout"] if decided else checkout
    plan = decided["replan"] if decided else run["plan"]
    source = _source(run, recorded, io, _state_proves_sync(run, recorded, results))
    refusing = [s["name"] for s in plan if _refusals(results.get(BY_NAME[s["name"]].result))]
    refused = [f"{BY_NAME[name].title}: {line}{_allowed_by(name, env)}" for name in refusing
               for line in _refusals(results.get(BY_NAME[name].result))]
    record = None
    if deploy and run.get("record_step") and deployed.get("tree"):
        record = {"revision": deploy, "tree": deployed["tree"]}
    apply = []
    # Nothing is deployed only while waiting for a first promotion (a folder outside Git has no revision, and is
    # deployed as it is).
    if not (held and deploy is None) and not run["check_mode"]:
        for step in plan:
            result = results.get(BY_NAME[step["name"]].result)
            records = step["name"] == run.get("record_step") and record is not None
            if (isinstance(result, dict) and BY_NAME[step["name"]].has_work(result)) or (
                    records and record != recorded):
                apply.append({**step, "record": record if records else {}})
    stop = None
    if refused and not run["check_mode"]:
        # The gate's account stays (the source drift, the refusals): the finish reports it next to the failure.
        stop = {"step": refusing[0], "message": f"environment {env['name']}: refusing to apply: {'; '.join(refused)}; "
                                                "nothing was applied"}
        apply = []
    return {"replan": [], "plan": plan, "recorded": recorded, "deploy": deploy, "held": held, "record": record,
            "apply": apply, "source": source, "refused": refused, "stop": stop,
            # Only a refusal takes back what the plans wrote: an environment waiting for its promotion keeps the
            # namespaces, or the run that promotes it would find them Terminating (test_promotion, real cluster).
            "discard": not_applied_writes(run, apply, results) if stop else [],
            "environment": decided["environment"] if decided else env, "checkout": deployed}


def not_applied_writes(run: dict, apply: list, results: dict) -> list:
    """The planned steps (in order) whose plan wrote something for an apply that is not coming (``apply``: the
    gate's). Their ``discard`` entry point takes it back; the gate asks only when it refuses."""
    applying = {step["name"] for step in apply}
    found = []
    for step in run["plan"]:
        entry, result = BY_NAME[step["name"]], results.get(BY_NAME[step["name"]].result)
        if entry.discards and step["name"] not in applying and isinstance(result, dict) \
                and not result.get("failed") and entry.prepared(result):
            found.append(step["name"])
    return found


# Where a step's refusal is lifted: the repository's key (in the environment's env.yml) and the operator's variable.
_ALLOWED_BY = {"terraform": ("allow_destroy: true", "terraform_allow_destroy: true")}


def _allowed_by(step: str, env: dict) -> str:
    """`` (allowed by ...)``: the file and key that allow what ``step`` refused, for the message and the report."""
    if step not in _ALLOWED_BY:
        return ""
    key, variable = _ALLOWED_BY[step]
    return f" (to allow it: {key} in {env['dir']}/env.yml, or the operator's variable {variable})"


def _refusals(result) -> list:
    """What a step's plan says would be refused (terraform_apply's ``refused`` and ``refusal``: the destroy guard
    in check mode)."""
    if not isinstance(result, dict) or not result.get("refused"):
        return []
    return [str(result.get("refusal") or "would be refused")]


def _check_signers(env: dict, operator: Operator, checkout: dict, recorded: dict | None, deploy: str | None, io):
    """Every commit changing the environment's folder, from what it runs to what it deploys, is signed by a key it
    trusts now (promotion.required_signers); refused otherwise, before anything is applied."""
    since = (recorded or {}).get("revision")
    if not deploy or deploy == since:
        return
    keys_now = None
    if since:
        text = io.file_at(checkout["repository"], since, f"{env['dir']}/env.yml")
        keys_now = list(io.settings_of(text, f"{env['dir']}/env.yml at {short(since)}").get("trusted_keys", []))
    keys = required_signers(operator.signers(env["name"]), keys_now, env["settings"].get("trusted_keys", []))
    if not keys:
        return
    try:
        io.verify_signers(checkout["repository"], since, deploy, env["dir"], keys)
    except TridentError as exc:
        raise Stop("promotion", f"{_where(env)}: trusted_keys: {exc.message}; nothing of {env['name']} was "
                                "changed") from None


def _state_proves_sync(run: dict, recorded: dict | None, results: dict) -> bool:
    """A Terraform-only environment with no record here (a controller that never ran it: an empty HOME, another AWX
    node) whose plan against the backend's state changes nothing: the state, which every controller shares through
    the backend, proves it runs what the branch says, so it is no source drift (docs/reconcile.md)."""
    if run.get("record_step") != "terraform" or recorded is not None:
        return False
    result = results.get(BY_NAME["terraform"].result)
    return isinstance(result, dict) and not result.get("failed") and "resource_changes" in result \
        and not result["resource_changes"] and not BY_NAME["terraform"].has_work(result)


def _source(run: dict, recorded: dict | None, io, proven: bool = False) -> dict:
    """The source step's outcome: the environment runs another tree than Git's (or nothing yet, unless ``proven``
    in sync by its Terraform state), or the checkout holds uncommitted changes of its folder; with what changed since
    it was deployed."""
    checkout = run["checkout"]
    if run.get("record_step") and checkout.get("tree"):
        differs = (recorded is None and not proven) or (recorded is not None and recorded.get("tree") != checkout["tree"])
    else:
        differs = bool(checkout.get("fetched"))
    changed = differs or bool(checkout.get("uncommitted"))
    history = {}
    if differs and recorded and checkout.get("revision"):
        history = io.history(checkout["repository"], recorded, checkout["revision"], checkout["tree"],
                             run["environment"]["dir"])
    files = history.get("changed_files") or ([] if recorded else list(checkout.get("fetched") or []))
    account = {"revision": checkout.get("revision"), "before": (recorded or {}).get("revision"),
               "after": checkout.get("revision"), "commits": history.get("commits", []),
               "history": history.get("history"), "changed_files": files,
               "uncommitted": list(checkout.get("uncommitted") or [])}
    return {"changed": changed, "count": max(len(files) + len(account["uncommitted"]), 1 if changed else 0),
            "account": account}


def leftovers(run: dict | None, gate_result: dict | None, results: dict, failure: Failure | None) -> list:
    """What the plans left for applies that did not run (a failure, a refusal, check mode, a held promotion)."""
    applied = {s["name"] for s in (gate_result or {}).get("apply", [])} if failure is None else set()
    found = []
    # The branch's plans and a held revision's (its own steps): a result either left behind.
    names = dict.fromkeys(s["name"] for s in (run or {}).get("plan", []) + (gate_result or {}).get("plan", []))
    for name in names:
        result = results.get(BY_NAME[name].result)
        if name not in applied and isinstance(result, dict):
            path = BY_NAME[name].leftover(result)
            if path:
                found.append(path)
    return found


# -- finish --------------------------------------------------------------------------------------------------------

def failure_of(failed_task: dict | None, failed_result: dict | None, name: str = "") -> Failure | None:
    """The step a failed task belongs to and its message (hidden for a no_log task), which names the environment
    ``name`` (prefixed when the module's own message does not)."""
    if not failed_task and not failed_result:
        return None
    failed_task, failed_result = failed_task or {}, failed_result or {}
    action = failed_task.get("_resolved_action") or failed_task.get("action") or ""
    context = (failed_task.get("args") or {}).get("validate_args_context") or {}
    roles = {step.role: step.name for step in REGISTRY if step.role}
    # A task that is no step module's (a role's own ansible.builtin.fail) names its step in its vars, as the drift
    # report callback reads it: Ansible hands the rescue a finalized task, which no longer says its role.
    task_vars = failed_task.get("vars") if isinstance(failed_task.get("vars"), dict) else {}
    declared = task_vars.get("trident_step")
    declared = declared if isinstance(declared, str) and declared in BY_NAME else None
    step = (failed_result.get("trident_step") or declared or MODULE_STEPS.get(action) or roles.get(context.get("name"))
            or roles.get(f"trident.gitops.{context.get('name')}") or "source")
    if failed_result.get("_ansible_no_log") or failed_result.get("censored"):
        message = "the task failed; its output is hidden (no_log)"
    else:
        message = str(failed_result.get("msg") or "failed")
    if name and not re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", message):
        message = f"environment {name}: {title(step)}: {message}"
    return Failure(step=step, message=message, task=str(failed_task.get("name") or ""))


def finish(environment: dict, run: dict | None, gate_result: dict | None, results: dict, failure: Failure | None,
           check_mode: bool, now: float) -> Report:
    """The environment's report. ``run`` is None when start failed, ``gate_result`` when the gate did not run."""
    run, gate_result = run or {}, gate_result or {}
    env = run.get("environment") or environment
    # The steps whose results these are: the gate's (a held revision's own), else those start planned.
    planned_steps = [s["name"] for s in gate_result.get("plan", run.get("plan", []))] if run \
        else [s for s in env["steps"] if BY_NAME[s].role]
    planned = {"source": Outcome("not_checked")}
    if "source" in gate_result:
        source = gate_result["source"]
        planned["source"] = Outcome("changed" if source["changed"] else "ok", source["count"], scrub(source["account"]))
    for name in planned_steps:
        result = results.get(BY_NAME[name].result)
        planned[name] = outcome_of(BY_NAME[name], result) if isinstance(result, dict) else Outcome("not_checked")
    if gate_result.get("held"):
        planned["promotion"] = Outcome("changed", 1, {"items": [
            {"revision": gate_result.get("deploy"), "branch": (run.get("checkout") or {}).get("revision"),
             "reason": gate_result["held"]}]})
    if failure is not None and failure.step not in planned and failure.step != "promotion":
        failure = replace(failure, step="source")
    if failure is not None and failure.step == "promotion":
        planned.setdefault("promotion", Outcome("failed"))
    applied = None
    if not check_mode:
        applied = [s["name"] for s in gate_result.get("apply", [])]
        if failure is not None:
            applied = applied[:applied.index(failure.step)] if failure.step in applied else []
    steps = settle(planned, failure, applied)
    recorded = gate_result.get("recorded") or (recorded_of(run, results) if run else None)
    written = gate_result.get("record") if failure is None and not check_mode else None
    runs = written or recorded or {}
    kubernetes = steps.get("kubernetes")
    started = run.get("started")
    return Report(name=env["name"], check_mode=check_mode, steps=steps, revision=runs.get("revision"),
                  tree=runs.get("tree"), target=(run.get("checkout") or {}).get("revision"),
                  health=kubernetes.health if kubernetes and kubernetes.status not in ("skipped", "not_checked")
                  else None, failure=failure,
                  started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)) if started else None,
                  duration=round(now - started, 3) if started else None,
                  held=gate_result.get("held", ""), refused=list(gate_result.get("refused", [])),
                  promote_from=(env.get("settings") or {}).get("promote_from"))
