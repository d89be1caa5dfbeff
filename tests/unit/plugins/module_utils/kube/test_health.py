"""Health rules against plain dicts shaped like what the API server returns."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.module_utils.kube.health import (
    DEGRADED, HEALTHY, MISSING, PROGRESSING, SEVERITY, SUSPENDED, UNKNOWN, Health, health, worst)


def obj(api_version, kind, spec=None, status=None, generation=1, **metadata):
    made = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "generation": generation, **metadata}}
    if spec is not None:
        made["spec"] = spec
    if status is not None:
        made["status"] = status
    return made


def cond(kind, status="True", reason="", message="", **extra):
    return {"type": kind, "status": status, "reason": reason, "message": message, **extra}


def deploy(spec=None, **status):
    return obj("apps/v1", "Deployment", {"replicas": 3, **(spec or {})}, {"observedGeneration": 1, **status})


ROLLED_OUT = {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}


@pytest.mark.parametrize("made, status, words", [
    (deploy(**ROLLED_OUT), HEALTHY, ""),
    (deploy({"paused": True}, **ROLLED_OUT), SUSPENDED, "paused"),
    (deploy(**{**ROLLED_OUT, "observedGeneration": 0}), PROGRESSING, "observe the latest generation"),
    (deploy(replicas=3, updatedReplicas=1, availableReplicas=3), PROGRESSING, "1 of 3 new replicas"),
    (deploy(replicas=4, updatedReplicas=3, availableReplicas=3), PROGRESSING, "1 old replicas"),
    (deploy(replicas=3, updatedReplicas=3, availableReplicas=2), PROGRESSING, "2 of 3 updated replicas available"),
    (deploy(replicas=3, updatedReplicas=1, conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded",
                                                            'ReplicaSet "x-1" has timed out progressing.')]),
     DEGRADED, "progress deadline: ReplicaSet"),
    # No replicas in the spec means one.
    (obj("apps/v1", "Deployment", {}, {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                                       "availableReplicas": 1}), HEALTHY, ""),
    (obj("apps/v1", "Deployment", {"replicas": 0}, {"observedGeneration": 1}), HEALTHY, ""),
])
def test_deployment(made, status, words):
    result = health(made)
    assert result.status == status
    assert words in result.reason


@pytest.mark.parametrize("made, status, words", [
    (obj("apps/v1", "ReplicaSet", {"replicas": 2}, {"observedGeneration": 1, "availableReplicas": 2}), HEALTHY, ""),
    (obj("apps/v1", "ReplicaSet", {"replicas": 2}, {"observedGeneration": 1, "availableReplicas": 1}),
     PROGRESSING, "1 of 2"),
    (obj("apps/v1", "ReplicaSet", {"replicas": 2}, {"observedGeneration": 1, "conditions": [
        cond("ReplicaFailure", reason="FailedCreate", message="exceeded quota")]}), DEGRADED, "FailedCreate: exceeded"),
    (obj("apps/v1", "ReplicaSet", {"replicas": 2}, {"availableReplicas": 2}), PROGRESSING, "latest generation"),
])
def test_replica_set(made, status, words):
    result = health(made)
    assert (result.status, words in result.reason) == (status, True)


def sts(spec=None, **status):
    return obj("apps/v1", "StatefulSet", {"replicas": 2, **(spec or {})}, {"observedGeneration": 1, **status})


@pytest.mark.parametrize("made, status, words", [
    (sts(readyReplicas=2, currentRevision="r1", updateRevision="r1"), HEALTHY, ""),
    (sts(readyReplicas=1, currentRevision="r1", updateRevision="r1"), PROGRESSING, "1 of 2 pods ready"),
    (sts(readyReplicas=2, updatedReplicas=1, currentRevision="r1", updateRevision="r2"), PROGRESSING, "revision r2"),
    (sts({"updateStrategy": {"type": "OnDelete"}}, readyReplicas=2, currentRevision="r1", updateRevision="r2"),
     HEALTHY, ""),
    (sts({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}, readyReplicas=2,
         updatedReplicas=0, currentRevision="r1", updateRevision="r2"), PROGRESSING, "0 of 1 new pods"),
    (sts({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}, readyReplicas=2,
         updatedReplicas=1, currentRevision="r1", updateRevision="r2"), HEALTHY, ""),
    (obj("apps/v1", "StatefulSet", {"replicas": 2}, {"readyReplicas": 2}), PROGRESSING, "latest generation"),
])
def test_stateful_set(made, status, words):
    result = health(made)
    assert (result.status, words in result.reason) == (status, True)


def ds(spec=None, **status):
    return obj("apps/v1", "DaemonSet", spec or {}, {"observedGeneration": 1, **status})


@pytest.mark.parametrize("made, status, words", [
    (ds(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3), HEALTHY, ""),
    (ds(desiredNumberScheduled=3, updatedNumberScheduled=2, numberAvailable=3), PROGRESSING, "2 of 3 new pods"),
    (ds(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=1), PROGRESSING, "1 of 3 updated"),
    (ds({"updateStrategy": {"type": "OnDelete"}}, desiredNumberScheduled=3, updatedNumberScheduled=0), HEALTHY, ""),
])
def test_daemon_set(made, status, words):
    result = health(made)
    assert (result.status, words in result.reason) == (status, True)


def pod(phase, containers=(), conditions=(), restart_policy=None, **metadata):
    spec = {"restartPolicy": restart_policy} if restart_policy else {}
    return obj("v1", "Pod", spec, {"phase": phase, "containerStatuses": list(containers),
                                   "conditions": list(conditions)}, **metadata)


def waiting(reason, message=""):
    return {"name": "app", "state": {"waiting": {"reason": reason, "message": message}}}


RESTARTED = {"name": "app", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}}


@pytest.mark.parametrize("made, status, words", [
    (pod("Running", conditions=[cond("Ready")]), HEALTHY, ""),
    (pod("Running", conditions=[cond("Ready", "False")]), PROGRESSING, "not ready"),
    (pod("Running", [RESTARTED], [cond("Ready", "False")]), DEGRADED, "terminated"),
    (pod("Running", [waiting("CrashLoopBackOff", "back-off 5m0s")]), DEGRADED, "app: CrashLoopBackOff: back-off"),
    (pod("Pending", [waiting("ImagePullBackOff")]), DEGRADED, "ImagePullBackOff"),
    (pod("Pending", [waiting("ErrImagePull")]), DEGRADED, "ErrImagePull"),
    (pod("Pending", [waiting("CreateContainerConfigError")]), DEGRADED, "CreateContainerConfigError"),
    (pod("Pending", [waiting("ContainerCreating")]), PROGRESSING, ""),
    (pod("Pending", conditions=[cond("PodScheduled", "False", "Unschedulable", "0/3 nodes are available")]),
     PROGRESSING, "Unschedulable: 0/3 nodes"),
    (pod("Succeeded"), HEALTHY, ""),
    (pod("Failed"), DEGRADED, "pod failed"),
    (pod("Unknown"), UNKNOWN, "Unknown"),
    (pod("Running", restart_policy="Never"), PROGRESSING, "to completion"),
    (pod("Running", conditions=[cond("Ready")], deletionTimestamp="2026-01-01T00:00:00Z"), PROGRESSING,
     "terminating"),
])
def test_pod(made, status, words):
    result = health(made)
    assert (result.status, words in result.reason) == (status, True), result


@pytest.mark.parametrize("spec, status_, expected, words", [
    ({}, {"conditions": [cond("Complete")], "succeeded": 1}, HEALTHY, ""),
    ({}, {"conditions": [cond("Failed", reason="BackoffLimitExceeded", message="Job has reached the limit")]},
     DEGRADED, "BackoffLimitExceeded: Job has reached"),
    ({}, {"active": 1}, PROGRESSING, "1 active"),
    ({"suspend": True}, {}, SUSPENDED, "suspended"),
    ({}, {"conditions": [cond("Failed", "False"), cond("Complete", "False")], "active": 1}, PROGRESSING, "active"),
])
def test_job(spec, status_, expected, words):
    result = health(obj("batch/v1", "Job", spec, status_))
    assert (result.status, words in result.reason) == (expected, True)


@pytest.mark.parametrize("spec, status_, expected", [
    ({"suspend": True}, {}, SUSPENDED),
    ({}, {}, HEALTHY),
    ({}, {"lastScheduleTime": "2026-01-01T10:00:00Z", "lastSuccessfulTime": "2026-01-01T10:00:07Z"}, HEALTHY),
    ({}, {"lastScheduleTime": "2026-01-01T11:00:00Z", "lastSuccessfulTime": "2026-01-01T10:00:07Z",
          "active": [{"name": "j"}]}, PROGRESSING),
    ({}, {"lastScheduleTime": "2026-01-01T11:00:00Z", "lastSuccessfulTime": "2026-01-01T10:00:07Z"}, DEGRADED),
    ({}, {"lastScheduleTime": "2026-01-01T11:00:00Z"}, DEGRADED),
])
def test_cron_job(spec, status_, expected):
    assert health(obj("batch/v1", "CronJob", spec, status_)).status == expected


def test_services_and_ingresses_wait_for_a_load_balancer_address():
    lb = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    assert health(obj("v1", "Service", {"type": "ClusterIP"}, {})).status == HEALTHY
    assert health(obj("v1", "Service", {"type": "LoadBalancer"}, {"loadBalancer": {}})).status == PROGRESSING
    assert health(obj("v1", "Service", {"type": "LoadBalancer"}, lb)).status == HEALTHY
    assert health(obj("networking.k8s.io/v1", "Ingress", {}, {})).status == PROGRESSING
    assert health(obj("networking.k8s.io/v1", "Ingress", {}, lb)).status == HEALTHY


@pytest.mark.parametrize("phase, expected", [("Bound", HEALTHY), ("Pending", PROGRESSING), ("Lost", DEGRADED),
                                             (None, UNKNOWN)])
def test_persistent_volume_claim(phase, expected):
    assert health(obj("v1", "PersistentVolumeClaim", {}, {"phase": phase} if phase else {})).status == expected


@pytest.mark.parametrize("conditions, expected", [
    ([cond("AbleToScale", reason="SucceededGetScale"), cond("ScalingActive", reason="ValidMetricFound"),
      cond("ScalingLimited", "False", reason="DesiredWithinRange")], HEALTHY),
    ([cond("AbleToScale", reason="SucceededGetScale"),
      cond("ScalingActive", "False", reason="FailedGetResourceMetric", message="no metrics")], DEGRADED),
    ([cond("AbleToScale", "False", reason="FailedGetScale")], DEGRADED),
    ([], PROGRESSING),
])
def test_horizontal_pod_autoscaler(conditions, expected):
    assert health(obj("autoscaling/v2", "HorizontalPodAutoscaler", {}, {"conditions": conditions})).status == expected


def test_autoscaling_v1_conditions_come_from_the_annotation():
    annotation = '[{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "no scale"}]'
    made = obj("autoscaling/v1", "HorizontalPodAutoscaler", {}, {},
               annotations={"autoscaling.alpha.kubernetes.io/conditions": annotation})
    assert health(made) == Health(DEGRADED, "FailedGetScale: no scale")
    made["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] = "{not json"
    assert health(made).status == UNKNOWN


@pytest.mark.parametrize("conditions, expected, words", [
    ([cond("NamesAccepted"), cond("Established")], HEALTHY, ""),
    ([cond("NamesAccepted"), cond("Established", "False")], PROGRESSING, "not established"),
    ([cond("NamesAccepted", "False", "MultipleNames", "plural is already in use")], DEGRADED, "already in use"),
    ([cond("Established"), cond("NonStructuralSchema", message="items must be a schema")], DEGRADED, "items"),
])
def test_custom_resource_definition(conditions, expected, words):
    result = health(obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", {}, {"conditions": conditions}))
    assert (result.status, words in result.reason) == (expected, True)


def test_api_service():
    made = obj("apiregistration.k8s.io/v1", "APIService", {}, {"conditions": [cond("Available")]})
    assert health(made).status == HEALTHY
    made["status"]["conditions"] = [cond("Available", "False", "MissingEndpoints", "no endpoints")]
    assert health(made) == Health(PROGRESSING, "MissingEndpoints: no endpoints")
    assert health(obj("apiregistration.k8s.io/v1", "APIService", {}, {})).status == PROGRESSING


def test_namespace():
    assert health(obj("v1", "Namespace", {}, {"phase": "Active"})).status == HEALTHY
    left = cond("NamespaceContentRemaining", message="Some resources are remaining: pods. has 2 resource instances")
    terminating = health(obj("v1", "Namespace", {}, {"phase": "Terminating", "conditions": [left]}))
    assert terminating.status == PROGRESSING and "pods. has 2" in terminating.reason
    stuck = cond("NamespaceDeletionDiscoveryFailure", message="unable to retrieve the complete list")
    assert health(obj("v1", "Namespace", {}, {"phase": "Terminating", "conditions": [stuck]})).status == DEGRADED


def cr(status=None, spec=None, generation=2, **metadata):
    return obj("example.com/v1", "Widget", spec or {}, status, generation=generation, **metadata)


@pytest.mark.parametrize("made, expected, words", [
    (cr(), HEALTHY, ""),
    (cr({"conditions": [cond("Ready")]}), HEALTHY, ""),
    (cr({"conditions": [cond("Ready", "False", "InstallFailed", "chart not found")]}), DEGRADED,
     "InstallFailed: chart not found"),
    (cr({"conditions": [cond("Ready", "Unknown", "Progressing")]}), PROGRESSING, "Progressing"),
    (cr({"conditions": [cond("Available", "False", "MinimumReplicasUnavailable")]}), DEGRADED, "Minimum"),
    (cr({"conditions": [cond("Ready"), cond("Stalled", reason="BadConfig")]}), DEGRADED, "BadConfig"),
    (cr({"conditions": [cond("Ready", "False"), cond("Reconciling", reason="Upgrading")]}), PROGRESSING, "Upgrading"),
    (cr({"observedGeneration": 1, "conditions": [cond("Ready")]}), PROGRESSING, "generation 2 not observed"),
    (cr({"observedGeneration": 2, "conditions": [cond("Ready")]}), HEALTHY, ""),
    (cr({"conditions": [cond("Ready", observedGeneration=1)]}), PROGRESSING, "older generation"),
    (cr({"conditions": [cond("Ready")]}, {"suspend": True}), SUSPENDED, "suspend"),
    (cr({"conditions": [cond("Ready")]}, deletionTimestamp="2026-01-01T00:00:00Z"), PROGRESSING, "deleted"),
    # Objects without status (ConfigMaps, RBAC...) have nothing to be unhealthy about.
    (obj("v1", "ConfigMap"), HEALTHY, ""),
])
def test_custom_resources_by_conditions(made, expected, words):
    result = health(made)
    assert (result.status, words in result.reason) == (expected, True), result


def test_missing_object():
    assert health(None) == Health(MISSING, "not found in the cluster")


def test_worst_of_several():
    assert worst([HEALTHY, PROGRESSING, SUSPENDED]) == PROGRESSING
    assert worst([HEALTHY, DEGRADED, MISSING]) == DEGRADED
    assert worst([]) == HEALTHY
    assert set(SEVERITY) == {HEALTHY, PROGRESSING, DEGRADED, SUSPENDED, MISSING, UNKNOWN}


def test_as_dict():
    assert Health(DEGRADED, "why").as_dict() == {"status": "Degraded", "reason": "why"}


SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
KINDS = st.sampled_from([("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                         ("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
                         ("v1", "Service"), ("v1", "Namespace"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                         ("example.com/v1", "Widget")])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(KINDS, JSONISH, JSONISH)
def test_any_status_shape_gives_a_status_never_an_exception(kind, spec, status):
    made = {"apiVersion": kind[0], "kind": kind[1], "metadata": {"name": "x", "generation": 1},
            "spec": spec, "status": status}
    assert health(made).status in SEVERITY
