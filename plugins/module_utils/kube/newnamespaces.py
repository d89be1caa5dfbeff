"""Namespaces a batch introduces, created before the dry-runs of the objects in them.

The API server cannot dry-run an object whose namespace does not exist yet (404), and only the server judges
what the schema cannot say: a Deployment whose selector does not match its template, admission webhooks and
policies, quotas. So, once every other object of the batch passed its dry-run and before anything else is
written, the namespaces the batch creates are created as the batch says (the desired Namespace, applied with our
field manager) and annotated with this run's id (``trident.gitops/created-for-dry-run``); then the objects in
them are dry-run. If anything is refused, the namespaces this run created are deleted again (the exact objects:
a uid precondition). If everything passes they stay for the apply, whose server-side apply of the same Namespace
drops the annotation. Check mode never gets here: it writes nothing.

When the apply does not follow (the environment is refused at the gate, by a policy or a signer, or fails before its
Kubernetes apply), :func:`discard` takes those namespaces back (the reconcile pipeline's ``discard`` entry point):
only a namespace this run created, still the same object (uid) and still annotated with this run's id (no apply took
it over), and empty (nothing but what Kubernetes puts in every namespace); another that appeared meanwhile gets our
fields given back. Anything else is left as it is and named.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import NAMESPACES

# What Kubernetes itself puts in every namespace (the service-account and root-CA controllers, events): a namespace
# holding nothing else is empty.
_BUILT_IN = {("", "ServiceAccount"): {"default"}, ("", "ConfigMap"): {"kube-root-ca.crt"}}
_IGNORED_KINDS = {("", "Event"), ("events.k8s.io", "Event")}

ANNOTATION = "trident.gitops/created-for-dry-run"


@dataclass
class Created:
    """A namespace written for the dry-runs: ``ours`` when this run created it (else it appeared meanwhile and
    our apply is taken back instead of deleting it)."""

    name: str
    uid: str
    ours: bool

    def prepared(self, run_id):
        """The entry a plan returns (``namespaces_prepared``) for :func:`discard` to take back."""
        return {"name": self.name, "uid": self.uid, "run": run_id, "created": self.ours}


def is_created_for_dry_run(obj):
    """Whether a live Namespace is one a run created for its dry-runs and no apply has taken over yet."""
    return bool(((obj or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION))


def create(client, namespaces, field_manager, run_id, pool):
    """Apply each desired Namespace (``namespaces``: plan items) with the run's annotation. Returns (the
    :class:`Created` ones, problems); with problems, what was created is already taken back."""
    results = list(pool.map(lambda item: _create_one(client, item, field_manager, run_id), namespaces))
    created = [found for found, _problem in results if found is not None]
    problems = [problem for _found, problem in results if problem]
    if problems:
        problems += remove(client, created, field_manager)
    return created, problems


def _create_one(client, item, field_manager, run_id):
    body = {**item.desired, "metadata": {**item.desired["metadata"], "annotations": {
        **(item.desired["metadata"].get("annotations") or {}), ANNOTATION: run_id}}}
    try:
        status, answer = client.request_status(
            "PATCH", object_path(NAMESPACES, None, item.key.name), {"fieldManager": field_manager, "force": "true"},
            body, content_type=APPLY_PATCH)
    except TridentError as exc:
        return None, f"{item.key.describe()} ({item.source}): cannot create it for the dry-runs of the objects " \
                     f"in it: {exc.message}"
    return Created(item.key.name, (answer.get("metadata") or {}).get("uid", ""), status == 201), None


def remove(client, created, field_manager):
    """Delete the namespaces this run created (exactly those objects), and take our apply back from one that
    appeared meanwhile; returns a problem for each that could not be."""
    problems = []
    for entry in created:
        try:
            if entry.ours:
                client.request("DELETE", object_path(NAMESPACES, None, entry.name), body={
                    "kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": entry.uid},
                    "propagationPolicy": "Background"})
            else:  # an apply of nothing but the name gives up every field we set
                client.request("PATCH", object_path(NAMESPACES, None, entry.name),
                               {"fieldManager": field_manager, "force": "true"},
                               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": entry.name}},
                               content_type=APPLY_PATCH)
        except ApiError as exc:
            if exc.status != 404:
                problems.append(f"namespace {entry.name} (created for the dry-runs, annotated {ANNOTATION}) could "
                                f"not be {'deleted' if entry.ours else 'given back'}: {exc.message}")
        except TridentError as exc:
            problems.append(f"namespace {entry.name} (created for the dry-runs, annotated {ANNOTATION}) could "
                            f"not be {'deleted' if entry.ours else 'given back'}: {exc.message}")
    return problems


def discard(client, discovery, prepared, field_manager):
    """Take back the namespaces a plan prepared (its ``namespaces_prepared``) for an apply that does not follow.
    Returns (the names deleted or given back, a reason for each left as it is)."""
    done, left = [], []
    for entry in prepared:
        name = entry["name"]
        try:
            live = client.request("GET", object_path(NAMESPACES, None, name))
        except ApiError as exc:
            if exc.status == 404:
                continue
            left.append(f"namespace {name}: cannot be read: {exc.message}")
            continue
        reason = _not_ours(live, entry)
        if not reason and (live.get("metadata") or {}).get("deletionTimestamp"):
            done.append(name)  # being deleted already
            continue
        if not reason and entry["created"]:
            reason = _holds(client, discovery, name)
        if reason:
            left.append(f"namespace {name} is left as it is: {reason}")
            continue
        problems = remove(client, [Created(name, entry["uid"], bool(entry["created"]))], field_manager)
        left += problems
        if not problems:
            done.append(name)
    return done, left


def _not_ours(live, entry):
    """Why the live namespace is not the one the plan prepared (another object, or an apply took it over)."""
    meta = live.get("metadata") or {}
    if meta.get("uid") != entry["uid"]:
        return "it is not the namespace this run prepared (another uid)"
    if (meta.get("annotations") or {}).get(ANNOTATION) != entry["run"]:
        return f"it is no longer annotated {ANNOTATION}={entry['run']} (an apply took it over)"
    return None


def _holds(client, discovery, namespace):
    """Why ``namespace`` is not empty (the first objects found), None when it holds nothing but what Kubernetes
    puts in every namespace."""
    seen, found = set(), []
    for resource in sorted(discovery.resources.values(), key=lambda r: (r.group, r.plural, r.version)):
        if not resource.namespaced or (resource.group, resource.plural) in seen \
                or (resource.group, resource.kind) in _IGNORED_KINDS:
            continue
        seen.add((resource.group, resource.plural))
        try:
            listed = client.request("GET", object_path(resource, namespace), {"limit": "10"})
        except ApiError as exc:
            if exc.status in (404, 405):  # not listable (reviews, bindings)
                continue
            return f"its objects cannot be listed ({resource.plural}: {exc.message})"
        built_in = _BUILT_IN.get((resource.group, resource.kind), set())
        found += [f"{resource.kind} {((item.get('metadata') or {}).get('name'))}" for item in listed.get("items") or []
                  if (item.get("metadata") or {}).get("name") not in built_in]
        if found:
            return f"it is not empty ({', '.join(found[:3])})"
    return None
