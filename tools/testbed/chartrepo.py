"""Helm chart sources on loopback: an HTTPS chart repository with basic auth, and an OCI registry.

The repository serves ``index.yaml`` and packaged charts that the real ``helm package`` and
``helm repo index`` made; the registry is the real distribution ``registry`` (TLS, htpasswd basic
auth) that charts are pushed to with the real ``helm push``. Both use a throwaway CA whose
certificate file clients are given.
"""

import base64
import hmac
import os
import secrets
import ssl
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import yaml

from . import pki, tool
from .process import Managed, Service, free_port, wait_until


def helm(*args, home, input_data=None):
    """Run the pinned helm with its homes under ``home`` (never the user's); returns stdout."""
    env = {**os.environ, "HELM_CONFIG_HOME": f"{home}/config", "HELM_CACHE_HOME": f"{home}/cache",
           "HELM_DATA_HOME": f"{home}/data"}
    proc = subprocess.run([tool("helm"), *map(str, args)], input=input_data, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"helm {' '.join(map(str, args))} failed: {proc.stderr}")
    return proc.stdout


def package(chart_dir, destination, home, *options):
    """``helm package`` a chart folder into ``destination``; returns the .tgz path."""
    out = helm("package", chart_dir, "--destination", destination, *options, home=home)
    return Path(out.strip().splitlines()[-1].rsplit(": ", 1)[-1])


class _TLSService(Managed):
    """A private folder, a CA and a server certificate for 127.0.0.1."""

    def __init__(self, workdir, username, password):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="trident-charts-")
        self.workdir = Path(workdir or self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password or secrets.token_hex(12)
        self.home = self.workdir / "helm-home"
        ca = pki.CertificateAuthority()
        cert, key = ca.issue("127.0.0.1", hosts=["127.0.0.1", "localhost"])
        self.ca_file = self.workdir / "ca.crt"
        self.ca_file.write_bytes(ca.cert_pem)
        self.cert_file = self.workdir / "server.crt"
        self.cert_file.write_bytes(cert)
        self.key_file = self.workdir / "server.key"
        self.key_file.write_bytes(key)

    def _cleanup(self):
        if self._tmp is not None:
            self._tmp.cleanup()


class ChartRepository(_TLSService):
    """An HTTPS chart repository (basic auth) serving the files of ``root``; :meth:`add` publishes a chart."""

    def __init__(self, workdir=None, username="trident", password=None):
        super().__init__(workdir, username, password)
        self.root = self.workdir / "repo"
        self.root.mkdir(exist_ok=True)
        self.server = None
        self.requests = []

    @property
    def url(self):
        return f"https://127.0.0.1:{self.server.server_address[1]}/charts"

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _repository_handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self._cleanup()

    def add(self, chart_dir, sign_with=None):
        """Package ``chart_dir`` with the real helm and rebuild index.yaml; returns the .tgz path.

        ``sign_with`` = (key name, legacy secret keyring) signs the package (a .prov file)."""
        extra = ["--sign", "--key", sign_with[0], "--keyring", sign_with[1]] if sign_with else []
        path = package(chart_dir, self.root, self.home, *extra)
        helm("repo", "index", self.root, "--url", self.url, home=self.home)
        return path

    def index(self):
        return yaml.safe_load((self.root / "index.yaml").read_text())


def _repository_handler(repo):
    expected = "Basic " + base64.b64encode(f"{repo.username}:{repo.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # requests are recorded instead
            pass

        def do_GET(self):  # noqa: N802 (http.server's naming)
            authorised = hmac.compare_digest(self.headers.get("Authorization", ""), expected)
            repo.requests.append((self.path, authorised))
            name = self.path.split("?", 1)[0]
            if not authorised:
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="trident-charts"'})
                return
            path = repo.root / name.rsplit("/", 1)[-1]
            if not name.startswith("/charts/") or not path.is_file():
                self._send(404, b"not found")
                return
            self._send(200, path.read_bytes())

        def _send(self, status, body, headers=None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class OCIRegistry(_TLSService):
    """The real distribution registry on loopback (TLS, htpasswd basic auth); :meth:`push` publishes a chart."""

    def __init__(self, workdir=None, username="trident", password=None):
        super().__init__(workdir, username, password)
        self.port = None
        self.service = None

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def url(self, chart_name):
        return f"oci://{self.host}/charts/{chart_name}"

    def start(self):
        self.port = free_port()
        htpasswd = self.workdir / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
        htpasswd.write_text(f"{self.username}:{hashed}\n")
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}},
            "http": {"addr": self.host, "secret": secrets.token_hex(16),
                     "tls": {"certificate": str(self.cert_file), "key": str(self.key_file)}},
            "auth": {"htpasswd": {"realm": "trident-registry", "path": str(htpasswd)}},
        }
        config_file = self.workdir / "config.yml"
        config_file.write_text(yaml.safe_dump(config))
        env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        self.service = Service("registry", [tool("registry"), "serve", config_file], self.workdir / "registry.log",
                               env=env).start()
        wait_until(self._answers, 30, "the OCI registry", self.service)
        helm("registry", "login", self.host, "--username", self.username, "--password-stdin", "--ca-file",
             self.ca_file, home=self.home, input_data=self.password)
        return self

    def _answers(self):
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            urllib.request.urlopen(f"https://{self.host}/v2/", context=context, timeout=2)  # noqa: S310
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except OSError:
            return False
        return False

    def push(self, chart_dir):
        """Package ``chart_dir`` and ``helm push`` it to ``oci://HOST/charts``; returns the chart's reference."""
        tgz = package(chart_dir, self.workdir / "packages", self.home)
        helm("push", tgz, f"oci://{self.host}/charts", "--ca-file", self.ca_file, home=self.home)
        return self.url(yaml.safe_load((Path(chart_dir) / "Chart.yaml").read_text())["name"])

    def stop(self):
        if self.service is not None:
            self.service.stop()
        self._cleanup()
