"""The health kube_diff reports per object and for the set, and its wait, against a small fake client (a dict)."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import engine, planner
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import ObjectKey

DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", True)


def deployment(name, available):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns",
                                                                        "generation": 1},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": available}}


def item(name, live=None, after=None, action="none", applied=False):
    desired = None if action == "delete" else deployment(name, 0)
    return planner.Item(ObjectKey("apps", "Deployment", "ns", name), DEPLOYMENTS, desired, live, after=after,
                        action=action, applied=applied)


class FakeClient:
    """GETs answered from a dict of paths; a missing path is a 404."""

    def __init__(self, objects):
        self.objects = objects

    def request(self, method, path, query=None, body=None, content_type=None):
        assert method == "GET"
        if path not in self.objects:
            raise ApiError(404, "not found")
        return self.objects[path]


def test_health_is_read_from_the_object_in_hand():
    plan = [item("new", action="create"),
            item("same", live=deployment("same", 2)),
            # check mode: an update is judged by the live object, not by its dry-run result
            item("changing", live=deployment("changing", 1), after=deployment("changing", 2), action="update"),
            item("applied", live=deployment("applied", 2), after=deployment("applied", 1), action="update",
                 applied=True)]
    planner.judge(plan)
    assert [(i.health.status, bool(i.health.reason)) for i in plan] == [
        ("Missing", True), ("Healthy", False), ("Progressing", True), ("Progressing", True)]
    assert planner.overall(plan) == "Missing"


def test_prune_candidates_do_not_count_for_the_set():
    broken = deployment("old", 0)
    broken["status"]["conditions"] = [{"type": "Progressing", "status": "False",
                                       "reason": "ProgressDeadlineExceeded"}]
    plan = [item("same", live=deployment("same", 2)), item("old", live=broken, action="delete")]
    planner.judge(plan)
    assert plan[1].health.status == "Degraded"
    assert planner.overall(plan) == "Healthy"
    entry = engine._drift_entry(plan[0])
    assert entry["health"] == {"status": "Healthy", "reason": ""}
    assert engine._health_summary(plan) == {"status": "Healthy", "counts": {"Healthy": 1}}


def test_wait_names_each_object_that_is_not_healthy_and_says_the_changes_stay():
    plan = [item("ok", live=deployment("ok", 2)), item("slow", live=deployment("slow", 0))]
    client = FakeClient({"/apis/apps/v1/namespaces/ns/deployments/ok": deployment("ok", 2),
                         "/apis/apps/v1/namespaces/ns/deployments/slow": deployment("slow", 1)})
    with pytest.raises(TridentError) as caught:
        engine._wait(client, plan, engine.Options(wait_timeout=0.05, workers=2))
    message = caught.value.message
    assert "Deployment.apps ns/slow: Progressing" in message and "ns/ok" not in message
    assert "the changes stay applied" in message
    assert plan[1].health.status == "Progressing" and plan[0].health.status == "Healthy"


def test_wait_updates_health_when_everything_settles():
    plan = [item("ok", live=deployment("ok", 1))]
    client = FakeClient({"/apis/apps/v1/namespaces/ns/deployments/ok": deployment("ok", 2)})
    engine._wait(client, plan, engine.Options(wait_timeout=5, workers=1))
    assert plan[0].health.status == "Healthy"
