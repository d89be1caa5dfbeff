"""A lean, thread-safe HTTP client for the Kubernetes API (urllib3, JSON, one connection pool).

Credentials come from a kubeconfig (path, YAML text or mapping) or from host + token + CA. They live only in the
request headers and the SSL context; error messages never include them.

A kubeconfig given to kube_diff may come from the repository. Every file it names is confined to the repository
before anything reads it (kube/kubeconfig.py), and a user entry that runs a command on the controller (an exec
plugin, an auth provider's ``cmd-path``) is refused unless the operator allows that exact command line
(``kubeconfig_exec``, see :func:`credential_command`). The controller's own default (``KUBECONFIG``,
``~/.kube/config``) is the operator's and is not checked. Tokens, certificates and basic auth are read here;
an exec plugin runs through the kubernetes client's ExecProvider and an auth provider through its loader, given
only the user entry, so that neither writes a certificate to disk: certificates given inline or printed by an
exec plugin are loaded from anonymous memory files (:class:`CredentialFiles`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import ssl
import traceback
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import no_log_leaves
from ansible_collections.trident.gitops.plugins.module_utils.kube.credentials import CredentialFiles, endpoint, named
from ansible_collections.trident.gitops.plugins.module_utils.kube.kubeconfig import read_kubeconfig

try:
    import urllib3

    URLLIB3_IMPORT_ERROR = None
except ImportError:  # reported by the module (common.deps.require)
    urllib3 = None
    URLLIB3_IMPORT_ERROR = traceback.format_exc()

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


@dataclass
class ConnectionSettings:
    """What the user gave; ``kubeconfig`` is a path, YAML/JSON text or an already parsed mapping."""

    kubeconfig: object = None
    context: str = None
    host: str = None
    api_key: str = None
    ca_cert: str = None
    validate_certs: bool = True
    timeout: float = 60.0
    # The credential command lines (credential_command) the operator allows a kubeconfig to run.
    exec_commands: tuple = ()
    # The folder every file a given kubeconfig names must stay inside (it is then the repository's), and the
    # repository file a kubeconfig given as content was decrypted from (kube/kubeconfig.py).
    repository_root: str = None
    kubeconfig_file: str = None


class ApiError(TridentError):
    """The API server answered with an error status."""

    def __init__(self, status, message, reason="", fields=()):
        super().__init__(message, status=status)
        self.status = status
        self.reason = reason
        self.fields = tuple(fields)  # the field paths the server names (details.causes[].field)


class KubeClient:
    """``request`` is safe to call from many threads at once (urllib3 pools are thread-safe)."""

    def __init__(self, server, authorization=None, ssl_context=None, timeout=60.0, pool_size=16, identity=None):
        self.server = server.rstrip("/")
        # Who we authenticate as (user, context, kind of credential; never the credential): for a 401.
        self.identity = identity or ("a bearer token" if authorization else "no credentials")
        self._headers = {"Accept": "application/json", "User-Agent": "trident.gitops/kube_diff"}
        if authorization:
            self._headers["Authorization"] = authorization
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=pool_size, block=True, ssl_context=ssl_context,
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, backoff_factor=0.2))
        self.requests_sent = 0

    def request(self, method, path, query=None, body=None, content_type="application/json", accept=None):
        """The decoded answer; ApiError for an error status."""
        return self.request_status(method, path, query, body, content_type, accept)[1]

    def request_status(self, method, path, query=None, body=None, content_type="application/json", accept=None):
        """(HTTP status, decoded answer): an apply that created the object answers 201, one that changed it 200."""
        url = self.server + path + (("?" + urlencode(query)) if query else "")
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        self.requests_sent += 1
        try:
            response = self._pool.request(method, url, body=payload, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise TridentError(f"cannot reach the Kubernetes API server at {self.server}: "
                               f"{_reason(exc)}", unreachable=True) from None
        data = _decode(response.data)
        if response.status >= 400:
            message = data.get("message") if isinstance(data, dict) else None
            reason = data.get("reason", "") if isinstance(data, dict) else ""
            if response.status == 401:
                message = (f"the Kubernetes API server {self.server} rejected the credentials of {self.identity} "
                           "(401 Unauthorized): the token or client certificate is wrong, expired or not for "
                           "this cluster")
            raise ApiError(response.status, message or f"HTTP {response.status} for {method} {path}", reason,
                           _cause_fields(data))
        return response.status, data


def _cause_fields(status):
    details = status.get("details") if isinstance(status, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    return [cause["field"] for cause in causes or () if isinstance(cause, dict) and isinstance(cause.get("field"), str)]


def _reason(exc):
    text = str(getattr(exc, "reason", None) or exc)
    return re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text).strip("()'\" ")


def _decode(raw):
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:500].decode("utf-8", errors="replace")}


def object_path(resource, namespace=None, name=None, subresource=None):
    """REST path of a resource collection or one object (``resource`` is a discovery.Resource)."""
    base = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"
    if resource.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{resource.plural}"
    if name:
        base += f"/{quote(name, safe='')}"
    if subresource:
        base += f"/{subresource}"
    return base


def connect(settings, pool_size=16):
    """Build a client from host + token + CA, or else a kubeconfig (path, text or mapping).

    A given kubeconfig is read through kube/kubeconfig.py (with ``settings.repository_root`` every file it names is
    confined to the repository) and its credential command checked against the operator's allowlist before any
    credential is read, any command runs or anything is sent."""
    if URLLIB3_IMPORT_ERROR:
        raise TridentError("the urllib3 Python library is required")
    api_key = f"Bearer {settings.api_key}" if settings.api_key else None
    if settings.host and not settings.kubeconfig:
        context = _ssl_context(settings.ca_cert, None, None, settings.validate_certs)
        return KubeClient(settings.host, api_key, context, settings.timeout, pool_size,
                          "the api_key option" if settings.api_key else None)
    kubeconfig = read_kubeconfig(settings.kubeconfig, settings.repository_root, settings.kubeconfig_file)
    if settings.kubeconfig:  # a given one may come from the repository; KUBECONFIG is the controller's
        refuse_credential_command(kubeconfig.config, settings.context, settings.exec_commands, kubeconfig.shown)
    with CredentialFiles() as files:
        found = endpoint(kubeconfig, settings.context, files)
        context = _ssl_context(settings.ca_cert or found.ca_file, found.cert_file, found.key_file,
                               settings.validate_certs and found.verify, None if settings.ca_cert else found.ca_data)
    identity = "the api_key option" if settings.api_key else credential_kind(kubeconfig.config, settings.context)
    return KubeClient(settings.host or found.server, api_key or found.authorization, context, settings.timeout,
                      pool_size, identity)


def connection_key(settings):
    """What tells two connections apart: the API server and credentials ``settings`` select (the chosen context's
    cluster and user entries, where the operator's kubeconfig resolves relative names, the options that win over
    them), never where a kubeconfig file lies. Environments whose kubeconfigs name one cluster and user get one key,
    so one client serves them (status/read.py). The kubeconfig is read as :func:`connect` reads it (confined to the
    repository); a digest, so that holding the key keeps no credential."""
    fields = [settings.host, settings.api_key, settings.ca_cert, settings.validate_certs, settings.timeout,
              list(settings.exec_commands)]
    if settings.kubeconfig or not settings.host:
        kubeconfig = read_kubeconfig(settings.kubeconfig, settings.repository_root, settings.kubeconfig_file)
        name = settings.context or kubeconfig.config.get("current-context")
        context = named(kubeconfig.config, "contexts", name, "context") or {}
        fields += [named(kubeconfig.config, "clusters", context.get("cluster"), "cluster"),
                   named(kubeconfig.config, "users", context.get("user"), "user"),
                   None if kubeconfig.repository else kubeconfig.base_dir]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def credential_kind(config, context_name=None):
    """``user 'u' of context 'c' (a bearer token)``: who a kubeconfig authenticates as, never the credential."""
    name = context_name or config.get("current-context")
    context = named(config, "contexts", name, "context") or {}
    user = named(config, "users", context.get("user"), "user") or {}
    kinds = [("token", "a bearer token"), ("tokenFile", "a token file"), ("client-certificate", "a client certificate"),
             ("client-certificate-data", "a client certificate"), ("exec", "an exec plugin"),
             ("auth-provider", "an auth provider"), ("username", "a user name and password")]
    kind = next((text for key, text in kinds if user.get(key)), "no credentials")
    return f"user '{context.get('user')}' of context '{name}' ({kind})"


def credential_command(user):
    """``(kind, command line)`` when a kubeconfig user entry runs a command on the controller to get its
    credential, else None. The line is what the kubernetes client runs, shell-quoted: an exec plugin's
    ``env`` as ``NAME=value``, its command and arguments (each of them can make the command do anything:
    ``PATH``, ``LD_PRELOAD``, ``aws configure set credential_process``...); an auth provider's ``cmd-path``
    and ``cmd-args``. None as the line: nothing an operator can allow (an unreadable exec entry, or the gcp
    auth provider without ``cmd-path``, which hands the controller's own Google credentials to the server)."""
    if "exec" in user:
        entry = user["exec"]
        if not isinstance(entry, dict) or not isinstance(entry.get("args") or [], list):
            return "an exec plugin", None
        env = [f"{item.get('name')}={item.get('value')}" for item in entry.get("env") or [] if isinstance(item, dict)]
        return "an exec plugin", shlex.join(env + [str(entry.get("command") or "")]
                                            + [str(arg) for arg in entry.get("args") or []])
    provider = user.get("auth-provider")
    if "auth-provider" not in user or provider is None:
        return None
    config = provider.get("config") if isinstance(provider, dict) else None
    if isinstance(config, dict) and config.get("cmd-path"):
        # The kubernetes client's own split: cmd-args on whitespace, else cmd-path itself.
        argv = ([config["cmd-path"]] + str(config["cmd-args"]).split() if "cmd-args" in config
                else str(config["cmd-path"]).split())
        return "an auth provider's cmd-path", shlex.join(str(arg) for arg in argv)
    if not isinstance(provider, dict) or provider.get("name") == "gcp":
        return "the gcp auth provider, with the controller's Google credentials", None
    return None


def refuse_credential_command(config, context_name, allowed, shown):
    """TridentError when the selected user runs a command the operator did not allow (exact command line);
    the message names the kubeconfig, the user and context and what to do, never the command."""
    name = context_name or config.get("current-context")
    user_name = (named(config, "contexts", name, "context") or {}).get("user")
    found = credential_command(named(config, "users", user_name, "user") or {})
    if found is None or (found[1] is not None and found[1] in allowed):
        return
    kind, line = found
    remedy = ("an operator allows it by adding its exact command line to kube_diff's kubeconfig_exec option (the "
              "kubernetes role's kubernetes_kubeconfig_exec_commands, which env.yml cannot set)" if line is not None
              else "this form cannot be allowed; use an exec plugin")
    raise TridentError(f"{shown}: user '{user_name}' of context '{name}' gets its credential by running a command "
                       f"on the controller ({kind}); a kubeconfig may not run commands unless the operator allows "
                       f"them, so nothing ran: {remedy} (docs/kube_diff.md)")


def kubeconfig_secret_values(source):
    """The values of a kubeconfig given as content that must never be shown: the text itself and every
    value of its users' credentials (tokens, passwords, client keys, exec/auth-provider settings).

    Cluster names, servers and the ``apiVersion: v1`` of the document are not secret.
    """
    if not source:
        return []
    values = []
    if isinstance(source, str):
        if "\n" not in source and not source.lstrip().startswith("{"):
            return []  # a path
        values.append(source)
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError:
            return values
    if isinstance(source, dict):
        for entry in source.get("users") or []:
            if isinstance(entry, dict):
                values += _leaves(entry.get("user"))
    return values


def module_secret_values(argument_spec, params):
    """The secret values kube_diff is given: those of its no_log options, except that of a kubeconfig only its
    credentials (see kubeconfig_secret_values). Its result masks them by field (the invocation echo), and those
    long enough also in free text (common/masking.py)."""
    spec = {name: option for name, option in argument_spec.items() if name != "kubeconfig"}
    return kubeconfig_secret_values(params.get("kubeconfig")) + _leaves(no_log_leaves(spec, params))


def _leaves(data):
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _leaves(value)]
    return [str(data)] if data not in (None, "") and not isinstance(data, bool) else []


def _ssl_context(ca_cert, cert_file, key_file, verify, ca_data=None):
    """``ca_cert``: the operator's option (a path, or PEM text); ``ca_data``: PEM text from a kubeconfig, never a
    path (a file a kubeconfig names comes as ``ca_cert``, already resolved)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_data is not None:
        _load_ca(context, cadata=ca_data)
    elif not ca_cert:
        context.load_default_certs()  # only then: reading the system's CA store takes a while
    elif "-----BEGIN" in ca_cert:
        _load_ca(context, cadata=ca_cert)
    else:
        _load_ca(context, cafile=os.path.expanduser(ca_cert))
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TridentError(f"cannot load the client certificate: {type(exc).__name__}") from None
    return context


def _load_ca(context, **where):
    try:
        context.load_verify_locations(**where)
    except (OSError, ssl.SSLError, ValueError) as exc:  # the reason, never the path or the data
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        raise TridentError(f"cannot load the CA certificate: {reason}") from None
