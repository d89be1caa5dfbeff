"""An injectable command runner: module_utils take one, tests pass a real or a recording one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_text, text_secrets


@dataclass(frozen=True)
class CommandResult:
    argv: tuple
    rc: int
    stdout: str
    stderr: str


class CommandRunner:
    """Runs argv lists (never a shell) with a fixed base environment.

    ``masked`` lists secret values (tokens, passwords, variables) that the commands may quote: those long
    enough to be searched for are masked in an error message built from a command's output
    (masking.mask_text; a short one is not searched for, since masking it inside other text points at it).
    """

    def __init__(self, env=None, masked=()):
        self.env = dict(os.environ if env is None else env)
        self.masked = text_secrets(list(masked))

    def __call__(self, argv, cwd=None, env=None, data=None, check=True, binary_output=False, pass_fds=(),
                 new_session=False):
        """Run ``argv``; ``pass_fds`` are file descriptors the child inherits (e.g. a memfd it reads by path).

        ``new_session`` starts it in its own session even outside interruptible(): without a controlling
        terminal, so nothing it runs can reach ours (a sandbox asks for it).
        """
        full_env = {**self.env, **(env or {})}
        try:
            # Under interruptible(), the child runs in its own session: a signal to our process group
            # reaches it once, forwarded by us, not twice (a second interrupt makes Terraform stop hard).
            proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=full_env,
                                    stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=not binary_output,
                                    start_new_session=_Interrupts.active or new_session, pass_fds=tuple(pass_fds))
        except FileNotFoundError:
            raise TridentError(f"executable not found: {argv[0]}") from None
        _Interrupts.running.add(proc)
        try:
            stdout, stderr = proc.communicate(data)
        finally:
            _Interrupts.running.discard(proc)
        result = CommandResult(tuple(str(a) for a in argv), proc.returncode, stdout, stderr)
        _Interrupts.raise_if_interrupted(argv, result)
        if check and result.rc != 0:
            raise TridentError(self.mask_text(f"{os.path.basename(str(argv[0]))} failed (rc={result.rc}): "
                                              f"{_text(result.stderr).strip() or _text(result.stdout).strip()}"),
                               rc=result.rc)
        return result

    def mask_text(self, text):
        """``text`` (from a command's output) with the secret values this runner knows masked."""
        return mask_text(text, self.masked)


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class Interrupted(TridentError):
    """The run got SIGTERM, SIGINT or SIGHUP; a running command was asked to stop gracefully first."""


class _Interrupts:
    """State of :func:`interruptible` (one per process: signal handlers are process-wide)."""

    active = False
    running = set()
    received = []

    @classmethod
    def handle(cls, signum, _frame):
        cls.received.append(signal.Signals(signum).name)
        if not cls.running:
            # Between commands: stop here; the callers' finally blocks remove what the run wrote.
            raise Interrupted(f"interrupted by {cls.received[-1]} between commands; nothing more was run")
        for proc in list(cls.running):
            # SIGINT is the graceful stop of Terraform/OpenTofu (finish what is in flight, write the state).
            # To the child's process group (its own session), as a terminal's Ctrl-C: it also reaches a
            # command a wrapper started (a sandbox that ignores SIGINT itself and waits for the command).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(proc.pid) == proc.pid:
                    os.killpg(proc.pid, signal.SIGINT)
                else:
                    proc.send_signal(signal.SIGINT)

    @classmethod
    def raise_if_interrupted(cls, argv, result):
        if cls.active and cls.received:
            raise Interrupted(f"interrupted by {cls.received[-1]}: {os.path.basename(str(argv[0]))} was asked to "
                              f"stop gracefully and exited with rc={result.rc}", rc=result.rc)


@contextlib.contextmanager
def interruptible(signals=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP)):
    """Turn SIGTERM/SIGINT/SIGHUP into :class:`Interrupted` (after forwarding SIGINT to the running
    command and waiting for it), so ``finally`` blocks run: private files with secrets are removed and
    locks released instead of the process dying where it stands."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals; the process's own handling stays
        return
    previous = {signum: signal.signal(signum, _Interrupts.handle) for signum in signals}
    _Interrupts.active, _Interrupts.received[:] = True, []
    try:
        yield
    finally:
        _Interrupts.active = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
