"""One lock mechanism for every lock of a run: ``flock`` on a held file descriptor.

The kernel drops an ``flock`` when the last descriptor of it closes, so a lock frees itself when its
holder dies, SIGKILL included: nothing is ever stale, no timeout guesses whether a holder still lives.
The environment lock, git_source's checkout lock and Terraform's state dir all use it. The lock file
also records who holds it (pid, command, host, since when), so a run that waits or gives up names
the holder. A lock that must outlive one process (the reconcile role's environment lock spans many
tasks) is held by a small detached process that lives as long as the run (:func:`hold_for`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

_POLL = 0.1
# How often a holder process checks that the run it holds the lock for is still alive.
_OWNER_CHECK = 0.5


def _open(path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def holder_of(path) -> str:
    """Who holds (or last held) the lock at ``path``, for messages."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return "an unknown process"
    return (f"pid {record.get('pid')} ({record.get('command') or '?'}) on {record.get('host') or '?'} "
            f"since {record.get('since') or '?'}")


def _acquire(fd, path, timeout, what, on_wait=None):
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not waited and on_wait:
                on_wait(f"waiting up to {timeout:g}s for the lock on {what} ({path}), held by {holder_of(path)}")
            waited = True
            if time.monotonic() >= deadline:
                raise TridentError(f"timed out after {timeout:g}s waiting for the lock on {what} ({path}): "
                                   f"another run is in progress: {holder_of(path)}") from None
            time.sleep(_POLL)


def _command(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return " ".join(os.path.basename(part.decode(errors="replace"))
                            for part in handle.read().split(b"\0")[:2] if part)
    except OSError:
        return None


def _record(fd, pid, what):
    data = json.dumps({"pid": pid, "command": _command(pid), "host": socket.gethostname(), "what": what,
                       "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextlib.contextmanager
def file_lock(path, timeout=300.0, what="resource", on_wait=None):
    """Hold an exclusive ``flock`` on ``path`` (created if missing); wait at most ``timeout`` seconds."""
    fd = _open(path)
    try:
        _acquire(fd, path, timeout, what, on_wait)
        _record(fd, os.getpid(), what)
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock


def hold_for(path, owner_pid, timeout=300.0, what="resource", on_wait=None) -> int:
    """Take the lock at ``path`` for the process ``owner_pid``; return the pid of the process holding it.

    The lock is held by a detached process that exits (dropping the lock) when ``owner_pid`` is gone or
    when :func:`release` signals it: a run killed outright leaves nothing that blocks the next one.
    """
    fd = _open(path)
    try:
        _acquire(fd, path, timeout, what, on_wait)
        _record(fd, owner_pid, what)
        return _spawn_holder(fd, owner_pid)
    finally:
        os.close(fd)


def _spawn_holder(fd, owner_pid):
    return spawn_detached(lambda: _hold(owner_pid), keep=fd)


def spawn_detached(body, keep=None) -> int:
    """Run ``body()`` in a detached process (its own session, stdin/stdout/stderr on /dev/null, no descriptor of ours
    open but ``keep``, which it gets as descriptor 3); return its pid. It exits when ``body`` returns."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked process
        os.close(read_end)
        os.setsid()
        if os.fork() == 0:
            _detached(body, keep, write_end)
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        return int(pipe.read() or 0)


def _detached(body, keep, report_fd):  # pragma: no cover - runs in the detached process
    try:
        os.write(report_fd, str(os.getpid()).encode())
        os.close(report_fd)
        last = 2
        if keep is not None:
            last = os.dup2(keep, 3, inheritable=False) if keep != 3 else keep
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.closerange(last + 1, 65536)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        body()
    finally:
        os._exit(0)


def _hold(owner_pid):  # pragma: no cover - runs in the detached holder
    """The holder: keep the lock (descriptor 3) and nothing else open until the owner is gone or we are told to go."""
    while_owner_lives(owner_pid, _OWNER_CHECK)


def while_owner_lives(owner_pid, poll, every=None, task=None, stopping=()) -> bool:
    """The loop of a detached process (:func:`spawn_detached`) that lasts as long as the run ``owner_pid``: check
    every ``poll`` seconds that the owner lives and, with ``task``, call it every ``every`` seconds (first after
    ``every``). True when told to stop (``stopping``, a list a signal handler appends to, became non-empty); False
    when the owner is gone or ``task`` returned a false value."""
    next_task = time.monotonic() + (every or 0)
    while not stopping:
        if not alive(owner_pid):
            return False
        if task is not None and time.monotonic() >= next_task:
            if not task():
                return False
            next_task = time.monotonic() + (every or 0)
        time.sleep(poll)
    return True


def alive(pid) -> bool:
    """Whether the process ``pid`` runs (one that exited and waits to be reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def release(holder_pid):
    """Stop the holder process ``holder_pid`` (from :func:`hold_for`): its exit drops the lock."""
    if holder_pid and alive(holder_pid):
        os.kill(holder_pid, signal.SIGTERM)
