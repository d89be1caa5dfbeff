"""The whole kube_diff run as one function over injected parts: read, plan, then apply.

Reads are bulk (live.py), every object gets a decision before anything is written (planner.py),
only a plan without problems is applied (applier.py), then every object's health is judged from the
object in hand (health.py) and, with ``wait``, waited for (waiter.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import re
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import FIELD_MANAGER
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare, live, planner
from ansible_collections.trident.gitops.plugins.module_utils.kube.applier import converge, record_deployed
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import masked, secret_values, to_yaml
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy

# Where a Secret keeps its values: reported as changed, never with a value.
SECRET_VALUE_PATH = re.compile(r"^(data|stringData|binaryData)(?=$|[.\[])")


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


def reconcile(items, client, discovery, options, schemas=None):
    """``items`` are validated ``Desired`` objects; returns an :class:`Outcome` or raises TridentError."""
    scrub = _scrubber(items)
    plan = planner.items_for(items, schemas)
    parent = live.live_parent(client, options.applyset) if options.applyset else None
    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        plan = _plan(client, discovery, plan, options, parent, pool, scrub)
        drifted = [item for item in plan if item.action in planner.WRITES]
        if options.apply and not options.check_mode:
            if drifted:
                converge(client, plan, parent, options, pool, scrub)
        planner.judge(plan)
        if options.apply and not options.check_mode and options.wait:
            _wait(client, plan, options)
    outcome = _outcome(plan, drifted, options)
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


def _plan(client, discovery, plan, options, parent, pool, scrub):
    """Every decision, prune candidates included; raises naming every problem if there is any."""
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
    problems += [p for p in pool.map(lambda i: _plan_safely(client, i, options, batch, scrub), plan) if p]
    if problems:
        raise TridentError(f"{len(problems)} object(s) would be rejected by the API server; nothing was "
                           "changed:\n" + "\n".join(problems), problems=problems)
    if options.applyset:
        keys = {item.key for item in plan}
        plan += [planner.orphan(key, resource, obj, options.prune)
                 for key, resource, obj in live.orphans(listed, keys, options.applyset)]
    return plan


def _plan_safely(client, item, options, batch, scrub):
    """A bug or a surprise in one object's planning is a problem naming that object, not a traceback."""
    try:
        return planner.plan_one(client, item, options, batch, scrub)
    except TridentError as exc:
        return f"{item.key.describe()} ({item.source}): {scrub(exc.message)}"
    except Exception as exc:  # noqa: BLE001 - reported with the object it happened on
        return f"{item.key.describe()} ({item.source}): unexpected {type(exc).__name__}: {scrub(str(exc))}"


def _outcome(plan, drifted, options):
    summary = {action: sum(1 for item in plan if item.action == action)
               for action in planner.WRITES + ("keep", "none")}
    summary["total"] = len(plan)
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
            "changes": [change_entry(item.key.kind, *change) for change in item.changes],
            "health": item.health.as_dict() if item.health is not None else None}


def change_entry(kind, path, before, after):
    """One changed field with its values; a Secret's values never (the path and "changed" only)."""
    if kind == "Secret" and SECRET_VALUE_PATH.match(path):
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
    before = masked(compare.normalise(item.live)) if item.live is not None else None
    after = masked(compare.normalise(item.after or item.desired)) if item.action != "delete" else None
    return {"before_header": item.key.describe(), "after_header": item.key.describe(),
            "before": to_yaml(before) if before else "", "after": to_yaml(after) if after else ""}


def _scrubber(items):
    values = sorted({v for d in items for v in secret_values(d.obj) if len(v) >= 3}, key=len, reverse=True)

    def scrub(text):
        for value in values:
            text = text.replace(value, "********")
        return text
    return scrub
