"""Planning: one decision per object (create, update, replace, delete, keep, none), with nothing written.

Every object is checked before the first write, in three rounds that send nothing, then a fourth that may:
1. the cheap in-sync proof settles what a dry-run provably would not change;
2. every other object is judged against its schema (schemacheck.py): what the schema says the server would
   refuse stops the batch here, in check mode too, whatever namespace the object is in;
3. a server-side apply dry-run for each object the server can dry-run now;
4. the objects whose namespace comes with this batch are dry-run once that namespace exists (engine.py creates
   it first, newnamespaces.py; never in check mode, where they stay "checked against the schema only", with
   the reason in ``pending``). Custom resources whose CustomResourceDefinition comes with the batch are judged
   against that CRD's schema only.
A namespace that is neither live nor in the batch, one being deleted, and any 404 the batch does not explain,
is a problem; the caller applies nothing when there is any.

An object of the ApplySet that Git no longer has is pruned (``delete``) or, with prune off, ``keep``: reported on
every run until Git has it again or prune is turned on. A Helm hook that Git changed is replaced when Helm would
create it anew (hooks.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import (mask_fields, mask_placeholders,
                                                                                    replace_at)
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare, hooks, pointers, schemacheck
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import Health, health, worst
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import namespace_exists
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import masked_fields, with_placeholders
from ansible_collections.trident.gitops.plugins.module_utils.kube.newnamespaces import is_created_for_dry_run

# Why an object of the set that Git no longer has is deleted, or kept.
PRUNED = "not in Git, pruned (prune: true)"
KEPT = "not in Git, kept (prune: false)"
# The actions that write to the cluster; ``keep`` and ``none`` write nothing.
WRITES = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class IgnoreRule:
    """Argo CD style: which objects (empty = any) and which fields (pointers, field managers)."""

    group: str = None
    kind: str = None
    name: str = None
    namespace: str = None
    json_pointers: tuple = ()
    managers: tuple = ()

    def matches(self, key):
        return all(want is None or want == have for want, have in (
            (self.group, key.group), (self.kind, key.kind), (self.name, key.name), (self.namespace, key.namespace)))


@dataclass
class Item:
    """The decision for one object, and the health of the object it is about."""

    key: object
    resource: object
    desired: dict = None  # None for prune candidates
    live: dict = None
    served: bool = True  # False: the kind comes with a CustomResourceDefinition of this batch
    source: str = ""
    schema: object = None  # the kind's served OpenAPI v3 schema node (None: nothing is proven)
    dry_runnable: bool = True  # False: its namespace or CRD comes with this batch; checked by schema
    after: dict = None  # what the object would be after apply (dry-run result), when known
    action: str = "none"
    fields: list = field(default_factory=list)
    changes: list = field(default_factory=list)  # (path, before, after) of each field in ``fields``, masked
    dry_run: bool = False
    applied: bool = False
    health: Health = None  # of the live object (Missing when there is none), after an apply of the applied one
    masked: tuple = ()  # paths of the fields that hold secret values, masked in every version shown
    checked_by: str = None  # what judged it before the apply: "proof", "dry-run" or "schema"
    pending: str = None  # why the API server has not judged it yet (then checked_by is "schema")
    body: dict = None  # what we apply: the desired object, ignored fields as body_for makes them
    wanted: list = None  # pointers of the fields ignore_differences leaves out
    left_out: set = None  # live pointers of the ignored fields left out of ``body``
    reason: str = ""  # why the action (replace, delete, keep), for the report
    lingering: bool = False  # pruned, but still there (a finalizer holds it): the set still spans it


@dataclass
class Batch:
    """What the batch itself creates, which decides what may be missing live."""

    namespaces: frozenset
    crd_schemas: dict


def items_for(desired, schemas):
    """Plan items for validated ``Desired`` objects, each with its served schema when there is one."""
    plan = [Item(d.key, d.resource, d.obj, None, d.served, d.source, masked=d.masked) for d in desired]
    for item in plan:
        if schemas is not None and item.served:
            item.schema = schemas.root(item.resource.group, item.resource.version, item.resource.kind)
    return plan


def orphan(key, resource, live, prune):
    """An object labelled part of the set that Git no longer has: pruned with ``prune``, else kept (and reported)."""
    return Item(key, resource, None, live, source="cluster", action="delete" if prune else "keep",
                reason=PRUNED if prune else KEPT)


def batch_of(plan):
    created = frozenset(i.key.name for i in plan if (i.key.group, i.key.kind) == ("", "Namespace") and i.live is None)
    return Batch(created, schemacheck.crd_schemas([i.desired for i in plan if i.desired is not None]))


def namespace_problems(client, plan, batch, pool, extra=()):
    """A problem per namespace that is neither live nor created by the batch, and per namespace being deleted
    (nothing can be created in it), naming every object in it."""
    wanted = sorted(({i.key.namespace for i in plan if i.key.namespace} | set(extra)) - batch.namespaces)
    exists = dict(zip(wanted, pool.map(lambda name: namespace_exists(client, name), wanted)))
    problems = []
    for name in wanted:
        members = [f"{i.key.describe()} ({i.source})" for i in plan if i.key.namespace == name] \
            or ["the ApplySet parent"]
        if exists[name] is False:
            problems.append(f"namespace {name} is neither live nor in the desired set; it holds: "
                            + ", ".join(members))
        elif exists[name] == "terminating":
            problems.append(f"namespace {name} is being deleted (Terminating): nothing can be created in it until "
                            "it is gone; it holds: " + ", ".join(members))
    return problems


def mark_unservable(plan, batch):
    """Objects the server cannot dry-run before the batch's first write (CRD or namespace to come)."""
    for item in plan:
        if item.live is None and (not item.served or item.key.namespace in batch.namespaces):
            item.dry_runnable = False


def judge_locally(plan, options, batch):
    """Rounds 1 and 2, without a request: the proof settles what is in sync, the schema judges every other
    desired object. Returns a problem per object the schema refuses (those get checked_by "schema")."""
    examined, problems = [], []
    for item in plan:
        if item.desired is None:
            continue
        try:
            if _settle(item, options):
                continue
            root = schema_root(item, batch)
            typed = root is not None and (root.ref or "").startswith(compare.TYPED_SCHEMA_PREFIXES)
            custom = root is not None and not typed
            examined.append((item, schemacheck.examine(item.body, root, custom, update=item.live is not None),
                             root, custom))
        except Exception as exc:  # noqa: BLE001 - a bug or a surprise is a problem naming its object
            item.checked_by = "schema"
            detail = "" if masked_fields(item.desired, item.masked) else f": {exc}"
            problems.append(f"{item.key.describe()} ({item.source}): unexpected {type(exc).__name__}{detail}")
    verdicts = iter(schemacheck.match_patterns([(p, v) for _i, c, _r, _c in examined for _path, p, v in c.patterns]))
    for item, checked, root, custom in examined:
        found = _shown_problems(item, checked.problems, root, custom)
        for path, pattern, _value in checked.patterns:
            if next(verdicts) is False:
                found.append(f"{path}: does not match {pattern!r}")
        if found:
            item.checked_by = "schema"
            problems.append(f"{item.key.describe()} ({item.source}): " + "; ".join(found))
    return problems


def _shown_problems(item, problems, root, custom):
    """The schema's ``problems`` with ``item``, as shown. A problem may quote the value it is about: one that holds a
    value of the object's masked fields (a secret) is shown by its field only, never rewritten around the value
    (a Secret's value that is not base64 is named, the value never is)."""
    secret = masked_fields(item.body, item.masked)
    if not problems or not secret:
        return list(problems)
    values = []
    replace_at(item.body, secret, lambda value, _where: values.append(value) or value)
    quoted = {text for value in _leaves(values) if value not in (None, "") for text in (str(value), repr(value))}
    return [problem if not any(text in problem for text in quoted)
            else f"{problem.split(': ', 1)[0]}: invalid (the value is a secret and is not shown)"
            for problem in problems]


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for child in value.values() for leaf in _leaves(child)]
    if isinstance(value, list):
        return [leaf for child in value for leaf in _leaves(child)]
    return [value]


def needs_server(item):
    """A desired object neither settled by the proof nor refused by its schema: the server judges it."""
    return item.desired is not None and item.checked_by is None


def schema_root(item, batch):
    """The schema an object is judged by: its CRD's from the batch, else the served one (None: none known)."""
    return batch.crd_schemas.get((item.resource.group, item.resource.version, item.key.kind)) or item.schema


def _settle(item, options):
    """Whether the cheap proof shows ``item`` in sync (checked_by "proof"); keeps what it applies on the item."""
    item.wanted = ignored(item, options)
    item.body, item.left_out = body_for(item, item.wanted, options.field_manager)
    if item.live is not None and compare.proven_in_sync(item.body, item.live, options.field_manager, item.schema,
                                                        item.left_out):
        item.checked_by = "proof"
        return True
    return False


def dry_run(client, item, options):
    """Round 3 (and 4): the server-side apply dry-run of one object; returns a problem (text) or None."""
    try:
        item.after = server_side_apply(client, item, item.body, options, dry_run=True)
        item.dry_run = True
    except ApiError as exc:
        if exc.status == 404:
            return f"{item.key.describe()} ({item.source}): not found by the server " \
                   f"({rejection(client, item, item.body, options, exc)}) and nothing in the desired set creates it"
        refusal = _replacing(client, item, options, exc)
        if refusal is not None:
            shown = rejection(client, item, item.body, options, exc) if refusal is exc else \
                _refusal_shown(item, refusal)
            return f"{item.key.describe()} ({item.source}): {shown}"
        item.checked_by = "dry-run"
        return None
    item.checked_by = "dry-run"
    _decide(item, item.wanted)
    return None


def rejection(client, item, body, options, exc):
    """What the server said when it refused ``body`` (an :class:`ApiError`). For an object with masked fields its
    message may quote their secret values, so it is not shown: the server is asked again (a dry-run) with
    placeholders in their place, and that answer is shown with the placeholders masked; when it accepts the
    object so, only the status and the fields the server named are."""
    if not masked_fields(body, item.masked):
        return exc.message
    try:
        server_side_apply(client, item, with_placeholders(body, item.masked), options, dry_run=True)
    except ApiError as again:
        return mask_placeholders(again.message)
    except TridentError as again:
        return again.message
    fields = f" (fields: {', '.join(exc.fields)})" if exc.fields else ""
    return f"refused with {exc.status} {exc.reason or 'error'}{fields}; the server's message is not shown, since " \
           "it may quote the object's secret values (with placeholders in their place the server accepts it)"


def pend(item, batch):
    """An object the server cannot judge before the batch writes: created as the schema allowed, with the
    reason the server has not judged it."""
    item.action, item.after, item.checked_by = "create", item.desired, "schema"
    if not item.served:
        item.pending = ("its CustomResourceDefinition comes with this batch: checked against that CRD's schema; "
                        "its CEL rules and admission are judged by the API server only when it is applied")
    else:
        item.pending = (f"namespace {item.key.namespace} does not exist yet (this batch creates it): the API server "
                        "judges the object only once it exists")
    if schema_root(item, batch) is None:
        item.pending += " (no schema is published for this kind: only its name was checked)"


def _replacing(client, item, options, refusal):
    """A Helm hook whose update the server refuses (an immutable field) is planned as a replace when Helm would
    create it anew and the server accepts it as a new object; returns the refusal to report otherwise (None when
    planned). A dry-run create of a name that exists is validated and admitted before the server finds the name
    taken, so "AlreadyExists" is its verdict that the object is valid."""
    if refusal.status != 422:
        return refusal
    reason = hooks.replace_reason(item.desired, item.live)
    if reason is None:
        if not hooks.phases(item.desired) or "immutable" not in refusal.message:
            return refusal
        return TridentError(f"{refusal.message} (a Helm hook whose {hooks.DELETE_POLICY} keeps the live one, which "
                            f"helm upgrade would refuse as well: add {hooks.BEFORE_CREATION} to its policy, or delete "
                            "the live one)")
    try:
        create(client, item, item.desired, options, dry_run=True)
    except ApiError as exc:
        if exc.reason != "AlreadyExists":
            return exc
    item.action, item.reason, item.dry_run = "replace", reason, True
    # No object after the apply to compare with: the fields Git sets to another value than the live one's.
    before, after = comparable(item.live, ()), comparable(item.desired, ())
    secret = masked_fields(item.desired, item.masked)
    if secret:
        before, after = mask_fields(before, secret), mask_fields(after, secret)
    item.changes = [change for change in compare.changed_values(before, after) if change[2] is not None]
    item.fields = [change[0] for change in item.changes] or ["."]
    return None


def _refusal_shown(item, refusal):
    """A refusal of the replace's checks: its text, unless the object holds secret values it may quote."""
    if not masked_fields(item.body, item.masked):
        return refusal.message
    status = getattr(refusal, "status", None)
    return f"refused{f' with {status}' if status else ''}; the server's message is not shown, since it may " \
           "quote the object's secret values"


def judge(plan):
    """Set every item's health from the object in hand: the applied one after an apply, else the live one
    (Missing for an object still to be created). Costs no request (docs/health.md)."""
    for item in plan:
        item.health = health(item.after if item.applied else item.live)


def overall(plan):
    """The health of the whole set: the worst of its desired objects' (those pruned or kept left out)."""
    return worst(item.health.status for item in plan if item.desired is not None and item.health is not None)


def _decide(item, wanted):
    if item.live is None or (item.key.group, item.key.kind) == ("", "Namespace") and is_created_for_dry_run(item.live):
        item.action = "create"  # a namespace created only for the dry-runs of an earlier plan is still to create
        return
    before, after = comparable(item.live, wanted), comparable(item.after, wanted)
    changes = compare.changed_values(before, after)
    item.fields = [change[0] for change in changes]
    if not item.fields and not compare.json_equal(before, after):
        item.fields = ["."]
    item.action = "update" if item.fields else "none"
    # What is shown of each change: the fields that hold secret values masked, before and after.
    secret = masked_fields(item.desired, item.masked)
    item.changes = compare.changed_values(mask_fields(before, secret), mask_fields(after, secret)) if secret \
        else changes
    reason = hooks.replace_reason(item.desired, item.live) if item.fields else None
    if reason:
        item.action, item.reason = "replace", reason


def ignored(item, options):
    """Pointers of the fields ``ignore_differences`` leaves out for this object (managers' fields as
    pointers whose keyed list items are addressed by merge key)."""
    wanted = set()
    for rule in options.ignore:
        if rule.matches(item.key):
            wanted.update(rule.json_pointers)
            if rule.managers and item.live:
                wanted.update(pointers.managed_pointers(item.live, rule.managers))
    return sorted(wanted)


def body_for(item, wanted, manager):
    """(what we apply, live pointers of the ignored fields left out of it).

    An ignored field keeps its live value and its owner: when another manager owns it (an image
    updater, an autoscaler) it is left out of our applied configuration, so the server keeps it
    and its owner; when nobody else does, leaving it out would delete it, so it is sent with its
    live value (also inside an atomic list or map, which an apply replaces whole). A new object
    is created as Git says.
    """
    if not wanted or item.live is None:
        return item.desired, set()
    body = copy.deepcopy(item.desired)
    others = {pointers.to_pointer(pointers.resolve(item.live, p) or ()) for p in
              pointers.managed_pointers(item.live, (), exclude=manager)}
    left_out = set()
    for pointer in reversed(wanted):  # later list items first: deleting one keeps earlier indices
        in_body, in_live = pointers.resolve(body, pointer), pointers.resolve(item.live, pointer)
        if not in_body:
            continue
        where = pointers.to_pointer(in_live) if in_live else None
        if in_live and (_inside_atomic(item.schema, in_body) or not _owned(others, where)):
            pointers.put(body, in_body, pointers.value_at(item.live, in_live))
        else:
            pointers.delete_at(body, in_body)
            if where:
                left_out.add(where)
    return body, left_out


def _owned(owned, pointer):
    """Whether a field, something inside it, or an atomic value around it is in ``owned``."""
    return any(p == pointer or p.startswith(pointer + "/") or pointer.startswith(p + "/") for p in owned)


def _inside_atomic(node, tokens):
    for token in tokens[:-1]:
        if node is None:
            return False
        if isinstance(token, int):
            if node.list_type()[0] == "atomic":
                return True
            node = node.items()
        else:
            if node.map_atomic:
                return True
            node = node.child(token)
    return False


def comparable(obj, wanted):
    out = compare.normalise(obj)
    for pointer in wanted:
        pointers.delete(out, pointer)
    return out


def create(client, item, body, options, dry_run):
    """POST ``body`` as a new object (a dry-run create is how a replace is validated)."""
    query = {"fieldManager": options.field_manager, **({"dryRun": "All"} if dry_run else {})}
    return client.request("POST", object_path(item.resource, item.key.namespace), query, body)


def server_side_apply(client, item, body, options, dry_run):
    query = {"fieldManager": options.field_manager, "force": "true" if options.force_conflicts else "false"}
    if dry_run:
        query["dryRun"] = "All"
    path = object_path(item.resource, item.key.namespace, item.key.name)
    return client.request("PATCH", path, query, body, content_type=APPLY_PATCH)
