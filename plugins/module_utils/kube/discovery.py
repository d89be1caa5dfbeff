"""Which kinds the API server serves, and where: aggregated discovery, cached on disk between runs.

Two requests (``/api`` and ``/apis`` with the aggregated discovery media type) describe every
resource; the cache is keyed by server URL and checked against the server's version, and refreshed
once when a desired kind is not in it (a CRD installed since).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version


class Discovery:
    """Resources by (group, version, kind); ``refresh`` re-reads them from the server."""

    def __init__(self, client, cache_dir=None):
        self.client = client
        self.cache_file = None
        if cache_dir:
            digest = hashlib.sha256(client.server.encode("utf-8")).hexdigest()[:16]
            self.cache_file = os.path.join(os.path.expanduser(cache_dir), f"discovery-{digest}.json")
        self.server_version = None
        self.resources = {}
        self.refreshed = False

    def load(self):
        self.server_version = self.client.request("GET", "/version").get("gitVersion", "")
        cached = self._read_cache()
        if cached is not None:
            self.resources = cached
        else:
            self.refresh()
        return self

    def refresh(self):
        resources = {}
        for path in ("/api", "/apis"):
            data = self.client.request("GET", path, accept=AGGREGATED)
            if data.get("kind") != "APIGroupDiscoveryList":
                resources.update(self._legacy(path, data))
                continue
            for group in data.get("items", []):
                name = (group.get("metadata") or {}).get("name", "")
                for version in group.get("versions", []):
                    for item in version.get("resources", []):
                        kind = (item.get("responseKind") or {}).get("kind")
                        if kind:
                            resources[(name, version["version"], kind)] = Resource(
                                name, version["version"], kind, item["resource"], item.get("scope") == "Namespaced")
        self.resources = resources
        self.refreshed = True
        self._write_cache()
        return self

    def _legacy(self, path, data):
        # Servers before aggregated discovery: one request per group version.
        found = {}
        if path == "/api":
            versions = [("", version) for version in data.get("versions", [])]
        else:
            versions = [(group["name"], entry["version"]) for group in data.get("groups", [])
                        for entry in group.get("versions", [])]
        for group, version in versions:
            listing = self.client.request("GET", f"/api/{version}" if not group else f"/apis/{group}/{version}")
            for item in listing.get("resources", []):
                if "/" not in item["name"]:
                    found[(group, version, item["kind"])] = Resource(group, version, item["kind"], item["name"],
                                                                     bool(item.get("namespaced")))
        return found

    def find(self, group, version, kind):
        """The resource, refreshing the cache once if it is unknown; None if the server lacks it."""
        found = self.resources.get((group, version, kind))
        if found is None and not self.refreshed:
            self.refresh()
            found = self.resources.get((group, version, kind))
        return found

    def _read_cache(self):
        if not self.cache_file:
            return None
        try:
            with open(self.cache_file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        if data.get("format") != CACHE_FORMAT or data.get("server") != self.client.server \
                or data.get("version") != self.server_version:
            return None
        return {(r["group"], r["version"], r["kind"]): Resource(**r) for r in data.get("resources", [])}

    def _write_cache(self):
        if not self.cache_file:
            return
        data = {"format": CACHE_FORMAT, "server": self.client.server, "version": self.server_version,
                "resources": [asdict(r) for r in self.resources.values()]}
        try:
            os.makedirs(os.path.dirname(self.cache_file), mode=0o700, exist_ok=True)
            atomic_write(self.cache_file, json.dumps(data).encode("utf-8"), mode=0o600)
        except OSError:
            pass  # a cache that cannot be written only costs two requests next time
