"""Wait until objects are healthy: poll them through the kube client, judge each read with health.py.

kube_diff's ``wait: true`` needs this after an apply. The first look uses the objects already in hand
(the apply response or the LIST the plan read), so objects that are healthy cost no request; after
that, each round reads only the objects still pending, one LIST per collection when several share
it (thousands of objects stay a handful of requests per round), else one GET each, concurrently.
A timeout is not an exception here: the caller gets every object's last health and decides (kube_diff
fails naming each object that is not healthy, with its reason; the changes stay applied).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import HEALTHY, health

LIST_WHEN_PENDING = 3  # this many pending objects in one collection: one LIST instead of a GET each


@dataclass(frozen=True)
class Target:
    """One object to wait for: its key (an ObjectKey), its collection's REST path, and the object in hand."""

    key: object
    collection: str
    live: dict = field(default=None, compare=False, hash=False)

    @classmethod
    def of(cls, key, resource, live=None):
        """From an ObjectKey and its discovery Resource (what the planner holds for every object)."""
        return cls(key, object_path(resource, key.namespace), live)

    @property
    def path(self):
        return f"{self.collection}/{quote(self.key.name, safe='')}"


@dataclass
class WaitOutcome:
    """The last health of every target, the keys not settled when the wait ended, and how long it took."""

    health: dict
    pending: list
    seconds: float
    rounds: int

    @property
    def settled(self):
        return not self.pending

    def describe_pending(self):
        """``Deployment ns/web: Degraded (exceeded its progress deadline...)`` for each pending object."""
        return [f"{key.describe()}: {self.health[key].status}" + (f" ({self.health[key].reason})"
                                                                  if self.health[key].reason else "")
                for key in self.pending]


def wait_until_healthy(client, targets, timeout, settled=(HEALTHY,), workers=8, interval=1.0,
                       clock=time.monotonic, sleep=time.sleep):
    """Poll ``targets`` until each one's health is in ``settled`` or ``timeout`` seconds pass."""
    started = clock()
    judged = {t.key: health(t.live) for t in targets if t.live is not None}
    pending = [t for t in targets if t.key not in judged or judged[t.key].status not in settled]
    rounds = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending and clock() - started < timeout:
            # Objects in hand were just read: give their controllers time before reading them again.
            if rounds or len(judged) == len(targets):
                sleep(min(interval, max(0.0, timeout - (clock() - started))))
            rounds += 1
            for key, obj in read(client, pending, pool).items():
                judged[key] = health(obj)
            pending = [t for t in pending if judged[t.key].status not in settled]
    return WaitOutcome(judged, [t.key for t in pending], clock() - started, rounds)


def read(client, targets, pool):
    """key -> the object as the API server has it now (None when it does not exist)."""
    by_collection = {}
    for target in targets:
        by_collection.setdefault(target.collection, []).append(target)
    calls = [(c, ts) for c, ts in by_collection.items() if len(ts) >= LIST_WHEN_PENDING]
    calls += [(None, [t]) for c, ts in by_collection.items() if len(ts) < LIST_WHEN_PENDING for t in ts]
    found = {}
    for answer in pool.map(lambda call: _read_call(client, *call), calls):
        found.update(answer)
    return found


def _read_call(client, collection, targets):
    if collection is None:
        (target,) = targets
        return {target.key: _get(client, target.path)}
    items, token = {}, None
    while True:
        data = client.request("GET", collection, {"limit": 500, **({"continue": token} if token else {})})
        for obj in data.get("items") or []:
            items[(obj.get("metadata") or {}).get("name")] = _with_type(obj, data)
        token = (data.get("metadata") or {}).get("continue")
        if not token:
            return {t.key: items.get(t.key.name) for t in targets}


def _with_type(obj, listed):
    # Items of a LIST carry no apiVersion/kind; health.py needs both to pick its rule.
    obj.setdefault("apiVersion", listed.get("apiVersion"))
    obj.setdefault("kind", (listed.get("kind") or "")[:-len("List")])
    return obj


def _get(client, path):
    try:
        return client.request("GET", path)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
