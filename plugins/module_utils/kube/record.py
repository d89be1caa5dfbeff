"""What an environment with Kubernetes runs, read from the environment itself: the ``{revision, tree}`` recorded on
its ApplySet parent (applier.record_deployed) and the health of the objects the set owns now (the worst of them,
health.py). Any controller reads the same (promotion across runs and controllers, the status playbook), with one
LIST per recorded kind and namespace, selected by the set's ``part-of`` label."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF, ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import MISSING, UNKNOWN, health, worst
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import live_parent


def read_record(client, discovery, applyset: ApplySet) -> dict:
    """``{revision, tree, health, objects}``: the record on the parent (None when nothing is recorded or there is no
    parent: health Missing), the worst health of the set's members (Healthy for none) and how many there are."""
    parent = live_parent(client, applyset)
    if parent is None:
        return {"revision": None, "tree": None, "health": MISSING, "objects": 0}
    deployed = ApplySet.deployed(parent) or {}
    kinds, namespaces = ApplySet.recorded(parent)
    statuses = []
    for group, kind in sorted(kinds):
        resource = next((r for (g, _v, k), r in sorted(discovery.resources.items()) if (g, k) == (group, kind)), None)
        if resource is None:  # a kind the cluster no longer serves: its members cannot be read
            statuses.append(UNKNOWN)
            continue
        for namespace in sorted(namespaces) if resource.namespaced else [None]:
            listed = client.request("GET", object_path(resource, namespace),
                                    {"labelSelector": f"{PART_OF}={applyset.id}"})
            for obj in listed.get("items") or []:
                obj.setdefault("apiVersion", resource.api_version)
                obj.setdefault("kind", resource.kind)
                statuses.append(health(obj).status)
    return {"revision": deployed.get("revision"), "tree": deployed.get("tree"), "health": worst(statuses),
            "objects": len(statuses)}
