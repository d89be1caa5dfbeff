"""Pure functions over Terraform/OpenTofu's machine-readable plan (``show -json``) and state outputs.

Nothing here runs a command: the input is the parsed JSON, the output typed results with every
sensitive value masked (``common.masking``), so they can be returned, logged and diffed safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_tree

UNKNOWN = "(known after apply)"
# Actions that leave real infrastructure as it is.
_INERT_ACTIONS = {("no-op",), ("read",)}


@dataclass(frozen=True)
class ResourceChange:
    """One resource the plan changes (or, for drift, one that changed outside Terraform)."""

    address: str
    actions: tuple
    before: object = None
    after: object = None
    # Terraform's action_reason (replace_because_tainted, delete_because_no_resource_config, ...), if any.
    reason: str | None = None
    # The attribute paths that force a replacement (plan's replace_paths), e.g. (("ami",),)
    replace_paths: tuple = ()

    @property
    def destructive(self):
        # A replacement is ("delete", "create") or ("create", "delete"); both remove an object.
        return "delete" in self.actions

    @property
    def replace(self):
        return "delete" in self.actions and "create" in self.actions

    @property
    def action(self):
        """One word for the change, as a reader says it: ``replace`` for a delete and a create in either order."""
        if self.replace:
            return "replace"
        return next((action for action in ("create", "delete", "update", "read") if action in self.actions),
                    "/".join(self.actions) or "no-op")

    def to_dict(self, verdict=None):
        """The change as returned; ``verdict`` (the destroy guard's) marks what it stops or lets through."""
        result = {"address": self.address, "action": self.action, "actions": list(self.actions)}
        if self.reason:
            result["action_reason"] = self.reason
        if self.replace_paths:
            result["replace_paths"] = [list(path) for path in self.replace_paths]
        if verdict is not None and self.address in verdict.refused:
            result["refused"] = True
        if verdict is not None and self.address in verdict.unfinished:
            result["unfinished_create"] = True
        return result

    def to_diff(self):
        header = f"{self.address} ({self.action})"
        return {"before_header": header, "after_header": header,
                "before": self.before if self.before is not None else {},
                "after": self.after if self.after is not None else {}}


@dataclass(frozen=True)
class PlanSummary:
    """Counts like Terraform's "Plan: N to add" line, except that a replacement counts only as ``replace``."""

    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0

    def to_dict(self):
        return {"add": self.add, "change": self.change, "destroy": self.destroy, "replace": self.replace}


@dataclass(frozen=True)
class Plan:
    resource_changes: tuple = ()
    resource_drift: tuple = ()
    # output name -> actions, for outputs whose value changes
    output_changes: dict = field(default_factory=dict)
    # output name -> value known at plan time, sensitive ones masked
    outputs: dict = field(default_factory=dict)

    @property
    def has_changes(self):
        return bool(self.resource_changes or self.output_changes)

    @property
    def destructive(self):
        return tuple(change for change in self.resource_changes if change.destructive)

    @property
    def summary(self):
        counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0}
        for change in self.resource_changes:
            if change.replace:
                counts["replace"] += 1
            elif "create" in change.actions:
                counts["add"] += 1
            elif "delete" in change.actions:
                counts["destroy"] += 1
            elif "update" in change.actions:
                counts["change"] += 1
        return PlanSummary(**counts)


def render(value, sensitive=False, unknown=False):
    """A value from a plan with sensitive parts masked and unknown parts shown as ``UNKNOWN``.

    ``sensitive`` and ``unknown`` are Terraform's ``*_sensitive`` / ``after_unknown`` markers: ``True``
    for the whole value, or a dict/list of the same shape marking parts of it.
    """
    if unknown is True:
        return UNKNOWN
    if sensitive is True:
        return mask_tree(value)
    if isinstance(value, dict) or (value is None and isinstance(unknown, dict)):
        value = value or {}
        keys = set(value) | {key for key, marker in _items(unknown) if marker}
        return {key: render(value.get(key), _part(sensitive, key), _part(unknown, key)) for key in sorted(keys)}
    if isinstance(value, list):
        return [render(item, _part(sensitive, index), _part(unknown, index)) for index, item in enumerate(value)]
    return value


def _items(marker):
    return marker.items() if isinstance(marker, dict) else ()


def _part(marker, key):
    if isinstance(marker, dict):
        return marker.get(key, False)
    if isinstance(marker, list):
        return marker[key] if key < len(marker) else False
    return False


def _resource_change(entry):
    change = entry.get("change") or {}
    return ResourceChange(
        address=entry["address"],
        actions=tuple(change.get("actions") or ()),
        before=render(change.get("before"), change.get("before_sensitive", False)),
        after=render(change.get("after"), change.get("after_sensitive", False), change.get("after_unknown", False)),
        reason=entry.get("action_reason"),
        replace_paths=tuple(tuple(path) for path in change.get("replace_paths") or () if isinstance(path, list)),
    )


def _changes(entries):
    changes = (_resource_change(entry) for entry in entries or ())
    return tuple(change for change in changes if change.actions not in _INERT_ACTIONS)


def mask_outputs(outputs):
    """``{name: {"value", "sensitive"}}`` (plan ``planned_values``, state or ``output -json``) -> values, masked.

    An output whose value is not known yet (absent from a plan) is shown as ``UNKNOWN``.
    """
    return {name: (mask_tree(spec["value"]) if spec.get("sensitive") else spec["value"]) if "value" in spec
            else UNKNOWN for name, spec in (outputs or {}).items()}


def parse_plan(document):
    """Turn ``show -json <planfile>`` output (already ``json.loads``-ed) into a :class:`Plan`."""
    output_changes = {name: list(spec.get("actions") or ())
                      for name, spec in (document.get("output_changes") or {}).items()
                      if tuple(spec.get("actions") or ()) not in _INERT_ACTIONS}
    return Plan(
        resource_changes=_changes(document.get("resource_changes")),
        resource_drift=_changes(document.get("resource_drift")),
        output_changes=output_changes,
        outputs=mask_outputs((document.get("planned_values") or {}).get("outputs")),
    )
