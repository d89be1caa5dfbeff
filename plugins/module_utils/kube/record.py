"""What an environment with Kubernetes runs, read from the environment itself: the ``{revision, tree}`` recorded on
its ApplySet parent (applier.record_deployed) and the health of the objects the set owns now (the worst of them,
health.py) with those that are not Healthy. Any controller reads the same (promotion across runs and controllers,
the status playbook), with one LIST per recorded kind and namespace, selected by the set's ``part-of`` label."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF, ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import object_path
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import HEALTHY, MISSING, UNKNOWN, health, worst
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import live_parent


def read_record(client, discovery, applyset: ApplySet) -> dict:
    """``{revision, tree, health, objects, unhealthy}``: the record on the parent (None when nothing is recorded or
    there is no parent: health Missing), the worst health of the set's members (Healthy for none), how many there
    are, and ``[{kind, namespace, name, health, reason}]`` of those that are not Healthy."""
    parent = live_parent(client, applyset)
    if parent is None:
        return {"revision": None, "tree": None, "health": MISSING, "objects": 0, "unhealthy": []}
    deployed = ApplySet.deployed(parent) or {}
    kinds, namespaces = ApplySet.recorded(parent)
    statuses, unhealthy = [], []
    for group, kind in sorted(kinds):
        resource = next((r for (g, _v, k), r in sorted(discovery.resources.items()) if (g, k) == (group, kind)), None)
        if resource is None:  # a kind the cluster no longer serves: its members cannot be read
            statuses.append(UNKNOWN)
            continue
        for namespace in sorted(namespaces) if resource.namespaced else [None]:
            for obj in _members(client, resource, namespace, applyset):
                obj.setdefault("apiVersion", resource.api_version)
                obj.setdefault("kind", resource.kind)
                judged = health(obj)
                statuses.append(judged.status)
                if judged.status != HEALTHY:
                    meta = obj.get("metadata") or {}
                    unhealthy.append({"kind": obj["kind"], "namespace": meta.get("namespace") or "",
                                      "name": meta.get("name"), "health": judged.status, "reason": judged.reason})
    return {"revision": deployed.get("revision"), "tree": deployed.get("tree"), "health": worst(statuses),
            "objects": len(statuses), "unhealthy": unhealthy}


def _members(client, resource, namespace, applyset: ApplySet) -> list:
    """The set's members of one resource (in one namespace); none when the server no longer serves it (404)."""
    try:
        listed = client.request("GET", object_path(resource, namespace), {"labelSelector": f"{PART_OF}={applyset.id}"})
    except TridentError as exc:
        if getattr(exc, "status", None) == 404:
            return []
        raise
    return listed.get("items") or []
