"""A small HashiCorp Vault HTTP client: log in (token, AppRole, JWT from a file), transit ``decrypt``, KV v2 reads.

Only what SOPS keys and secret references need, over Ansible's own ``open_url`` (no new dependency). Every request
goes to the operator's address (:mod:`.settings`), never one a repository file names; redirects are not followed
(a redirect would carry the token elsewhere) and ``~/.netrc`` is not read. The token lives in this object's memory
only: it is never written, logged, returned or put in a message, nor are a secret id, a JWT or a value read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import ssl
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, SSLValidationError, open_url

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

# A path segment a repository file may name (transit engine path, key name, KV path): no '..', no URL syntax.
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+=-]*$")


# What to do about a certificate the client does not trust (said with every TLS failure).
_TRUST = "; the authority that signed Vault's certificate is the vault.ca_cert option or VAULT_CACERT"


class VaultError(TridentError):
    """Vault refused or could not be reached; the message names the address and path, never a secret."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def checked_path(path, what):
    """``path`` (``a/b/c``) if every segment is a plain name; else a :class:`VaultError` naming ``what``."""
    segments = str(path).strip("/").split("/")
    if not path or not all(_SEGMENT.match(s) and s not in (".", "..") for s in segments):
        raise VaultError(f"{what} {path!r} is not a Vault path (plain names separated by '/')")
    return "/".join(segments)


class VaultClient:
    """One operator Vault. Logs in at the first request that needs a token, once."""

    def __init__(self, settings, opener=open_url):
        self.settings = settings
        self._open = opener
        self._token = None
        self.requests = 0  # requests sent, login included (the benchmark counts them)

    # -- HTTP ------------------------------------------------------------------------------------
    def _request(self, method, path, body=None, token=True):
        if not self.settings.configured:
            raise VaultError("no Vault address is configured (the vault.address option or VAULT_ADDR)")
        headers = {"Content-Type": "application/json", "X-Vault-Request": "true"}
        if self.settings.namespace:
            headers["X-Vault-Namespace"] = self.settings.namespace
        if token:
            headers["X-Vault-Token"] = self.token()
        url = f"{self.settings.address.rstrip('/')}/v1/{path}"
        where = f"Vault {self.settings.address} {method} /v1/{path}"
        self.requests += 1
        try:
            response = self._open(url, data=json.dumps(body).encode() if body is not None else None,
                                  headers=headers, method=method, timeout=self.settings.timeout,
                                  validate_certs=True, ca_path=self.settings.ca_cert or None,
                                  follow_redirects="none", use_netrc=False, http_agent="trident.gitops")
            raw = response.read()
        except HTTPError as exc:
            raise VaultError(f"{where}: {exc.code} {_vault_errors(exc)}", status=exc.code) from None
        except (SSLValidationError, ssl.SSLError) as exc:
            raise VaultError(f"{where}: TLS verification failed ({_reason(exc)}){_TRUST}") from None
        except URLError as exc:
            # urllib wraps a failed handshake (an authority the client does not trust) in a URLError: not unreachable.
            if isinstance(exc.reason, ssl.SSLError):
                raise VaultError(f"{where}: TLS verification failed ({_reason(exc)}){_TRUST}") from None
            raise VaultError(f"{where}: Vault is unreachable ({_reason(exc)})") from None
        except (UrlsConnectionError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            raise VaultError(f"{where}: Vault is unreachable ({_reason(exc)})") from None
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise VaultError(f"{where}: the answer is not JSON") from None

    # -- authentication ----------------------------------------------------------------------------
    def token(self):
        if self._token is None:
            self._token = self._login()
        return self._token

    def _login(self):
        settings = self.settings
        if settings.auth_method == "token":
            if not settings.token:
                raise VaultError(f"Vault {settings.address}: no token (the vault.token option or VAULT_TOKEN)")
            return settings.token
        if settings.auth_method == "approle":
            if not (settings.role_id and settings.secret_id):
                raise VaultError(f"Vault {settings.address}: AppRole needs vault.role_id and vault.secret_id")
            body = {"role_id": settings.role_id, "secret_id": settings.secret_id}
        else:
            if not (settings.jwt_role and settings.jwt_file):
                raise VaultError(f"Vault {settings.address}: JWT login needs vault.jwt_role and vault.jwt_file")
            body = {"role": settings.jwt_role, "jwt": _read_jwt(settings.jwt_file)}
        mount = checked_path(settings.mount, "auth mount")
        answer = self._request("POST", f"auth/{mount}/login", body, token=False)
        token = (answer.get("auth") or {}).get("client_token")
        if not isinstance(token, str) or not token:
            raise VaultError(f"Vault {settings.address}: the {settings.auth_method} login returned no token")
        return token

    # -- engines ---------------------------------------------------------------------------------
    def transit_decrypt(self, engine_path, key_name, ciphertext):
        """The plaintext bytes of a transit ciphertext (``vault:v1:...``) decrypted by key ``key_name``."""
        path = f"{checked_path(engine_path, 'transit engine path')}/decrypt/{checked_path(key_name, 'transit key')}"
        if "/" in key_name.strip("/"):
            raise VaultError(f"transit key {key_name!r} is not a plain name")
        answer = self._request("POST", path, {"ciphertext": ciphertext})
        plaintext = (answer.get("data") or {}).get("plaintext")
        try:
            return base64.b64decode(plaintext, validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise VaultError(f"Vault {self.settings.address} POST /v1/{path}: no base64 plaintext in the answer") \
                from None

    def kv_read(self, mount, path, version=None):
        """``(data, version)`` of KV v2 secret ``path`` under ``mount`` (its latest version unless pinned)."""
        url = f"{checked_path(mount, 'KV mount')}/data/{checked_path(path, 'KV path')}"
        if version is not None:
            url += f"?version={int(version)}"
        answer = self._request("GET", url)
        data = answer.get("data") or {}
        if not isinstance(data.get("data"), dict):
            raise VaultError(f"Vault {self.settings.address} GET /v1/{url}: no data (deleted or destroyed version?)",
                             status=404)
        return data["data"], (data.get("metadata") or {}).get("version")


def _read_jwt(path):
    try:
        with open(path, encoding="utf-8") as handle:
            jwt = handle.read().strip()
    except OSError as exc:
        raise VaultError(f"cannot read the JWT file {path} ({exc.strerror})") from None
    if not jwt:
        raise VaultError(f"the JWT file {path} is empty")
    return jwt


def _vault_errors(exc):
    """Vault's ``errors`` list (it holds no secret of ours), shortened; the HTTP reason if there is none."""
    try:
        errors = json.loads(exc.read() or b"{}").get("errors") or []
        text = "; ".join(str(e) for e in errors).replace("\n", " ").strip()
    except (ValueError, AttributeError, OSError):
        text = ""
    if not text:
        text = {503: "Vault is sealed or unavailable", 403: "permission denied", 404: "not found"}.get(
            exc.code, str(exc.reason or ""))
    return text[:300]


def _reason(exc):
    return str(getattr(exc, "reason", None) or exc)[:200]
