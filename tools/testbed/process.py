"""Start and stop long-running service processes that die with their parent."""

import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A test runner killed with SIGKILL cannot run finalizers; the kernel then stops the service.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Managed:
    """``with`` support for the local services: start on entry, stop on exit (also on failure)."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Service:
    """One service process whose output goes to a log file."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the process lifetime)
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=self.env, cwd=self.cwd, preexec_fn=_die_with_parent)
        log.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars=3000):
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read()[-chars:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None


def wait_until(predicate, timeout, what, service=None, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service is not None and not service.running():
            raise RuntimeError(f"{service.name} exited while waiting for {what}:\n{service.log_tail()}")
        if predicate():
            return
        time.sleep(interval)
    tail = service.log_tail() if service is not None else ""
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def http_ok(url, token=None, context=None):
    """True when ``url`` answers 200 (a readiness probe for wait_until)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
