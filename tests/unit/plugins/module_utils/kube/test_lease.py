"""The Lease decisions (module_utils/kube/lease.py) without a cluster: when a Lease is free, expired or held, and
what taking or renewing it writes. The API server behaviour (conflicts, races) is tested against the real one in
tests/integration/test_controllers.py."""

from ansible_collections.trident.gitops.plugins.module_utils.kube import lease


class Clock:
    def __init__(self, wall=1_000_000.0):
        self.wall, self.mono = wall, 0.0

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds


def observer(clock):
    return lease.Observer(monotonic=lambda: clock.mono, clock=lambda: clock.wall)


def held(clock, holder="b pid 1 run 1", renewed_ago=0.0, duration=10):
    return {"holderIdentity": holder, "leaseDurationSeconds": duration,
            "renewTime": lease.micro_time(clock.wall - renewed_ago)}


def test_a_free_or_own_lease_is_taken_at_once():
    clock = Clock()
    assert lease.free_for({}, "a pid 1 run 1", observer(clock))
    assert lease.free_for({"leaseDurationSeconds": 10}, "a", observer(clock))
    assert lease.free_for(held(clock, holder="a"), "a", observer(clock))


def test_a_lease_renewed_recently_is_held_until_it_is_not_renewed_for_its_duration():
    clock, seen = Clock(), None
    seen = observer(clock)
    spec = held(clock)
    assert not lease.free_for(spec, "a", seen)
    clock.advance(9.9)
    assert not lease.free_for(spec, "a", seen)
    clock.advance(0.2)
    assert lease.free_for(spec, "a", seen)


def test_a_renewal_restarts_the_count():
    clock = Clock()
    seen = observer(clock)
    assert not lease.free_for(held(clock), "a", seen)
    clock.advance(8)
    renewed = held(clock)
    assert not lease.free_for(renewed, "a", seen)
    clock.advance(8)
    assert not lease.free_for(renewed, "a", seen)


def test_a_holder_killed_long_ago_is_taken_over_without_watching_it_for_a_whole_lease():
    clock = Clock()
    assert lease.free_for(held(clock, renewed_ago=3600), "a", observer(clock))


def test_a_clock_behind_the_holders_never_takes_a_lease_early():
    """renewTime in the future (the holder's clock is ahead): only this controller's own observation counts."""
    clock = Clock()
    seen = observer(clock)
    spec = held(clock, renewed_ago=-300)
    assert not lease.free_for(spec, "a", seen)
    clock.advance(10)
    assert lease.free_for(spec, "a", seen)


def test_taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time():
    taken = lease.taken_spec({"holderIdentity": "b", "leaseTransitions": 2, "acquireTime": "x"}, "a", 30, 0.0)
    assert taken["holderIdentity"] == "a" and taken["leaseTransitions"] == 3 and taken["leaseDurationSeconds"] == 30
    assert taken["acquireTime"] == taken["renewTime"] == "1970-01-01T00:00:00.000000Z"
    renewed = lease.taken_spec(taken, "a", 30, 5.0)
    assert renewed["acquireTime"] == taken["acquireTime"] and renewed["leaseTransitions"] == 3
    assert renewed["renewTime"] == "1970-01-01T00:00:05.000000Z"
    assert lease.taken_spec({}, "a", 30, 0.0)["leaseTransitions"] == 0


def test_times_round_trip_and_the_holder_names_the_run():
    assert lease.parse_time(lease.micro_time(1234.5)) == 1234.5
    assert lease.parse_time("2026-01-01T00:00:00Z") is not None and lease.parse_time("soon") is None
    assert lease.holder_identity(1, host="ctl").startswith("ctl pid 1 run ")
