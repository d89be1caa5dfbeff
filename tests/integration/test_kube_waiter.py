"""kube/waiter.py on the fuller cluster: real rollouts, judged by health.py, read through our client."""

import pytest

from kube_support import HEALTHY_TIMEOUT, STUCK_TIMEOUT, client, deployment, unique
from testbed.workloads import POD_STATE
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, HEALTHY
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import ObjectKey
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy

# Both files share the one fuller cluster of a worker (make integration distributes by group).
pytestmark = pytest.mark.xdist_group("workload_cluster")
DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", True)


def apply_deployments(kube, ns, bodies):
    """Server-side apply each body; the answers are the objects in hand the waiter looks at first."""
    targets = []
    for body in bodies:
        key = ObjectKey("apps", "Deployment", ns, body["metadata"]["name"])
        target = Target.of(key, DEPLOYMENTS)
        written = kube.request("PATCH", target.path, {"fieldManager": "waiter-test", "force": "true"}, body,
                               content_type=APPLY_PATCH)
        targets.append(Target.of(key, DEPLOYMENTS, written))
    return targets


@pytest.fixture()
def kube(workload_cluster):
    return client(workload_cluster)


@pytest.fixture()
def ns(workload_cluster):
    return workload_cluster.workloads.pod_namespace(unique("waiter"))


def test_waits_until_every_rollout_is_healthy(kube, ns):
    # Four of one kind in one namespace: the waiter reads them with one LIST per round.
    targets = apply_deployments(kube, ns, [deployment(f"web-{i}", replicas=2) for i in range(4)])
    outcome = wait_until_healthy(kube, targets, timeout=HEALTHY_TIMEOUT, interval=0.5)
    assert outcome.settled, outcome.describe_pending()
    assert {h.status for h in outcome.health.values()} == {HEALTHY}
    assert outcome.rounds >= 1, "freshly applied Deployments are not healthy before their controller acts"


def test_a_stuck_rollout_times_out_named_with_its_reason(kube, ns):
    stuck = deployment("stuck", replicas=1, progressDeadlineSeconds=2)
    stuck["spec"]["template"]["metadata"]["annotations"] = {POD_STATE: "never-ready"}
    targets = apply_deployments(kube, ns, [stuck, deployment("fine", replicas=1)])
    outcome = wait_until_healthy(kube, targets, timeout=STUCK_TIMEOUT, interval=0.5)
    assert [key.name for key in outcome.pending] == ["stuck"]
    assert outcome.health[outcome.pending[0]].status == DEGRADED
    (line,) = outcome.describe_pending()
    assert line.startswith(f"Deployment.apps {ns}/stuck: Degraded (exceeded its progress deadline")
    assert outcome.seconds >= STUCK_TIMEOUT, "it waited the whole timeout for the stuck one"
