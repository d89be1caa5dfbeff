"""A lean, thread-safe HTTP client for the Kubernetes API (urllib3, JSON, one connection pool).

Credentials come from a kubeconfig (path, YAML text or mapping; token and certificate users are read
directly, exec plugins and auth providers through the kubernetes client's loader) or from host +
token + CA. They live only in the request headers and the SSL context; error messages never
include them.

A kubeconfig given to kube_diff may come from the repository, so a user entry that runs a command on the
controller (an exec plugin, an auth provider's ``cmd-path``) would let a merge request run anything there:
such a kubeconfig is refused before the loader sees it, unless the operator allows that exact command line
(``kubeconfig_exec``, see :func:`credential_command`). The controller's own default (``KUBECONFIG``,
``~/.kube/config``) is the operator's and is not checked.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import ssl
import tempfile
import traceback
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import confine

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


class ApiError(TridentError):
    """The API server answered with an error status."""

    def __init__(self, status, message, reason=""):
        super().__init__(message, status=status)
        self.status = status
        self.reason = reason


class KubeClient:
    """``request`` is safe to call from many threads at once (urllib3 pools are thread-safe)."""

    def __init__(self, server, token=None, ssl_context=None, timeout=60.0, pool_size=16, identity=None):
        self.server = server.rstrip("/")
        # Who we authenticate as (user, context, kind of credential; never the credential): for a 401.
        self.identity = identity or ("a bearer token" if token else "no credentials")
        self._headers = {"Accept": "application/json", "User-Agent": "trident.gitops/kube_diff"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
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
            raise ApiError(response.status, message or f"HTTP {response.status} for {method} {path}", reason)
        return response.status, data


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
    """Build a client from host + token + CA, or else a kubeconfig (path, text or mapping)."""
    if URLLIB3_IMPORT_ERROR:
        raise TridentError("the urllib3 Python library is required")
    if settings.host and not settings.kubeconfig:
        context = _ssl_context(settings.ca_cert, None, None, settings.validate_certs)
        return KubeClient(settings.host, settings.api_key, context, settings.timeout, pool_size,
                          "the api_key option" if settings.api_key else None)
    config, base_dir, shown = _read_kubeconfig(settings.kubeconfig)
    with CredentialFiles() as files:
        direct = _plain_kubeconfig(config, settings.context, base_dir, files)
        if direct is None:  # exec plugins, auth providers...: the kubernetes client knows them all
            if settings.kubeconfig:  # a given one may come from the repository; KUBECONFIG is the controller's
                refuse_credential_command(config, settings.context, settings.exec_commands, shown)
            direct = _kubernetes_kubeconfig(config, settings.context, base_dir, files.directory())
        server, token, ca_cert, cert_file, key_file, verify = direct
        context = _ssl_context(settings.ca_cert or ca_cert, cert_file, key_file, settings.validate_certs and verify)
    identity = "the api_key option" if settings.api_key else credential_kind(config, settings.context)
    return KubeClient(settings.host or server, settings.api_key or token, context, settings.timeout, pool_size,
                      identity)


def credential_kind(config, context_name=None):
    """``user 'u' of context 'c' (a bearer token)``: who a kubeconfig authenticates as, never the credential."""
    name = context_name or config.get("current-context")
    context = _named(config, "contexts", name, "context") or {}
    user = _named(config, "users", context.get("user"), "user") or {}
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
    user_name = (_named(config, "contexts", name, "context") or {}).get("user")
    found = credential_command(_named(config, "users", user_name, "user") or {})
    if found is None or (found[1] is not None and found[1] in allowed):
        return
    kind, line = found
    remedy = ("an operator allows it by adding its exact command line to kube_diff's kubeconfig_exec option (the "
              "kubernetes role's kubernetes_kubeconfig_exec_commands, which env.yml cannot set)" if line is not None
              else "this form cannot be allowed; use an exec plugin")
    raise TridentError(f"{shown}: user '{user_name}' of context '{name}' gets its credential by running a command "
                       f"on the controller ({kind}); a kubeconfig may not run commands unless the operator allows "
                       f"them, so nothing ran: {remedy} (docs/kube_diff.md)")


def _read_kubeconfig(source):
    """(mapping, directory relative paths are resolved against, how messages name it)."""
    content = "the kubeconfig given as content"
    if isinstance(source, dict):
        return source, os.getcwd(), content
    source = source or os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
    if "\n" in source or source.lstrip().startswith("{"):
        text, base_dir, shown = source, os.getcwd(), content
    else:
        path = confine(os.path.expanduser(source))
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            raise TridentError(f"kubeconfig not found or unreadable: {path}") from None
        base_dir, shown = os.path.dirname(os.path.abspath(path)), path
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TridentError("kubeconfig is not valid YAML") from None
    if not isinstance(config, dict):
        raise TridentError("kubeconfig is not a mapping")
    return config, base_dir, shown


def kubeconfig_secret_values(source):
    """The values of a kubeconfig given as content that must never be shown: the text itself and every
    value of its users' credentials (tokens, passwords, client keys, exec/auth-provider settings).

    Cluster names, servers and the ``apiVersion: v1`` of the document stay visible: hiding every
    string of a kubeconfig mapping would mask those words wherever they appear in a result.
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
    """What kube_diff must hide: every value of its no_log options, except that of a kubeconfig only
    its credentials (see kubeconfig_secret_values)."""
    spec = {name: option for name, option in argument_spec.items() if name != "kubeconfig"}
    return kubeconfig_secret_values(params.get("kubeconfig")) + _no_log_leaves(spec, params)


def _no_log_leaves(argument_spec, params):
    """The values of ``no_log`` options, suboptions included (``helm.repositories[].password``)."""
    values = []
    for name, spec in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if spec.get("no_log"):
            values += _leaves(value)
        elif spec.get("options"):
            for item in value if isinstance(value, list) else [value]:
                values += _no_log_leaves(spec["options"], item)
    return values


def _leaves(data):
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _leaves(value)]
    return [str(data)] if data not in (None, "") and not isinstance(data, bool) else []


def _named(config, section, name, field):
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(field) or {}
    return None


class CredentialFiles:
    """Paths for certificates and keys given inline, which the SSL context can only load from files.

    On Linux each is an anonymous memory file (memfd) opened as ``/proc/self/fd/N``: nothing reaches the
    disk, and the kernel frees it with the process, also after SIGKILL. Elsewhere, and for the kubernetes
    client's loader (which writes its own files), a private temporary directory is used; it is removed
    on exit, but a SIGKILL at that moment leaves it.
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
        fd, path = tempfile.mkstemp(dir=self.directory())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    def directory(self):
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="trident-kube-")  # mode 0700
        return self._tmp


def _plain_kubeconfig(config, context_name, base_dir, files):
    """Token and certificate kubeconfigs, read directly (importing the kubernetes client costs more
    than a whole in-sync check). None when the user entry needs the kubernetes client."""
    name = context_name or config.get("current-context")
    context = _named(config, "contexts", name, "context")
    if context is None:
        raise TridentError(f"invalid kubeconfig: no context named {name!r}")
    cluster = _named(config, "clusters", context.get("cluster"), "cluster")
    if not cluster or not cluster.get("server"):
        raise TridentError(f"invalid kubeconfig: context {name!r} names no cluster with a server")
    user = _named(config, "users", context.get("user"), "user") or {}
    if any(key in user for key in ("exec", "auth-provider", "username", "password")):
        return None
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(_path(user["tokenFile"], base_dir), encoding="utf-8") as handle:
            token = handle.read().strip()
    ca_cert = _inline(cluster, "certificate-authority", base_dir, files, as_text=True)
    cert_file = _inline(user, "client-certificate", base_dir, files)
    key_file = _inline(user, "client-key", base_dir, files)
    return cluster["server"], token, ca_cert, cert_file, key_file, not cluster.get("insecure-skip-tls-verify")


def _path(value, base_dir):
    # A kubeconfig from a checkout names files of that checkout only (a token file cannot be /etc/...).
    return confine(os.path.join(base_dir, os.path.expanduser(value)), base_dir)


def _inline(entry, field, base_dir, files, as_text=False):
    data = entry.get(f"{field}-data")
    if data:
        raw = base64.b64decode(data)
        return raw.decode("ascii") if as_text else files.add(raw)
    return _path(entry[field], base_dir) if entry.get(field) else None


def _kubernetes_kubeconfig(config, context_name, base_dir, tmp):
    try:  # imported only here: it takes longer than a whole in-sync check
        from kubernetes import client as k8s_client
        from kubernetes.config import kube_config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise TridentError("this kubeconfig's user needs the kubernetes Python library (pip install kubernetes)") \
            from None
    configuration = k8s_client.Configuration()
    try:
        loader = kube_config.KubeConfigLoader(config, context_name, config_base_path=base_dir, temp_file_path=tmp)
        loader.load_and_set(configuration)
    except ConfigException as exc:  # its messages name contexts and fields, never credentials
        raise TridentError(f"invalid kubeconfig: {exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise TridentError(f"invalid kubeconfig: {type(exc).__name__}") from None
    finally:
        # The loader caches the files it wrote by content; they go with our directory, so the cache
        # must not point at them for the next load in this process.
        kube_config._temp_files.clear()
    token = (configuration.api_key or {}).get("authorization", "")
    token = token[len("Bearer "):] if token.startswith("Bearer ") else None
    return (configuration.host, token, configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file,
            configuration.verify_ssl)


def _ssl_context(ca_cert, cert_file, key_file, verify):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not ca_cert:
        context.load_default_certs()  # only then: reading the system's CA store takes a while
    else:
        try:
            if "-----BEGIN" in ca_cert:
                context.load_verify_locations(cadata=ca_cert)
            else:
                context.load_verify_locations(cafile=os.path.expanduser(ca_cert))
        except (OSError, ssl.SSLError) as exc:
            raise TridentError(f"cannot load the CA certificate: {exc}") from None
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TridentError(f"cannot load the client certificate: {type(exc).__name__}") from None
    return context
