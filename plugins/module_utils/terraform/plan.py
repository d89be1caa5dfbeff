"""Pure functions over Terraform/OpenTofu's machine-readable plan (``show -json``) and state outputs.

Nothing here runs a command: the input is the parsed JSON, the output typed results with every secret value
masked (``common.masking``), so they can be returned, logged and diffed safely. A value is masked where it
stands: an output, or a resource's top-level attribute (in its old value and its new one), is masked whole
when Terraform marks it sensitive, when its expression refers to a secret variable (the ``variables`` option:
decrypted SOPS values), directly or through a resource attribute that does, or when its value holds a secret
variable's value (a copy made through locals, modules or providers). A module need not mark anything sensitive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask, mask_tree

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
    # output name -> value known at plan time, secret ones masked
    outputs: dict = field(default_factory=dict)
    # the outputs masked because a secret reaches them (a later run without the secrets masks them too)
    masked_outputs: frozenset = frozenset()

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


@dataclass(frozen=True)
class Secrets:
    """What a run is given that is secret: the secret variables' names and the string forms of their values."""

    names: frozenset = frozenset()
    values: tuple = ()

    @classmethod
    def of(cls, variables):
        """The secrets of a ``variables`` mapping (any JSON values)."""
        variables = variables or {}
        return cls(frozenset(variables), tuple(sorted({text for text in _texts(variables) if text})))

    def held_by(self, value):
        """Whether ``value`` holds a secret value (equal to it, or a string containing it)."""
        return bool(self.values) and any(secret in text for text in _texts(value) for secret in self.values)

    def named_by(self, reference):
        """Whether a configuration ``reference`` (``var.password``, ``var.db.user``) is a secret variable."""
        return any(reference == f"var.{name}" or reference.startswith((f"var.{name}.", f"var.{name}["))
                   for name in self.names)


def _texts(value):
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if value is None or isinstance(value, bool):
        return []
    return [value if isinstance(value, str) else json.dumps(value)]


def render(value, sensitive=False, unknown=False, masked=()):
    """A value from a plan with sensitive parts masked and unknown parts shown as ``UNKNOWN``.

    ``sensitive`` and ``unknown`` are Terraform's ``*_sensitive`` / ``after_unknown`` markers: ``True``
    for the whole value, or a dict/list of the same shape marking parts of it. ``masked`` names top-level
    attributes masked whole (a secret reaches them).
    """
    if unknown is True:
        return UNKNOWN
    if sensitive is True:
        return mask_tree(value)
    if isinstance(value, dict) or (value is None and isinstance(unknown, dict)):
        value = value or {}
        keys = set(value) | {key for key, marker in _items(unknown) if marker}
        return {key: mask(value[key]) if key in masked and key in value and _part(unknown, key) is not True
                else render(value.get(key), _part(sensitive, key), _part(unknown, key)) for key in sorted(keys)}
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


class _Reach:
    """Which resource attributes and outputs of the root module refer to a secret variable, directly or through
    a resource attribute that does (the configuration's ``references``; locals and modules are not listed
    there: a copy through them is found by its value)."""

    def __init__(self, configuration, secrets):
        root = (configuration or {}).get("root_module") or {}
        self.secrets = secrets
        self.attributes = {}  # resource address -> {attribute: references}
        for resource in root.get("resources") or ():
            self.attributes[resource.get("address")] = {name: tuple((expr or {}).get("references") or ())
                                                        for name, expr in (resource.get("expressions") or {}).items()
                                                        if isinstance(expr, dict)}
        self.outputs = {name: tuple(((spec or {}).get("expression") or {}).get("references") or ())
                        for name, spec in (root.get("outputs") or {}).items()}
        self.tainted = set()  # "address.attribute"
        changed = bool(secrets.names)
        while changed:
            changed = False
            for address, attributes in self.attributes.items():
                for name, references in attributes.items():
                    key = f"{address}.{name}"
                    if key not in self.tainted and any(self._hit(ref) for ref in references):
                        self.tainted.add(key)
                        changed = True

    def _hit(self, reference):
        if self.secrets.named_by(reference):
            return True
        return any(reference == key or reference.startswith((f"{key}.", f"{key}[")) or key.startswith(f"{reference}.")
                   for key in self.tainted)

    def resource(self, entry):
        """The attributes of a ``resource_changes`` entry that refer to a secret."""
        if entry.get("module_address"):
            return set()
        address = ("data." if entry.get("mode") == "data" else "") + f"{entry.get('type')}.{entry.get('name')}"
        return {name for name in self.attributes.get(address, {}) if f"{address}.{name}" in self.tainted}

    def output(self, name):
        return any(self._hit(ref) for ref in self.outputs.get(name, ()))


def _masked_attributes(entry, reach):
    """The attributes of a ``resource_changes`` entry masked whole in its ``before`` and ``after``: those a secret
    variable reaches, those holding a secret value, and then those the provider computes anew."""
    change = entry.get("change") or {}
    before, after = change.get("before"), change.get("after")
    masked = set(reach.resource(entry))
    for version in (before, after):
        if isinstance(version, dict):
            masked |= {name for name, value in version.items() if reach.secrets.held_by(value)}
    if masked and isinstance(before, dict):
        # What the provider computes anew from inputs a secret reaches may hold the old secret: its old value too.
        masked |= {name for name, marker in _items(change.get("after_unknown")) if marker and name in before}
    return masked


def _resource_change(entry, reach):
    change = entry.get("change") or {}
    before, after = change.get("before"), change.get("after")
    masked = _masked_attributes(entry, reach)
    return ResourceChange(
        address=entry["address"],
        actions=tuple(change.get("actions") or ()),
        before=render(before, change.get("before_sensitive", False), masked=masked),
        after=render(after, change.get("after_sensitive", False), change.get("after_unknown", False), masked),
        reason=entry.get("action_reason"),
        replace_paths=tuple(tuple(path) for path in change.get("replace_paths") or () if isinstance(path, list)),
    )


def _changes(entries, reach):
    changes = (_resource_change(entry, reach) for entry in entries or ())
    return tuple(change for change in changes if change.actions not in _INERT_ACTIONS)


def mask_outputs(outputs, secrets=Secrets(), masked=()):
    """``{name: {"value", "sensitive"}}`` (plan ``planned_values``, state or ``output -json``) -> values, masked
    whole when sensitive, named in ``masked`` or holding one of ``secrets``' values.

    An output whose value is not known yet (absent from a plan) is shown as ``UNKNOWN``.
    """
    def shown(name, spec):
        if "value" not in spec:
            return UNKNOWN
        if spec.get("sensitive"):
            return mask_tree(spec["value"])
        return mask(spec["value"]) if name in masked or secrets.held_by(spec["value"]) else spec["value"]
    return {name: shown(name, spec) for name, spec in (outputs or {}).items()}


def parse_plan(document, secrets=Secrets()):
    """Turn ``show -json <planfile>`` output (already ``json.loads``-ed) into a :class:`Plan`, masking what
    ``secrets`` (a :class:`Secrets`) reach."""
    reach = _Reach(document.get("configuration"), secrets)
    output_changes = {name: list(spec.get("actions") or ())
                      for name, spec in (document.get("output_changes") or {}).items()
                      if tuple(spec.get("actions") or ()) not in _INERT_ACTIONS}
    planned = (document.get("planned_values") or {}).get("outputs") or {}
    masked = frozenset(name for name in set(planned) | set(reach.outputs) if reach.output(name))
    return Plan(
        resource_changes=_changes(document.get("resource_changes"), reach),
        resource_drift=_changes(document.get("resource_drift"), reach),
        output_changes=output_changes,
        outputs=mask_outputs(planned, secrets, masked),
        masked_outputs=masked | {name for name, spec in planned.items() if secrets.held_by(spec.get("value"))},
    )


# Keys of ``show -json``'s plan a policy input keeps (everything else is left out: a key a later Terraform adds may
# hold values nothing here masks).
_DOCUMENT_KEYS = ("format_version", "terraform_version", "applyable", "complete", "errored", "timestamp",
                  "relevant_attributes", "checks")


def _masked_values(module, secrets, reach=None):
    """``planned_values``/``prior_state`` module values: each resource's ``values`` masked where Terraform marks
    them sensitive or they hold a secret value; child modules alike."""
    if not isinstance(module, dict):
        return module
    out = dict(module)
    resources = []
    for resource in module.get("resources") or ():
        if not isinstance(resource, dict):
            continue
        values = resource.get("values")
        held = set()
        if isinstance(values, dict):
            held = {name for name, value in values.items() if secrets.held_by(value)}
            if reach is not None:  # what a secret variable reaches through the configuration
                address = re.sub(r"\[[^\]]*\]$", "", str(resource.get("address")))
                held |= {name for name in values if f"{address}.{name}" in reach.tainted}
        resources.append({**resource, "values": render(values, resource.get("sensitive_values", False), masked=held)})
    if "resources" in module:
        out["resources"] = resources
    if "child_modules" in module:
        out["child_modules"] = [_masked_values(child, secrets) for child in module.get("child_modules") or ()]
    return out


def _masked_state(values, secrets, reach=None):
    if not isinstance(values, dict):
        return values
    out = {key: value for key, value in values.items() if key not in ("outputs", "root_module")}
    if "outputs" in values:
        shown = mask_outputs(values.get("outputs"), secrets)
        out["outputs"] = {name: {**{k: v for k, v in (spec or {}).items() if k != "value"}, "value": shown[name]}
                          for name, spec in (values.get("outputs") or {}).items()}
    if "root_module" in values:
        out["root_module"] = _masked_values(values["root_module"], secrets, reach)
    return out


def _masked_entry(entry, reach):
    """A ``resource_changes`` entry as Terraform prints it, its ``before``/``after`` masked (unknown values stay
    absent, as in Terraform's own document)."""
    change = entry.get("change") or {}
    before, after = change.get("before"), change.get("after")
    masked = _masked_attributes(entry, reach)
    shown = dict(change)
    shown["before"] = render(before, change.get("before_sensitive", False), masked=masked)
    shown["after"] = render(after, change.get("after_sensitive", False), masked=masked)
    if "importing" in change:
        shown["importing"] = change["importing"]
    return {**entry, "change": shown}


def policy_document(document, secrets=Secrets()):
    """``show -json`` output as a policy reads it (conftest's input for a plan), every secret value masked where it
    stands: what Terraform marks sensitive, what a secret variable reaches or holds, and the secret variables
    themselves. The configuration (the repository's own text) is kept; keys this function does not know are not."""
    reach = _Reach(document.get("configuration"), secrets)
    sensitive_vars = {name for name, spec in (((document.get("configuration") or {}).get("root_module") or {})
                                              .get("variables") or {}).items() if (spec or {}).get("sensitive")}
    out = {key: document[key] for key in _DOCUMENT_KEYS if key in document}
    variables = {}
    for name, spec in (document.get("variables") or {}).items():
        value = (spec or {}).get("value")
        hidden = name in secrets.names or name in sensitive_vars or secrets.held_by(value)
        variables[name] = {"value": mask_tree(value) if hidden else value}
    out["variables"] = variables
    for key in ("resource_changes", "resource_drift"):
        if key in document:
            out[key] = [_masked_entry(entry, reach) for entry in document.get(key) or () if isinstance(entry, dict)]
    if "output_changes" in document:
        masked = {name for name in document["output_changes"] if reach.output(name)}
        out["output_changes"] = {}
        for name, change in (document.get("output_changes") or {}).items():
            change = change or {}
            hide = name in masked or secrets.held_by(change.get("before")) or secrets.held_by(change.get("after"))
            shown = {}
            for key in ("before", "after"):
                value, sensitive = change.get(key), change.get(f"{key}_sensitive", False)
                shown[key] = mask_tree(value) if hide else render(value, sensitive)
            out["output_changes"][name] = {**change, **shown}
    if "planned_values" in document:
        out["planned_values"] = _masked_state(document["planned_values"], secrets, reach)
    if "prior_state" in document:
        prior = document["prior_state"] or {}
        out["prior_state"] = {**{k: v for k, v in prior.items() if k != "values"},
                              "values": _masked_state(prior.get("values"), secrets, reach)}
    if "configuration" in document:
        out["configuration"] = document["configuration"]
    return out
