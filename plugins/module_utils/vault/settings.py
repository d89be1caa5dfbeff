"""The operator's Vault settings: one argument spec (the ``vault`` option every SOPS reader shares) and the typed
value built from it, with the usual ``VAULT_*`` variables as defaults.

Where the token goes is decided here and only here: the address is the operator's (the option, else ``VAULT_ADDR``),
never an address a repository file names. A SOPS file's ``vault_address`` is only compared with it
(:func:`same_address`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

AUTH_METHODS = ("token", "approle", "jwt")
# Where each method is mounted unless the operator says otherwise (Vault's own defaults).
DEFAULT_AUTH_MOUNTS = {"approle": "approle", "jwt": "jwt"}

VAULT_OPTION_SPEC = dict(
    address=dict(type="str"),
    namespace=dict(type="str"),
    ca_cert=dict(type="path"),
    auth_method=dict(type="str", choices=list(AUTH_METHODS), default="token"),
    auth_mount=dict(type="str"),
    token=dict(type="str", no_log=True),
    role_id=dict(type="str", no_log=True),
    secret_id=dict(type="str", no_log=True),
    jwt_role=dict(type="str"),
    jwt_file=dict(type="path"),
    timeout=dict(type="int", default=30),
    kv_mount=dict(type="str", default="secret"),
)

VAULT_ARGUMENT_SPEC = dict(vault=dict(type="dict", options=VAULT_OPTION_SPEC))

# Option -> variable read when the option is unset and the environment is used (the Vault CLI's names).
ENVIRONMENT = {"address": "VAULT_ADDR", "namespace": "VAULT_NAMESPACE", "ca_cert": "VAULT_CACERT",
               "token": "VAULT_TOKEN"}


@dataclass(frozen=True)
class VaultSettings:
    """The operator's Vault: where, how to log in. Secret fields never appear in repr or messages."""

    address: str = ""
    namespace: str = ""
    ca_cert: str = ""
    auth_method: str = "token"
    auth_mount: str = ""
    token: str = field(default="", repr=False)
    role_id: str = field(default="", repr=False)
    secret_id: str = field(default="", repr=False)
    jwt_role: str = ""
    jwt_file: str = ""
    timeout: int = 30
    kv_mount: str = "secret"

    @property
    def configured(self):
        return bool(self.address)

    @property
    def mount(self):
        return (self.auth_mount or DEFAULT_AUTH_MOUNTS.get(self.auth_method, "")).strip("/")

    def cache_key(self):
        """Identifies these settings without their secrets (a digest stands for them)."""
        digest = hashlib.sha256(repr((self.token, self.role_id, self.secret_id)).encode()).hexdigest()
        return (self.address, self.namespace, self.ca_cert, self.auth_method, self.mount, self.jwt_role,
                self.jwt_file, self.kv_mount, digest)


def vault_settings(option, use_environment=True, environment=None):
    """:class:`VaultSettings` from the ``vault`` option (a dict, already validated, or None) and, unless
    ``use_environment`` is false, ``VAULT_ADDR``, ``VAULT_NAMESPACE``, ``VAULT_CACERT``, ``VAULT_TOKEN``."""
    env = os.environ if environment is None else environment
    option = _validated(option)
    values = {}
    for name in VAULT_OPTION_SPEC:
        value = option.get(name)
        if value in (None, "") and use_environment and name in ENVIRONMENT:
            value = env.get(ENVIRONMENT[name]) or None
        if value not in (None, ""):
            values[name] = value
    values.setdefault("auth_method", "token")
    values["timeout"] = int(values.get("timeout") or 30)
    values["kv_mount"] = str(values.get("kv_mount") or "secret").strip("/")
    return VaultSettings(**values)


def _validated(option):
    """The option with its types and defaults applied (a lookup hands it over unchecked)."""
    if not option:
        return {}
    if not isinstance(option, dict):
        raise TridentError("vault: must be a mapping of Vault settings")
    result = ArgumentSpecValidator(VAULT_OPTION_SPEC).validate(dict(option))
    if result.error_messages:
        raise TridentError("vault: " + "; ".join(result.error_messages))
    return result.validated_parameters


def normalized_address(address):
    """``scheme://host:port`` of an address (lower case, default port made explicit, path dropped when it is
    only ``/``); None if it is not an http(s) URL."""
    try:
        parts = urlsplit(str(address).strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}{parts.path.rstrip('/')}"


def same_address(file_address, settings):
    """Whether a repository file's Vault address is the operator's (compared, never used to connect)."""
    mine = normalized_address(settings.address)
    return mine is not None and normalized_address(file_address) == mine
