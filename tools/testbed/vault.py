"""A real HashiCorp Vault on loopback: dev mode (in memory), root token, transit, KV v2, AppRole and JWT auth.

The ``vault`` binary is the pinned one of ``tools/toolchain.py`` (built with Vault's own ``minimal`` tag:
the core engines, kv, transit, pki, ssh, and the approle, jwt/oidc, cert and userpass auth methods; no
cloud plugins, no database plugins). Dev mode keeps everything in memory, is unsealed at start with one
key share, and is what Vault documents for tests; ``-dev-no-store-token`` keeps the root token out of
``~/.vault-token``. ``tls=True`` serves HTTPS with the certificate authority Vault writes (``ca_file``).

Mounted at start: KV v2 at ``secret/`` (dev mode's own), transit at ``transit/``, AppRole at
``auth/approle`` and JWT at ``auth/jwt``, both logging in with policy ``trident-reader`` (transit
encrypt/decrypt, KV reads). :meth:`approle_credentials` and :meth:`jwt_for` give what a client logs in with.
"""

import base64
import json
import re
import secrets
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import tool
from .process import Managed, Service, free_port, wait_until

READER_POLICY = "trident-reader"
READER_RULES = """
path "transit/encrypt/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read", "list"] }
"""
JWT_ISSUER = "https://ci.trident.invalid"
JWT_AUDIENCE = "trident-vault"


class VaultError(RuntimeError):
    """Vault answered an error; ``status`` is the HTTP status, the message Vault's ``errors``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class VaultServer(Managed):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self, workdir=None, tls=False):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="trident-vault-")
        self.workdir = Path(workdir or self._tmp.name)
        self.tls = tls
        self.root_token = "root-" + secrets.token_hex(16)
        self.port = None
        self.service = None
        self.ready_seconds = None
        self._jwt_key = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def address(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self):
        """The CA that signed the server certificate (``tls=True`` only)."""
        return self.workdir / "tls" / "vault-ca.pem" if self.tls else None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout=60):
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = [tool("vault"), "server", "-dev", f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token", "-log-level=warn"]
        if self.tls:
            (self.workdir / "tls").mkdir(exist_ok=True)
            argv += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir / 'tls'}"]
        # No VAULT_* variable of the caller's reaches the server; HOME is private.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir)}
        self.service = Service("vault", argv, self.workdir / "vault.log", env=env, cwd=self.workdir).start()
        wait_until(self._active, timeout, "vault /v1/sys/health (unsealed, active)", self.service, interval=0.2)
        self._configure()
        self.ready_seconds = time.monotonic() - started
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def seal(self):
        """Seal Vault: every request but ``sys/health`` and ``sys/unseal`` then fails with 503."""
        self.request("PUT", "sys/seal")

    def unseal(self):
        """Unseal with dev mode's single key share (printed in its log at start)."""
        found = re.search(r"Unseal Key: (\S+)", self.service.log_tail(chars=1 << 20))
        if not found:
            raise RuntimeError("vault's log holds no unseal key (dev mode prints it at start)")
        self.request("PUT", "sys/unseal", {"key": found.group(1)}, token=None)

    # -- HTTP API ----------------------------------------------------------------------------
    def _context(self):
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.tls else None

    def request(self, method, path, body=None, token=""):
        """One request to ``/v1/<path>`` (root token unless ``token`` is given; None sends none).

        Returns the decoded JSON answer ({} for 204); an error answer raises :class:`VaultError`.
        """
        headers = {"Content-Type": "application/json"}
        token = self.root_token if token == "" else token
        if token is not None:
            headers["X-Vault-Token"] = token
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.address}/v1/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self._context()) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode(errors="replace")
            try:
                message = "; ".join(json.loads(answer).get("errors") or []) or answer
            except ValueError:
                message = answer
            raise VaultError(exc.code, f"vault {method} /v1/{path}: {exc.code} {message}") from None

    def _active(self):
        request = urllib.request.Request(f"{self.address}/v1/sys/health")
        try:
            with urllib.request.urlopen(request, timeout=2, context=self._context()) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, FileNotFoundError):
            # Before dev mode has written its CA the TLS context cannot be made: not ready yet.
            return False

    def _configure(self):
        self.request("POST", "sys/mounts/transit", {"type": "transit"})
        self.request("PUT", f"sys/policies/acl/{READER_POLICY}", {"policy": READER_RULES})
        self.request("POST", "sys/auth/approle", {"type": "approle"})
        self.request("POST", "auth/approle/role/trident", {"token_policies": [READER_POLICY], "token_ttl": "10m"})
        self.request("POST", "sys/auth/jwt", {"type": "jwt"})
        self._jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = self._jwt_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.request("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [public_pem], "bound_issuer": JWT_ISSUER})
        self.request("POST", "auth/jwt/role/trident", {
            "role_type": "jwt", "bound_audiences": [JWT_AUDIENCE], "user_claim": "sub",
            "token_policies": [READER_POLICY], "token_ttl": "10m"})

    # -- test data ---------------------------------------------------------------------------
    def create_transit_key(self, name, key_type="aes256-gcm96"):
        self.request("POST", f"transit/keys/{name}", {"type": key_type})
        return f"{self.address}/v1/transit/keys/{name}"

    def kv_put(self, path, data):
        """Write a new version of ``secret/<path>``; returns its version number."""
        return self.request("POST", f"secret/data/{path}", {"data": data})["data"]["version"]

    def kv_get(self, path, version=None):
        suffix = f"?version={version}" if version is not None else ""
        return self.request("GET", f"secret/data/{path}{suffix}")["data"]["data"]

    def approle_credentials(self):
        """``(role_id, secret_id)`` of AppRole role ``trident`` (a fresh secret id each call)."""
        role_id = self.request("GET", "auth/approle/role/trident/role-id")["data"]["role_id"]
        secret_id = self.request("POST", "auth/approle/role/trident/secret-id")["data"]["secret_id"]
        return role_id, secret_id

    def jwt_for(self, subject="ci-job", audience=JWT_AUDIENCE, issuer=JWT_ISSUER, lifetime=300):
        """An RS256 JWT that JWT role ``trident`` accepts (a CI job's ID token), as a string."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now - 5, "exp": now + lifetime}
        segments = [_b64url(json.dumps(part, separators=(",", ":")).encode())
                    for part in ({"alg": "RS256", "typ": "JWT"}, claims)]
        signed = ".".join(segments).encode()
        signature = self._jwt_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return f"{signed.decode()}.{_b64url(signature)}"

    def login_approle(self, role_id, secret_id):
        return self.request("POST", "auth/approle/login", {"role_id": role_id, "secret_id": secret_id},
                            token=None)["auth"]["client_token"]

    def login_jwt(self, jwt, role="trident"):
        return self.request("POST", "auth/jwt/login", {"role": role, "jwt": jwt}, token=None)["auth"]["client_token"]


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
