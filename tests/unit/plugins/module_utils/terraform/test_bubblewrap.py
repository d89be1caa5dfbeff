"""The sandbox with the real bwrap: what a command inside sees, can write, and how a failure to start reads."""

import os
import signal
import subprocess
import threading
import time

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner, interruptible
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.terraform import bubblewrap

SH = "/bin/sh"
# Stops "gracefully" on SIGINT as Terraform does: a handler it installs itself, although it started with SIGINT
# ignored (a shell cannot trap a signal ignored on entry; Go's signal.Notify and Python's signal.signal can).
GRACEFUL = """
import pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def stop(*_):
    (folder / "stopped").write_text("stopped")
    sys.exit(7)
signal.signal(signal.SIGINT, stop)
(folder / "started").write_text("")
time.sleep(60)
"""


@pytest.fixture
def places(tmp_path):
    folders = {name: tmp_path / name for name in ("readable", "writable", "hidden", "cwd")}
    for folder in folders.values():
        folder.mkdir()
    (folders["readable"] / "file").write_text("readable content")
    (folders["hidden"] / "canary").write_text("CANARY-7c1e")
    (folders["readable"] / "inner").mkdir()
    return folders


def run(script, view, cwd, env=None):
    view = bubblewrap.View(readable=(*view.readable, str(cwd)), writable=view.writable, programs=view.programs)
    argv = bubblewrap.command([SH, "-c", script], view, str(cwd))
    return subprocess.run(argv, capture_output=True, text=True, env=env or os.environ, check=False)


def test_a_command_sees_the_view_and_nothing_else(places, tmp_path):
    view = bubblewrap.View(readable=(str(places["readable"]),), writable=(str(places["writable"]),))
    result = run(f"cat {places['readable']}/file; echo; cat {places['hidden']}/canary; ls {tmp_path}; "
                 f"ls {os.path.expanduser('~')}; touch {places['readable']}/new; touch {places['writable']}/made; "
                 "id -u", view, places["cwd"])
    assert "readable content" in result.stdout
    assert "CANARY-7c1e" not in result.stdout + result.stderr
    listed = result.stdout.split()
    assert "readable" in listed and "writable" in listed and "hidden" not in listed
    assert not (places["readable"] / "new").exists(), "read-only means read-only"
    assert (places["writable"] / "made").exists()
    assert "Read-only file system" in result.stderr


def test_a_writable_folder_inside_a_readable_one_is_writable(places):
    inner = places["readable"] / "inner"
    view = bubblewrap.View(readable=(str(places["readable"]),), writable=(str(inner),))
    result = run(f"touch {inner}/ok && touch {places['readable']}/not-ok", view, places["cwd"])
    assert (inner / "ok").exists() and not (places["readable"] / "not-ok").exists()
    assert result.returncode != 0


def test_proc_is_there_only_for_allowed_programs(places, monkeypatch):
    monkeypatch.setenv("TRIDENT_UNIT_CANARY", "CANARY-env-5d2a")
    plain = run("cat /proc/self/environ; ls /proc", bubblewrap.View(), places["cwd"])
    assert "CANARY-env-5d2a" not in plain.stdout and plain.stdout == ""
    allowed = run("cat /proc/self/environ", bubblewrap.View(programs=True), places["cwd"])
    assert "CANARY-env-5d2a" in allowed.stdout


def test_home_tmp_and_the_controllers_etc_are_not_there(places):
    secret_tmp = "/tmp/trident-bwrap-unit-canary"
    with open(secret_tmp, "w", encoding="utf-8") as handle:
        handle.write("CANARY-tmp")
    try:
        result = run(f"ls -a /tmp; cat {secret_tmp}; ls /etc; ls /root /home 2>&1; grep Cap /proc/self/status",
                     bubblewrap.View(programs=True), places["cwd"])
    finally:
        os.unlink(secret_tmp)
    assert "CANARY-tmp" not in result.stdout
    etc = set(result.stdout.split())
    assert "shadow" not in etc and "passwd" not in etc and "ssh" not in etc
    assert "CapEff:\t0000000000000000" in result.stdout, "no capabilities, not even in its own namespace"


def test_a_setup_failure_is_told_apart_from_the_commands_own(places):
    argv = bubblewrap.command([SH, "-c", "exit 3"], bubblewrap.View(), str(places["cwd"] / "not-there"))
    result = CommandRunner()(argv, check=False)
    assert bubblewrap.failure(result).startswith("bwrap: ")
    view = bubblewrap.View(writable=(str(places["cwd"]),))
    ran = CommandRunner()(bubblewrap.command([SH, "-c", "echo bwrap: lookalike >&2; exit 3"], view,
                                             str(places["cwd"])), check=False)
    assert ran.rc == 3 and bubblewrap.failure(ran) is None, "bwrap's own failures exit 1"


def test_a_missing_bwrap_names_the_fix(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TridentError, match="bwrap was not found .*set sandbox: none for it"):
        bubblewrap.bwrap_binary()


def test_sigint_to_the_process_group_reaches_the_command_and_bwrap_waits_for_it(places):
    """What interruptible() does on SIGTERM: the command stops gracefully, bwrap reports its exit status."""
    started = places["writable"] / "started"
    argv = bubblewrap.command(["python3", "-c", GRACEFUL, str(places["writable"])],
                              bubblewrap.View(writable=(str(places["writable"]), str(places["cwd"]))),
                              str(places["cwd"]))
    proc = subprocess.Popen(argv, start_new_session=True)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 7
    assert (places["writable"] / "stopped").read_text() == "stopped"


def test_interruptible_forwards_sigterm_as_sigint_into_the_sandbox(places):
    started = places["writable"] / "started"
    argv = bubblewrap.command(["python3", "-c", GRACEFUL, str(places["writable"])],
                              bubblewrap.View(writable=(str(places["writable"]), str(places["cwd"]))),
                              str(places["cwd"]))

    def signal_when_started():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_when_started, daemon=True).start()
    with pytest.raises(TridentError, match="interrupted by SIGTERM") as caught:
        with interruptible():
            CommandRunner()(argv, check=False, new_session=True)
    assert caught.value.details["rc"] == 7 and (places["writable"] / "stopped").exists()
