"""A real OpenSSH server on loopback that serves git over SSH with key authentication only."""

import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import tool
from .process import Managed, Service, free_port, wait_until


def _sshd():
    found = shutil.which("sshd", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("'sshd' is not installed: run `make tools` (installs openssh-server)")
    return found


class SSHServer(Managed):
    """sshd on a free loopback port; ``client_key`` is authorised for the current user."""

    def __init__(self, workdir=None):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="trident-ssh-")
        self.workdir = Path(workdir or self._tmp.name)
        self.port = None
        self.user = getpass.getuser()
        self.service = None

    @property
    def client_key(self):
        return self.workdir / "client_ed25519"

    @property
    def host_public_key(self):
        return (self.workdir / "host_ed25519.pub").read_text().strip()

    def known_hosts_line(self):
        key_type, key = self.host_public_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"

    def url(self, repo_path):
        return f"ssh://{self.user}@127.0.0.1:{self.port}{Path(repo_path).resolve()}"

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        for name in ("host_ed25519", "client_ed25519"):
            subprocess.run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(self.workdir / name)],
                           check=True, capture_output=True)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text((self.workdir / "client_ed25519.pub").read_text())
        authorized.chmod(0o600)
        self.port = free_port()
        config = self.workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.workdir / 'host_ed25519'}",
            f"AuthorizedKeysFile {authorized}", f"PidFile {self.workdir / 'sshd.pid'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "LogLevel VERBOSE", "",
        ]))
        if os.geteuid() == 0:
            # Privilege separation needs this directory; a fresh machine that never ran sshd lacks it.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.service = Service("sshd", [_sshd(), "-D", "-e", "-f", str(config)],
                               self.workdir / "sshd.log").start()
        wait_until(self._answers, 15, "sshd", self.service)
        return self

    def _answers(self):
        probe = subprocess.run(["ssh-keyscan", "-p", str(self.port), "-T", "1", "127.0.0.1"], capture_output=True,
                               text=True, check=False)
        return probe.returncode == 0 and "ssh-ed25519" in probe.stdout

    def stop(self):
        if self.service is not None:
            self.service.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
