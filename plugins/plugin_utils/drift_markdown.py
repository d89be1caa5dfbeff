# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Markdown drift report, written for a merge-request reviewer (controller-only: the callback renders it).

A table environment by step (and its health), then a collapsed section per drifted or failed environment that says, per
step, what a reviewer acts on: the source's revision range, commits and changed files; each Kubernetes
object (``Kind namespace/name action``) with its field paths and ``before → after`` values; each
Terraform resource with its action and the reason in words. Item shapes: docs/drift-report.md.

Text from results (environment, step and object names, commit subjects, paths, values, messages, reasons: the
repository's words, never ours) is only ever written through report_text.py, as a code span, or a ``<code>``
element inside the ``<details>`` summary (an HTML block, where Markdown is not parsed): nothing an author writes
becomes a link, an image, a mention, a reference, HTML or a new line. Words of our own vocabulary (actions,
health statuses, Terraform's reasons) are written as words only when they are exactly one of ours.
"""

from __future__ import annotations

from functools import partial

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_details import (
    change_text, detail_rows, health_note, object_head, source_rows, terraform_action)
from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import DriftReport
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import title
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import html_code, markdown_code

code = markdown_code
table_code = partial(markdown_code, table=True)

# Terraform's plan ``action_reason`` values, in words.
_REASONS = {
    "replace_because_tainted": "tainted",
    "replace_because_cannot_update": "config changed",
    "replace_by_request": "replacement requested",
    "replace_by_triggers": "replace_triggered_by changed",
    "delete_because_no_resource_config": "removed from config",
    "delete_because_no_module": "module removed from config",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "count index removed",
    "delete_because_each_key": "for_each key removed",
    "delete_because_no_move_target": "moved target missing",
}
_SOURCE_KEYS = ("before", "after", "revision", "commits", "changed_files", "uncommitted")
_OUTSIDE = {"delete": "deleted outside Terraform", "update": "changed outside Terraform"}
# kube_diff's object actions and Terraform's plan actions: written as words; anything else is a code span.
_KUBE_ACTIONS = ("create", "update", "replace", "delete", "keep", "none")
_TERRAFORM_ACTIONS = ("create", "read", "update", "delete", "replace", "no-op")


def render(report: DriftReport) -> str:
    """The whole Markdown document."""
    names = report.step_names()
    lines = _heading(report) + _table(report, names)
    for env in sorted(report.environments):
        if report.env_status(env) in ("changed", "failed") or report.env_health(env) not in (None, "Healthy") \
                or any(_kept(step) or _verdicts(step)[1] or _exceptions(step)
                       for step in report.environments[env].values()):
            lines += _environment(report, env, names)
    if report.started:
        lines += ["", f"<sub>Run started {code(report.started)}, took {report.duration or 0:.0f} s; verdict "
                      f"{code(report.verdict())}.</sub>"]
    return "\n".join(lines) + "\n"


def _heading(report):
    summary = report.summary()
    mode = "check mode, nothing was changed" if report.check_mode else "apply mode"
    verb = "drifted" if report.check_mode else "had drift corrected"
    failed = f"; {len(summary['failed'])} failed" if summary["failed"] else ""
    return [f"### Trident drift report ({mode})", "",
            f"**{len(summary['drifted'])} of {summary['environments']} environments {verb}**{failed}.", ""]


def _table(report, names):
    # The revision each environment runs (would run, in check mode), where the pipeline said it.
    revisions = any(summary.get("revision") or summary.get("target") for summary in report.summaries.values())
    lines = ["| Environment | " + " | ".join(_title(n, table_code) for n in names) + " | Health |"
             + (" Revision |" if revisions else ""),
             "|---" * (len(names) + 2 + revisions) + "|"]
    for env, steps in sorted(report.environments.items()):
        lines.append(f"| {table_code(env)} | " + " | ".join(_cell(report, steps.get(n)) for n in names)
                     + f" | {_health_cell(report.env_health(env), table_code)} |"
                     + (f" {_revision(report, env)} |" if revisions else ""))
    return lines


def _revision(report, env):
    """The revision the environment runs after the run (would run, in check mode), and the branch's when it differs."""
    summary = report.summaries.get(env, {})
    runs, target = summary.get("revision"), summary.get("target")
    if not runs and not target:
        return "—"
    if runs and target and runs != target:
        return f"{table_code(str(runs)[:12])} (Git: {table_code(str(target)[:12])})"
    return table_code(str(runs or target)[:12]) if runs else f"nothing (Git: {table_code(str(target)[:12])})"


_HEALTH_MARKS = {"Healthy": "💚", "Progressing": "🔄", "Degraded": "💔", "Suspended": "⏸️", "Missing": "👻",
                 "Unknown": "❓"}


def _health_cell(status, quote=code):
    """A health status (an environment's is the worst of its Kubernetes objects'), — when no step reported one;
    one not of kube_diff's vocabulary is ``quote``d."""
    if status is None:
        return "—"
    return f"{_HEALTH_MARKS[status]} {status}" if _known(status, _HEALTH_MARKS) else quote(status)


def _cell(report, step):
    if step is None or step.status == "skipped":
        return "—"
    denials, warnings = _verdicts(step)
    excepted = _exceptions(step)
    if denials or warnings or excepted:  # the policy step: what it denies refuses the environment, the rest passes
        noted = f", {len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else ""
        noted += f", {len(excepted)} excepted" if excepted else ""
        return (f"⛔ {len(denials)} denied" if denials else "✅ passed") + noted
    if step.status == "failed":
        return "❌ failed"
    if step.status == "not_checked":
        return "⏭️ not checked"
    if step.status == "not_applied":
        return f"⚠️ {step.count} change{'s' * (step.count != 1)}, not applied"
    if step.status == "changed":
        return f"⚠️ {report.changes(step.count)}" + _kept_note(step)
    return "✅ in sync" + _kept_note(step)


def _verdicts(step):
    """The policy step's denials and warnings (docs/policy.md); empty for any other step."""
    stats = (step.stats or {}) if step is not None else {}
    return ([d for d in stats.get("denials") or [] if isinstance(d, dict)],
            [w for w in stats.get("warnings") or [] if isinstance(w, dict)])


def _exceptions(step):
    """The policy step's exceptions (rules a package's ``exception`` excepted for an object: counted, no verdict)."""
    stats = (step.stats or {}) if step is not None else {}
    return [e for e in stats.get("exceptions") or [] if isinstance(e, dict)]


def _kept(step):
    """The objects of the step Git no longer has and prune: false keeps (listed on every run, never forgotten)."""
    return items_of(step)["kept"] if step is not None else []


def _kept_note(step):
    kept = len(_kept(step))
    return f", {kept} kept (not in Git)" if kept else ""


def _environment(report, env, names):
    # The summary is an HTML block: its text is HTML, not Markdown.
    lines = ["", f"<details><summary><b>{html_code(env)}</b> — {_overview(report, env, names)}</summary>", ""]
    for name in names:
        step = report.environments[env].get(name)
        if step is not None and (step.status in ("changed", "not_applied", "failed") or _kept(step)
                                 or _verdicts(step)[1] or _exceptions(step)):
            lines += [f"#### {_title(name)}: {_cell(report, step)}", ""] + _step_body(name, step) + [""]
        unhealthy = [i for i in ((step.stats or {}).get("unhealthy") or []) if isinstance(i, dict)] if step else []
        if unhealthy:
            lines += [f"#### {_title(name)}: in sync, not Healthy", ""]
            lines += [line for item in unhealthy for line in _kubernetes(item)] + [""]
    return lines + ["</details>"]


def _overview(report, env, names):
    """The summary line of an environment's section: which steps drifted or failed, so a closed section says it."""
    steps = [(name, report.environments[env].get(name)) for name in names]
    parts = [f"{_title(name, html_code)} {_cell(report, step)}" for name, step in steps
             if step is not None and step.status in ("changed", "not_applied", "failed")]
    health = report.env_health(env)
    if health not in (None, "Healthy"):
        parts.append(_health_cell(health, html_code))
    return ", ".join(parts)


def _title(name, quote=code):
    """A step's title: the registry's for a known step, else its name ``quote``d."""
    known = title(name)
    return known if known != name else quote(name)


def _word(value, vocabulary):
    """``value`` in italics: as a word when it is one of ``vocabulary``, else as a code span."""
    return f"*{value}*" if _known(value, vocabulary) else f"*{code(value)}*"


def _known(value, vocabulary):
    """Whether ``value`` is one of our own words (results may hold anything, unhashable values too)."""
    return isinstance(value, str) and value in vocabulary


def _step_body(name, step):
    """Failures first, then what drifted, in the step's own words."""
    lines = [f"- ❌ {code(task['msg'])}" if task.get("msg") else "- ❌ failed" for task in step.tasks if task.get("failed")]
    message = (step.stats or {}).get("message")
    if step.status == "failed" and message and not any(task.get("msg") == message for task in step.tasks):
        lines.append(f"- ❌ {code(message)}")
    denials, warnings = _verdicts(step)
    refusal = (step.stats or {}).get("refusal")
    if refusal and not denials:
        lines.append(f"- ⛔ {code(refusal)}")
    lines += [_verdict("⛔", entry) for entry in denials] + [_verdict("⚠️", entry) for entry in warnings]
    lines += [_verdict("➖ excepted:", entry) for entry in _exceptions(step)]
    data = items_of(step)
    if data.get("censored") and not (data["items"] or data["source"]):
        lines.append("- details hidden (no_log)")
    if data["source"]:
        lines += _source(data["source"])
    outside = {item.get("address"): item for item in data["outside"] if isinstance(item, dict)}
    for item in data["items"]:
        lines += _item(item, outside)
    if data["kept"]:
        lines += ["", "**Not in Git, kept** (`prune: false`: listed on every run until Git has them again or prune "
                      "deletes them)", ""]
        lines += [line for item in data["kept"] for line in _item(item, outside)]
    return lines


def _verdict(mark, entry):
    """One policy verdict: the policy file and rule, the object or resource address, the message."""
    return (f"- {mark} {code(entry.get('policy', ''))} {code(entry.get('rule', ''))}: "
            f"{code(entry.get('subject', ''))}: {code(entry.get('message', ''))}")


def items_of(step) -> dict:
    """What a step drifted by, from its task results, else from its ``set_stats`` data (roles often run
    the module with no_log and report the account through stats): object/resource ``items``, Terraform's
    ``outside`` (changed outside Terraform) and the ``source`` revision range, commits and files."""
    found = {"items": [], "outside": [], "source": {}, "censored": False, "kept": []}
    for task in step.tasks:
        found["censored"] |= bool(task.get("censored"))
        found["items"] += task.get("drift") or task.get("resource_changes") or []
        found["outside"] += task.get("resource_drift") or []
        found["source"].update({k: task[k] for k in _SOURCE_KEYS if task.get(k) and k != "changed_files"})
        if task.get("changed_files"):
            found["source"].setdefault("changed_files", []).extend(task["changed_files"])
    stats = step.stats or {}
    found["items"] = found["items"] or list(stats.get("items") or [])
    # kube_diff's objects not in Git that prune: false keeps are not drift: listed apart.
    kept = [item for item in found["items"] if isinstance(item, dict) and item.get("action") == "keep"]
    found["items"] = [item for item in found["items"] if not (isinstance(item, dict) and item.get("action") == "keep")]
    found["kept"] = kept or [item for item in stats.get("kept") or [] if isinstance(item, dict)]
    found["outside"] = found["outside"] or list(stats.get("outside_terraform") or [])
    for key in _SOURCE_KEYS:
        if stats.get(key) and not found["source"].get(key):
            found["source"][key] = stats[key]
    return found


def _source(source):
    shown = source_rows(source)
    lines = []
    if shown.revision:
        lines.append("Revision " + (f"{code(shown.moved_from)} → " if shown.moved_from else "") + code(shown.revision))
    if shown.commits:
        lines += ["", "**Commits**", ""] + [f"- {code(sha)} {code(subject)}" for sha, subject in shown.commits]
    if shown.files:
        lines += ["", "**Changed files**", ""] + [f"- {code(path)}" for path in shown.files]
    if shown.uncommitted:
        lines += ["", "**Changed in the checkout and not committed: not deployed**", ""]
        lines += [f"- {code(path)}" for path in shown.uncommitted]
    return lines


def _item(item, outside):
    if isinstance(item, dict) and "address" in item:
        return [_terraform(item, outside.get(item["address"]))]
    if isinstance(item, dict) and "kind" in item:
        return _kubernetes(item)
    if isinstance(item, dict):
        return ["- " + code(", ".join(f"{k}={v}" for k, v in item.items() if v not in (None, [], {}, "")))]
    return [f"- {code(item)}"]


def _kubernetes(item):
    head = object_head(item)
    reason = f" ({code(item['reason'])})" if isinstance(item.get("reason"), str) and item["reason"] else ""
    lines = [f"- **{code(head.kind)}** {code(head.where)}"
             + (f" {_word(head.action, _KUBE_ACTIONS)}" if head.action else "") + reason
             + health_note(head, _health_cell, code)]
    lines += [f"  - {code(row.path)}" + (f": {change_text(row, code, '*unset*')}" if row.changed else "")
              for row in detail_rows(item)]
    return lines


def _terraform(item, drifted):
    action = terraform_action(item)
    reasons = []
    if isinstance(drifted, dict):
        reasons.append(_OUTSIDE.get("/".join(drifted.get("actions") or []), "changed outside Terraform"))
    reason = item.get("action_reason")
    if reason:
        reasons.append(_REASONS[reason] if _known(reason, _REASONS) else code(reason))
    elif action == "update" and not reasons:
        reasons.append("config changed")
    forced = [code(_attribute_path(p)) for p in item.get("replace_paths") or []]
    if forced:
        reasons.append("forced by " + ", ".join(forced))
    return f"- {code(item['address'])} {_word(action, _TERRAFORM_ACTIONS)}" + (" — " + "; ".join(reasons) if reasons else "")


def _attribute_path(path):
    """Terraform's ``replace_paths`` entry (a list of attribute names and indexes) as ``tags.Name`` or ``ports[0]``."""
    if not isinstance(path, list):
        return str(path)
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else ("." if text else "") + str(step)
    return text
