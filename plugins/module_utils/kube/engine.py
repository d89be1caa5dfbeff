"""The whole kube_diff run as one function over injected parts: read, plan, then apply.

Reads are bulk (live.py), every object gets a decision before anything is written (planner.py),
only a plan without problems is applied (applier.py), then every object's health is judged from the
object in hand (health.py) and, with ``wait``, waited for (waiter.py). The one write a plan may make comes
last and only outside check mode, with ``apply`` or ``prepare_namespaces``: the namespaces the batch creates,
so that the objects in them get their dry-run too (newnamespaces.py), deleted again if anything is refused.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import FIELD_MANAGER
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare, live, newnamespaces, planner
from ansible_collections.trident.gitops.plugins.module_utils.kube.applier import converge, record_deployed
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import is_mask
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import masked, masked_fields, to_yaml
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy


@dataclass
class Options:
    field_manager: str = FIELD_MANAGER
    force_conflicts: bool = True
    apply: bool = False
    check_mode: bool = False
    prune: bool = False
    applyset: ApplySet = None
    ignore: tuple = ()
    wait: bool = False
    wait_timeout: float = 300.0
    workers: int = 8
    want_diff: bool = False
    # {revision, tree} to record on the ApplySet parent once the apply (and wait) succeeded
    record: dict = None
    # Outside check mode without apply: create the namespaces the batch introduces so that the objects in them
    # are dry-run too (a plan that precedes an apply); with apply always, in check mode never.
    prepare_namespaces: bool = False

    @property
    def creates_namespaces(self):
        return (self.apply or self.prepare_namespaces) and not self.check_mode


@dataclass
class Outcome:
    changed: bool
    drift: list
    summary: dict
    diff: list
    dry_runs: int = 0
    health: dict = None
    recorded: dict = None  # the deployed revision the parent held before this run
    record_written: bool = False
    namespaces_created: list = field(default_factory=list)  # for the dry-runs, kept for the apply
    # A plan's (not an apply's): what newnamespaces.discard takes back when no apply follows
    namespaces_prepared: list = field(default_factory=list)


def reconcile(items, client, discovery, options, schemas=None):
    """``items`` are validated ``Desired`` objects; returns an :class:`Outcome` or raises TridentError."""
    plan = planner.items_for(items, schemas)
    parent = live.live_parent(client, options.applyset) if options.applyset else None
    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        plan, created, run_id = _plan(client, discovery, plan, options, parent, pool)
        drifted = [item for item in plan if item.action in planner.WRITES]
        if options.apply and not options.check_mode:
            if drifted:
                converge(client, plan, parent, options, pool)
        planner.judge(plan)
        if options.apply and not options.check_mode and options.wait:
            _wait(client, plan, options)
    outcome = _outcome(plan, drifted, options)
    outcome.namespaces_created = [entry.name for entry in created]
    if not options.apply:  # an apply's namespaces are applied: nothing is left to take back
        outcome.namespaces_prepared = [entry.prepared(run_id) for entry in created]
    outcome.recorded = ApplySet.deployed(parent)
    if _to_record(options, outcome.recorded):
        record_deployed(client, plan, options, options.record)
        outcome.record_written = True
    return outcome


def _to_record(options, recorded):
    """Whether this run writes the deployed revision: an apply with a new record and a parent to carry it."""
    wanted = {"revision": str(options.record["revision"]), "tree": str(options.record["tree"])} \
        if options.record else None
    return bool(wanted and options.applyset and options.apply and not options.check_mode and wanted != recorded)


def _wait(client, plan, options):
    """Until every applied object is Healthy (docs/health.md); on timeout fail naming each one that is not."""
    kept = [item for item in plan if item.desired is not None]
    outcome = wait_until_healthy(client, [Target.of(i.key, i.resource, i.after if i.applied else i.live)
                                          for i in kept], options.wait_timeout, workers=options.workers)
    for item in kept:
        item.health = outcome.health.get(item.key, item.health)
    if not outcome.settled:
        raise TridentError(f"timed out after {options.wait_timeout:g}s waiting for {len(outcome.pending)} "
                           "object(s) to be Healthy; the changes stay applied (a rerun checks again): "
                           + "; ".join(outcome.describe_pending()),
                           unhealthy=outcome.describe_pending())


def _plan(client, discovery, plan, options, parent, pool):
    """Every decision, prune candidates included, and the namespaces created for the dry-runs; raises naming
    every problem if there is any (having deleted those namespaces again)."""
    wanted = {}
    for item in plan:
        if item.served:
            wanted.setdefault(item.resource, set()).add(item.key.namespace)
    listed = live.list_live(client, discovery, wanted, options, parent, pool)
    for item in plan:
        item.live = listed.get(item.key, (None, None))[1]
    batch = planner.batch_of(plan)
    planner.mark_unservable(plan, batch)
    extra = {options.applyset.namespace} if options.applyset else set()
    problems = planner.namespace_problems(client, plan, batch, pool, extra)
    problems += planner.judge_locally(plan, options, batch)
    now = [item for item in plan if planner.needs_server(item) and item.dry_runnable]
    problems += [p for p in pool.map(lambda i: _dry_run_safely(client, i, options), now) if p]
    if problems:
        raise _refused(problems)
    waiting = [item for item in plan if planner.needs_server(item)]
    created, run_id = [], None
    if options.creates_namespaces and any(item.served for item in waiting):
        run_id = uuid.uuid4().hex[:16]
        created = _dry_run_in_new_namespaces(client, plan, [i for i in waiting if i.served], options, pool, run_id)
    for item in plan:
        if planner.needs_server(item):
            planner.pend(item, batch)
    if options.applyset:
        keys = {item.key for item in plan}
        plan += [planner.orphan(key, resource, obj, options.prune)
                 for key, resource, obj in live.orphans(listed, keys, options.applyset)]
    return plan, created, run_id


def _dry_run_in_new_namespaces(client, plan, waiting, options, pool, run_id):
    """Round 4: create the namespaces ``waiting`` objects are in, dry-run those objects; if anything is refused
    delete the namespaces again and raise. Returns the :class:`newnamespaces.Created` ones."""
    names = {item.key.namespace for item in waiting}
    namespaces = [item for item in plan if (item.key.group, item.key.kind) == ("", "Namespace")
                  and item.key.name in names]
    created, problems = newnamespaces.create(client, namespaces, options.field_manager, run_id, pool)
    if problems:  # create() took back what it created
        raise _refused(problems, "nothing was applied")
    problems = [p for p in pool.map(lambda i: _dry_run_safely(client, i, options), waiting) if p]
    if problems:
        kept = newnamespaces.remove(client, created, options.field_manager)
        shown = ", ".join(sorted(entry.name for entry in created))
        raise _refused(problems + kept, f"nothing was applied; the namespace(s) {shown}, created only to dry-run the "
                                        f"objects in them (annotated {newnamespaces.ANNOTATION}={run_id}), were "
                                        + ("deleted again" if not kept else "to be deleted again (see below)"),
                       namespaces_created=[entry.name for entry in created], namespaces_kept=kept)
    return created


def _refused(problems, outcome="nothing was changed", **details):
    return TridentError(f"{len(problems)} object(s) would be rejected by the API server; {outcome}:\n"
                        + "\n".join(problems), problems=problems, **details)


def _dry_run_safely(client, item, options):
    """A bug or a surprise in one object's planning is a problem naming that object, not a traceback (its text
    left out for an object with secret values: it may quote them)."""
    try:
        return planner.dry_run(client, item, options)
    except TridentError as exc:
        return f"{item.key.describe()} ({item.source}): {exc.message}"
    except Exception as exc:  # noqa: BLE001 - reported with the object it happened on
        detail = "" if masked_fields(item.desired, item.masked) else f": {exc}"
        return f"{item.key.describe()} ({item.source}): unexpected {type(exc).__name__}{detail}"


def _outcome(plan, drifted, options):
    summary = {action: sum(1 for item in plan if item.action == action)
               for action in planner.WRITES + ("keep", "none")}
    summary["total"] = len(plan)
    summary["pending"] = sum(1 for item in plan if item.pending)
    return Outcome(
        changed=bool(drifted),
        drift=[_drift_entry(item) for item in plan],
        summary=summary,
        diff=[_diff_entry(item) for item in drifted] if options.want_diff else [],
        dry_runs=sum(1 for item in plan if item.dry_run),
        health=_health_summary(plan))


# -- results ---------------------------------------------------------------------------------------------
def _drift_entry(item):
    obj = item.desired or item.live
    return {"apiVersion": obj.get("apiVersion"), "kind": item.key.kind, "namespace": item.key.namespace or None,
            "name": item.key.name, "action": item.action, "reason": item.reason, "fields": item.fields,
            "changes": [change_entry(*change) for change in item.changes],
            "health": item.health.as_dict() if item.health is not None else None,
            "checked_by": item.checked_by, "pending": item.pending}


def change_entry(path, before, after):
    """One changed field with its values; a masked field (a secret value) as changed only."""
    if is_mask(before) or is_mask(after):
        return {"path": path, "masked": True}
    return {"path": path, "before": before, "after": after}


def _health_summary(plan):
    status = planner.overall(plan)
    counts = {}
    for item in plan:
        if item.desired is not None and item.health is not None:
            counts[item.health.status] = counts.get(item.health.status, 0) + 1
    return {"status": status, "counts": counts}


def _diff_entry(item):
    before = masked(compare.normalise(item.live), item.masked) if item.live is not None else None
    after = masked(compare.normalise(item.after or item.desired), item.masked) if item.action != "delete" else None
    return {"before_header": item.key.describe(), "after_header": item.key.describe(),
            "before": to_yaml(before) if before else "", "after": to_yaml(after) if after else ""}
