"""The drift report for a person at a terminal (controller-only): one line per environment naming what changed, for
the drift_report callback's summary at the end of every run, and the whole report as plain text
(``drift-report.txt``, what ``make demo`` shows) instead of Markdown with HTML that only a forge renders.

Names of objects, resources, files and messages come from the repository or from what it deploys: each goes through
report_text.visible, so no control character (a terminal escape sequence among them) reaches the terminal as it is.
What to show is drift_markdown's ``items_of``: both views read the same account of the drift.
"""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_details import change_text, detail_rows
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_markdown import items_of
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import title
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible

# Actions in the order a reader meets them, with the words for a check (what would happen) and an apply (what did).
_ACTIONS = {"create": ("to create", "created"), "update": ("to update", "updated"),
            "replace": ("to replace", "replaced"), "delete": ("to delete", "deleted"), "read": ("to read", "read")}
_NOT_CHANGES = ("none", "keep", "no-op")
# Names listed per action in the one-line summary; the rest is counted.
_SHOWN = 3
_MESSAGE = 300


def item_name(item) -> str:
    """``Deployment gitops-demo/web`` for an object, the address for a Terraform resource, else the item."""
    if not isinstance(item, dict):
        return visible(item)
    if item.get("kind"):
        where = "/".join(str(part) for part in (item.get("namespace"), item.get("name")) if part)
        return visible(f"{item['kind']} {where}")
    return visible(item.get("address") or item.get("name") or item.get("path") or "?")


def item_action(item) -> str | None:
    """The item's action in one word (Terraform's delete and create together are a replace)."""
    if not isinstance(item, dict):
        return None
    actions = [a for a in item.get("actions") or [] if a != "no-op"]
    if set(actions) == {"create", "delete"}:
        return "replace"
    return str(item.get("action") or "/".join(map(str, actions)) or "") or None


def _by_action(items) -> dict:
    grouped = {}
    for item in items:
        action = item_action(item)
        if action not in _NOT_CHANGES:
            grouped.setdefault(action, []).append(item_name(item))
    order = list(_ACTIONS)
    return dict(sorted(grouped.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def _action_words(action, check_mode) -> str:
    if action in _ACTIONS:
        return _ACTIONS[action][0 if check_mode else 1]
    return visible(action) if action else ("changed" if check_mode else "corrected")


def step_phrase(name: str, step, check_mode: bool) -> str | None:
    """``Kubernetes 2 to update (Deployment n/web, ConfigMap n/x)``; None for a step with nothing to say."""
    label = title(name)
    if step.status == "failed":
        message = (step.stats or {}).get("message") or next(
            (task.get("msg") for task in step.tasks if task.get("failed")), "")
        text = visible(message)
        return f"{label} FAILED" + (f": {text[:_MESSAGE]}{'…' if len(text) > _MESSAGE else ''}" if text else "")
    if step.status not in ("changed", "not_applied") or not step.count:
        return None
    found = items_of(step)
    grouped = _by_action(found["items"])
    suffix = " (not applied)" if step.status == "not_applied" else ""
    source = found["source"]
    if name == "source" and (source.get("after") or source.get("revision")):
        after = visible(source.get("after") or source.get("revision"))[:12]
        before = f"{visible(source['before'])[:12]} → " if source.get("before") else ""
        files = len(source.get("changed_files") or [])
        noun = "file" if files == 1 else "files"
        return f"{label} {before}{after}" + (f" ({files} changed {noun})" if files else "") + suffix
    if not grouped:
        noun = "change" if step.count == 1 else "changes"
        return f"{label} {step.count} {noun}" + ("" if check_mode else " corrected") + suffix
    parts = []
    for action, names in grouped.items():
        shown = ", ".join(names[:_SHOWN]) + (f", {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
        parts.append(f"{len(names)} {_action_words(action, check_mode)} ({shown})")
    return f"{label} " + ", ".join(parts) + suffix


def summary_lines(report) -> list:
    """One line per environment: what changed in each step, or ``in sync``, and the health when not Healthy."""
    lines = []
    for env in sorted(report.environments):
        steps = report.environments[env]
        names = [n for n in report.step_names() if n in steps] + sorted(set(steps) - set(report.step_names()))
        phrases = [p for p in (step_phrase(n, steps[n], report.check_mode) for n in names) if p]
        health = report.env_health(env)
        tail = f"; {health}" if health and health != "Healthy" else ""
        lines.append(f"{visible(env)}: " + ("; ".join(phrases) or "in sync") + tail)
    return lines


def render(report) -> str:
    """The whole report as plain text: the summary, then per environment each drifted item with its changed fields,
    why it is not Healthy, and the failures."""
    summary = report.summary()
    mode = "check mode, nothing was changed" if report.check_mode else "apply"
    verb = "drifted" if report.check_mode else "had drift corrected"
    lines = [f"Trident drift report ({mode}): {len(summary['drifted'])} of {summary['environments']} environments "
             f"{verb}; verdict {report.verdict()}", ""]
    for env, line in zip(sorted(report.environments), summary_lines(report)):
        lines.append(line)
        for name, step in sorted(report.environments[env].items(), key=lambda kv: _order(report, kv[0])):
            lines += [f"    {entry}" for entry in _step_details(name, step)]
    return "\n".join(lines) + "\n"


def _order(report, name):
    names = report.step_names()
    return names.index(name) if name in names else len(names)


def _step_details(name, step) -> list:
    if step.status not in ("changed", "not_applied"):
        return []
    found = items_of(step)
    lines = []
    source = found["source"]
    if name == "source" and source:
        before, after = source.get("before"), source.get("after") or source.get("revision")
        if after:
            lines.append(f"{title(name)}: revision " + (f"{visible(before)[:12]} → " if before else "")
                         + visible(after)[:12])
        lines += [f"  commit {visible(c.get('sha', ''))[:12]} {visible(c.get('subject', ''))}"
                  for c in source.get("commits") or [] if isinstance(c, dict)]
        lines += [f"  changed {visible(path)}" for path in source.get("changed_files") or []]
    for item in found["items"]:
        action = item_action(item)
        if action in _NOT_CHANGES:
            continue
        health = item.get("health") if isinstance(item, dict) else None
        why = ""
        if isinstance(health, dict) and health.get("status") not in (None, "Healthy"):
            why = f" — {visible(health.get('status'))}" + (f": {visible(health['reason'])}" if health.get("reason")
                                                           else "")
        lines.append(f"{title(name)}: {item_name(item)} {visible(action or '')}{why}")
        lines += [f"  {visible(row.path)}: {change_text(row, str, '(unset)')}"
                  for row in (detail_rows(item, visible) if isinstance(item, dict) else []) if row.changed]
    return lines
