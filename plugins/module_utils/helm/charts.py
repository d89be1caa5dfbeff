"""Getting a release's chart: a folder of the repository, an HTTP(S) chart repository or an OCI registry.

Every chart is fetched at most once per run (a :class:`ChartFetcher` lives for one run) and kept
in a cache keyed by its sha256 digest, so a later run with the same pinned digest does not download
it again. A repository chart is verified against the digest its repository index gives (and the
one env.yml pins, if any); OCI content is addressed by digest, which helm checks as it pulls. With a
``keyring``, the chart's provenance file is verified by helm too. Downloads from chart repositories
are made here (not by ``helm repo add``), so credentials are never written to disk nor put on a
command line. For OCI registries helm reads its registry configuration (the docker ``auths`` format)
from a memfd, an anonymous in-memory file handed to helm as ``/proc/self/fd/N``: no file holds the
credentials, so nothing of them is left behind even when the process is killed with SIGKILL.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
import re
from urllib.error import HTTPError
from urllib.parse import urljoin, urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write, private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.helm.paths import check_tree, inside_repository

try:
    import yaml

    _YAML_LOADER = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
except ImportError:  # reported by the module through missing_required_lib
    yaml = None
    _YAML_LOADER = None


@dataclass(frozen=True)
class RepositoryCredentials:
    """Credentials for the chart repositories or registries whose URL starts with ``url``."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""


def credentials_for(url, credentials):
    """The credentials with the longest ``url`` prefix of ``url`` (an empty one if none match)."""
    matching = [c for c in credentials if url.rstrip("/") == c.url.rstrip("/") or url.startswith(c.url.rstrip("/") + "/")]
    return max(matching, key=lambda c: len(c.url), default=RepositoryCredentials(url=""))


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def find_entry(index, name, version, where):
    """(absolute-or-relative URLs, digest) of ``name`` ``version`` in a parsed repository index."""
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise TridentError(f"{where}: the repository index is not a Helm index (no 'entries')")
    entries = index["entries"].get(name)
    if not entries:
        raise TridentError(f"{where}: the repository has no chart named '{name}'")
    wanted = version.lstrip("v")
    found = [e for e in entries if isinstance(e, dict) and str(e.get("version", "")).lstrip("v") == wanted]
    if not found:
        raise TridentError(f"{where}: the repository has no version {version} of chart '{name}'")
    entry = found[0]
    urls = entry.get("urls") or []
    if not urls or not all(isinstance(u, str) for u in urls):
        raise TridentError(f"{where}: the repository index gives no URL for the chart")
    digest = entry.get("digest")
    if not isinstance(digest, str) or len(digest) != 64:
        raise TridentError(f"{where}: the repository index gives no sha256 digest for the chart; it cannot be "
                           "verified")
    return urls, digest.lower()


# What the collection fetches from a chart repository: http(s) only, whatever an index or a redirect says.
FETCHED_SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
# A URL as Ansible's open_url reads it: an http(s) scheme, then nothing urllib would strip or reinterpret.
_HTTP_URL = re.compile(r"^https?://[^\x00-\x20\x7f/?#@\\]+(?:[/?#][^\x00-\x20\x7f\\]*)?$", re.IGNORECASE)


def chart_url(repo_url, url):
    """An index URL may be relative to the repository."""
    return urljoin(repo_url.rstrip("/") + "/", url)


def fetch_refusal(url):
    """Why ``url`` is not fetched (None: an http(s) URL with a host, no credentials, no space or control character).

    An allowlist, not a denylist: ``open_url`` (urllib) also opens ``file://``, ``ftp://`` and ``data:`` URLs,
    so a chart index or a redirect naming one would read a controller file or reach another service.
    """
    refused = "only http:// and https:// URLs with a host (and no credentials in them) are fetched"
    if not isinstance(url, str) or not _HTTP_URL.match(url):
        return refused
    parts = urlsplit(url)
    return None if parts.scheme.lower() in FETCHED_SCHEMES and parts.hostname else refused


def shown_url(url):
    """``url`` for a message: never a password, never more than 200 characters of whatever an index says."""
    text = url if isinstance(url, str) else repr(url)
    text = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", text)
    return text if len(text) <= 200 else text[:200] + "..."


def check_fetchable(url, where):
    """``url``, or a TridentError naming ``where`` (environment, release, chart) when it is not fetched."""
    reason = fetch_refusal(url)
    if reason:
        raise TridentError(f"{where}: refusing to fetch {shown_url(url)!r}: {reason} (nothing was fetched)")
    return url


def same_origin(first, second):
    a, b = urlsplit(first), urlsplit(second)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def http_get(url, credentials, timeout=60):
    """GET ``url`` (basic auth and CA file from ``credentials``); errors name the URL, never the password.

    Redirects are followed here, not by urllib (which follows one to ``ftp://`` and keeps the Authorization
    header for another host): each target must pass :func:`fetch_refusal`, and the credentials go to the
    first URL's origin only. At most :data:`MAX_REDIRECTS` hops.
    """
    first, hops = url, 0
    while True:
        reason = fetch_refusal(url)
        if reason:
            via = f"{shown_url(first)} redirects to {shown_url(url)!r}" if hops else repr(shown_url(url))
            raise TridentError(f"refusing to fetch {via}: {reason} (nothing was fetched there)")
        sent = credentials if same_origin(url, first) else RepositoryCredentials(url="")
        try:
            response = open_url(url, url_username=sent.username or None, url_password=sent.password or None,
                                force_basic_auth=bool(sent.username), ca_path=credentials.ca_file or None,
                                validate_certs=True, timeout=timeout, follow_redirects="none")
            return response.read()
        except HTTPError as exc:
            location = exc.headers.get("Location") if exc.code in REDIRECTS and exc.headers else None
            exc.close()
            if not location:
                raise TridentError(f"cannot download {shown_url(url)}: HTTP {exc.code}") from None
            if hops == MAX_REDIRECTS:
                raise TridentError(f"cannot download {shown_url(first)}: more than {MAX_REDIRECTS} redirects") from None
            url, hops = urljoin(url, location), hops + 1
        except Exception as exc:  # noqa: BLE001 (urllib, ssl and socket errors all mean "could not download")
            raise TridentError(f"cannot download {shown_url(url)}: {type(exc).__name__}") from None


class ChartCache:
    """Packaged charts by sha256 digest in ``directory``; a file whose content does not match is refetched."""

    def __init__(self, directory):
        self.directory = os.path.expanduser(directory)

    def path(self, digest):
        return os.path.join(self.directory, f"sha256-{digest}.tgz")

    def get(self, digest):
        path = self.path(digest)
        try:
            with open(path, "rb") as handle:
                return path if sha256_hex(handle.read()) == digest else None
        except OSError:
            return None

    def put(self, data):
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = self.path(sha256_hex(data))
        atomic_write(path, data, mode=0o600)
        return path


def helm_environment(home):
    """Helm with its own empty config, cache and data homes: a user's repositories and plugins do not apply."""
    return {"HELM_CONFIG_HOME": os.path.join(home, "config"), "HELM_CACHE_HOME": os.path.join(home, "cache"),
            "HELM_DATA_HOME": os.path.join(home, "data"),
            "HELM_REGISTRY_CONFIG": os.path.join(home, "config", "registry.json")}


class ChartFetcher:
    """Fetches each chart once per run. ``runner`` runs helm, ``get(url, credentials)`` downloads."""

    def __init__(self, cache_dir, runner, helm, credentials=(), get=http_get, helm_home=None):
        self.cache = ChartCache(cache_dir)
        self.runner = runner
        self.helm = helm
        self.credentials = tuple(credentials)
        self.get = get
        self.helm_home = helm_home
        self._charts = {}
        self._indexes = {}

    def fetch(self, chart, where, env_path, repo_path):
        """A local path helm can render: the chart folder, or the verified packaged chart."""
        key = (chart.kind, chart.location, chart.name, chart.version, chart.digest, chart.keyring)
        if key not in self._charts:
            if chart.kind == "path":
                self._charts[key] = self._folder(chart, where, env_path, repo_path)
            else:
                keyring = inside_repository(repo_path, env_path, chart.keyring, f"{where}: chart keyring") \
                    if chart.keyring else ""
                fetch = self._from_repository if chart.kind == "repo" else self._from_registry
                self._charts[key] = fetch(chart, where, keyring)
        return self._charts[key]

    def _folder(self, chart, where, env_path, repo_path):
        folder = inside_repository(repo_path, env_path, chart.location, f"{where}: chart path")
        if not os.path.isfile(os.path.join(folder, "Chart.yaml")):
            raise TridentError(f"{where}: chart path '{chart.location}' is not a chart folder (no Chart.yaml)")
        check_tree(repo_path, folder, f"{where}: chart path '{chart.location}'")
        return folder

    def _index(self, repo_url, credentials, where):
        if repo_url not in self._indexes:
            raw = self._download(repo_url.rstrip("/") + "/index.yaml", credentials, where)
            try:
                self._indexes[repo_url] = yaml.load(raw, Loader=_YAML_LOADER)
            except yaml.YAMLError:
                raise TridentError(f"{where}: the repository index is not valid YAML") from None
        return self._indexes[repo_url]

    def _download(self, url, credentials, where):
        check_fetchable(url, where)
        try:
            return self.get(url, credentials)
        except TridentError as exc:
            raise TridentError(f"{where}: {exc.message}") from None

    def _from_repository(self, chart, where, keyring):
        cached = self.cache.get(chart.digest) if chart.digest and not keyring else None
        if cached:
            return cached
        credentials = credentials_for(chart.location, self.credentials)
        urls, digest = find_entry(self._index(chart.location, credentials, where), chart.name, chart.version, where)
        if chart.digest and chart.digest != digest:
            raise TridentError(f"{where}: the repository index gives digest sha256:{digest}, env.yml pins "
                               f"sha256:{chart.digest}")
        url = chart_url(chart.location, urls[0])
        # Like helm's --pass-credentials default: credentials go to the repository's own origin only.
        url_credentials = credentials if same_origin(url, chart.location) else RepositoryCredentials(url="")
        path = self.cache.get(digest)
        if path is None:
            data = self._download(url, url_credentials, where)
            if sha256_hex(data) != digest:
                raise TridentError(f"{where}: the downloaded chart does not match the repository index digest "
                                   f"sha256:{digest}; refusing it")
            path = self.cache.put(data)
        if keyring:
            provenance = self._download(url + ".prov", url_credentials, where)
            self._verify_provenance(path, os.path.basename(urlsplit(url).path), provenance, keyring, where)
        return path

    def _verify_provenance(self, path, file_name, provenance, keyring, where):
        with private_tempdir(prefix="trident-helm-prov-") as tmp:
            # helm verify reads the provenance file next to the chart, and the provenance names the
            # package's file: both keep the repository's file name.
            local = os.path.join(tmp, file_name)
            with open(path, "rb") as source, open(local, "wb") as copy:
                copy.write(source.read())
            with open(local + ".prov", "wb") as handle:
                handle.write(provenance)
            self._helm(["verify", "--keyring", keyring, local], where, "provenance verification failed")

    def _from_registry(self, chart, where, keyring):
        credentials = credentials_for(chart.location, self.credentials)
        tls = ["--ca-file", credentials.ca_file] if credentials.ca_file else []
        with private_tempdir(prefix="trident-helm-pull-") as tmp, registry_config(chart.location, credentials) as fd:
            verify = ["--verify", "--keyring", keyring] if keyring else []
            self._helm(["pull", chart.location, "--version", chart.version, "--destination", tmp, *tls, *verify],
                       where, "cannot pull the chart", registry_fd=fd)
            packages = glob.glob(os.path.join(tmp, "*.tgz"))
            if len(packages) != 1:
                raise TridentError(f"{where}: helm pull gave {len(packages)} chart packages, expected one")
            with open(packages[0], "rb") as handle:
                return self.cache.put(handle.read())

    def _helm(self, args, where, what, registry_fd=None):
        env = helm_environment(self.helm_home)
        extra = {}
        if registry_fd is not None:
            env["HELM_REGISTRY_CONFIG"] = f"/proc/self/fd/{registry_fd}"
            extra["pass_fds"] = (registry_fd,)
        result = self.runner([self.helm, *args], env=env, check=False, **extra)
        if result.rc != 0:
            raise TridentError(f"{where}: {what}: {_last_line(result.stderr)}")
        return result


def registry_auths(location, credentials):
    """The registry configuration helm reads (docker's ``auths`` format) for the host of ``location``."""
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode("utf-8")).decode("ascii")
    return json.dumps({"auths": {urlsplit(location).netloc: {"auth": token}}}).encode("utf-8")


@contextlib.contextmanager
def registry_config(location, credentials):
    """A memfd holding the registry configuration (``None`` without credentials), closed on exit.

    Measured with helm 4.3.1: ``helm pull`` reads ``HELM_REGISTRY_CONFIG=/proc/self/fd/N`` when the fd is
    inherited. A memfd has no name on any file system and is freed by the kernel when the last process
    holding it ends, however it ends.
    """
    if not credentials.username:
        yield None
        return
    if not hasattr(os, "memfd_create"):
        raise TridentError("OCI registry credentials need Linux (memfd_create): they are never written to a file")
    fd = os.memfd_create("trident-helm-registry", os.MFD_CLOEXEC)
    try:
        os.write(fd, registry_auths(location, credentials))
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def _last_line(text):
    """Helm's reason (its last line of error output), for a message; it never holds values."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
