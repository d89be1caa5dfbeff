"""Checking every desired document against the server's kinds before anything is sent."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import key_of, split_api_version

CRD_GROUP = "apiextensions.k8s.io"


@dataclass
class Desired:
    """A validated desired object: where it came from, who it is, where it is served."""

    source: str
    obj: dict
    key: object
    resource: Resource
    served: bool = True  # False for custom resources whose CRD is applied in this same run
    masked: tuple = ()  # paths of the fields that hold secret values (loader.Document)


@dataclass
class Validated:
    items: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def validate(documents, discovery, default_namespace, applyset=None):
    """Check every document; return the desired objects (defaults and ApplySet label set) and problems."""
    result = Validated()
    pending = kinds_from_crds(documents)
    seen = {}
    for doc in documents:
        obj = doc.obj
        missing = [name for name, ok in (("apiVersion", isinstance(obj.get("apiVersion"), str) and obj["apiVersion"]),
                                         ("kind", isinstance(obj.get("kind"), str) and obj["kind"]),
                                         ("metadata", isinstance(obj.get("metadata"), dict))) if not ok]
        if not missing and not (isinstance(obj["metadata"].get("name"), str) and obj["metadata"]["name"]):
            missing.append("metadata.name")
        if missing:
            result.problems.append(f"{doc.source}: missing {', '.join(missing)}")
            continue
        group, version = split_api_version(obj["apiVersion"])
        name = obj["metadata"]["name"]
        label = f"{doc.source}: {obj['kind']} {name}"
        resource, served = discovery.find(group, version, obj["kind"]), True
        if resource is None:
            resource, served = pending.get((group, version, obj["kind"])), False
        if resource is None:
            result.problems.append(f"{label}: unknown kind {obj['kind']} in {obj['apiVersion']} "
                                   "(not served by the cluster and no CustomResourceDefinition in the desired set)")
            continue
        obj = copy.deepcopy(obj)
        namespace = obj["metadata"].get("namespace")
        if resource.namespaced:
            obj["metadata"]["namespace"] = namespace or default_namespace
        elif namespace:
            result.problems.append(f"{label}: {obj['kind']} is cluster-scoped but metadata.namespace is "
                                   f"{namespace!r}")
            continue
        if applyset is not None:
            if (group, obj["kind"], obj["metadata"].get("namespace")) == ("", applyset.kind, applyset.namespace) \
                    and name == applyset.name:
                result.problems.append(f"{label}: this is the ApplySet parent; it cannot be a desired object")
                continue
            labels = obj["metadata"].get("labels")
            obj["metadata"]["labels"] = {**(labels if isinstance(labels, dict) else {}), PART_OF: applyset.id}
        key = key_of(obj)
        if key in seen:
            result.problems.append(f"{label}: duplicate of {seen[key]}")
            continue
        seen[key] = doc.source
        result.items.append(Desired(doc.source, obj, key, resource, served, doc.masked))
    return result


def kinds_from_crds(documents):
    """Kinds the CustomResourceDefinitions among ``documents`` (each with ``.obj``) will serve:
    ``{(group, version, kind): Resource}``."""
    kinds = {}
    for doc in documents:
        obj = doc.obj
        if obj.get("kind") != "CustomResourceDefinition" or split_api_version(obj.get("apiVersion") or "")[0] != CRD_GROUP:
            continue
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        if not (spec.get("group") and names.get("kind") and names.get("plural")):
            continue
        for entry in spec.get("versions") or []:
            if isinstance(entry, dict) and entry.get("name") and entry.get("served", True):
                kinds[(spec["group"], entry["name"], names["kind"])] = Resource(
                    spec["group"], entry["name"], names["kind"], names["plural"], spec.get("scope") == "Namespaced")
    return kinds
