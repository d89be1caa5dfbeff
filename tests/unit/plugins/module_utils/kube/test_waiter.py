"""The waiter against a small fake client (a dict of paths) and a fake clock: no cluster, no sleeping."""

from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, HEALTHY, MISSING, SUSPENDED
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import ObjectKey
from ansible_collections.trident.gitops.plugins.module_utils.kube.waiter import Target, wait_until_healthy

DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", True)
COLLECTION = "/apis/apps/v1/namespaces/ns/deployments"


def deployment(name, available, generation=1, **spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "generation": generation},
            "spec": {"replicas": 2, **spec},
            "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": available}}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeClient:
    """Serves GET of objects and of their collection from ``objects`` (path -> object, or a list of
    successive answers, the last one repeating)."""

    def __init__(self, objects):
        self.objects = objects
        self.requests = []

    def _answer(self, path):
        value = self.objects.get(path)
        if isinstance(value, list):
            return value.pop(0) if len(value) > 1 else value[0]
        return value

    def request(self, method, path, query=None, body=None, content_type=None):
        assert method == "GET"
        self.requests.append(path)
        if not path.endswith("/deployments"):
            found = self._answer(path)
            if found is None:
                raise ApiError(404, f"{path} not found")
            return dict(found)
        items = [self._answer(p) for p in sorted(self.objects) if p.rsplit("/", 1)[0] == path]
        return {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {},
                "items": [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items if i]}


def target(name, live=None):
    return Target.of(ObjectKey("apps", "Deployment", "ns", name), DEPLOYMENTS, live)


def wait(client, targets, timeout=10, **kwargs):
    clock = FakeClock()
    return wait_until_healthy(client, targets, timeout, clock=clock, sleep=clock.sleep, **kwargs)


def test_objects_healthy_in_hand_cost_no_request():
    client = FakeClient({})
    outcome = wait(client, [target("a", deployment("a", 2)), target("b", deployment("b", 2))])
    assert outcome.settled and outcome.rounds == 0 and client.requests == []
    assert {k.name: h.status for k, h in outcome.health.items()} == {"a": HEALTHY, "b": HEALTHY}


def test_polls_until_healthy():
    client = FakeClient({f"{COLLECTION}/a": [deployment("a", 0), deployment("a", 1), deployment("a", 2)]})
    outcome = wait(client, [target("a", deployment("a", 0))], interval=1.0)
    assert outcome.settled
    assert outcome.rounds == 3 and client.requests == [f"{COLLECTION}/a"] * 3
    assert outcome.seconds == 3.0, "slept one interval before each read of an object already in hand"


def test_an_object_not_in_hand_is_read_at_once():
    client = FakeClient({f"{COLLECTION}/a": deployment("a", 2)})
    outcome = wait(client, [target("a")])
    assert outcome.settled and outcome.seconds == 0.0 and outcome.rounds == 1


def test_timeout_reports_every_pending_object_with_its_reason_and_does_not_raise():
    stuck = deployment("stuck", 0)
    stuck["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                      "message": 'ReplicaSet "stuck-1" has timed out progressing.'}]
    client = FakeClient({f"{COLLECTION}/stuck": stuck, f"{COLLECTION}/ok": deployment("ok", 2)})
    outcome = wait(client, [target("stuck"), target("ok"), target("gone")], timeout=5, interval=1.0)
    assert not outcome.settled
    assert [k.name for k in outcome.pending] == ["stuck", "gone"]
    assert outcome.health[outcome.pending[0]].status == DEGRADED
    assert outcome.health[outcome.pending[1]].status == MISSING
    assert outcome.describe_pending() == [
        'Deployment.apps ns/stuck: Degraded (exceeded its progress deadline: ReplicaSet "stuck-1" has timed out '
        'progressing.)',
        "Deployment.apps ns/gone: Missing (not found in the cluster)"]
    assert outcome.seconds == 5.0


def test_many_pending_objects_of_one_collection_are_read_with_one_list():
    names = [f"d{i}" for i in range(5)]
    client = FakeClient({f"{COLLECTION}/{n}": [deployment(n, 1), deployment(n, 2)] for n in names})
    outcome = wait(client, [target(n) for n in names])
    assert outcome.settled
    assert client.requests == [COLLECTION] * outcome.rounds
    assert all(h.status == HEALTHY for h in outcome.health.values()), "kind and apiVersion come from the list"


def test_settled_states_are_the_callers_choice():
    paused = deployment("p", 0, paused=True)
    assert wait(FakeClient({}), [target("p", paused)], timeout=0).pending
    outcome = wait(FakeClient({}), [target("p", paused)], timeout=0, settled=(HEALTHY, SUSPENDED))
    assert outcome.settled and outcome.health[target("p").key].status == SUSPENDED
