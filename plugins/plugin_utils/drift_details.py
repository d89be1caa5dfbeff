# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The detail rows of one drifted Kubernetes object, the same for every view of the drift report (drift_markdown,
drift_html, drift_terminal): which field paths changed, from what to what, and which are masked (a Secret's value,
or a change its producer masked), with the object's heading (:func:`object_head`); a Terraform resource's action in
one word (:func:`terraform_action`); and what the source step's account shows (:func:`source_rows`). Each renderer
only writes the rows in its own markup; what a row says, how a value is shortened and when it is masked is decided
here once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import is_secret_value_path

# The longest value a row shows; a longer one is cut and ends with "…".
MAX_VALUE = 80
MASKED = "changed (masked)"


@dataclass(frozen=True)
class Row:
    """One field path of an object: a change (``before`` and ``after`` as shortened text, None where unset; neither
    when ``masked``) or, ``changed`` false, a path the object's account names without values."""

    path: object
    changed: bool = True
    masked: bool = False
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class Head:
    """What heads an object's entry: its kind, ``namespace/name`` (the name alone for a cluster-scoped one), its
    action (None without one), and its health's status and reason (None where it has none)."""

    kind: object
    where: str
    action: object
    health: object
    reason: object


def object_head(item: dict) -> Head:
    """The :class:`Head` of the Kubernetes object ``item``."""
    namespace, name = item.get("namespace"), item.get("name")
    health = item.get("health") if isinstance(item.get("health"), dict) else {}
    return Head(item.get("kind"), f"{namespace}/{name}" if namespace else str(name), item.get("action"),
                health.get("status") or None, (health.get("reason") or None) if health.get("status") else None)


def health_note(head: Head, word, quote) -> str:
    """`` — Degraded: reason`` after an object's heading (``word`` writes the status, ``quote`` the reason); empty
    when it has no health."""
    if not head.health:
        return ""
    return f" — {word(head.health)}" + (f": {quote(head.reason)}" if head.reason else "")


def terraform_action(item: dict) -> str:
    """A Terraform resource change's actions in one word: ``replace`` for a delete and a create, ``no-op`` for none."""
    actions = [action for action in item.get("actions") or [] if isinstance(action, str) and action != "no-op"]
    return "replace" if set(actions) == {"create", "delete"} else "/".join(actions) or "no-op"


def value_text(value: object, shown=str) -> str | None:
    """``value`` as text (a string as it is, anything else as JSON) made visible by ``shown`` and cut to
    :data:`MAX_VALUE` characters; None when there is no value."""
    if value is None:
        return None
    text = shown(value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def detail_rows(item: dict, shown=str) -> list:
    """The rows of the Kubernetes object ``item``: its changes with a path, in order, then the paths of its
    ``fields`` that no change names. ``shown`` is applied to each value before it is cut (see :func:`value_text`)."""
    kind = item.get("kind")
    changes = [change for change in item.get("changes") or [] if isinstance(change, dict) and change.get("path")]
    rows = []
    for change in changes:
        if change.get("masked") or is_secret_value_path(kind, change["path"]):
            rows.append(Row(change["path"], masked=True))
        else:
            rows.append(Row(change["path"], before=value_text(change.get("before"), shown),
                            after=value_text(change.get("after"), shown)))
    named = {change["path"] for change in changes}
    return rows + [Row(path, changed=False) for path in item.get("fields") or [] if path not in named]


def change_text(row: Row, quote, unset: str) -> str:
    """What a change row says: ``before → after`` with each value quoted by ``quote`` (``unset`` for none), or
    that it changed, masked."""
    if row.masked:
        return MASKED
    return " → ".join(unset if value is None else quote(value) for value in (row.before, row.after))


@dataclass(frozen=True)
class SourceRows:
    """The source step's account as the page and the Markdown show it: the revision it moved from (None when it did
    not move) and the one it runs, both cut to 12 characters; its commits as ``(sha cut to 12, subject)``; the
    changed files; the files changed in the checkout and not committed."""

    moved_from: str | None
    revision: str | None
    commits: list
    files: list
    uncommitted: list


def source_rows(source: dict) -> SourceRows:
    """:class:`SourceRows` of the source step's ``source`` account."""
    before, after = source.get("before"), source.get("after") or source.get("revision")
    return SourceRows(moved_from=str(before)[:12] if before and after and before != after else None,
                      revision=str(after)[:12] if after else None,
                      commits=[(str(commit.get("sha", ""))[:12], commit.get("subject", ""))
                               for commit in source.get("commits") or [] if isinstance(commit, dict)],
                      files=list(source.get("changed_files") or []),
                      uncommitted=list(source.get("uncommitted") or []))
