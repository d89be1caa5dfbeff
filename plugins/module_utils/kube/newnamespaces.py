"""Namespaces a batch introduces, created before the dry-runs of the objects in them.

The API server cannot dry-run an object whose namespace does not exist yet (404), and only the server judges
what the schema cannot say: a Deployment whose selector does not match its template, admission webhooks and
policies, quotas. So, once every other object of the batch passed its dry-run and before anything else is
written, the namespaces the batch creates are created as the batch says (the desired Namespace, applied with our
field manager) and annotated with this run's id (``trident.gitops/created-for-dry-run``); then the objects in
them are dry-run. If anything is refused, the namespaces this run created are deleted again (the exact objects:
a uid precondition). If everything passes they stay for the apply, whose server-side apply of the same Namespace
drops the annotation. Check mode never gets here: it writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError, object_path
from ansible_collections.trident.gitops.plugins.module_utils.kube.live import NAMESPACES

ANNOTATION = "trident.gitops/created-for-dry-run"


@dataclass
class Created:
    """A namespace written for the dry-runs: ``ours`` when this run created it (else it appeared meanwhile and
    our apply is taken back instead of deleting it)."""

    name: str
    uid: str
    ours: bool


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
