# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where every environment stands, decided from what status read (read.py), and shown as a table and as JSON.

Pure functions. The states, worst first: ``unknown`` (something could not be read), ``never deployed`` (no
record), ``Degraded`` (its Kubernetes objects), ``held`` (its folder changed on the branch and env.yml
``promote_from`` holds it back: promotion.py decides, as the reconcile would), ``drifted`` (the branch's folder
differs from the recorded one) and ``in sync``. Every string from the repository or the cluster (environment
names, commit subjects, reasons) is shown as visible text: control characters and bidirectional overrides as
escapes (report_text.visible), so nothing reaches the terminal as an escape sequence.
"""

from __future__ import annotations

import json

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, HEALTHY
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.promotion import decide, short
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible

STATES = ("unknown", "never deployed", "Degraded", "held", "drifted", "in sync")
FORMAT = "trident.gitops/status/v1"
_COLUMNS = (("ENVIRONMENT", 28), ("STATE", 14), ("DEPLOYED", 8), ("BRANCH", 8), ("HEALTH", 11), ("NOTE", 60))


def text(value: object) -> str:
    """``value`` as one line of visible text (report_text.visible: a control or format character becomes its
    escape, ``\\x1b``; a line break a space), so nothing from the repository reaches the terminal as a control."""
    return "" if value is None else visible(value)


def entries(reads: list, promote_from: dict) -> list:
    """One JSON-ready entry per environment read (``promote_from``: name -> the environment it promotes from)."""
    by_name = {read.name: read for read in reads}
    return [entry(read, promote_from.get(read.name), by_name.get(promote_from.get(read.name) or "")) for read in reads]


def entry(read, promote_from: str | None, upstream) -> dict:
    """Where one environment stands; ``upstream`` is the Read of the environment it promotes from (or None)."""
    recorded = read.recorded or {}
    unread = bool(read.problems) and not read.recorded
    sync = ("unknown" if unread or not read.tree else "never deployed" if not recorded
            else "in sync" if recorded.get("tree") == read.tree else "drifted")
    waits = _waits(read, promote_from, upstream) if sync in ("drifted", "never deployed") else ""
    state = sync
    if sync != "unknown" and sync != "never deployed" and read.health == DEGRADED:
        state = DEGRADED
    elif sync == "drifted" and waits:
        state = "held"
    return {
        "name": text(read.name), "state": state, "sync": sync,
        "deployed": {"revision": recorded.get("revision"), "tree": recorded.get("tree"),
                     "subject": text(read.recorded_subject)},
        "branch": {"revision": read.revision, "tree": read.tree, "subject": text(read.subject)},
        "health": read.health,
        "unhealthy": [{key: text(value) for key, value in item.items()} for item in read.unhealthy],
        "promotion": {"from": text(promote_from) if promote_from else None, "waits": bool(waits), "reason": text(waits)},
        "problems": [text(problem) for problem in read.problems],
    }


def _waits(read, promote_from: str | None, upstream) -> str:
    """Why the reconcile would hold the environment back ('' when it would deploy the branch)."""
    if not promote_from:
        return ""
    above = None
    if upstream is not None and upstream.recorded:
        above = {"revision": upstream.recorded["revision"], "health": upstream.health or HEALTHY}
    try:
        return decide(read.name, read.revision, read.recorded, promote_from, above).held
    except TridentError as exc:
        return exc.message


def summary(found: list) -> dict:
    counts = {state: 0 for state in STATES}
    for item in found:
        counts[item["state"]] += 1
    return {state: count for state, count in counts.items() if count}


def document(found: list) -> dict:
    """The JSON document (``status_json``): its format, the counts by state and every environment."""
    return {"format": FORMAT, "summary": summary(found), "environments": found}


def as_json(found: list) -> str:
    return json.dumps(document(found), indent=1, sort_keys=True, ensure_ascii=True)


def _cell(value: str, width: int) -> str:
    value = text(value)
    return value if len(value) <= width else value[:width - 1] + "…"


def note(item: dict) -> str:
    """The table's last column: what a person needs next (the problem, the wait, the unhealthy object, the
    commit)."""
    if item["problems"]:
        return "; ".join(item["problems"])
    if item["promotion"]["waits"]:
        return item["promotion"]["reason"]
    if item["unhealthy"]:
        first = item["unhealthy"][0]
        where = f"{first['namespace']}/{first['name']}" if first.get("namespace") else first.get("name", "")
        return f"{first['kind']} {where}: {first['health']} {first.get('reason', '')}".strip()
    return item["branch"]["subject"] if item["sync"] != "in sync" else item["deployed"]["subject"]


def table(found: list) -> str:
    """A table a person reads in a terminal, one line per environment, then the counts."""
    rows = [[name for name, _width in _COLUMNS]]
    for item in found:
        rows.append([item["name"], item["state"], short(item["deployed"]["revision"], "-"),
                     short(item["branch"]["revision"], "-"), item["health"] or "-", note(item)])
    widths = [min(width, max(len(_cell(row[index], width)) for row in rows))
              for index, (_name, width) in enumerate(_COLUMNS)]
    lines = ["  ".join(_cell(cell, width).ljust(widths[index]) for index, (cell, width) in
                       enumerate(zip(row, (w for _n, w in _COLUMNS)))).rstrip() for row in rows]
    counts = summary(found)
    lines.append("")
    lines.append(", ".join(f"{count} {state}" for state, count in counts.items()) or "no environment")
    return "\n".join(lines)
