"""The one lock mechanism: flock on a held descriptor; a holder that dies frees the lock; waiters name it."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import (
    alive, file_lock, hold_for, release, while_owner_lives)


def take(path, timeout):
    """Seconds until the lock was ours (it is released again at once)."""
    started = time.monotonic()
    with file_lock(path, timeout=timeout, what="env"):
        return time.monotonic() - started


def wait_for_exec(pid, program, timeout=10):
    """Until the child runs ``program``: right after fork its command line is still its parent's, or empty."""
    deadline = time.monotonic() + timeout
    while not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(program) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_held_lock_names_its_holder_to_waiters_and_in_the_timeout(tmp_path):
    path = str(tmp_path / "locks" / "e.lock")
    owner = subprocess.Popen(["sleep", "60"])
    try:
        wait_for_exec(owner.pid, b"sleep")
        holder = hold_for(path, owner.pid, timeout=1, what="env")
        said = []
        with pytest.raises(TridentError) as caught:
            with file_lock(path, timeout=0.3, what="env", on_wait=said.append):
                pass
        assert f"another run is in progress: pid {owner.pid} (sleep 60)" in caught.value.message
        assert said and f"held by pid {owner.pid} (sleep 60)" in said[0]
        release(holder)
        assert take(path, timeout=5) < 2
    finally:
        owner.kill()


def test_the_lock_frees_itself_when_its_owner_is_killed(tmp_path):
    path = str(tmp_path / "e.lock")
    owner = subprocess.Popen(["sleep", "60"])
    hold_for(path, owner.pid, timeout=1, what="env")
    owner.kill()
    owner.wait()
    assert take(path, timeout=5) < 2


def test_a_process_holding_file_lock_frees_it_when_killed(tmp_path):
    path = tmp_path / "state.lock"
    code = ("import sys, time\nfrom ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock\n"
            f"with file_lock({str(path)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([__import__("sys").executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "PYTHONPATH": ":".join(__import__("sys").path)})
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(TridentError, match=f"pid {proc.pid}"):
        take(str(path), timeout=0.2)
    proc.kill()
    proc.wait()
    assert take(str(path), timeout=1) < 0.5


def test_alive_is_false_for_a_gone_or_zombie_process():
    assert alive(os.getpid())
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while alive(child.pid) and time.monotonic() < deadline:  # exited, not reaped yet: a zombie
        time.sleep(0.02)
    assert not alive(child.pid)
    child.wait()
    assert not alive(child.pid)


def test_the_detached_loop_runs_its_task_until_told_to_stop_or_the_task_says_no():
    calls, stopping = [], []

    def task():
        calls.append(time.monotonic())
        if len(calls) == 3:
            stopping.append(True)
        return True

    started = time.monotonic()
    assert while_owner_lives(os.getpid(), 0.01, 0.05, task, stopping) is True
    assert len(calls) == 3 and calls[0] - started >= 0.05, "the task runs first after one interval"
    assert while_owner_lives(os.getpid(), 0.01, 0.01, lambda: False) is False
    assert while_owner_lives(os.getpid(), 0.01, stopping=[True]) is True


def test_the_detached_loop_ends_when_its_owner_is_gone():
    child = subprocess.Popen(["true"])
    child.wait()
    assert while_owner_lives(child.pid, 0.01) is False
