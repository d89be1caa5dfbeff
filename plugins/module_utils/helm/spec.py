"""The ``helm_releases`` shape of env.yml (docs/helm.md): parsed and validated before anything runs.

An environment declares its Helm releases as data; this file turns that data into typed, frozen
:class:`Release` values, or fails naming the environment file, the release and the key. It reads
nothing from disk and runs nothing, so the inventory and kube_diff validate the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import CACHE_DIR
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.names import is_dns_label

# kube_diff's ``helm`` option (its argument spec): here, with the release spec, so a module that only
# declares the option imports none of the rendering (charts, HTTP, cryptography).
HELM_OPTION = dict(
    type="dict",
    options=dict(
        releases=dict(type="list", elements="dict", default=[]),
        env_path=dict(type="str"),
        repo_path=dict(type="str", required=True),
        binary=dict(type="path", default="helm"),
        chart_cache=dict(type="path", default=f"{CACHE_DIR}/helm-charts"),
        repositories=dict(type="list", elements="dict", default=[], options=dict(
            url=dict(type="str", required=True),
            username=dict(type="str", default=""),
            password=dict(type="str", default="", no_log=True),
            ca_file=dict(type="path", default=""),
        )),
    ),
)

RELEASE_KEYS = ("name", "namespace", "chart", "values_files", "values", "secret_values_files")
CHART_KEYS = {
    "path": ("path",),
    "repo": ("repo", "name", "version", "digest", "keyring"),
    "oci": ("oci", "version", "keyring"),
}
# Helm's own limit: a release name is a DNS-1123 label of at most 53 characters.
RELEASE_NAME_MAX = 53
# A pinned chart version: an exact SemVer 2 version, never a range.
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
# helm pulls an OCI chart from the registry this names, over https; nothing else is a chart reference.
_OCI = re.compile(r"^oci://[^\x00-\x20\x7f/?#@\\]+(/[^\x00-\x20\x7f/?#@\\:]+)+$")
_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{64}$")
_SECRET_VALUES = re.compile(r"\.sops\.(yaml|yml|json)$")


@dataclass(frozen=True)
class Chart:
    """Where a chart comes from: ``kind`` is ``path``, ``repo`` or ``oci``."""

    kind: str
    location: str
    name: str = ""
    version: str = ""
    digest: str = ""
    keyring: str = ""

    @property
    def label(self):
        """How messages name the chart (never with credentials: URLs in env.yml hold none)."""
        if self.kind == "path":
            return f"path {self.location}"
        if self.kind == "repo":
            return f"{self.name} {self.version} from {self.location}"
        return f"{self.location} {self.version}"


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart: Chart
    values_files: tuple = ()
    secret_values_files: tuple = ()
    values: dict = field(default_factory=dict)
    # env.yml releases always include CRDs and render hooks; a kustomize helmCharts entry may say otherwise.
    include_crds: bool = True
    skip_hooks: bool = False


def parse_releases(data, source, default_namespace=""):
    """The releases of ``data`` (env.yml's ``helm_releases``); ``source`` names env.yml in errors."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise TridentError(f"{source}: key 'helm_releases' must be a list, got {type(data).__name__}")
    releases = [parse_release(item, f"{source}: helm_releases[{index}]", default_namespace)
                for index, item in enumerate(data)]
    seen = set()
    for release in releases:
        if (release.namespace, release.name) in seen:
            raise TridentError(f"{source}: helm release '{release.name}' is declared twice in namespace "
                               f"'{release.namespace}'")
        seen.add((release.namespace, release.name))
    return releases


def parse_release(item, where, default_namespace=""):
    if not isinstance(item, dict):
        raise TridentError(f"{where}: a release must be a mapping, got {type(item).__name__}")
    _known_keys(item, RELEASE_KEYS, where)
    name = item.get("name")
    if not is_dns_label(name, RELEASE_NAME_MAX):
        raise TridentError(f"{where}: 'name' must be a release name (lowercase letters, digits and '-', at most 53 "
                           f"characters), got {name!r}")
    where = f"{where} (release '{name}')"
    namespace = item.get("namespace", default_namespace)
    if not is_dns_label(namespace):
        raise TridentError(f"{where}: 'namespace' must be a namespace name (or set 'namespace' for the environment), "
                           f"got {namespace!r}")
    values = item.get("values", {})
    if not isinstance(values, dict):
        raise TridentError(f"{where}: 'values' must be a mapping, got {type(values).__name__}")
    secret_files = _paths(item, "secret_values_files", where)
    for path in secret_files:
        if not _SECRET_VALUES.search(path):
            raise TridentError(f"{where}: secret_values_files: '{path}' is not named *.sops.yaml, *.sops.yml or "
                               "*.sops.json")
    return Release(name=name, namespace=namespace, chart=parse_chart(item.get("chart"), where),
                   values_files=_paths(item, "values_files", where), secret_values_files=secret_files,
                   values=values)


def parse_chart(data, where):
    if not isinstance(data, dict):
        raise TridentError(f"{where}: 'chart' must be a mapping with one of path, repo or oci")
    kinds = [kind for kind in CHART_KEYS if kind in data]
    if len(kinds) != 1:
        raise TridentError(f"{where}: 'chart' needs exactly one of path, repo or oci, got "
                           f"{', '.join(kinds) or 'none'}")
    kind = kinds[0]
    _known_keys(data, CHART_KEYS[kind], f"{where}: chart")
    for key, value in data.items():
        if not isinstance(value, str) or not value:
            raise TridentError(f"{where}: chart '{key}' must be a non-empty string")
    chart = Chart(kind=kind, location=data[kind], name=data.get("name", ""), version=data.get("version", ""),
                  digest=_bare_digest(data.get("digest", "")), keyring=data.get("keyring", ""))
    _check_chart(chart, data, where)
    return chart


def _check_chart(chart, data, where):
    if chart.kind == "repo":
        if not chart.location.startswith(("https://", "http://")):
            raise TridentError(f"{where}: chart 'repo' must be an http(s):// URL of a chart repository")
        if "@" in chart.location.split("//", 1)[1].split("/", 1)[0]:
            raise TridentError(f"{where}: chart 'repo' must not hold credentials; give them to the helm "
                               "repository credentials option")
        if not chart.name:
            raise TridentError(f"{where}: a chart from a repository needs 'name'")
    if chart.kind == "oci" and not _OCI.match(chart.location):
        raise TridentError(f"{where}: chart 'oci' must be an oci:// reference (oci://host/repository, no credentials, "
                           "spaces or query)")
    if chart.kind != "path" and not _VERSION.match(chart.version):
        raise TridentError(f"{where}: chart 'version' must be an exact version (for example 1.2.3), got "
                           f"{data.get('version')!r}")
    if "digest" in data and not _DIGEST.match(data["digest"]):
        raise TridentError(f"{where}: chart 'digest' must be sha256:<64 hex digits>")


def _paths(item, key, where):
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise TridentError(f"{where}: '{key}' must be a list of paths")
    return tuple(value)


def _known_keys(data, known, where):
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise TridentError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")


def _bare_digest(value):
    return value[len("sha256:"):] if value.startswith("sha256:") else value
