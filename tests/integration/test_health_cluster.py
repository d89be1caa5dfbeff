"""Health of objects the real controllers work on (the fuller cluster: controller-manager, scheduler, kwok).

Every object is read back from kube-apiserver and judged by kube/health.py; pod states come from
the kwok Stages of tools/testbed/kwok/stages/, chosen by the testbed.trident.gitops/pod-state
annotation.
"""

import time

import pytest

from kube_support import HEALTHY_TIMEOUT, client, config_map, crd, deployment, kube_diff, namespace, unique
from testbed.workloads import POD_STATE
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import (
    DEGRADED, HEALTHY, MISSING, PROGRESSING, Health, health)

# All tests of the fuller cluster run on one worker, sharing its one cluster (make integration: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("workload_cluster")
TIMEOUT = HEALTHY_TIMEOUT  # for a controller to act; each wait normally ends within a few seconds


@pytest.fixture()
def kube(workload_cluster):
    return client(workload_cluster)


@pytest.fixture()
def ns(workload_cluster):
    return workload_cluster.workloads.pod_namespace(unique("health"))


def read(kube, path):
    """The object at ``path`` as the API server has it, or None when it does not exist."""
    try:
        return kube.request("GET", path)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def eventually(kube, path, status, timeout=TIMEOUT):
    """Poll until the object's health is ``status``; return the object (or None for Missing)."""
    deadline = time.monotonic() + timeout
    while True:
        live = read(kube, path)
        judged = health(live)
        if judged.status == status:
            return live
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} still {judged} after {timeout}s, not {status}")
        time.sleep(0.25)


def apply(kube, path, body):
    query = {"fieldManager": "health-test", "force": "true"}
    return kube.request("PATCH", path, query, body, content_type=APPLY_PATCH)


def with_pod_state(obj, state):
    obj["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})[POD_STATE] = state
    return obj


def pods(kube, ns, selector):
    items = kube.request("GET", f"/api/v1/namespaces/{ns}/pods", {"labelSelector": selector})["items"]
    # Items of a LIST carry no apiVersion and kind; health() needs them to pick the Pod rule.
    return [{"apiVersion": "v1", "kind": "Pod", **item} for item in items]


def test_deployment_update_rolls_out_and_is_healthy(workload_cluster, kube, ns, tmp_path):
    web = {**deployment("web", image="nginx:1.27", replicas=2), "metadata": {"name": "web", "namespace": ns}}
    kube_diff(workload_cluster, tmp_path, [web], apply=True, namespace=ns)
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    first = eventually(kube, path, HEALTHY)
    assert first["status"]["availableReplicas"] == 2
    running = pods(kube, ns, "app=web")
    assert len(running) == 2 and all(health(p).status == HEALTHY for p in running)
    assert all(p["spec"]["nodeName"].startswith("kwok-node-") for p in running), "the scheduler placed them"

    web["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    written = apply(kube, path, web)
    # The write's own answer: the controller has not seen generation 2 yet.
    assert health(written).status == PROGRESSING
    done = eventually(kube, path, HEALTHY)
    assert done["status"]["observedGeneration"] == written["metadata"]["generation"] == 2
    assert done["status"]["updatedReplicas"] == 2
    sets = kube.request("GET", f"/apis/apps/v1/namespaces/{ns}/replicasets", {"labelSelector": "app=web"})["items"]
    images = {s["spec"]["template"]["spec"]["containers"][0]["image"]: s["spec"]["replicas"] for s in sets}
    assert images == {"nginx:1.27": 0, "nginx:1.28": 2}, "the old ReplicaSet was scaled down"


def test_rollout_that_never_becomes_ready_is_degraded_after_its_progress_deadline(kube, ns):
    stuck = with_pod_state(deployment("stuck", replicas=1, progressDeadlineSeconds=3), "never-ready")
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/stuck"
    created = apply(kube, path, stuck)
    assert health(created).status == PROGRESSING
    degraded = eventually(kube, path, DEGRADED)
    assert "progress deadline" in health(degraded).reason
    (pod,) = pods(kube, ns, "app=stuck")
    assert pod["status"]["phase"] == "Running"
    assert health(pod) == Health(PROGRESSING, "pod is running, not ready yet")


@pytest.mark.parametrize("state, reason", [("crash-loop", "CrashLoopBackOff"),
                                           ("image-pull-error", "ImagePullBackOff")])
def test_pods_that_cannot_run_are_degraded(kube, ns, state, reason):
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": state, "annotations": {POD_STATE: state}},
            "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]}}
    path = f"/api/v1/namespaces/{ns}/pods/{state}"
    apply(kube, path, body)
    assert reason in health(eventually(kube, path, DEGRADED)).reason


def job(name, state=None):
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "busybox:1"}]}}
    if state:
        template["metadata"] = {"annotations": {POD_STATE: state}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": template}}


def test_jobs_complete_or_fail(kube, ns):
    for name, state in (("works", None), ("breaks", "fail")):
        apply(kube, f"/apis/batch/v1/namespaces/{ns}/jobs/{name}", job(name, state))
    works = eventually(kube, f"/apis/batch/v1/namespaces/{ns}/jobs/works", HEALTHY)
    assert works["status"]["succeeded"] == 1
    broken = eventually(kube, f"/apis/batch/v1/namespaces/{ns}/jobs/breaks", DEGRADED)
    assert "BackoffLimitExceeded" in health(broken).reason
    assert broken["status"]["failed"] == 1


def test_pruned_namespace_with_its_objects_is_finalised(workload_cluster, tmp_path):
    doomed = unique("doomed")
    keep = unique("keep")
    applyset = {"name": "env", "namespace": keep}
    web = {**deployment("web", replicas=2), "metadata": {"name": "web", "namespace": doomed}}
    settings = {**config_map("settings", {"k": "v"}), "metadata": {"name": "settings", "namespace": doomed}}
    objects = [namespace(keep), namespace(doomed), web, settings]
    kube_diff(workload_cluster, tmp_path, objects, apply=True, prune=True, applyset=applyset, namespace=keep)
    kube = client(workload_cluster)
    eventually(kube, f"/apis/apps/v1/namespaces/{doomed}/deployments/web", HEALTHY)
    assert len(pods(kube, doomed, "app=web")) == 2

    result = kube_diff(workload_cluster, tmp_path, [namespace(keep)], apply=True, prune=True, applyset=applyset,
                       namespace=keep)
    assert result["summary"]["delete"] == 3
    # The namespace controller deletes what is left in it, kwok's nodes let the Pods go, then it is gone.
    assert eventually(kube, f"/api/v1/namespaces/{doomed}", MISSING) is None
    assert health(read(kube, f"/api/v1/namespaces/{keep}")).status == HEALTHY


def test_custom_resource_health_follows_its_ready_condition(kube, ns):
    group = f"{unique('g')}.health.example.com"
    definition = crd(group, "Gadget", "gadgets", status=True)
    apply(kube, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}", definition)
    eventually(kube, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}", HEALTHY)
    path = f"/apis/{group}/v1/namespaces/{ns}/gadgets/g1"
    created = eventually_created(kube, path, {"apiVersion": f"{group}/v1", "kind": "Gadget",
                                              "metadata": {"name": "g1"}, "spec": {"size": 1}})
    assert health(created).status == HEALTHY, "no conditions yet: nothing to be unhealthy about"

    def set_ready(status, reason, message):
        body = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"},
                "status": {"observedGeneration": 1, "conditions": [
                    {"type": "Ready", "status": status, "reason": reason, "message": message,
                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
        kube.request("PATCH", path + "/status", {"fieldManager": "gadget-controller", "force": "true"}, body,
                     content_type=APPLY_PATCH)
        return health(read(kube, path))

    assert set_ready("False", "InstallFailed", "chart not found").status == DEGRADED
    assert set_ready("False", "InstallFailed", "chart not found").reason == "InstallFailed: chart not found"
    assert set_ready("True", "Installed", "").status == HEALTHY
    apply(kube, path, {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 2}})
    assert health(read(kube, path)).status == PROGRESSING, "generation 2 is not observed by its controller"


def eventually_created(kube, path, body, timeout=TIMEOUT):
    """Create a custom resource once its freshly established kind is served."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return apply(kube, path, body)
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def test_dependents_are_garbage_collected_with_their_owner(kube, ns):
    owner = kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=config_map("owner", {"k": "v"}))
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    dependent = config_map("dependent", {"k": "v"})
    dependent["metadata"]["ownerReferences"] = [reference]
    kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=dependent)
    apply(kube, f"/apis/apps/v1/namespaces/{ns}/deployments/web", deployment("web", replicas=1))
    eventually(kube, f"/apis/apps/v1/namespaces/{ns}/deployments/web", HEALTHY)

    background = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    kube.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/owner", body=background)
    kube.request("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/web", body=background)
    assert eventually(kube, f"/api/v1/namespaces/{ns}/configmaps/dependent", MISSING) is None
    deadline = time.monotonic() + TIMEOUT
    while kube.request("GET", f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"] or pods(kube, ns, "app=web"):
        assert time.monotonic() < deadline, "the Deployment's ReplicaSet and Pods were not collected"
        time.sleep(0.25)


def lease_renewals(kube, names):
    leases = kube.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")["items"]
    return {lease["metadata"]["name"]: lease["spec"].get("renewTime") for lease in leases
            if lease["metadata"]["name"] in names}


def test_kwok_renews_the_node_leases_so_nodes_stay_ready(workload_cluster, kube):
    # Without renewed Leases the node lifecycle controller sets every node Unknown 50 s after its last
    # status heartbeat and marks the Pods on it Ready=False for good: rollouts then hung at random.
    names = set(workload_cluster.workloads.node_names)
    before = lease_renewals(kube, names)
    assert set(before) == names, f"a Lease per kwok node, found {sorted(before)}"
    deadline = time.monotonic() + TIMEOUT
    while any(renewed == before[name] for name, renewed in lease_renewals(kube, names).items()):
        assert time.monotonic() < deadline, f"kwok renewed no Lease in {TIMEOUT}s: {before}"
        time.sleep(0.5)
    nodes = kube.request("GET", "/api/v1/nodes", {"labelSelector": "type=kwok"})["items"]
    assert all({"type": "Ready", "status": "True"}.items() <= c.items() for n in nodes for c in n["status"]["conditions"]
               if c["type"] == "Ready") and len(nodes) == len(names)
