"""The environment lock across controllers: a ``coordination.k8s.io/v1`` Lease in the environment's cluster.

The local ``flock`` (common/lock.py) keeps two runs of one controller apart; two controllers (AWX execution nodes, a
rulebook host and a schedule host) share nothing but the cluster, so the lock that keeps them apart lives there, as
the Kubernetes components' own leader election does (client-go ``leaderelection``): a Lease whose
``holderIdentity`` names the holding run (controller host, ansible-playbook pid, run), renewed while the run lives
and taken over by another controller once it has not been renewed for ``leaseDurationSeconds``. Every write carries
the ``resourceVersion`` read before it, so of two controllers taking a free or expired Lease at once exactly one
succeeds (the other gets 409 Conflict and reads again).

A Lease counts as expired when its record (holder, renewTime) has not changed for ``leaseDurationSeconds`` of this
controller's own clock since it first saw it (immune to clock skew, as client-go), or when its ``renewTime`` is
older than ``leaseDurationSeconds`` by the wall clock (a controller killed long ago: no need to watch it for a
whole lease). The second assumes the controllers' clocks agree within a fraction of the lease (NTP).
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import time
from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import alive, while_owner_lives
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError

POLL = 0.5  # seconds between reads while another controller holds the Lease
API = "/apis/coordination.k8s.io/v1"


@dataclass(frozen=True)
class LeaseRef:
    """The Lease ``name`` in ``namespace``."""

    namespace: str
    name: str

    @property
    def path(self) -> str:
        return f"{API}/namespaces/{quote(self.namespace, safe='')}/leases/{quote(self.name, safe='')}"

    @property
    def collection(self) -> str:
        return f"{API}/namespaces/{quote(self.namespace, safe='')}/leases"

    def describe(self) -> str:
        return f"Lease {self.namespace}/{self.name}"


def holder_identity(owner_pid: int, host: str | None = None) -> str:
    """``<host> pid <pid> run <start>``: the controller, the ansible-playbook process and when it started (its start
    time in clock ticks since boot, so a later run that reuses the pid is another holder)."""
    return f"{host or socket.gethostname()} pid {owner_pid} run {_start_ticks(owner_pid)}"


def _start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def micro_time(seconds: float) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text.replace("Z", "+0000"),
                                          "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


def describe_holder(spec: dict) -> str:
    """Who holds a Lease, for messages: its holder and when it was last renewed."""
    return (f"{spec.get('holderIdentity')} (renewed {spec.get('renewTime') or spec.get('acquireTime') or '?'}, "
            f"lease {spec.get('leaseDurationSeconds') or '?'}s)")


class Observer:
    """When this controller first saw each record of a Lease: a record unchanged for its duration is expired."""

    def __init__(self, monotonic=time.monotonic, clock=time.time):
        self.monotonic, self.clock = monotonic, clock
        self._seen = None  # (holder, renewTime, first seen)

    def expired(self, spec: dict) -> bool:
        key = (spec.get("holderIdentity"), spec.get("renewTime"))
        now = self.monotonic()
        if self._seen is None or self._seen[:2] != key:
            self._seen = (*key, now)
        duration = float(spec.get("leaseDurationSeconds") or 0)
        renewed = parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        return now - self._seen[2] >= duration or (renewed is not None and self.clock() - renewed >= duration)


def free_for(spec: dict, holder: str, observer: Observer) -> bool:
    """Whether ``holder`` may take the Lease ``spec``: nobody holds it, ``holder`` does, or its holder let it expire."""
    current = spec.get("holderIdentity")
    return not current or current == holder or observer.expired(spec)


def taken_spec(spec: dict, holder: str, duration: int, now: float) -> dict:
    """The spec of a Lease ``holder`` takes (or renews: the same holder keeps its acquireTime and transitions)."""
    if spec.get("holderIdentity") == holder:
        return {**spec, "leaseDurationSeconds": duration, "renewTime": micro_time(now)}
    transitions = int(spec.get("leaseTransitions") or 0) + (1 if spec.get("holderIdentity") else 0)
    return {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": micro_time(now),
            "renewTime": micro_time(now), "leaseTransitions": transitions}


def _read(client, ref: LeaseRef) -> dict | None:
    try:
        return client.request("GET", ref.path)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise TridentError(f"{ref.describe()}: cannot read it: {exc.message}") from None


def _write(client, ref: LeaseRef, lease: dict | None, spec: dict) -> bool:
    """Create or update the Lease with ``spec``; False when another controller wrote it since it was read."""
    try:
        if lease is None:
            client.request("POST", ref.collection, body={
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": ref.name, "namespace": ref.namespace,
                             "labels": {"app.kubernetes.io/managed-by": "trident.gitops"}},
                "spec": spec})
        else:
            client.request("PUT", ref.path, body={**lease, "spec": spec})
    except ApiError as exc:
        if exc.status == 409:  # created or updated by another controller since it was read (resourceVersion)
            return False
        raise TridentError(f"{ref.describe()}: cannot write it: {exc.message}") from None
    return True


def acquire(client, ref: LeaseRef, holder: str, duration: int, timeout: float, on_wait=None,
            observer: Observer | None = None, sleep=time.sleep) -> dict:
    """Take the Lease for ``holder``; wait at most ``timeout`` seconds for another holder to release it or let it
    expire, then fail naming that holder. Returns the spec written."""
    observer = observer or Observer()
    deadline = observer.monotonic() + timeout
    waited = False
    while True:
        lease = _read(client, ref)
        spec = (lease or {}).get("spec") or {}
        if free_for(spec, holder, observer):
            written = taken_spec(spec, holder, duration, observer.clock())
            if _write(client, ref, lease, written):
                return written
            continue
        if not waited and on_wait:
            on_wait(f"waiting up to {timeout:g}s for the {ref.describe()}, held by {describe_holder(spec)}")
        waited = True
        if observer.monotonic() >= deadline:
            raise TridentError(f"timed out after {timeout:g}s waiting for the {ref.describe()}: another controller is "
                               f"reconciling the environment: {describe_holder(spec)}")
        sleep(POLL)


def renew(client, ref: LeaseRef, holder: str, duration: int, now: float) -> bool:
    """Renew the Lease ``holder`` holds; False when it lost it (another controller took it over)."""
    lease = _read(client, ref)
    spec = (lease or {}).get("spec") or {}
    if spec.get("holderIdentity") != holder:
        return False
    return _write(client, ref, lease, taken_spec(spec, holder, duration, now))


def release(client, ref: LeaseRef, holder: str) -> None:
    """Give the Lease up, if ``holder`` still holds it (the next controller takes it at once)."""
    lease = _read(client, ref)
    spec = (lease or {}).get("spec") or {}
    if lease is not None and spec.get("holderIdentity") == holder:
        kept = {key: value for key, value in spec.items() if key in ("leaseDurationSeconds", "leaseTransitions")}
        _write(client, ref, lease, kept)


def keep_renewing(connect, ref: LeaseRef, holder: str, duration: int, owner_pid: int) -> None:  # pragma: no cover
    """The renewer (runs in a detached process, common/lock.py ``spawn_detached``): renew every third of the lease
    while the run ``owner_pid`` lives; on SIGTERM (the run finished) release the Lease and exit. When the run is gone
    (killed) or the Lease was taken over, stop renewing: it expires within its duration."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    client = connect()

    def renew_now():
        try:
            return renew(client, ref, holder, duration, time.time())
        except TridentError:
            return True  # the API server unreachable for a moment: the next renewal tries again

    if not while_owner_lives(owner_pid, 0.2, max(duration / 3.0, 0.5), renew_now, stopping):
        return  # the run is gone or the Lease was taken over
    try:
        release(client, ref, holder)
    except TridentError:
        pass  # not released: it expires within its duration


def stop_renewer(pid: int, timeout: float = 15.0) -> None:
    """Tell the renewer ``pid`` that the run is over (it releases the Lease) and wait until it is gone."""
    if not pid or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
