# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The drift report as one self-contained HTML page (controller-only: the callback writes it next to the Markdown).

A person opens it in a browser: the environment table, the promotion chain drawn as inline SVG (each environment a
box with the revision it runs and its health; an arrow from the environment it promotes from, dashed and red while
it waits), then per environment what drifted (the source's commits and files, each Kubernetes object with its field
paths and values, each Terraform resource), its health and why it failed or waits.

The page fetches nothing and runs nothing: no script at all, its one ``<style>`` allowed by hash in a strict
Content-Security-Policy (``default-src 'none'``), no external reference of any kind. Every string from the report
(the repository's words: environment, object and file names, commit subjects, values, messages) goes through
report_text.py's ``html_text``/``html_code`` (visible, one line, escaped), also inside the SVG; our own vocabulary
(actions, statuses, health) is written as words only when it is exactly one of ours (drift_markdown's rule).
"""

from __future__ import annotations

import base64
import hashlib

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_details import (
    change_text, detail_rows, health_note, object_head, source_rows, terraform_action)
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_markdown import items_of
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import DriftReport
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import title
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import html_code, html_text

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#1d2125}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse}th,td{border:1px solid #ccd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef}td code{white-space:nowrap}code{background:#f3f3f6;padding:0 .2em;border-radius:3px;overflow-wrap:anywhere}
.ok{color:#116329}.changed{color:#9a6700}.failed{color:#cf222e}.muted{color:#666}
details{border:1px solid #ccd;border-radius:6px;padding:.4em .8em;margin:.6em 0}summary{cursor:pointer}
ul{margin:.2em 0 .6em}svg{max-width:100%;height:auto;border:1px solid #ccd;border-radius:6px}
""".strip()
# No script, no fetch, no frame, no form, no base: only the style above (by its hash) and data: images.
CSP = ("default-src 'none'; style-src '{style}'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

_KUBE_ACTIONS = ("create", "update", "replace", "delete", "keep", "none")
_TERRAFORM_ACTIONS = ("create", "read", "update", "delete", "replace", "no-op")
_HEALTH = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
_HEALTH_FILL = {"Healthy": "#dafbe1", "Progressing": "#ddf4ff", "Degraded": "#ffebe9", "Suspended": "#eaeef2",
                "Missing": "#fff8c5", "Unknown": "#eaeef2", None: "#ffffff"}
_STATUS_WORDS = {"ok": ("in sync", "ok"), "changed": ("drift", "changed"), "not_applied": ("not applied", "changed"),
                 "failed": ("failed", "failed"), "not_checked": ("not checked", "failed")}
# The chain's boxes: width, height and the gaps between columns (promotion depth) and rows.
_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _PAD = 250, 58, 60, 18, 16


def style_hash() -> str:
    """The CSP hash-source of the page's one ``<style>`` element."""
    return "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")


def render(report: DriftReport) -> str:
    """The whole page."""
    data = report.as_dict()
    envs = data["environments"]
    mode = "check mode, nothing was changed" if report.check_mode else "apply mode"
    summary = data["summary"]
    verb = "drifted" if report.check_mode else "had drift corrected"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP.format(style=style_hash())}">',
        '<meta name="referrer" content="no-referrer">', '<meta name="viewport" content="width=device-width">',
        f"<title>Trident drift report ({html_text(mode)})</title>", f"<style>{_STYLE}</style>", "</head><body>",
        f"<h1>Trident drift report ({html_text(mode)})</h1>",
        f"<p><b>{len(summary['drifted'])} of {summary['environments']} environments {verb}</b>"
        + (f"; {len(summary['failed'])} failed" if summary["failed"] else "")
        + f". Verdict {html_code(data['verdict'])}"
        + (f"; run started {html_code(report.started)}, took {report.duration or 0:.0f} s" if report.started else "")
        + ".</p>",
        "<h2>Environments</h2>", _table(report, envs),
        "<h2>Promotion chain</h2>", chain_svg(envs),
        "<h2>Details</h2>",
    ]
    parts += [_details(report, name, envs[name]) for name in sorted(envs)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# -- the table ----------------------------------------------------------------------------------------------------

def _table(report, envs):
    names = report.step_names()
    head = "".join(f"<th>{_title(name)}</th>" for name in names)
    rows = [f'<table id="environments"><thead><tr><th>Environment</th>{head}<th>Health</th><th>Runs</th>'
            "<th>Git</th></tr></thead><tbody>"]
    for env in sorted(envs):
        entry = envs[env]
        cells = "".join(f"<td>{_status_cell(report, entry['steps'].get(name))}</td>" for name in names)
        rows.append(f'<tr><td><a href="#env-{_anchor(env)}">{html_code(env)}</a></td>{cells}'
                    f"<td>{_health(entry.get('health'))}</td><td>{_revision(entry.get('revision'))}</td>"
                    f"<td>{_revision(entry.get('target'))}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _status_cell(report, step):
    if not isinstance(step, dict) or step.get("status") in (None, "skipped"):
        return '<span class="muted">—</span>'
    word, css = _STATUS_WORDS.get(step["status"], (None, None))
    if word is None:
        return html_code(step["status"])
    count = step.get("count") or 0
    if step["status"] == "changed" and count:
        word = report.changes(count)
    return f'<span class="{css}">{html_text(word)}</span>'


def _health(status):
    if status is None:
        return '<span class="muted">—</span>'
    return html_text(status) if isinstance(status, str) and status in _HEALTH else html_code(status)


def _revision(revision):
    return html_code(str(revision)[:12]) if revision else '<span class="muted">—</span>'


def _title(name):
    known = title(name)
    return html_text(known) if known != name else html_code(name)


def _anchor(env) -> str:
    """A fragment id for an environment: its name's hash (a name is the repository's; an id never holds it)."""
    return hashlib.sha256(str(env).encode("utf-8", "surrogatepass")).hexdigest()[:12]


# -- the promotion chain ------------------------------------------------------------------------------------------

def chain_layout(envs: dict) -> dict:
    """``{env: (column, row)}``: the column is the promotion depth (how many ``promote_from`` links lead to it;
    a link to an environment not in the report, or a cycle, counts as none), rows in name order within a column."""
    def depth(env, seen=()):
        upstream = envs[env].get("promote_from")
        if not upstream or upstream not in envs or upstream in seen or upstream == env:
            return 0
        return 1 + depth(upstream, (*seen, env))

    columns = {}
    for env in sorted(envs):
        columns.setdefault(depth(env), []).append(env)
    return {env: (column, row) for column, names in columns.items() for row, env in enumerate(names)}


def chain_svg(envs: dict) -> str:
    """The promotion chain as inline SVG: a box per environment (name, the revision it runs, health), an arrow from
    the environment each promotes from; dashed and red where it waits (held)."""
    if not envs:
        return '<p class="muted">No environment.</p>'
    layout = chain_layout(envs)
    columns = max(column for column, _row in layout.values()) + 1
    rows = max(row for _column, row in layout.values()) + 1
    width = _PAD * 2 + columns * _BOX_W + (columns - 1) * _GAP_X
    height = _PAD * 2 + rows * _BOX_H + (rows - 1) * _GAP_Y

    def corner(env):
        column, row = layout[env]
        return _PAD + column * (_BOX_W + _GAP_X), _PAD + row * (_BOX_H + _GAP_Y)

    shapes = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
              'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker>'
              '<marker id="arrow-held" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
              'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#cf222e"/></marker></defs>']
    for env in sorted(envs):
        upstream = envs[env].get("promote_from")
        if not upstream or upstream not in layout or upstream == env:
            continue
        (x1, y1), (x2, y2) = corner(upstream), corner(env)
        held = bool(envs[env].get("held"))
        shapes.append(f'<line class="promotion{" held" if held else ""}" x1="{x1 + _BOX_W}" y1="{y1 + _BOX_H // 2}" '
                      f'x2="{x2}" y2="{y2 + _BOX_H // 2}" stroke="{"#cf222e" if held else "#57606a"}" '
                      f'stroke-width="2"{" stroke-dasharray=" + chr(34) + "6 4" + chr(34) if held else ""} '
                      f'marker-end="url(#{"arrow-held" if held else "arrow"})">'
                      f"<title>{html_text(env)} promotes from {html_text(upstream)}"
                      f"{': ' + html_text(envs[env]['held']) if held else ''}</title></line>")
    for env in sorted(envs):
        x, y = corner(env)
        entry = envs[env]
        health = entry.get("health") if entry.get("health") in _HEALTH else None
        stroke = "#cf222e" if entry.get("status") == "failed" else "#9a6700" if entry.get("held") else "#57606a"
        runs = str(entry.get("revision") or "")[:7] or "nothing"
        waits = f" · waits for {str(entry.get('target') or '')[:7]}" if entry.get("held") else ""
        shapes.append(
            f'<g class="environment" id="chain-{_anchor(env)}"><title>{html_text(env)}: runs {html_text(runs)}'
            f"{html_text(waits)}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="{_HEALTH_FILL[health]}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 10}" y="{y + 20}" font-weight="bold" font-size="14">{html_text(_clip(env, 30))}</text>'
            f'<text x="{x + 10}" y="{y + 38}" font-size="12">runs {html_text(runs)}{html_text(waits)}</text>'
            f'<text x="{x + 10}" y="{y + 52}" font-size="11" fill="#57606a">{html_text(health or "health: —")}</text>'
            "</g>")
    return (f'<svg id="promotion-chain" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif">'
            "<title>Promotion chain</title>" + "".join(shapes) + "</svg>")


def _clip(text, length):
    text = str(text)
    return text if len(text) <= length else text[:length - 1] + "…"


# -- per environment ----------------------------------------------------------------------------------------------

def _details(report, env, entry):
    interesting = entry["status"] in ("changed", "failed") or entry.get("health") not in (None, "Healthy") \
        or entry.get("held")
    parts = [f'<details id="env-{_anchor(env)}"{" open" if interesting else ""}><summary>{html_code(env)} — '
             f"{_status_cell(report, {'status': entry['status']})}, health {_health(entry.get('health'))}</summary>"]
    if entry.get("held"):
        parts.append(f"<p>Waits: {html_code(entry['held'])}</p>")
    failure = entry.get("failure")
    if isinstance(failure, dict) and failure.get("message"):
        parts.append(f'<p class="failed">Failed in {html_code(failure.get("step"))}: '
                     f"{html_code(failure['message'])}</p>")
    steps = report.environments.get(env, {})
    for name in [*report.step_names(), *sorted(set(steps) - set(report.step_names()))]:
        step = steps.get(name)
        if step is None or step.status == "skipped":
            continue
        body = _step_body(name, step)
        if body:
            parts.append(f"<h3>{_title(name)}: {_status_cell(report, {'status': step.status, 'count': step.count})}"
                         f"</h3>" + body)
    parts.append("</details>")
    return "\n".join(parts)


def _step_body(name, step):
    data = items_of(step)
    parts = []
    for task in step.tasks:
        if task.get("failed") and task.get("msg"):
            parts.append(f'<p class="failed">{html_code(task["msg"])}</p>')
    if data["source"]:
        parts.append(_source(data["source"]))
    items = [item for item in data["items"] if isinstance(item, dict)]
    if items:
        parts.append("<ul>" + "".join(_item(item) for item in items) + "</ul>")
    unhealthy = [item for item in (step.stats or {}).get("unhealthy") or [] if isinstance(item, dict)]
    if unhealthy:
        parts.append("<p>Not Healthy:</p><ul>" + "".join(_item(item) for item in unhealthy) + "</ul>")
    if data["kept"]:
        parts.append("<p>Not in Git, kept (<code>prune: false</code>):</p><ul>"
                     + "".join(_item(item) for item in data["kept"]) + "</ul>")
    return "".join(parts)


def _source(source):
    shown = source_rows(source)
    parts = []
    if shown.revision:
        parts.append("<p>Revision " + (f"{html_code(shown.moved_from)} → " if shown.moved_from else "")
                     + f"{html_code(shown.revision)}</p>")
    if shown.commits:
        parts.append("<p>Commits</p><ul>" + "".join(f"<li>{html_code(sha)} {html_code(subject)}</li>"
                                                    for sha, subject in shown.commits) + "</ul>")
    if shown.files:
        parts.append("<p>Changed files</p><ul>" + "".join(f"<li>{html_code(path)}</li>" for path in shown.files)
                     + "</ul>")
    return "".join(parts)


def _item(item):
    if "address" in item:
        return f"<li>{html_code(item['address'])} {_word(terraform_action(item), _TERRAFORM_ACTIONS)}</li>"
    if "kind" in item:
        head = object_head(item)
        inner = "".join(f"<li>{html_code(row.path)}"
                        + (f": {change_text(row, html_code, '<i>unset</i>')}" if row.changed else "") + "</li>"
                        for row in detail_rows(item))
        return (f"<li><b>{html_code(head.kind)}</b> {html_code(head.where)}"
                + (f" {_word(head.action, _KUBE_ACTIONS)}" if head.action else "")
                + health_note(head, _health, html_code)
                + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
    return "<li>" + html_code(", ".join(f"{k}={v}" for k, v in item.items() if v not in (None, [], {}, ""))) + "</li>"


def _word(value, vocabulary):
    return f"<i>{html_text(value)}</i>" if isinstance(value, str) and value in vocabulary else f"<i>{html_code(value)}</i>"
