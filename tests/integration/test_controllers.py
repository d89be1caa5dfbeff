"""Beyond one controller (issue 29): the environment's Lease keeps controllers with separate HOMEs, caches and lock
folders apart (real API server, real ansible-playbook processes). One waits naming the other and never applies at
the same time; a run frozen longer than the lease keeps it (renewals); a killed run frees it within the lease."""

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import lease
from kube_support import client, unique
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

DURATION = 4  # seconds: short leases keep the takeover tests quick
KILLED_LEASE = 40  # longer than a run takes to reach its Lease, so the second run meets it unexpired


@pytest.fixture
def repo(tmp_path, control_plane):
    name = unique("ctl")
    env = tmp_path / "repo" / "environments" / name
    (env / "yaml").mkdir(parents=True)
    (env / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
    (env / "yaml" / "cm.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}))
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    return {"name": name, "env": env, "inventory": inventory, "root": tmp_path,
            "ref": lease.LeaseRef("default", f"trident-{name}")}


def controller(repo, label):
    """A controller of its own: HOME, caches, checkout, lock folder and state under <tmp>/<label>."""
    work = repo["root"] / label
    (work / "home").mkdir(parents=True, exist_ok=True)
    extra = {**isolated_vars(work), "kubernetes_lease_duration": DURATION}
    env = {"HOME": str(work / "home"), "XDG_CACHE_HOME": str(work / "cache")}
    return work, extra, env


def run(repo, label, **extra_vars):
    work, extra, env = controller(repo, label)
    return run_gitops("reconcile", repo["inventory"], work, extra_vars={**extra, **extra_vars}, env=env)


def start(repo, label, **extra_vars):
    """ansible-playbook in the background, in its own process group, output in <work>/out.json."""
    work, extra, env = controller(repo, label)
    argv = ["ansible-playbook", "-i", str(repo["inventory"]), "trident.gitops.reconcile",
            "-e", json.dumps({**extra, **extra_vars})]
    run_env = {**os.environ, **env, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments", "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp")}
    out = open(work / "out.json", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(argv, cwd=work, env=run_env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.output = work / "out.json"
    return proc


def spec_of(control_plane, ref):
    try:
        return client(control_plane).request("GET", ref.path).get("spec") or {}
    except TridentError:
        return {}


def wait_for_holder(control_plane, ref, pid, proc=None, timeout=180):
    deadline = time.monotonic() + timeout
    while f" pid {pid} run " not in (spec_of(control_plane, ref).get("holderIdentity") or ""):
        assert proc is None or proc.poll() is None, proc.output.read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never took the Lease"
        time.sleep(0.05)


def task_times(stdout_text, task_name):
    """(start, end) of the task named ``task_name`` in a JSON callback document."""
    data = json.JSONDecoder().raw_decode(stdout_text[stdout_text.index("{"):])[0]
    for play in data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == task_name:
                return task["task"]["duration"]["start"], task["task"]["duration"]["end"]
    raise AssertionError(f"no task {task_name}")


def test_two_controllers_racing_for_one_lease_exactly_one_wins(control_plane, repo):
    """The Lease's own guarantee, raced for real: of controllers taking a free Lease at once exactly one holds it."""
    api = client(control_plane)
    winners, barrier = [], threading.Barrier(6)

    def contend(index):
        barrier.wait()
        try:
            lease.acquire(api, repo["ref"], f"controller-{index} pid 1 run 1", 30, timeout=0)
            winners.append(index)
        except TridentError as exc:
            assert "another controller is reconciling the environment: controller-" in exc.message

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1, winners
    assert spec_of(control_plane, repo["ref"])["holderIdentity"] == f"controller-{winners[0]} pid 1 run 1"


def test_a_lease_another_controller_holds_makes_the_run_wait_naming_it_then_fail(control_plane, repo):
    lease.acquire(client(control_plane), repo["ref"], "controller-b.example pid 4242 run 77", 300, timeout=0)
    result = run(repo, "a", kubernetes_lease_timeout=3)
    assert result.rc != 0
    assert f"waiting up to 3s for the Lease default/trident-{repo['name']}, held by controller-b.example pid 4242 " \
           "run 77" in result.stdout
    [(_host, _task, message)] = result.failures()
    assert "timed out after 3s waiting for the Lease" in message
    assert "another controller is reconciling the environment: controller-b.example pid 4242 run 77" in message
    assert result.report["environments"][repo["name"]]["steps"]["kubernetes"]["status"] == "failed"
    # Nothing was applied: the ConfigMap does not exist.
    with pytest.raises(TridentError):
        client(control_plane).request("GET", f"/api/v1/namespaces/default/configmaps/{repo['name']}")


def test_a_run_frozen_longer_than_its_lease_keeps_it_and_the_other_controller_names_it(control_plane, repo):
    """A holds the Lease and is frozen (SIGSTOP) for three lease durations: its renewer keeps the Lease, so B (another
    HOME, cache and lock folder) waits, names A's run and gives up; A then finishes and B converges after it."""
    first = start(repo, "a")
    try:
        wait_for_holder(control_plane, repo["ref"], first.pid, first)
        os.killpg(first.pid, signal.SIGSTOP)
        second = run(repo, "b", kubernetes_lease_timeout=3 * DURATION)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
        first.wait(timeout=300)
    output = first.output.read_text()
    assert first.returncode == 0, output[-3000:]
    assert second.rc != 0
    holder = f"{socket.gethostname()} pid {first.pid} run "
    assert f"held by {holder}" in second.stdout
    [(_host, _task, message)] = second.failures()
    assert f"another controller is reconciling the environment: {holder}" in message
    # A released the Lease when it finished: B takes it at once and finds the environment in sync.
    assert not spec_of(control_plane, repo["ref"]).get("holderIdentity")
    again = run(repo, "b")
    assert again.rc == 0, again.explain()
    assert "waiting up to" not in again.stdout
    assert again.report["environments"][repo["name"]]["verdict"] == "in_sync"


def test_two_controllers_at_once_apply_one_after_the_other(control_plane, repo):
    """A takes the Lease and is held up; B starts meanwhile and waits; once A finished (and released), B applies.
    B's Lease was taken after A's finish ended: their applies never overlap."""
    first = start(repo, "a")
    try:
        wait_for_holder(control_plane, repo["ref"], first.pid, first)
        os.killpg(first.pid, signal.SIGSTOP)
        second = start(repo, "b", kubernetes_lease_timeout=300)
        wait_for_waiting(second)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    first.wait(timeout=300)
    second.wait(timeout=300)
    first_out, second_out = first.output.read_text(), second.output.read_text()
    assert first.returncode == 0, first_out[-3000:]
    assert second.returncode == 0, second_out[-3000:]
    assert f"held by {socket.gethostname()} pid {first.pid} run " in second_out
    _first_started, first_finished = task_times(first_out, "trident.gitops.reconcile : Finish")
    _second_asked, second_took = task_times(second_out, "trident.gitops.kubernetes : Hold the environment's Lease")
    assert first_finished < second_took, (first_finished, second_took)


def wait_for_waiting(proc, timeout=180):
    deadline = time.monotonic() + timeout
    while "waiting up to" not in proc.output.read_text():
        assert proc.poll() is None, proc.output.read_text()[-3000:]
        assert time.monotonic() < deadline, "the second controller never waited"
        time.sleep(0.1)


def test_a_controller_killed_mid_run_frees_the_lease_within_its_duration(control_plane, repo):
    """SIGKILL of A's whole process group after it took the Lease: nothing renews it any more, B takes it over once
    it expired (within the lease duration, not the lock timeout) and converges."""
    first = start(repo, "a", kubernetes_lease_duration=KILLED_LEASE)
    try:
        wait_for_holder(control_plane, repo["ref"], first.pid, first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    last_renewed = lease.parse_time(spec_of(control_plane, repo["ref"])["renewTime"])
    second = run(repo, "b", kubernetes_lease_duration=KILLED_LEASE, kubernetes_lease_timeout=600)
    assert second.rc == 0, second.explain()
    # B met A's Lease unexpired (its run starts in less than the lease), waited naming A, and took it over once
    # expired: long before its 600 s timeout.
    assert f"waiting up to 600s for the Lease default/trident-{repo['name']}, held by {socket.gethostname()} " \
           f"pid {first.pid} run " in second.stdout
    took_over = lease.parse_time(task_times(second.stdout, "trident.gitops.kubernetes : Hold the environment's Lease")[1])
    assert last_renewed + KILLED_LEASE - 1 <= took_over <= last_renewed + KILLED_LEASE + 15, took_over - last_renewed
    spec = spec_of(control_plane, repo["ref"])
    assert not spec.get("holderIdentity"), spec  # B released it
    assert spec["leaseTransitions"] >= 1
    assert client(control_plane).request(
        "GET", f"/api/v1/namespaces/default/configmaps/{repo['name']}")["data"] == {"k": "v"}
