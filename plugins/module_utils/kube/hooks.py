"""Helm hooks: objects Helm creates anew instead of updating them, as their delete policies say.

``helm upgrade`` never updates a hook. Before it creates the hooks of a phase it deletes the one a previous run
left when the hook's ``helm.sh/hook-delete-policy`` says ``before-hook-creation``, which is also Helm's default
when a hook names no policy; and it already deleted it after that run when the policy said ``hook-succeeded``
and the hook succeeded, or ``hook-failed`` and it failed. kube_diff keeps install and upgrade hooks as ordinary
objects of the set; when Git changes one that Helm would have created anew, the plan says ``replace`` (the live
object is deleted, then the new one created) with the reason, instead of an update the API server may refuse
(a Job's pod template is immutable: "field is immutable" would stop the whole environment). Helm never deletes a
CustomResourceDefinition this way, and neither does kube_diff.
"""

from __future__ import annotations

HOOK = "helm.sh/hook"
DELETE_POLICY = "helm.sh/hook-delete-policy"
BEFORE_CREATION = "before-hook-creation"
SUCCEEDED = "hook-succeeded"
FAILED = "hook-failed"


def _annotation(obj, name):
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(name)
    return {part.strip().lower() for part in value.split(",") if part.strip()} if isinstance(value, str) else set()


def phases(obj):
    """The hook phases ``obj`` is annotated for (empty: not a hook)."""
    return _annotation(obj, HOOK)


def delete_policies(obj):
    """The hook's delete policies; Helm's default ``before-hook-creation`` when it names none it knows."""
    return (_annotation(obj, DELETE_POLICY) & {BEFORE_CREATION, SUCCEEDED, FAILED}) or {BEFORE_CREATION}


def outcome(live):
    """How a hook's last run ended as Helm judges it: ``succeeded``, ``failed`` or None (still running). A Job
    by its Complete or Failed condition, a Pod by its phase; any other kind is done once it exists."""
    kind = live.get("kind")
    status = live.get("status") or {}
    if kind == "Job":
        done = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        return "succeeded" if "Complete" in done else "failed" if "Failed" in done else None
    if kind == "Pod":
        return {"Succeeded": "succeeded", "Failed": "failed"}.get(status.get("phase"))
    return "succeeded"


def replace_reason(desired, live):
    """Why Helm would create ``desired`` anew over ``live`` (the reason shown), or None when it would not: not a
    hook, a CustomResourceDefinition, or a delete policy that keeps the live one."""
    found = phases(desired)
    if not found or live is None or desired.get("kind") == "CustomResourceDefinition":
        return None
    # The new hook's policy says whether the old one is deleted before it is created; the old hook's policy said
    # whether it was deleted once it had run.
    if BEFORE_CREATION in delete_policies(desired):
        rule = BEFORE_CREATION
    else:
        ended, kept = outcome(live), delete_policies(live)
        rule = SUCCEEDED if ended == "succeeded" and SUCCEEDED in kept \
            else FAILED if ended == "failed" and FAILED in kept else None
    if rule is None:
        return None
    return f"Helm hook ({', '.join(sorted(found))}), delete policy {rule}: created anew, as helm upgrade does"
