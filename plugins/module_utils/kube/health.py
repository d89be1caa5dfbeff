"""Health of one live Kubernetes object, in Argo CD's words, from the object alone.

Sync status says whether the cluster holds what Git says; health says whether what it holds works.
Each rule reads only the object as the API server returned it (its spec, metadata and the status
its controllers wrote), so checking every object of a run costs no request. The rules follow Argo
CD's (gitops-engine's pkg/health) for the built-in kinds and the kstatus conventions
(sigs.k8s.io/cli-utils) for custom resources: observedGeneration, Reconciling / Stalled,
Ready / Available.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

HEALTHY = "Healthy"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
MISSING = "Missing"
UNKNOWN = "Unknown"
# Worst first: the health of a group of objects is that of its worst member (as Argo CD does).
SEVERITY = (UNKNOWN, DEGRADED, MISSING, PROGRESSING, SUSPENDED, HEALTHY)


@dataclass(frozen=True)
class Health:
    """A status from the vocabulary above and why (empty when there is nothing to say)."""

    status: str
    reason: str = ""

    def as_dict(self):
        return {"status": self.status, "reason": self.reason}


def worst(statuses):
    """The worst of several statuses (Healthy for none)."""
    return min(statuses, key=SEVERITY.index, default=HEALTHY)


# -- reading an object ------------------------------------------------------------------------------------
def _status(obj):
    return obj.get("status") or {}


def _spec(obj):
    return obj.get("spec") or {}


def _conditions(obj):
    """type -> condition, for the well-formed entries of status.conditions."""
    return {c["type"]: c for c in _status(obj).get("conditions") or [] if isinstance(c, dict) and c.get("type")}


def _is_true(condition):
    return bool(condition) and condition.get("status") == "True"


def _is_false(condition):
    return bool(condition) and condition.get("status") == "False"


def _detail(condition):
    """``Reason: message`` of a condition, as short as it can be."""
    parts = [p for p in (condition.get("reason"), condition.get("message")) if p]
    return ": ".join(parts) or f"{condition.get('type')}={condition.get('status')}"


def _generation_pending(obj):
    """True when the controller has not yet seen the latest spec (observedGeneration behind generation)."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    return bool(generation) and (observed is None or observed < generation)


def _replicas(obj):
    replicas = _spec(obj).get("replicas")
    return 1 if replicas is None else replicas


# -- workloads ------------------------------------------------------------------------------------------
def deployment(obj):
    status = _status(obj)
    if _spec(obj).get("paused"):
        return Health(SUSPENDED, "Deployment is paused")
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the deployment controller to observe the latest generation")
    progressing = _conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, f"exceeded its progress deadline: {progressing.get('message', '')}".rstrip(": "))
    want, updated = _replicas(obj), status.get("updatedReplicas", 0)
    if updated < want:
        return Health(PROGRESSING, f"waiting for rollout to finish: {updated} of {want} new replicas updated")
    if status.get("replicas", 0) > updated:
        old = status["replicas"] - updated
        return Health(PROGRESSING, f"waiting for rollout to finish: {old} old replicas pending termination")
    available = status.get("availableReplicas", 0)
    if available < updated:
        return Health(PROGRESSING, f"waiting for rollout to finish: {available} of {updated} updated replicas "
                                   "available")
    return Health(HEALTHY)


def replica_set(obj):
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the replica set controller to observe the latest generation")
    failure = _conditions(obj).get("ReplicaFailure")
    if _is_true(failure):
        return Health(DEGRADED, _detail(failure))
    want, available = _replicas(obj), _status(obj).get("availableReplicas", 0)
    if available < want:
        return Health(PROGRESSING, f"{available} of {want} replicas available")
    return Health(HEALTHY)


def stateful_set(obj):
    status, spec = _status(obj), _spec(obj)
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the stateful set controller to observe the latest generation")
    want, ready = _replicas(obj), status.get("readyReplicas", 0)
    if ready < want:
        return Health(PROGRESSING, f"{ready} of {want} pods ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY)
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if partition:
        updated = status.get("updatedReplicas", 0)
        if updated < want - partition:
            return Health(PROGRESSING, f"partitioned rollout: {updated} of {want - partition} new pods updated")
        return Health(HEALTHY)
    if status.get("updateRevision") != status.get("currentRevision"):
        return Health(PROGRESSING, f"rolling update: {status.get('updatedReplicas', 0)} of {want} pods at revision "
                                   f"{status.get('updateRevision')}")
    return Health(HEALTHY)


def daemon_set(obj):
    status = _status(obj)
    if _generation_pending(obj):
        return Health(PROGRESSING, "waiting for the daemon set controller to observe the latest generation")
    if ((_spec(obj).get("updateStrategy") or {}).get("type")) == "OnDelete":
        return Health(HEALTHY)
    desired = status.get("desiredNumberScheduled", 0)
    updated, available = status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0)
    if updated < desired:
        return Health(PROGRESSING, f"waiting for rollout to finish: {updated} of {desired} new pods updated")
    if available < desired:
        return Health(PROGRESSING, f"waiting for rollout to finish: {available} of {desired} updated pods "
                                   "available")
    return Health(HEALTHY)


def _container_failure(status):
    """Why a container cannot run (image pull errors, crash loops...), or None."""
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason.startswith("Err") or reason.endswith(("Error", "BackOff")):
            message = f": {waiting['message']}" if waiting.get("message") else ""
            return f"container {container.get('name')}: {reason}{message}"
    return None


def pod(obj):
    status, spec = _status(obj), _spec(obj)
    phase = status.get("phase")
    if (obj.get("metadata") or {}).get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        return Health(PROGRESSING, "pod is terminating")
    failure = _container_failure(status) if phase in ("Pending", "Running") else None
    if failure:
        return Health(DEGRADED, failure)
    if phase == "Succeeded":
        return Health(HEALTHY, status.get("message", ""))
    if phase == "Failed":
        return Health(DEGRADED, status.get("message") or status.get("reason") or "pod failed")
    if phase == "Pending":
        scheduled = _conditions(obj).get("PodScheduled")
        return Health(PROGRESSING, _detail(scheduled) if _is_false(scheduled) else status.get("message", "pending"))
    if phase != "Running":
        return Health(UNKNOWN, status.get("message") or f"pod phase {phase or 'not reported'}")
    if spec.get("restartPolicy", "Always") != "Always":
        return Health(PROGRESSING, "pod is running to completion")
    if _is_true(_conditions(obj).get("Ready")):
        return Health(HEALTHY)
    if any((c.get("lastState") or {}).get("terminated") for c in status.get("containerStatuses") or []):
        return Health(DEGRADED, "a container terminated and the pod is not ready")
    return Health(PROGRESSING, "pod is running, not ready yet")


def job(obj):
    conditions = _conditions(obj)
    failed = conditions.get("Failed")
    if _is_true(failed):
        return Health(DEGRADED, _detail(failed))
    if _is_true(conditions.get("Complete")):
        return Health(HEALTHY)
    if _spec(obj).get("suspend") or _is_true(conditions.get("Suspended")):
        return Health(SUSPENDED, "Job is suspended")
    status = _status(obj)
    return Health(PROGRESSING, f"{status.get('active', 0)} active, {status.get('succeeded', 0)} succeeded, "
                               f"{status.get('failed', 0)} failed")


def cron_job(obj):
    status = _status(obj)
    if _spec(obj).get("suspend"):
        return Health(SUSPENDED, "CronJob is suspended")
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if not scheduled:
        return Health(HEALTHY, "never ran yet")
    # RFC 3339 UTC timestamps of one format compare correctly as strings.
    if succeeded and succeeded >= scheduled:
        return Health(HEALTHY)
    if status.get("active"):
        return Health(PROGRESSING, "a job is running")
    return Health(DEGRADED, f"the job scheduled at {scheduled} did not succeed")


# -- networking, storage, autoscaling ---------------------------------------------------------------------
def _load_balancer(obj, what):
    if ((_status(obj).get("loadBalancer") or {}).get("ingress")):
        return Health(HEALTHY)
    return Health(PROGRESSING, f"waiting for the {what} to get a load balancer address")


def service(obj):
    if _spec(obj).get("type") != "LoadBalancer":
        return Health(HEALTHY)
    return _load_balancer(obj, "Service")


def ingress(obj):
    return _load_balancer(obj, "Ingress")


def persistent_volume_claim(obj):
    phase = _status(obj).get("phase")
    if phase == "Bound":
        return Health(HEALTHY)
    if phase == "Pending":
        return Health(PROGRESSING, "waiting for a volume to be bound")
    if phase == "Lost":
        return Health(DEGRADED, "its volume is lost")
    return Health(UNKNOWN, f"phase {phase or 'not reported'}")


HPA_DEGRADED = {("AbleToScale", "FailedGetScale"), ("AbleToScale", "FailedUpdateScale"),
                ("ScalingActive", "FailedGetResourceMetric"), ("ScalingActive", "InvalidSelector")}
HPA_HEALTHY = {("AbleToScale", "SucceededRescale"), ("ScalingLimited", "DesiredWithinRange"),
               ("ScalingLimited", "TooFewReplicas"), ("ScalingLimited", "TooManyReplicas")}


def horizontal_pod_autoscaler(obj):
    conditions = list(_conditions(obj).values())
    if not conditions:  # autoscaling/v1 keeps them in an annotation
        raw = ((obj.get("metadata") or {}).get("annotations") or {}).get("autoscaling.alpha.kubernetes.io/conditions")
        try:
            conditions = [c for c in json.loads(raw) if isinstance(c, dict)] if raw else []
        except ValueError:
            return Health(UNKNOWN, "unreadable autoscaling.alpha.kubernetes.io/conditions annotation")
    for condition in conditions:
        pair = (condition.get("type"), condition.get("reason"))
        if pair in HPA_DEGRADED:
            return Health(DEGRADED, _detail(condition))
        if pair in HPA_HEALTHY:
            return Health(HEALTHY, condition.get("message", ""))
    return Health(PROGRESSING, "waiting to autoscale")


# -- API machinery ---------------------------------------------------------------------------------------
def custom_resource_definition(obj):
    conditions = _conditions(obj)
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return Health(PROGRESSING, "CustomResourceDefinition is terminating")
    if _is_false(conditions.get("NamesAccepted")):
        return Health(DEGRADED, _detail(conditions["NamesAccepted"]))
    if _is_true(conditions.get("NonStructuralSchema")):
        return Health(DEGRADED, _detail(conditions["NonStructuralSchema"]))
    if _is_true(conditions.get("Established")):
        return Health(HEALTHY)
    return Health(PROGRESSING, "not established yet")


def api_service(obj):
    available = _conditions(obj).get("Available")
    if _is_true(available):
        return Health(HEALTHY)
    if available:
        return Health(PROGRESSING, _detail(available))
    return Health(PROGRESSING, "waiting to be processed")


NAMESPACE_FAILURES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                      "NamespaceDeletionContentFailure")


def namespace(obj):
    phase = _status(obj).get("phase")
    if phase == "Terminating" or (obj.get("metadata") or {}).get("deletionTimestamp"):
        conditions = _conditions(obj)
        failures = [_detail(conditions[t]) for t in NAMESPACE_FAILURES if _is_true(conditions.get(t))]
        if failures:
            return Health(DEGRADED, "deletion is stuck: " + "; ".join(failures))
        left = [_detail(c) for t, c in sorted(conditions.items()) if t.endswith("Remaining") and _is_true(c)]
        return Health(PROGRESSING, "namespace is terminating" + (": " + "; ".join(left) if left else ""))
    return Health(HEALTHY)


# -- everything else: custom resources by their conditions (kstatus) ----------------------------------------
def by_conditions(obj):
    """kstatus's rules, with Argo CD's words: observedGeneration, Reconciling, Stalled, Ready, Available."""
    metadata, conditions = obj.get("metadata") or {}, _conditions(obj)
    if metadata.get("deletionTimestamp"):
        return Health(PROGRESSING, "being deleted")
    if _spec(obj).get("suspend") is True:
        return Health(SUSPENDED, "spec.suspend is true")
    if "observedGeneration" in _status(obj) and _generation_pending(obj):
        return Health(PROGRESSING, f"generation {metadata.get('generation')} not observed by its controller yet")
    if _is_true(conditions.get("Stalled")):
        return Health(DEGRADED, _detail(conditions["Stalled"]))
    if _is_true(conditions.get("Reconciling")):
        return Health(PROGRESSING, _detail(conditions["Reconciling"]))
    for name in ("Ready", "Available"):
        condition = conditions.get(name)
        if not condition:
            continue
        stale = condition.get("observedGeneration", metadata.get("generation")) != metadata.get("generation")
        if stale:
            return Health(PROGRESSING, f"condition {name} is about an older generation")
        if _is_true(condition):
            return Health(HEALTHY)
        if _is_false(condition):
            return Health(DEGRADED, _detail(condition))
        return Health(PROGRESSING, _detail(condition))
    return Health(HEALTHY)


RULES = {
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replica_set,
    ("apps", "StatefulSet"): stateful_set,
    ("apps", "DaemonSet"): daemon_set,
    ("", "Pod"): pod,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cron_job,
    ("", "Service"): service,
    ("networking.k8s.io", "Ingress"): ingress,
    ("", "PersistentVolumeClaim"): persistent_volume_claim,
    ("autoscaling", "HorizontalPodAutoscaler"): horizontal_pod_autoscaler,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): custom_resource_definition,
    ("apiregistration.k8s.io", "APIService"): api_service,
    ("", "Namespace"): namespace,
}


def health(obj):
    """The :class:`Health` of one object as read from the API server; ``None`` (not found) is Missing."""
    if obj is None:
        return Health(MISSING, "not found in the cluster")
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    rule = RULES.get((group, obj.get("kind")), by_conditions)
    try:
        return rule(obj)
    except (AttributeError, TypeError, ValueError) as exc:  # a status of an unexpected shape
        return Health(UNKNOWN, f"unreadable status ({type(exc).__name__})")
