"""Applying a plan: server-side apply in dependency order, prune, and the ApplySet parent.

Only called once the planner found nothing to reject. Objects of one kind are applied
concurrently, kinds in order (Namespaces and CustomResourceDefinitions first, waiting until each
CRD is established). If the server still rejects something (an admission decision that depends on
what this apply changed), the error lists exactly the objects that were written before it.
"""

from __future__ import annotations

import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import parent_resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import body_for, ignored, server_side_apply

# Apply order (as Helm and kubectl users expect); unknown kinds (custom resources) go last.
KIND_ORDER = ("Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ResourceQuota",
              "LimitRange", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "ConfigMap",
              "PersistentVolume", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role",
              "RoleBinding", "Service", "DaemonSet", "Pod", "ReplicaSet", "Deployment",
              "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
              "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
              "ValidatingWebhookConfiguration", "APIService")


def tier(item):
    kind = item.key.kind
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


class _Progress:
    """What was written so far, for an error that says exactly that."""

    def __init__(self, scrub):
        self.scrub = scrub
        self.applied = []

    def fail(self, failures, what="apply"):
        details = "; ".join(f"{label}: {what} failed: {self.scrub(error)}" for label, error in failures)
        done = ", ".join(self.applied) or "none"
        return TridentError(f"{details} ({len(self.applied)} object(s) were written before the failure: {done}); "
                            "a rerun continues from here", applied=list(self.applied))


def converge(client, plan, parent, options, pool, scrub):
    keep = [item for item in plan if item.desired is not None]
    changes = sorted((i for i in keep if i.action in ("create", "update")), key=tier)
    progress = _Progress(scrub)
    recorded = options.applyset is None
    for level in sorted({tier(i) for i in changes} | {len(KIND_ORDER) + 1}):
        if not recorded and level > 0:
            # Once its namespace exists, record the union of old and new members in the parent
            # first: a run cut short still knows every kind and namespace it may own.
            kinds, namespaces = ApplySet.recorded(parent)
            _write_parent(client, options, kinds | _kinds(keep), namespaces | _namespaces(keep), progress)
            recorded = True
        batch = [i for i in changes if tier(i) == level]
        results = list(pool.map(lambda i: (i, _apply_one(client, i, options)), batch))
        progress.applied.extend(i.key.describe() for i, error in results if error is None)
        failures = [(f"{i.key.describe()} ({i.source})", error) for i, error in results if error is not None]
        if failures:
            raise progress.fail(failures)
        crds = [i for i in batch if i.key.kind == "CustomResourceDefinition"]
        if crds:
            wait_healthy(client, crds, options.wait_timeout, "established")
    _prune(client, plan, pool, progress)
    if options.applyset:
        _write_parent(client, options, _kinds(keep), _namespaces(keep), progress)


def _kinds(items):
    return {(i.key.group, i.key.kind) for i in items}


def _namespaces(items):
    return {i.key.namespace for i in items}


def _prune(client, plan, pool, progress):
    doomed = sorted((i for i in plan if i.action == "delete"), key=tier, reverse=True)
    results = list(pool.map(lambda i: (i, _delete_one(client, i)), doomed))
    progress.applied.extend(f"{i.key.describe()} (deleted)" for i, error in results if error is None)
    failures = [(i.key.describe(), error) for i, error in results if error is not None]
    if failures:
        raise progress.fail(failures, "prune")


def _apply_one(client, item, options):
    try:
        body = body_for(item, ignored(item, options), options.field_manager)[0]
        item.after = server_side_apply(client, item, body, options, dry_run=False)
        item.applied = True
    except TridentError as exc:  # ApiError, or the server unreachable
        return exc.message
    return None


def _delete_one(client, item):
    try:
        client.request("DELETE", object_path(item.resource, item.key.namespace, item.key.name),
                       body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
    except ApiError as exc:
        return None if exc.status == 404 else exc.message
    except TridentError as exc:
        return exc.message
    return None


def _write_parent(client, options, kinds, namespaces, progress):
    applyset = options.applyset
    label = f"ApplySet parent {applyset.kind} {applyset.namespace}/{applyset.name}"
    try:
        client.request("PATCH", object_path(parent_resource(applyset), applyset.namespace, applyset.name),
                       {"fieldManager": options.field_manager, "force": "true"}, applyset.parent(kinds, namespaces),
                       content_type=APPLY_PATCH)
    except TridentError as exc:
        raise progress.fail([(label, exc.message)]) from None
    if label not in progress.applied:
        progress.applied.append(label)


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


def wait_healthy(client, items, timeout, what):
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
