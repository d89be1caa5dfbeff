"""Plan, apply and prune: the whole kube_diff run as one function over injected parts.

Reads are bulk (one LIST per kind and namespace), dry-runs and applies run on a thread pool, and
only objects the cheap comparison cannot prove in sync cost a server-side apply dry-run.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare, pointers
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF, TOOLING, ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import ObjectKey, masked, secret_values, to_yaml

# Apply order (as Helm and kubectl users expect); unknown kinds (custom resources) go last.
KIND_ORDER = ("Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ResourceQuota",
              "LimitRange", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "ConfigMap",
              "PersistentVolume", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role",
              "RoleBinding", "Service", "DaemonSet", "Pod", "ReplicaSet", "Deployment",
              "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
              "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
              "ValidatingWebhookConfiguration", "APIService")
CLUSTER_WIDE_LIST_THRESHOLD = 4  # more namespaces of one kind than this: one cluster-wide LIST


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
class Options:
    field_manager: str = "trident-gitops"
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


@dataclass
class Item:
    key: ObjectKey
    resource: object
    desired: dict = None  # None for prune candidates
    live: dict = None
    served: bool = True  # False: the server cannot take a dry-run for it yet (CRD or namespace to come)
    source: str = ""
    after: dict = None  # what the object would be after apply (dry-run result), when known
    schema: object = None  # the kind's served OpenAPI v3 schema node (None: nothing is proven)
    action: str = "none"
    fields: list = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False


@dataclass
class Outcome:
    changed: bool
    drift: list
    summary: dict
    diff: list
    dry_runs: int = 0


def reconcile(items, client, discovery, options, schemas=None):
    """``items`` are validated ``Desired`` objects; returns an :class:`Outcome` or raises TridentError."""
    scrub = _scrubber(items)
    plan = [Item(d.key, d.resource, d.obj, None, d.served, d.source) for d in items]
    for item in plan:
        if schemas is not None and item.served:
            item.schema = schemas.root(item.resource.group, item.resource.version, item.resource.kind)
    parent = _live_parent(client, options) if options.applyset else None
    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        listed = _list_live(client, discovery, plan, options, parent, pool)
        by_key = {item.key: item for item in plan}
        for item in plan:
            item.live = listed.get(item.key, (None, None))[1]
        orphans = _orphans(listed, by_key, options) if options.prune else []
        # Objects in namespaces this run creates cannot be dry-run (the server answers 404): skip asking.
        new_namespaces = {i.key.name for i in plan if i.key.kind == "Namespace" and not i.key.group and i.live is None}
        for item in plan:
            if item.live is None and item.key.namespace in new_namespaces:
                item.served = False
        problems = [p for p in pool.map(lambda i: _plan_one(client, i, options, scrub), plan) if p]
        if problems:
            raise TridentError(f"{len(problems)} object(s) would be rejected by the API server; nothing was "
                               "changed:\n" + "\n".join(problems), problems=problems)
        for orphan in orphans:
            orphan.action, orphan.fields = "delete", []
        plan.extend(orphans)
        drifted = [item for item in plan if item.action != "none"]
        if options.apply and not options.check_mode:
            if drifted:
                _converge(client, plan, parent, options, pool, scrub)
            if options.wait:
                _wait_healthy(client, [i for i in plan if i.desired is not None], options.wait_timeout, "healthy")
    summary = {action: sum(1 for item in plan if item.action == action)
               for action in ("create", "update", "delete", "none")}
    summary["total"] = len(plan)
    return Outcome(
        changed=bool(drifted),
        drift=[_drift_entry(item) for item in plan],
        summary=summary,
        diff=[_diff_entry(item) for item in drifted] if options.want_diff else [],
        dry_runs=sum(1 for item in plan if item.dry_run))


# -- reading ---------------------------------------------------------------------------------------------
def _live_parent(client, options):
    applyset = options.applyset
    resource = _parent_resource(applyset)
    try:
        live = client.request("GET", object_path(resource, applyset.namespace, applyset.name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    tooling = ((live.get("metadata") or {}).get("annotations") or {}).get(TOOLING, "")
    if tooling.split("/")[0] != applyset.tooling.split("/")[0]:
        raise TridentError(f"ApplySet parent {applyset.kind} {applyset.namespace}/{applyset.name} is managed by "
                           f"{tooling or 'no tooling annotation'}, not {applyset.tooling}: refusing to take it over")
    return live


def _parent_resource(applyset):
    plural = "secrets" if applyset.kind == "Secret" else "configmaps"
    return Resource("", "v1", applyset.kind, plural, True)


def _list_live(client, discovery, plan, options, parent, pool):
    """LIST every (resource, namespace) the desired set and the ApplySet span; map key -> live object."""
    wanted = {}
    for item in plan:
        if item.served:
            wanted.setdefault(item.resource, set()).add(item.key.namespace)
    if options.prune and options.applyset:
        kinds, namespaces = ApplySet.recorded(parent)
        namespaces |= {item.key.namespace for item in plan if item.key.namespace} | {options.applyset.namespace}
        for group, kind in kinds:
            resource = next((r for r in wanted if (r.group, r.kind) == (group, kind)), None) \
                or _find_kind(discovery, group, kind)
            if resource is not None:
                wanted.setdefault(resource, set()).update(namespaces if resource.namespaced else {""})
    calls = []
    for resource, namespaces in wanted.items():
        if not resource.namespaced or len(namespaces) > CLUSTER_WIDE_LIST_THRESHOLD:
            calls.append((resource, None, namespaces))
        else:
            calls.extend((resource, ns, None) for ns in sorted(namespaces))
    listed = {}
    for resource, objects in pool.map(lambda call: (call[0], _list(client, call[0], call[1], call[2])), calls):
        for obj in objects:
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", resource.kind)
            meta = obj.get("metadata") or {}
            listed[ObjectKey(resource.group, resource.kind, meta.get("namespace") or "", meta["name"])] = (resource, obj)
    return listed


def _find_kind(discovery, group, kind):
    return next((r for ident, r in sorted(discovery.resources.items()) if (ident[0], ident[2]) == (group, kind)),
                None)


def _list(client, resource, namespace, only_namespaces):
    objects, token = [], None
    while True:
        query = {"limit": 500}
        if token:
            query["continue"] = token
        data = client.request("GET", object_path(resource, namespace), query)
        objects.extend(data.get("items") or [])
        token = (data.get("metadata") or {}).get("continue")
        if not token:
            break
    if only_namespaces is not None and resource.namespaced:
        objects = [o for o in objects if (o.get("metadata") or {}).get("namespace") in only_namespaces]
    return objects


def _orphans(listed, by_key, options):
    set_id = options.applyset.id
    return [Item(key, resource, None, obj, source="cluster") for key, (resource, obj) in sorted(listed.items())
            if key not in by_key and ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF) == set_id]


# -- planning --------------------------------------------------------------------------------------------
def _ignored(item, options):
    """(pointers to drop from the comparison, pointers without list indices safe to take from live)."""
    wanted = set()
    for rule in options.ignore:
        if rule.matches(item.key):
            wanted.update(rule.json_pointers)
            if rule.managers and item.live:
                wanted.update(pointers.managed_pointers(item.live, rule.managers))
    keyless = {p for p in wanted if not any(t.isdigit() for t in pointers.parse_pointer(p))}
    return wanted, keyless


def _body(item, keyless):
    """What we send: the desired object, with ignored fields set to their live values (Argo's
    RespectIgnoreDifferences), so an apply never fights the owner of an ignored field."""
    if not keyless or not item.live:
        return item.desired
    body = copy.deepcopy(item.desired)
    for pointer in keyless:
        value = pointers.get(item.live, pointer)
        tokens = pointers.parse_pointer(pointer)
        if value is not None and tokens:
            node = body
            for token in tokens[:-1]:
                node = node.setdefault(token, {}) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node[tokens[-1]] = copy.deepcopy(value)
    return body


def _plan_one(client, item, options, scrub):
    """Decide the action; a dry-run only when the cheap proof fails. Returns a problem or None."""
    wanted, keyless = _ignored(item, options)
    body = _body(item, keyless)
    if item.live is not None and len(keyless) == len(wanted):
        concrete = {pointers.to_pointer(t) for t in (pointers.resolve(item.live, p) for p in keyless) if t}
        if compare.proven_in_sync(body, item.live, options.field_manager, item.schema, concrete):
            return None
    if not item.served:
        item.action, item.after = "create", item.desired
        return None
    try:
        item.after = _apply(client, item, body, options, dry_run=True)
        item.dry_run = True
    except ApiError as exc:
        if item.live is None and exc.status == 404:
            # Its namespace (or CRD) is created by this same run: nothing to dry-run against yet.
            item.action, item.after = "create", item.desired
            return None
        return f"{item.key.describe()} ({item.source}): {scrub(exc.message)}"
    if item.live is None:
        item.action = "create"
        return None
    before, after = _comparable(item.live, wanted), _comparable(item.after, wanted)
    item.fields = compare.changed_paths(before, after)
    if not item.fields and not compare.json_equal(before, after):
        item.fields = ["."]
    item.action = "update" if item.fields else "none"
    return None


def _comparable(obj, ignored):
    out = compare.normalise(obj)
    for pointer in ignored:
        pointers.delete(out, pointer)
    return out


def _apply(client, item, body, options, dry_run):
    query = {"fieldManager": options.field_manager, "force": "true" if options.force_conflicts else "false"}
    if dry_run:
        query["dryRun"] = "All"
    path = object_path(item.resource, item.key.namespace, item.key.name)
    return client.request("PATCH", path, query, body, content_type=APPLY_PATCH)


# -- converging ------------------------------------------------------------------------------------------
def _tier(item):
    kind = item.key.kind
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def _converge(client, plan, parent, options, pool, scrub):
    applyset = options.applyset
    keep = [item for item in plan if item.desired is not None]
    changes = sorted((i for i in keep if i.action in ("create", "update")), key=_tier)
    applied = []
    recorded = applyset is None
    for tier in sorted({_tier(i) for i in changes} | {len(KIND_ORDER) + 1}):
        if not recorded and tier > 0:
            # Once its namespace exists, record the union of old and new members in the parent
            # first: a run cut short still knows every kind and namespace it may own.
            kinds, namespaces = ApplySet.recorded(parent)
            kinds |= {(i.key.group, i.key.kind) for i in keep}
            namespaces |= {i.key.namespace for i in keep}
            _write_parent(client, applyset, kinds, namespaces, options)
            recorded = True
        batch = [i for i in changes if _tier(i) == tier]
        for item, error in pool.map(lambda i: (i, _apply_one(client, i, options)), batch):
            if error:
                raise TridentError(f"{item.key.describe()} ({item.source}): apply failed: {scrub(error)} "
                                   f"({len(applied)} object(s) were applied before the failure, listed in "
                                   "'applied'); a rerun continues from here",
                                   applied=[i.key.describe() for i in applied])
            applied.append(item)
        crds = [i for i in batch if i.key.kind == "CustomResourceDefinition"]
        if crds:
            _wait_healthy(client, crds, options.wait_timeout, "established")
    doomed = sorted((i for i in plan if i.action == "delete"), key=_tier, reverse=True)
    for item, error in pool.map(lambda i: (i, _delete_one(client, i)), doomed):
        if error:
            raise TridentError(f"{item.key.describe()}: prune failed: {scrub(error)}")
    if applyset:
        _write_parent(client, applyset, {(i.key.group, i.key.kind) for i in keep},
                      {i.key.namespace for i in keep}, options)


def _apply_one(client, item, options):
    keyless = _ignored(item, options)[1]
    try:
        item.after = _apply(client, item, _body(item, keyless), options, dry_run=False)
        item.applied = True
    except ApiError as exc:
        return exc.message
    except TridentError as exc:
        return exc.message
    return None


def _delete_one(client, item):
    try:
        client.request("DELETE", object_path(item.resource, item.key.namespace, item.key.name),
                       body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
    except ApiError as exc:
        return None if exc.status == 404 else exc.message
    return None


def _write_parent(client, applyset, kinds, namespaces, options):
    body = applyset.parent(kinds, namespaces)
    client.request("PATCH", object_path(_parent_resource(applyset), applyset.namespace, applyset.name),
                   {"fieldManager": options.field_manager, "force": "true"}, body, content_type=APPLY_PATCH)


# -- health ----------------------------------------------------------------------------------------------
def health(obj):
    """(healthy, reason) for one live object, from what its controllers report in status."""
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    kind = obj.get("kind")
    if kind == "CustomResourceDefinition":
        ok = (conditions.get("Established") or {}).get("status") == "True"
        return ok, "" if ok else "not established yet"
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        spec_replicas = (obj.get("spec") or {}).get("replicas", 1)
        generation = (obj.get("metadata") or {}).get("generation", 0)
        if status.get("observedGeneration", 0) < generation:
            return False, "rollout not observed by its controller yet"
        ready = status.get("availableReplicas" if kind == "Deployment" else "readyReplicas", 0)
        ok = status.get("updatedReplicas", spec_replicas if kind == "ReplicaSet" else 0) >= spec_replicas \
            and ready >= spec_replicas
        return ok, "" if ok else f"{ready}/{spec_replicas} replicas ready"
    generation = (obj.get("metadata") or {}).get("generation")
    if "observedGeneration" in status and generation and status["observedGeneration"] < generation:
        return False, f"generation {generation} not observed by its controller yet"
    for name in ("Ready", "Available"):
        if name in conditions:
            ok = conditions[name].get("status") == "True"
            return ok, "" if ok else f"{name}={conditions[name].get('status')}: {conditions[name].get('message', '')}"
    return True, ""


def _wait_healthy(client, items, timeout, what):
    """Poll until every item is healthy; the first look uses the objects already in hand (the apply
    response or the LIST), so healthy in-sync objects cost no request."""
    deadline = time.monotonic() + timeout
    pending = list(items)
    reasons = {}
    first = True
    while pending:
        still = []
        for item in pending:
            try:
                live = (item.after if item.applied else item.live) if first else None
                live = live or client.request("GET", object_path(item.resource, item.key.namespace, item.key.name))
            except ApiError as exc:
                reasons[item.key] = exc.message
                still.append(item)
                continue
            ok, reasons[item.key] = health(live)
            if not ok:
                still.append(item)
        pending, first = still, False
        if pending and time.monotonic() >= deadline:
            details = "; ".join(f"{i.key.describe()}: {reasons[i.key]}" for i in pending)
            raise TridentError(f"timed out after {timeout:g}s waiting for {len(pending)} object(s) to be {what} "
                               f"(the changes were applied; a rerun checks again): {details}",
                               unhealthy=[i.key.describe() for i in pending])
        if pending:
            time.sleep(0.1 if time.monotonic() + timeout - deadline < 2 else 0.5)


# -- results ---------------------------------------------------------------------------------------------
def _drift_entry(item):
    obj = item.desired or item.live
    return {"apiVersion": obj.get("apiVersion"), "kind": item.key.kind, "namespace": item.key.namespace or None,
            "name": item.key.name, "action": item.action, "fields": item.fields}


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
