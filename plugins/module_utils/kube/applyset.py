"""Ownership with the Kubernetes ApplySet convention (KEP-3659), as kubectl implements it.

The parent object carries ``applyset.kubernetes.io/id`` and annotations listing the group-kinds and
extra namespaces of its members; every member carries ``applyset.kubernetes.io/part-of=<id>``.
Only objects with that exact label are ever pruned.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

PART_OF = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
PARENT_KINDS = {"Secret": "v1", "ConfigMap": "v1"}
# The Git revision and the environment folder's tree hash this set was last deployed from (trident's own
# annotations on the parent, written once every step of the environment succeeded).
REVISION = "trident.gitops/revision"
TREE = "trident.gitops/tree"


def applyset_id(name, namespace, kind, group):
    """``applyset-<base64url(sha256(name.namespace.kind.group))>-v1``, exactly as kubectl computes it."""
    digest = hashlib.sha256(".".join((name, namespace, kind, group)).encode("utf-8")).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=") + "-v1"


def group_kind_text(group, kind):
    return f"{kind}.{group}" if group else kind


def parse_group_kinds(text):
    """``"ConfigMap,Deployment.apps"`` -> {("", "ConfigMap"), ("apps", "Deployment")}."""
    found = set()
    for entry in (text or "").split(","):
        entry = entry.strip()
        if entry:
            parts = entry.partition(".")
            found.add((parts[2], parts[0]))
    return found


def parse_namespaces(text):
    return {entry.strip() for entry in (text or "").split(",") if entry.strip()}


@dataclass(frozen=True)
class ApplySet:
    """A parent Secret or ConfigMap ``name`` in ``namespace``."""

    name: str
    namespace: str
    kind: str = "Secret"
    tooling: str = "trident.gitops/v1"

    @property
    def id(self):
        return applyset_id(self.name, self.namespace, self.kind, "")

    def parent(self, group_kinds, namespaces, record=None):
        """The parent manifest for members of ``group_kinds`` living in ``namespaces``, with the deployed
        revision ``record`` ({revision, tree}) when there is one."""
        annotations = {TOOLING: self.tooling,
                       GROUP_KINDS: ",".join(sorted(group_kind_text(g, k) for g, k in group_kinds))}
        if record:
            annotations.update({REVISION: str(record["revision"]), TREE: str(record["tree"])})
        extra = sorted(ns for ns in namespaces if ns and ns != self.namespace)
        if extra:
            annotations[NAMESPACES] = ",".join(extra)
        return {"apiVersion": PARENT_KINDS[self.kind], "kind": self.kind,
                "metadata": {"name": self.name, "namespace": self.namespace, "labels": {ID_LABEL: self.id},
                             "annotations": annotations}}

    @staticmethod
    def recorded(parent):
        """(group-kinds, namespaces) the live parent says the set spans; empty if there is none."""
        annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
        namespaces = parse_namespaces(annotations.get(NAMESPACES))
        if parent:
            namespaces.add(parent["metadata"].get("namespace", ""))
        return parse_group_kinds(annotations.get(GROUP_KINDS)), namespaces

    @staticmethod
    def deployed(parent):
        """The ``{revision, tree}`` recorded on the live parent, None when there is none."""
        annotations = ((parent or {}).get("metadata") or {}).get("annotations") or {}
        if not annotations.get(REVISION) or not annotations.get(TREE):
            return None
        return {"revision": annotations[REVISION], "tree": annotations[TREE]}
