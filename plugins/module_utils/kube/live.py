"""Reading the cluster for a plan: live objects in bulk, the ApplySet parent, namespaces.

One LIST per kind and namespace (one cluster-wide LIST when a kind spans many namespaces) reads
every live object the desired set and the ApplySet may touch; nothing here writes.
"""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import PART_OF, TOOLING, ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import ObjectKey

CLUSTER_WIDE_LIST_THRESHOLD = 4  # more namespaces of one kind than this: one cluster-wide LIST
NAMESPACES = Resource("", "v1", "Namespace", "namespaces", False)


def live_parent(client, applyset):
    """The ApplySet parent object, None if it does not exist; refuses a parent of other tooling."""
    resource = parent_resource(applyset)
    try:
        live = client.request("GET", object_path(resource, applyset.namespace, applyset.name))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    tooling = ((live.get("metadata") or {}).get("annotations") or {}).get(TOOLING, "")
    if tooling.split("/")[0] != applyset.tooling.split("/")[0]:
        raise TridentError(f"ApplySet parent {applyset.kind} {applyset.namespace}/{applyset.name} is managed by "
                           f"{tooling or 'no tooling annotation'}, not {applyset.tooling}: refusing to take it over")
    return live


def parent_resource(applyset):
    plural = "secrets" if applyset.kind == "Secret" else "configmaps"
    return Resource("", "v1", applyset.kind, plural, True)


def namespace_exists(client, name):
    """True, False (404), "terminating" (being deleted), or None when the server will not say (forbidden): the
    dry-run decides then."""
    try:
        found = client.request("GET", object_path(NAMESPACES, None, name))
    except ApiError as exc:
        if exc.status == 404:
            return False
        if exc.status == 403:
            return None
        raise
    return "terminating" if (found.get("metadata") or {}).get("deletionTimestamp") else True


def list_live(client, discovery, wanted, options, parent, pool):
    """LIST every (resource, namespace) in ``wanted`` and the ApplySet spans; map key -> (resource, live)."""
    wanted = {resource: set(namespaces) for resource, namespaces in wanted.items()}
    if options.applyset:
        # Every kind and namespace the set spans, whether or not prune is on: an object Git no longer has is
        # pruned, or else reported as kept, never forgotten.
        kinds, namespaces = ApplySet.recorded(parent)
        namespaces |= {ns for spans in wanted.values() for ns in spans if ns} | {options.applyset.namespace}
        for group, kind in kinds:
            resource = next((r for r in wanted if (r.group, r.kind) == (group, kind)), None) \
                or _find_kind(discovery, group, kind)
            if resource is not None:
                wanted.setdefault(resource, set()).update(namespaces if resource.namespaced else {""})
    calls = []
    for resource, namespaces in wanted.items():
        if not resource.namespaced or len(namespaces) > CLUSTER_WIDE_LIST_THRESHOLD:
            calls.append((resource, None, namespaces))
        else:
            calls.extend((resource, ns, None) for ns in sorted(namespaces))
    listed = {}
    for resource, objects in pool.map(lambda call: (call[0], _list(client, call[0], call[1], call[2])), calls):
        for obj in objects:
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", resource.kind)
            meta = obj.get("metadata") or {}
            listed[ObjectKey(resource.group, resource.kind, meta.get("namespace") or "", meta["name"])] = (resource, obj)
    return listed


def _find_kind(discovery, group, kind):
    return next((r for ident, r in sorted(discovery.resources.items()) if (ident[0], ident[2]) == (group, kind)),
                None)


def _list(client, resource, namespace, only_namespaces):
    objects, token = [], None
    while True:
        query = {"limit": 500}
        if token:
            query["continue"] = token
        data = client.request("GET", object_path(resource, namespace), query)
        objects.extend(data.get("items") or [])
        token = (data.get("metadata") or {}).get("continue")
        if not token:
            break
    if only_namespaces is not None and resource.namespaced:
        objects = [o for o in objects if (o.get("metadata") or {}).get("namespace") in only_namespaces]
    return objects


def orphans(listed, desired_keys, applyset):
    """(key, resource, live) of every listed object labelled as ours that Git no longer has."""
    return [(key, resource, obj) for key, (resource, obj) in sorted(listed.items())
            if key not in desired_keys and ((obj.get("metadata") or {}).get("labels") or {}).get(PART_OF) == applyset.id]
