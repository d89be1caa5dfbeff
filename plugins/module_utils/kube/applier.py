"""Applying a plan: server-side apply in dependency order, prune, and the ApplySet parent.

Only called once the planner found nothing to reject. Objects of one kind are applied
concurrently, kinds in order (Namespaces and CustomResourceDefinitions first, waiting until each
CRD is established). If the server still rejects something (an admission decision that depends on
what this apply changed), the error lists exactly the objects that were written before it.
"""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import parent_resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import (
    body_for, ignored, rejection, server_side_apply)
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy

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
    keep = [item for item in plan if item.desired is not None]
    changes = sorted((i for i in keep if i.action in ("create", "update")), key=tier)
    progress = _Progress()
    recorded = options.applyset is None
    for level in sorted({tier(i) for i in changes} | {len(KIND_ORDER) + 1}):
        if not recorded and level > 0:
            # Once its namespace exists, record the union of old and new members in the parent
            # first: a run cut short still knows every kind and namespace it may own.
            kinds, namespaces = ApplySet.recorded(parent)
            _write_parent(client, options, kinds | _kinds(keep), namespaces | _namespaces(keep), progress,
                          ApplySet.deployed(parent))
            recorded = True
        batch = [i for i in changes if tier(i) == level]
        results = list(pool.map(lambda i: (i, _apply_one(client, i, options)), batch))
        progress.applied.extend(i.key.describe() for i, error in results if error is None)
        failures = [(f"{i.key.describe()} ({i.source})", error) for i, error in results if error is not None]
        if failures:
            raise progress.fail(failures)
        crds = [i for i in batch if i.key.kind == "CustomResourceDefinition"]
        if crds:
            _wait_established(client, crds, options.wait_timeout, options.workers)
    _prune(client, plan, pool, progress)
    if options.applyset:
        # The deployed revision stays as it was until the whole environment succeeded (record_deployed).
        _write_parent(client, options, _kinds(keep), _namespaces(keep), progress, ApplySet.deployed(parent))


def record_deployed(client, plan, options, record):
    """Write ``record`` ({revision, tree}) on the ApplySet parent: the last write of a successful run."""
    keep = [item for item in plan if item.desired is not None]
    _write_parent(client, options, _kinds(keep), _namespaces(keep), _Progress(), record)


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
    body = body_for(item, ignored(item, options), options.field_manager)[0]
    try:
        item.after = server_side_apply(client, item, body, options, dry_run=False)
        item.applied = True
    except ApiError as exc:
        return rejection(client, item, body, options, exc)
    except TridentError as exc:  # the server unreachable
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
