"""Every Terraform/OpenTofu command of a run inside a bubblewrap sandbox that sees only what the run needs.

Why: the configuration comes from a repository, and Terraform does what a configuration says on the machine
that runs it. ``file("/home/ci/.ssh/id_ed25519")`` or a ``local_file`` data source reads a controller file
during a merge-request preview's plan, a ``local-exec`` provisioner runs a program at apply, a provider folder
in the repository is a program the branch wrote. In the sandbox "the machine" is a filesystem made of the
system directories (read-only), the run's own folders (the staged copy of the configuration, the state dir)
and the operator's provider locations (read-only): no home directory, no other checkout, no credential file
and no other controller file exists there, so nothing can read, run or change one. The network is shared:
providers and backends need it.

A command the sandbox cannot start (no ``bwrap``, no user namespaces in an unprivileged container) fails
with a message that says so; the operator may then run the environment unsandboxed (``sandbox: none``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

BUBBLEWRAP = "bubblewrap"
NONE = "none"
# System paths every sandbox shows read-only when they exist on the controller (a symlink, such as /bin on a
# merged-/usr system, is recreated as the same symlink). /etc is not shown whole: only what TLS and name
# resolution read.
SYSTEM_PATHS = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    "/etc/ssl", "/etc/pki", "/etc/ca-certificates", "/etc/crypto-policies", "/etc/alternatives",
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/localtime",
    "/etc/services", "/etc/protocols",
)
# The sandbox's own temporary folder (TMPDIR): a new tmpfs, at a short path (providers put their plugin
# sockets there, and a socket path is limited to 107 bytes).
SANDBOX_TMP = "/run/trident-tmp"
# bwrap reports its own failures (before the command starts) on stderr with this prefix, and exits 1.
# Terraform's diagnostics start with a newline or a box-drawing border, never with this prefix.
_BWRAP_PREFIX = "bwrap: "
_BWRAP_FAILED = 1


@dataclass(frozen=True)
class View:
    """What one command sees besides the system paths: controller paths, shown at the same path.

    ``readable`` paths are read-only, ``writable`` ones writable; a writable path inside a readable one
    (a state dir's data dir) is writable. Paths that do not exist are left out.
    """

    readable: tuple = ()
    writable: tuple = ()
    # For programs the operator allowed: /proc and a /tmp of their own. /proc shows a process its environment
    # (/proc/self/environ, the controller's variables); Terraform and its providers run without either.
    programs: bool = False


def bwrap_binary():
    """The path of ``bwrap``; TridentError naming the fix when it is not installed."""
    found = shutil.which("bwrap")
    if not found:
        raise TridentError(unavailable("bwrap was not found (install the bubblewrap package)"))
    return found


def unavailable(reason):
    return (f"cannot run terraform in its sandbox: {reason}; nothing was run. The sandbox keeps the configuration "
            "from reading controller files or running programs there. Make bubblewrap work here (the package, "
            "and user namespaces for this user), or, to run this environment's terraform unsandboxed, with every "
            "file and program of the controller within its reach, set sandbox: none for it")


def command(argv, view, cwd, bwrap=None):
    """``argv`` wrapped to run in a sandbox showing ``view``, with ``cwd`` as its working directory.

    bwrap starts with SIGINT ignored (``env --ignore-signal``) and passes that on to the command, which
    installs its own handler (Terraform does): a SIGINT to the process group then reaches Terraform, which
    stops gracefully, while bwrap stays to wait for it. A bwrap killed by SIGINT would leave Terraform running
    unwatched, or, with --die-with-parent, kill it before it writes its state.
    """
    args = [shutil.which("env") or "/usr/bin/env", "--ignore-signal=INT", bwrap or bwrap_binary(),
            "--unshare-all", "--share-net", "--cap-drop", "ALL", "--dev", "/dev", "--tmpfs", SANDBOX_TMP]
    if view.programs:
        args += ["--proc", "/proc", "--tmpfs", "/tmp"]
    for path in SYSTEM_PATHS:
        args += _show(path, path, writable=False)
    # Parents before children, so a writable folder inside a read-only one is mounted on top of it.
    shown = sorted({(os.path.abspath(path), False) for path in view.readable}
                   | {(os.path.abspath(path), True) for path in view.writable},
                   key=lambda item: (item[0].count(os.sep), item[1], item[0]))
    for path, writable in shown:
        if os.path.lexists(path):
            args += _bind(os.path.realpath(path), path, writable)
    # The root (bwrap's own tmpfs, holding the mount points) last: read-only.
    return [*args, "--remount-ro", "/", "--chdir", cwd, "--", *argv]


def _show(source, target, writable):
    if os.path.islink(source):
        return ["--symlink", os.readlink(source), target]
    if os.path.exists(source):
        return _bind(source, target, writable)
    return []


def _bind(source, target, writable):
    return ["--bind" if writable else "--ro-bind", source, target]


def failure(result):
    """The sandbox's own failure in ``result`` (bwrap could not set it up), or None when the command ran."""
    stderr = result.stderr.decode(errors="replace") if isinstance(result.stderr, bytes) else result.stderr or ""
    if result.rc == _BWRAP_FAILED and stderr.startswith(_BWRAP_PREFIX):
        return stderr.strip().splitlines()[0]
    return None
