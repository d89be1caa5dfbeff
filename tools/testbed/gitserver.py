"""Real git servers on loopback: ``git daemon`` (git://) and smart HTTP (git-http-backend) with basic auth."""

import base64
import hmac
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import tool
from .process import Managed, Service, free_port, wait_until

HTTP_BACKEND = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                                   check=True).stdout.strip()) / "git-http-backend"


def git(*args, cwd=None, env=None, check=True):
    """Run git with an isolated identity/config; returns stdout."""
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Trident Test",
                "GIT_AUTHOR_EMAIL": "test@trident.invalid", "GIT_COMMITTER_NAME": "Trident Test",
                "GIT_COMMITTER_EMAIL": "test@trident.invalid", "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    proc = subprocess.run([tool("git"), *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


class GitServer(Managed):
    """Bare repositories under ``root`` served over git:// and http:// (with optional basic auth)."""

    def __init__(self, root=None, username="trident", password=None):
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="trident-git-")
        self.root = Path(root or self._tmp.name)
        self.username = username
        self.password = password or base64.b32encode(os.urandom(10)).decode().lower()
        self.daemon = None
        self.http = None
        self.daemon_port = None
        self.http_port = None
        self.requests = []

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.daemon_port = free_port()
        self.daemon = Service("git-daemon", [
            tool("git"), "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
            f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.daemon_port}", str(self.root),
        ], self.root.parent / f"{self.root.name}-daemon.log").start()
        wait_until(self._daemon_answers, 15, "git daemon", self.daemon)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.http_port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        if self.daemon is not None:
            self.daemon.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _daemon_answers(self):
        probe = self.create_repo("_probe")
        ok = subprocess.run([tool("git"), "ls-remote", self.git_url("_probe")], capture_output=True,
                            check=False).returncode == 0
        shutil.rmtree(probe)
        return ok

    # -- repositories ------------------------------------------------------------------------
    def create_repo(self, name):
        path = self.root / f"{name}.git"
        git("init", "--bare", "--initial-branch=main", str(path))
        git("config", "http.receivepack", "true", cwd=path)
        return path

    def git_url(self, name):
        return f"git://127.0.0.1:{self.daemon_port}/{name}.git"

    def http_url(self, name, with_credentials=False):
        auth = f"{self.username}:{self.password}@" if with_credentials else ""
        return f"http://{auth}127.0.0.1:{self.http_port}/{name}.git"


def _handler_for(server):
    expected = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()

    class GitHTTPHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean; requests are recorded instead
            pass

        def _authorised(self):
            return hmac.compare_digest(self.headers.get("Authorization", ""), expected)

        def _body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self):
            server.requests.append((self.command, self.path, self.headers.get("Authorization") is not None))
            if not self._authorised():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="trident-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _sep, query = self.path.partition("?")
            env = {"GIT_PROJECT_ROOT": str(server.root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
                   "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_USER": server.username,
                   "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                   "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "PATH": os.environ["PATH"]}
            body = self._body() if self.command == "POST" else b""
            env["CONTENT_LENGTH"] = str(len(body))
            proc = subprocess.run([str(HTTP_BACKEND)], input=body, env=env, capture_output=True, check=False)
            head, _sep, payload = proc.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                key, _sep, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return GitHTTPHandler
