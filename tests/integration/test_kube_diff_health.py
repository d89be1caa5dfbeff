"""kube_diff's health on the fuller cluster (controller-manager, scheduler, kwok): in the result, in check
mode, and ``wait: true`` (Healthy, or a failure naming the object that is not)."""

import pytest

from kube_support import HEALTHY_TIMEOUT, STUCK_TIMEOUT, deployment, kube_diff, unique
from testbed.workloads import POD_STATE
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

# All tests of the fuller cluster run on one worker, sharing its one cluster (make integration: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("workload_cluster")


@pytest.fixture()
def ns(workload_cluster):
    return workload_cluster.workloads.pod_namespace(unique("kdhealth"))


def entry(result, name):
    (found,) = [e for e in result["drift"] if e["name"] == name]
    return found


def test_check_mode_reports_health_without_applying(workload_cluster, tmp_path, ns):
    result = kube_diff(workload_cluster, tmp_path, [deployment("web", replicas=1)], check_mode=True, apply=True,
                       namespace=ns)
    assert entry(result, "web")["action"] == "create"
    assert entry(result, "web")["health"]["status"] == "Missing"
    assert result["health"]["status"] == "Missing"
    again = kube_diff(workload_cluster, tmp_path, [deployment("web", replicas=1)], check_mode=True, namespace=ns)
    assert entry(again, "web")["action"] == "create", "check mode applied nothing"


def test_wait_until_a_deployment_is_healthy(workload_cluster, tmp_path, ns):
    result = kube_diff(workload_cluster, tmp_path, [deployment("web", replicas=2)], apply=True, wait=True,
                       wait_timeout=HEALTHY_TIMEOUT, namespace=ns)
    assert entry(result, "web")["health"] == {"status": "Healthy", "reason": ""}
    assert result["health"] == {"status": "Healthy", "counts": {"Healthy": 1}}
    # In sync afterwards, its health read from the live object in check mode.
    again = kube_diff(workload_cluster, tmp_path, [deployment("web", replicas=2)], check_mode=True, namespace=ns)
    assert entry(again, "web")["action"] == "none" and again["health"]["status"] == "Healthy"


def test_wait_fails_naming_a_rollout_that_never_becomes_ready(workload_cluster, tmp_path, ns):
    body = deployment("stuck", replicas=1, progressDeadlineSeconds=2)
    body["spec"]["template"]["metadata"]["annotations"] = {POD_STATE: "never-ready"}
    with pytest.raises(TridentError) as caught:
        kube_diff(workload_cluster, tmp_path, [body], apply=True, wait=True, wait_timeout=STUCK_TIMEOUT,
                  namespace=ns)
    message = caught.value.message
    assert f"Deployment.apps {ns}/stuck: Degraded" in message, message
    assert "the changes stay applied" in message
    again = kube_diff(workload_cluster, tmp_path, [body], check_mode=True, namespace=ns)
    assert entry(again, "stuck")["action"] == "none", "the change stayed applied"
    assert entry(again, "stuck")["health"]["status"] == "Degraded" and again["health"]["status"] == "Degraded"
