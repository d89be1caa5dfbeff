"""The served OpenAPI v3 schemas: how the server merges, defaults and types each field.

The in-sync proof needs to know, for every field, what the API server knows: whether a list is
atomic, keyed (and by which keys) or a set, whether a map is atomic, whether a value is a resource
quantity, which defaults the schema declares. Guessing by field name is unsound (a ConfigMap key
called ``storage`` is not a quantity), so this reads ``/openapi/v3`` for the group-versions in use.
Each group-version document is content-addressed by the server (``?hash=``) and cached on disk next
to the discovery cache, so a warm run costs one request (the index).
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write

QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_REF_PREFIX = "#/components/schemas/"


class Node:
    """One schema node with its ``$ref``/``allOf`` resolved; ``None`` schema means "unknown"."""

    __slots__ = ("doc", "raw", "ref")

    def __init__(self, doc, raw, ref=None):
        self.doc, self.raw, self.ref = doc, raw or {}, ref

    @classmethod
    def resolve(cls, doc, raw):
        ref = None
        merged = dict(raw or {})
        for _depth in range(16):  # refs may chain; schemas are never this deep in indirection
            target = merged.pop("$ref", None)
            wrapped = merged.get("allOf")
            if target is None and isinstance(wrapped, list) and len(wrapped) == 1 and "$ref" in wrapped[0]:
                merged.pop("allOf")
                target = wrapped[0]["$ref"]
            if target is None:
                break
            ref = target[len(_REF_PREFIX):] if target.startswith(_REF_PREFIX) else target
            base = ((doc.get("components") or {}).get("schemas") or {}).get(ref) or {}
            merged = {**base, **merged}  # the wrapper's default/description/extensions win
        return cls(doc, merged, ref)

    def get(self, key, default=None):
        return self.raw.get(key, default)

    @property
    def is_quantity(self):
        return self.ref == QUANTITY_REF

    @property
    def preserves_unknown(self):
        return bool(self.raw.get("x-kubernetes-preserve-unknown-fields")) or bool(
            self.raw.get("x-kubernetes-embedded-resource"))

    def child(self, name):
        """The schema of field ``name`` of an object node, or None if the schema does not know it."""
        properties = self.raw.get("properties") or {}
        if name in properties:
            return Node.resolve(self.doc, properties[name])
        extra = self.raw.get("additionalProperties")
        if isinstance(extra, dict):
            return Node.resolve(self.doc, extra)
        if extra is True or self.preserves_unknown:
            return Node(self.doc, {"x-kubernetes-preserve-unknown-fields": True})
        return None

    def items(self):
        raw = self.raw.get("items")
        if isinstance(raw, dict):
            return Node.resolve(self.doc, raw)
        return Node(self.doc, {"x-kubernetes-preserve-unknown-fields": True}) if self.preserves_unknown else None

    @property
    def is_map(self):
        """A map (arbitrary keys) rather than a struct (declared fields)."""
        return "additionalProperties" in self.raw and not self.raw.get("properties")

    @property
    def map_atomic(self):
        return self.raw.get("x-kubernetes-map-type") == "atomic"

    def list_type(self):
        """(``atomic`` | ``map`` | ``set``, merge keys), as the server's structured merge reads the schema."""
        declared = self.raw.get("x-kubernetes-list-type")
        if declared == "map":
            return "map", tuple(self.raw.get("x-kubernetes-list-map-keys") or ())
        if declared in ("atomic", "set"):
            return declared, ()
        if "merge" in (self.raw.get("x-kubernetes-patch-strategy") or "").split(","):
            key = self.raw.get("x-kubernetes-patch-merge-key")
            return ("map", (key,)) if key else ("set", ())
        return "atomic", ()


class Schemas:
    """Root schema node per (group, version, kind), loaded lazily from ``/openapi/v3``."""

    def __init__(self, client, cache_dir=None):
        self.client = client
        self.cache_dir = os.path.expanduser(cache_dir) if cache_dir else None
        self._index = None
        self._docs = {}

    def root(self, group, version, kind):
        kinds = self._kinds(group, version)
        return kinds.get(kind)

    def _kinds(self, group, version):
        """kind -> root node for one group-version (empty when the server publishes no schema)."""
        path = f"apis/{group}/{version}" if group else f"api/{version}"
        if path not in self._docs:
            doc = self._document(path) or {}
            kinds = {}
            for name, raw in ((doc.get("components") or {}).get("schemas") or {}).items():
                for gvk in raw.get("x-kubernetes-group-version-kind") or []:
                    if (gvk.get("group", ""), gvk.get("version")) == (group, version):
                        kinds[gvk.get("kind")] = Node.resolve(doc, {"$ref": _REF_PREFIX + name})
            self._docs[path] = kinds
        return self._docs[path]

    def _document(self, path):
        if self._index is None:
            try:
                self._index = self.client.request("GET", "/openapi/v3").get("paths") or {}
            except TridentError:  # an old or restricted server: nothing is proven, dry-runs decide
                self._index = {}
        url = (self._index.get(path) or {}).get("serverRelativeURL")
        return self._fetch(url) if url else None

    def _fetch(self, url):
        cache = None
        if self.cache_dir and "hash=" in url:
            digest = hashlib.sha256((self.client.server + url).encode("utf-8")).hexdigest()[:24]
            cache = os.path.join(self.cache_dir, f"openapi-{digest}.json")
            try:
                with open(cache, encoding="utf-8") as handle:
                    return json.load(handle)
            except (OSError, ValueError):
                pass
        doc = self.client.request("GET", url)
        if cache:
            try:
                os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
                atomic_write(cache, json.dumps(doc).encode("utf-8"), mode=0o600)
            except OSError:
                pass  # an unwritable cache only costs the download next time
        return doc
