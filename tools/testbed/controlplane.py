"""A real Kubernetes control plane on loopback: etcd + kube-apiserver, token auth, RBAC.

By default there is no kubelet, scheduler or controller-manager: objects are stored and validated
exactly as in a cluster (admission, defaulting, server-side apply, CRDs), but Pods never run and
namespace deletion does not finish. That is what drift detection and apply need to be tested against,
and it starts in a few seconds.

``ControlPlane(workloads=True)`` also runs kube-controller-manager, kube-scheduler and kwok with a few
fake nodes: ReplicaSets and Pods are created, scheduled and become Ready, Jobs complete, namespaces
are finalised and owners' dependents garbage-collected. Pod states a test needs (never ready,
crash-looping, image pull failure, failed) are kwok Stages chosen by a Pod annotation
(``kwok/stages/``, docs/testbed.md).
"""

import base64
import json
import secrets
import ssl
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from . import pki, tool
from .process import Managed, Service, free_port, http_ok, wait_until
from .workloads import WorkloadControllers

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class ControlPlane(Managed):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self, workdir=None, audit=False, workloads=False, nodes=3):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="trident-cp-")
        self.workdir = Path(workdir or self._tmp.name)
        self.audit = audit
        # Opt-in: controllers, scheduler and kwok nodes (see the module docstring).
        self.workloads = WorkloadControllers(self, nodes) if workloads else None
        self.admin_token = secrets.token_hex(16)
        self.viewer_token = secrets.token_hex(16)
        self.etcd = None
        self.apiserver = None
        self.port = None
        self.etcd_port = None
        self.ready_seconds = None
        self.ca = None  # the CertificateAuthority, once start() made it

    # -- paths -------------------------------------------------------------------------------
    @property
    def server(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self):
        return self.workdir / "ca.crt"

    @property
    def kubeconfig(self):
        return self.workdir / "kubeconfig.yaml"

    @property
    def audit_log(self):
        return self.workdir / "audit.log"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout=90):
        started = time.monotonic()
        self._write_pki()
        self._start_etcd(timeout)
        self._start_apiserver(timeout)
        self._write_kubeconfig()
        if self.workloads is not None:
            self.workloads.start(timeout)
        self.ready_seconds = time.monotonic() - started
        return self

    def stop(self):
        if self.workloads is not None:
            self.workloads.stop()
        for service in (self.apiserver, self.etcd):
            if service is not None:
                service.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def restart_apiserver(self, timeout=90):
        """Stop and start kube-apiserver alone (etcd and its data stay), e.g. to test recovery."""
        self.apiserver.stop()
        self._start_apiserver(timeout)

    def kill_apiserver(self):
        self.apiserver.stop(timeout=0)

    # -- internals ---------------------------------------------------------------------------
    def _write_pki(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Kept: tests issue client certificates that kube-apiserver accepts (--client-ca-file).
        self.ca = ca = pki.CertificateAuthority()
        self.ca_file.write_bytes(ca.cert_pem)
        cert, key = ca.issue("kube-apiserver", hosts=["127.0.0.1", "localhost", "kubernetes",
                                                      "kubernetes.default", "kubernetes.default.svc"])
        (self.workdir / "apiserver.crt").write_bytes(cert)
        (self.workdir / "apiserver.key").write_bytes(key)
        sa_key, sa_pub = pki.rsa_key_pair()
        (self.workdir / "sa.key").write_bytes(sa_key)
        (self.workdir / "sa.pub").write_bytes(sa_pub)
        # token,user,uid,"groups": an admin and a user with no RBAC bindings at all.
        (self.workdir / "tokens.csv").write_text(
            f'{self.admin_token},trident-admin,1,"system:masters"\n'
            f'{self.viewer_token},trident-nobody,2,"trident:nobody"\n'
        )
        (self.workdir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
        for key_file in ("apiserver.key", "sa.key", "tokens.csv"):
            (self.workdir / key_file).chmod(0o600)

    def _start_etcd(self, timeout):
        self.etcd_port, peer_port = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{peer_port}"
        self.etcd = Service("etcd", [
            tool("etcd"), "--name=default", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
        ], self.workdir / "etcd.log").start()
        wait_until(lambda: http_ok(f"{client_url}/health"), timeout, "etcd health", self.etcd)

    def _start_apiserver(self, timeout):
        if self.port is None:
            self.port = free_port()
        argv = [
            tool("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={self.workdir / 'apiserver.crt'}",
            f"--tls-private-key-file={self.workdir / 'apiserver.key'}",
            f"--client-ca-file={self.ca_file}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.workdir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--allow-privileged=true", "--profiling=false", "--v=1",
            f"--cert-dir={self.workdir / 'certs'}",
        ]
        if self.audit:
            argv += [f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
                     f"--audit-log-path={self.audit_log}", "--audit-log-format=json", "--audit-log-mode=blocking"]
        self.apiserver = Service("kube-apiserver", argv, self.workdir / "apiserver.log").start()
        context = ssl.create_default_context(cafile=str(self.ca_file))
        wait_until(lambda: http_ok(f"{self.server}/readyz", self.admin_token, context), timeout,
                   "kube-apiserver /readyz", self.apiserver, interval=0.2)

    def _write_kubeconfig(self):
        # Self-contained (the CA inline): its content can be handed to kube_diff as it is, which refuses content that
        # names a file unless it knows the repository folder to resolve it in.
        ca_data = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "trident-test",
            "clusters": [{"name": "trident-test", "cluster": {"server": self.server,
                                                              "certificate-authority-data": ca_data}}],
            "users": [{"name": "trident-admin", "user": {"token": self.admin_token}}],
            "contexts": [{"name": "trident-test", "context": {"cluster": "trident-test", "user": "trident-admin"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def request(self, method, path, body=None):
        """One admin request to the API server; the decoded JSON answer (HTTP errors raise)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read() or b"{}")

    def count_audit_requests(self):
        """Requests the apiserver has answered so far (needs ``audit=True``), by verb."""
        counts = {}
        if not self.audit_log.exists():
            return counts
        for line in self.audit_log.read_text().splitlines():
            event = json.loads(line)
            if event.get("stage") == "ResponseComplete" and event["user"]["username"] != "system:apiserver":
                counts[event["verb"]] = counts.get(event["verb"], 0) + 1
        return counts
