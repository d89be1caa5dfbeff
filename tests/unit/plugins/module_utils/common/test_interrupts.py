"""SIGTERM/SIGINT under interruptible(): the running command gets one SIGINT, finally blocks run."""

import os
import signal
import threading

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import (
    CommandRunner, Interrupted, interruptible)

# Stops "gracefully" on SIGINT, as Terraform does: ends its work and exits 3.
GRACEFUL = "trap 'kill $! 2>/dev/null; exit 3' INT; sleep 10 & wait; wait"


def signal_soon(signum, after=0.5):
    timer = threading.Timer(after, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_running_command_is_stopped_gracefully_once_and_cleanup_runs(tmp_path, signum):
    secret = tmp_path / "vars.json"
    secret.write_text("{}")
    runner = CommandRunner()
    signal_soon(signum)
    with pytest.raises(Interrupted) as caught:
        with interruptible():
            try:
                runner(["bash", "-c", GRACEFUL])
            finally:
                secret.unlink()
    assert f"interrupted by {signal.Signals(signum).name}: bash was asked to stop gracefully" in caught.value.message
    assert caught.value.details["rc"] == 3
    assert not secret.exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_a_signal_between_commands_stops_the_run():
    signal_soon(signal.SIGTERM, after=0.1)
    with pytest.raises(Interrupted, match="between commands"):
        with interruptible():
            threading.Event().wait(3)


def test_outside_the_main_thread_signals_are_left_alone():
    outcome = []

    def body():
        with interruptible():
            outcome.append(CommandRunner()(["true"]).rc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert outcome == [0]
