"""A lean, thread-safe HTTP client for the Kubernetes API (urllib3, JSON, one connection pool).

Credentials come from a kubeconfig (path, YAML text or mapping; loaded with the kubernetes client's
own loader so every auth method it knows works) or from host + token + CA. They live only in the
request headers and the SSL context; error messages never include them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

try:
    import urllib3

    HAS_URLLIB3 = True
except ImportError:  # reported by the module through missing_required_lib
    urllib3 = None
    HAS_URLLIB3 = False

try:
    import yaml
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
except ImportError:  # only needed for kubeconfig files; host + token works without it
    HAS_KUBERNETES = False

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


class ApiError(TridentError):
    """The API server answered with an error status."""

    def __init__(self, status, message, reason=""):
        super().__init__(message, status=status)
        self.status = status
        self.reason = reason


class KubeClient:
    """``request`` is safe to call from many threads at once (urllib3 pools are thread-safe)."""

    def __init__(self, server, token=None, ssl_context=None, timeout=60.0, pool_size=16):
        self.server = server.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": "trident.gitops/kube_diff"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=pool_size, block=True, ssl_context=ssl_context,
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, backoff_factor=0.2))
        self.requests_sent = 0

    def request(self, method, path, query=None, body=None, content_type="application/json", accept=None):
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
            raise ApiError(response.status, message or f"HTTP {response.status} for {method} {path}", reason)
        return data


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
    if not HAS_URLLIB3:
        raise TridentError("the urllib3 Python library is required")
    if settings.host and not settings.kubeconfig:
        context = _ssl_context(settings.ca_cert, None, None, settings.validate_certs)
        return KubeClient(settings.host, settings.api_key, context, settings.timeout, pool_size)
    if not HAS_KUBERNETES:
        raise TridentError("a kubeconfig needs the kubernetes Python library (pip install kubernetes)")
    configuration = k8s_client.Configuration()
    # The loader writes inline certificates and keys to files; keep them in a private directory
    # that is gone as soon as the SSL context holds them.
    tmp = tempfile.mkdtemp(prefix="trident-kube-")
    try:
        os.chmod(tmp, 0o700)
        _load_kubeconfig(settings, configuration, tmp)
        token = (configuration.api_key or {}).get("authorization", "")
        token = token[len("Bearer "):] if token.startswith("Bearer ") else (settings.api_key or token or None)
        verify = settings.validate_certs and configuration.verify_ssl
        context = _ssl_context(settings.ca_cert or configuration.ssl_ca_cert, configuration.cert_file,
                               configuration.key_file, verify)
    finally:
        _forget_kubeconfig_files()
        shutil.rmtree(tmp, ignore_errors=True)
    return KubeClient(settings.host or configuration.host, token, context, settings.timeout, pool_size)


def _load_kubeconfig(settings, configuration, tmp):
    source = settings.kubeconfig or os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
    try:
        if isinstance(source, dict):
            k8s_config.load_kube_config_from_dict(source, settings.context, configuration, False, tmp)
        elif "\n" in source or source.lstrip().startswith("{"):
            try:
                parsed = yaml.safe_load(source)
            except yaml.YAMLError:
                raise TridentError("kubeconfig content is not valid YAML") from None
            if not isinstance(parsed, dict):
                raise TridentError("kubeconfig content is not a mapping")
            k8s_config.load_kube_config_from_dict(parsed, settings.context, configuration, False, tmp)
        else:
            path = os.path.expanduser(source)
            if not os.path.isfile(path):
                raise TridentError(f"kubeconfig not found: {path}")
            k8s_config.load_kube_config(path, settings.context, configuration, False, tmp)
    except (ConfigException, KeyError, ValueError, TypeError) as exc:
        raise TridentError(f"invalid kubeconfig: {_config_reason(exc)}") from None


def _config_reason(exc):
    # ConfigException messages name contexts/fields, never credentials.
    return str(exc) if isinstance(exc, ConfigException) else type(exc).__name__


def _forget_kubeconfig_files():
    # kubernetes' loader caches the files it wrote by content; they are deleted with our directory,
    # so the cache must not point at them for the next load in this process.
    cached = getattr(getattr(k8s_config, "kube_config", None), "_temp_files", None)
    if isinstance(cached, dict):
        cached.clear()


def _ssl_context(ca_cert, cert_file, key_file, verify):
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_cert:
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
