"""What a kubeconfig's context connects to and authenticates with, read without writing a credential to disk.

Why here and not in the kubernetes client's loader: the loader reads every file a kubeconfig names wherever it
points, and writes inline certificates and those an exec plugin prints to temporary files, which a SIGKILL
leaves behind. Here the kubeconfig has already been confined (kube/kubeconfig.py: its file fields hold checked
real paths) and its commands allowed (client.refuse_credential_command); tokens, token files, client
certificates and basic auth are read directly, an exec plugin runs through the kubernetes client's ExecProvider
(the ExecCredential protocol) and an auth provider through its loader given only the user entry, neither of
which then writes a file. Certificates given inline or printed by a plugin are anonymous memory files
(:class:`CredentialFiles`): the SSL module loads a client certificate only from a path (the CA loads from memory).

The order of credentials is the kubernetes Python client's: an auth provider, then a token or token file, then an
exec plugin, then user name and password; a client certificate goes with any of them.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

try:
    import urllib3
except ImportError:  # reported by the module (common.deps.require)
    urllib3 = None


@dataclass(frozen=True)
class Endpoint:
    """The API server of a kubeconfig's context and what authenticates to it (never shown in a message)."""

    server: str
    authorization: str | None  # the Authorization header's value
    ca_data: str | None  # PEM text (certificate-authority-data)
    ca_file: str | None  # certificate-authority
    cert_file: str | None
    key_file: str | None
    verify: bool


def named(config, section, name, field):
    """The ``field`` mapping of the entry ``name`` of ``section`` (None when there is no such entry)."""
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(field) or {}
            if not isinstance(value, dict):
                raise TridentError(f"invalid kubeconfig: the {field} entry {name!r} is not a mapping")
            return value
    return None


class CredentialFiles:
    """Paths for certificates and keys held in memory, which the SSL context can only load from files.

    On Linux each is an anonymous memory file (memfd) opened as ``/proc/self/fd/N``: nothing reaches the
    disk, and the kernel frees it with the process, also after SIGKILL. Elsewhere a private temporary
    directory is used; it is removed on exit, but a SIGKILL at that moment leaves it.
    """

    def __init__(self):
        self._fds, self._tmp = [], None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fd in self._fds:
            os.close(fd)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def add(self, data):
        """A path from which ``data`` can be read until the end of the ``with`` block."""
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("trident-kube-credential", os.MFD_CLOEXEC)
            self._fds.append(fd)
            os.write(fd, data)
            return f"/proc/self/fd/{fd}"
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="trident-kube-")  # mode 0700
        fd, path = tempfile.mkstemp(dir=self._tmp)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path


def endpoint(kubeconfig, context_name, files):
    """The :class:`Endpoint` of ``context_name`` (default the current context) of ``kubeconfig``
    (kube/kubeconfig.Kubeconfig); ``files`` holds the in-memory certificates."""
    config = kubeconfig.config
    name = context_name or config.get("current-context")
    context = named(config, "contexts", name, "context")
    if context is None:
        raise TridentError(f"invalid kubeconfig: no context named {name!r}")
    cluster = named(config, "clusters", context.get("cluster"), "cluster")
    if not cluster or not cluster.get("server"):
        raise TridentError(f"invalid kubeconfig: context {name!r} names no cluster with a server")
    user = named(config, "users", context.get("user"), "user") or {}
    who = f"user '{context.get('user')}' of context '{name}'"
    authorization, cert_file, key_file = _credential(user, cluster, kubeconfig, files, who)
    if cert_file is None:
        cert_file = _file_or_data(user, "client-certificate", kubeconfig, files, who)
        key_file = _file_or_data(user, "client-key", kubeconfig, files, who)
    ca_data = _data(cluster, "certificate-authority", who)
    ca_file = _path(cluster["certificate-authority"], kubeconfig) \
        if ca_data is None and cluster.get("certificate-authority") else None
    return Endpoint(str(cluster["server"]), authorization, ca_data and ca_data.decode("ascii", "replace"), ca_file,
                    cert_file, key_file, not cluster.get("insecure-skip-tls-verify"))


def _credential(user, cluster, kubeconfig, files, who):
    """``(Authorization header value, client certificate path, key path)``; the paths only from an exec plugin."""
    provider = user.get("auth-provider")
    if isinstance(provider, dict) and provider.get("name") in ("gcp", "azure", "oidc"):
        token = _auth_provider_token(user, cluster, who)
        if token:
            return token, None, None
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read(_path(user["tokenFile"], kubeconfig), who, "tokenFile").decode("utf-8", "replace").strip()
    if token:
        return f"Bearer {token}", None, None
    if isinstance(user.get("exec"), dict):
        return _exec_credential(user["exec"], cluster, kubeconfig, files, who)
    if user.get("username") and user.get("password"):
        return urllib3.util.make_headers(basic_auth=f"{user['username']}:{user['password']}")["authorization"], \
            None, None
    return None, None, None


def _path(value, kubeconfig):
    """A file field's path: checked and real already for the repository's kubeconfig; the operator's own resolves
    against its folder (kubectl's rule)."""
    if kubeconfig.repository or kubeconfig.base_dir is None:
        return value
    return os.path.join(kubeconfig.base_dir, os.path.expanduser(value))


def _read(path, who, field):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise TridentError(f"{who}: cannot read the file of '{field}' ({type(exc).__name__})") from None


def _data(entry, field, who):
    """The bytes of ``<field>-data`` (base64), None when it is not given."""
    data = entry.get(f"{field}-data")
    if not data:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise TridentError(f"invalid kubeconfig: {who}: '{field}-data' is not base64") from None


def _file_or_data(entry, field, kubeconfig, files, who):
    """``<field>-data`` as an in-memory file, else the path ``field`` names (None: neither is given)."""
    data = _data(entry, field, who)
    if data is not None:
        return files.add(data)
    return _path(entry[field], kubeconfig) if entry.get(field) else None


def _exec_credential(entry, cluster, kubeconfig, files, who):
    """Run the (allowed) exec plugin; its token, or its client certificate and key as in-memory files."""
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.exec_provider import ExecProvider
    from kubernetes.config.kube_config import ConfigNode

    entry = dict(entry)
    command = entry.get("command")
    if isinstance(command, str) and "/" in command and not os.path.isabs(command) and kubeconfig.base_dir \
            and not kubeconfig.repository:
        entry["command"] = os.path.join(kubeconfig.base_dir, command)  # kubectl's rule (the operator's kubeconfig)
    try:
        status = ExecProvider(ConfigNode("exec", entry), None, ConfigNode("cluster", cluster)).run()
    except (ConfigException, OSError, KeyError, TypeError, ValueError) as exc:
        # Its output is not shown: a plugin may print credentials when it fails.
        raise TridentError(f"{who}: the exec plugin failed ({type(exc).__name__}); its output is not shown, run "
                           "its command by hand to see why") from None
    if not isinstance(status, dict):
        status = {}
    if status.get("token"):
        return f"Bearer {status['token']}", None, None
    if status.get("clientCertificateData") and status.get("clientKeyData"):
        return None, files.add(str(status["clientCertificateData"]).encode()), \
            files.add(str(status["clientKeyData"]).encode())
    raise TridentError(f"{who}: the exec plugin gave neither a token nor a client certificate and key")


def _auth_provider_token(user, cluster, who):
    """The token of a gcp, azure or oidc auth provider, from the kubernetes client's loader given only the user
    entry and the cluster's server: it reads no certificate and writes no file for them."""
    try:
        from kubernetes import client as k8s_client
        from kubernetes.config import kube_config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise TridentError("this kubeconfig's user needs the kubernetes Python library (pip install kubernetes)") \
            from None
    only = {"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "clusters": [{"name": "c", "cluster": {"server": str(cluster["server"])}}],
            "users": [{"name": "u", "user": {"auth-provider": user["auth-provider"]}}]}
    configuration = k8s_client.Configuration()
    try:
        kube_config.KubeConfigLoader(only, "c").load_and_set(configuration)
    except ConfigException as exc:  # its messages name fields, and for cmd-path the command and its output
        raise TridentError(f"{who}: the auth provider gave no credential ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a refresh with the identity provider fails in many ways (HTTP, TLS)
        raise TridentError(f"{who}: the auth provider gave no credential ({type(exc).__name__}); its output is "
                           "not shown") from None
    return (configuration.api_key or {}).get("authorization")
