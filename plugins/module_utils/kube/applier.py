"""Applying a plan: server-side apply in dependency order, replace, prune, and the ApplySet parent.

Only called once the planner found nothing to reject. Objects of one kind are applied
concurrently, kinds in order (Namespaces and CustomResourceDefinitions first, waiting until each
CRD is established). If the server still rejects something (an admission decision that depends on
what this apply changed), the error lists exactly the objects that were written before it.

The parent lists every kind and namespace the set spans: those of the desired objects, of the objects kept
because prune is off, and of pruned objects a finalizer still holds, so a later run (with prune on) finds them.
A replaced object (a Helm hook, hooks.py) is deleted, waited for until it is gone, then created.
"""

from __future__ import annotations

import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import parent_resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import (
    body_for, ignored, rejection, server_side_apply)
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy

REMOVED_POLL = 0.2  # seconds between reads while a replaced object is being deleted

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

    def __init__(self):
        self.applied = []

    def fail(self, failures, what="apply"):
        details = "; ".join(f"{label}: {what} failed: {error}" for label, error in failures)
        done = ", ".join(self.applied) or "none"
        return TridentError(f"{details} ({len(self.applied)} object(s) were written before the failure: {done}); "
                            "a rerun continues from here", applied=list(self.applied))


def converge(client, plan, parent, options, pool):
    desired = [item for item in plan if item.desired is not None]
    changes = sorted((i for i in desired if i.action in ("create", "update", "replace")), key=tier)
    progress = _Progress()
    recorded = options.applyset is None
    for level in sorted({tier(i) for i in changes} | {len(KIND_ORDER) + 1}):
        if not recorded and level > 0:
            # Once its namespace exists, record the union of old and new members in the parent
            # first: a run cut short still knows every kind and namespace it may own.
            kinds, namespaces = ApplySet.recorded(parent)
            _write_parent(client, options, kinds | _kinds(plan), namespaces | _namespaces(plan), progress,
                          ApplySet.deployed(parent))
            recorded = True
        batch = [i for i in changes if tier(i) == level]
        results = list(pool.map(lambda i: (i, _apply_one(client, i, options)), batch))
        progress.applied.extend(i.key.describe() + (" (replaced)" if i.action == "replace" else "")
                                for i, error in results if error is None)
        failures = [(f"{i.key.describe()} ({i.source})", error) for i, error in results if error is not None]
        if failures:
            raise progress.fail(failures)
        crds = [i for i in batch if i.key.kind == "CustomResourceDefinition"]
        if crds:
            _wait_established(client, crds, options.wait_timeout, options.workers)
    _prune(client, plan, pool, progress)
    if options.applyset:
        # The deployed revision stays as it was until the whole environment succeeded (record_deployed).
        spans = members(plan)
        _write_parent(client, options, _kinds(spans), _namespaces(spans), progress, ApplySet.deployed(parent))


def record_deployed(client, plan, options, record):
    """Write ``record`` ({revision, tree}) on the ApplySet parent: the last write of a successful run."""
    spans = members(plan)
    _write_parent(client, options, _kinds(spans), _namespaces(spans), _Progress(), record)


def members(plan):
    """The objects the set still spans once the plan is applied: the desired ones, those kept (prune off) and those
    pruned that a finalizer still holds. The parent never drops a kind or namespace one of them is in."""
    return [i for i in plan if i.desired is not None or i.action == "keep" or (i.action == "delete" and i.lingering)]


def _kinds(items):
    return {(i.key.group, i.key.kind) for i in items}


def _namespaces(items):
    return {i.key.namespace for i in items}


def _prune(client, plan, pool, progress):
    doomed = sorted((i for i in plan if i.action == "delete"), key=tier, reverse=True)
    if not doomed:
        return
    results = list(pool.map(lambda i: (i, _delete_one(client, i)), doomed))
    progress.applied.extend(f"{i.key.describe()} (deleted)" for i, error in results if error is None)
    failures = [(i.key.describe(), error) for i, error in results if error is not None]
    if failures:
        raise progress.fail(failures, "prune")


def _apply_one(client, item, options):
    removed, body = False, None
    try:
        if item.action == "replace":
            _remove(client, item, options.wait_timeout)
            removed, body = True, item.desired  # created anew, as Git says
        else:
            body = body_for(item, ignored(item, options), options.field_manager)[0]
        item.after = server_side_apply(client, item, body, options, dry_run=False)
        item.applied = True
    except ApiError as exc:  # what the server said of the body (told from placeholders when it holds secrets)
        message = rejection(client, item, body, options, exc) if body is not None else exc.message
    except TridentError as exc:  # the server unreachable
        message = exc.message
    else:
        return None
    return f"the live object was deleted to be created anew, then creating it failed: {message}" if removed \
        else message


def _delete_one(client, item):
    try:
        item.lingering = _still_there(_delete(client, item))
    except ApiError as exc:
        return None if exc.status == 404 else exc.message
    except TridentError as exc:
        return exc.message
    return None


def _delete(client, item):
    """DELETE the live object ``item`` read (a precondition on its uid: never one created since)."""
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    uid = ((item.live or {}).get("metadata") or {}).get("uid")
    if uid:
        options["preconditions"] = {"uid": uid}
    return client.request("DELETE", object_path(item.resource, item.key.namespace, item.key.name), body=options)


def _still_there(answer):
    """Whether a DELETE's answer is the object, marked for deletion but held (a finalizer, a grace period)."""
    return isinstance(answer, dict) and answer.get("kind") != "Status" \
        and bool((answer.get("metadata") or {}).get("deletionTimestamp"))


def _remove(client, item, timeout):
    """Delete the live object of a replace and wait until it is gone (Helm waits too), at most ``timeout``."""
    uid = (item.live.get("metadata") or {}).get("uid")
    try:
        _delete(client, item)
    except ApiError as exc:
        if exc.status not in (404, 409):  # gone already, or replaced since (the uid precondition)
            raise
    path = object_path(item.resource, item.key.namespace, item.key.name)
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = client.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        if (found.get("metadata") or {}).get("uid") != uid:
            return
        if time.monotonic() >= deadline:
            raise TridentError(f"deleted to be created anew, but still there after {timeout:g}s (a finalizer holds "
                               "it); a rerun checks again")
        time.sleep(REMOVED_POLL)


def _write_parent(client, options, kinds, namespaces, progress, record):
    applyset = options.applyset
    label = f"ApplySet parent {applyset.kind} {applyset.namespace}/{applyset.name}"
    try:
        client.request("PATCH", object_path(parent_resource(applyset), applyset.namespace, applyset.name),
                       {"fieldManager": options.field_manager, "force": "true"},
                       applyset.parent(kinds, namespaces, record), content_type=APPLY_PATCH)
    except TridentError as exc:
        raise progress.fail([(label, exc.message)]) from None
    if label not in progress.applied:
        progress.applied.append(label)


def _wait_established(client, crds, timeout, workers):
    """CustomResourceDefinitions of this batch must be Established before their custom resources are applied."""
    outcome = wait_until_healthy(client, [Target.of(i.key, i.resource, i.after) for i in crds], timeout,
                                 workers=workers, interval=0.2)
    if not outcome.settled:
        raise TridentError(f"timed out after {timeout:g}s waiting for {len(outcome.pending)} "
                           "CustomResourceDefinition(s) to be established (the changes were applied; a rerun "
                           "checks again): " + "; ".join(outcome.describe_pending()),
                           unhealthy=[key.describe() for key in outcome.pending])
