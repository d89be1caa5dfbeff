"""The drift report: what drifted, per environment and step, as JSON and JUnit XML (the Markdown view is
drift_markdown.py). Controller-only: the drift_report callback is its one user.

What the reconcile pipeline decided is authoritative: its ``set_stats`` data, ``trident_drift`` (per environment
and step: status, count, account) and ``trident_environments`` (per environment: the verdict, the revision it runs,
when it started and how long it took, the failure), both made by reconcile/verdict.py. Task results of the four
modules used outside the pipeline (a playbook of one's own) are recorded too, for environments the pipeline did not
report. Only the account of the drift is kept: the keys modules return for it, never ``diff`` and never anything
under a key that holds object content (``data``, ``stringData``, ``content`` …), and nothing at all from a ``no_log``
result. An environment a pipeline play targeted that never reported (the run stopped before it) is a failure.
"""

from __future__ import annotations

import calendar
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import (  # noqa: F401 (re-exported)
    MODULE_STEPS, NAMES, scrub)
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.verdict import worst_verdict
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible, xml_text

DEFAULT_STEP_MAP = dict(MODULE_STEPS)
# What modules return to account for drift: kube_diff's drift, terraform_apply's resource_changes and
# resource_drift (changed outside Terraform), git_source's revision range and files, a summary.
DETAIL_KEYS = ("drift", "resource_changes", "resource_drift", "changed_files", "summary", "before", "after", "commits",
               "health")
_LIST_KEYS = ("drift", "resource_changes", "resource_drift", "changed_files")
# kube_diff's health vocabulary (Argo CD's), worst first: an environment's health is its worst object's.
HEALTH_SEVERITY = ("Unknown", "Degraded", "Missing", "Progressing", "Suspended", "Healthy")
# Worst first: a step's status is the worst status of its tasks.
_RANK = {"failed": 5, "not_checked": 4, "not_applied": 3, "changed": 2, "ok": 1, "skipped": 0}
# An environment's status from the pipeline's verdict.
_VERDICT_STATUS = {"error": "failed", "drift": "changed", "corrected": "changed", "in_sync": "ok"}
_MAX_MSG = 500


def step_of(action: str, task_vars: dict, step_map: dict) -> str | None:
    """The step a task belongs to: its ``trident_step`` var, else its module's entry in ``step_map``."""
    explicit = task_vars.get("trident_step")
    # An untemplated expression cannot name a step; the module decides then.
    if isinstance(explicit, str) and explicit and "{{" not in explicit:
        return explicit
    if action in step_map:
        return step_map[action]
    # A short module name (collections: keyword, or 'copy' for ansible.builtin.copy) matches by suffix.
    matches = {step for module, step in step_map.items() if module.rpartition(".")[2] == action}
    return matches.pop() if len(matches) == 1 else None


def parse_step_map(entries) -> dict:
    """``module=step`` strings (the callback's step_map option) over the default map."""
    result = dict(DEFAULT_STEP_MAP)
    for entry in entries or ():
        module, sep, step = str(entry).partition("=")
        if not sep or not module.strip() or not step.strip():
            raise ValueError(f"step_map entry {entry!r} is not of the form module=step")
        result[module.strip()] = step.strip()
    return result


def details_of(result: dict) -> dict:
    """The drift account of one (callback-side) task result."""
    if result.get("censored"):
        return {"censored": True}
    details = {key: _drifted(key, scrub(result[key])) for key in DETAIL_KEYS if key in result}
    # A loop task: the lists of its changed items, joined.
    for item in result.get("results") or []:
        if not isinstance(item, dict) or not item.get("changed"):
            continue
        if item.get("censored"):  # Ansible censors a no_log item on its own
            details["censored"] = True
            continue
        for key in _LIST_KEYS:
            if isinstance(item.get(key), list):
                details.setdefault(key, []).extend(_drifted(key, scrub(item[key])))
    return details


def _drifted(key: str, value: object) -> object:
    """kube_diff lists every desired object in ``drift``; those in sync (``action: none``) are not drift."""
    if key != "drift" or not isinstance(value, list):
        return value
    return [item for item in value if not (isinstance(item, dict) and item.get("action") == "none")]


def count_of(details: dict) -> int:
    for key in ("drift", "resource_changes", "changed_files"):
        if isinstance(details.get(key), list):
            # An object not in Git that prune: false keeps (kube_diff's "keep") is listed, not counted as drift.
            return len([item for item in details[key] if not (isinstance(item, dict) and item.get("action") == "keep")])
    return 1


@dataclass
class StepReport:
    status: str = "skipped"
    count: int = 0
    tasks: list = field(default_factory=list)
    stats: dict | None = None

    def raise_to(self, status):
        if _RANK[status] > _RANK[self.status]:
            self.status = status


class DriftReport:
    """Aggregates task results and stats; renders the report formats."""

    def __init__(self, check_mode: bool) -> None:
        self.check_mode = check_mode
        self.environments = {}
        # The pipeline's per-environment summary (reconcile/verdict.py Report.summary), authoritative where present.
        self.summaries = {}
        # Environments a pipeline play targeted: one that never reported did not run (the run stopped first).
        self.expected = []
        self.started = None
        self.duration = None

    def steps(self, env):
        return self.environments.setdefault(env, {})

    def record(self, env: str, step: str, task: str, module: str, status: str, result: dict) -> None:
        """One task result of ``env`` in ``step``; ``status`` is ok, changed, failed or skipped."""
        report = self.steps(env).setdefault(step, StepReport())
        report.raise_to(status)
        if status not in ("changed", "failed"):
            return
        entry = {"task": task, "module": module, "changed": status == "changed"}
        if status == "failed":
            entry["failed"] = True
            if not result.get("censored") and result.get("msg"):
                entry["msg"] = str(result["msg"])[:_MAX_MSG]
        entry.update(details_of(result))
        if status == "changed":
            report.count += count_of(entry)
        report.tasks.append(entry)

    def merge_stats(self, drift: object) -> None:
        """Merge ``set_stats`` data shaped ``{env: {step: {changed, count, items, ...}}}``."""
        if not isinstance(drift, dict):
            return
        for env, steps in drift.items():
            if not isinstance(steps, dict):
                continue
            for step, data in steps.items():
                if not isinstance(data, dict):
                    continue
                report = self.steps(str(env)).setdefault(str(step), StepReport())
                report.stats = scrub(data)
                count = data.get("count", len(data.get("items") or []))
                if data.get("status") in _RANK:  # the pipeline's own status (reconcile/verdict.py)
                    report.status = data["status"]
                    report.count = count if isinstance(count, int) and data["status"] == "changed" else 0
                elif data.get("changed"):
                    report.raise_to("changed")
                    report.count = max(report.count, count if isinstance(count, int) else 1, 1)
                else:
                    report.raise_to("ok")

    def merge_environments(self, summaries: object) -> None:
        """Merge ``set_stats`` data ``trident_environments`` (``{env: {verdict, revision, steps, ...}}``): the
        pipeline's verdict and step statuses replace what task results said."""
        if not isinstance(summaries, dict):
            return
        for env, summary in summaries.items():
            if not isinstance(summary, dict):
                continue
            self.summaries[str(env)] = scrub(summary)
            for step, status in (summary.get("steps") or {}).items():
                if status in _RANK and status != "skipped":
                    report = self.steps(str(env)).setdefault(str(step), StepReport())
                    report.status = status
                    if status != "changed":
                        report.count = 0

    def expect(self, hosts) -> None:
        """Environments a pipeline play targets."""
        self.expected += [str(host) for host in hosts if str(host) not in self.expected]

    def settle_unreported(self) -> None:
        """An expected environment that never reported: the run stopped before it (a whole earlier batch failed,
        and every environment after it waits for one of those)."""
        for env in self.expected:
            if env not in self.summaries and not any(s.status != "skipped" for s in self.steps(env).values()):
                self.summaries[env] = {"verdict": "error", "failure": {
                    "step": "source", "task": "", "message": f"environment {env} did not run: the run stopped before "
                                                             "it (every environment of an earlier batch failed)"}}
                self.steps(env).setdefault("source", StepReport()).status = "failed"

    # -- views ---------------------------------------------------------------------------------
    def env_health(self, env):
        """The worst health any step of ``env`` reported (kube_diff's ``health``), None when none did."""
        found = []
        for step in self.environments[env].values():
            sources = [task.get("health") for task in step.tasks] + [(step.stats or {}).get("health")]
            found += [h["status"] for h in sources if isinstance(h, dict) and h.get("status") in HEALTH_SEVERITY]
        return min(found, key=HEALTH_SEVERITY.index) if found else None

    def env_status(self, env):
        verdict = self.summaries.get(env, {}).get("verdict")
        if verdict in _VERDICT_STATUS:
            return _VERDICT_STATUS[verdict]
        statuses = [step.status for step in self.environments[env].values()] or ["skipped"]
        status = max(statuses, key=_RANK.__getitem__)
        return {"not_checked": "failed", "not_applied": "changed"}.get(status, status)

    def env_verdict(self, env):
        """The pipeline's verdict, else one read from the steps (in_sync, drift, corrected, error)."""
        verdict = self.summaries.get(env, {}).get("verdict")
        if verdict:
            return verdict
        status = self.env_status(env)
        return {"failed": "error", "changed": "drift" if self.check_mode else "corrected"}.get(status, "in_sync")

    def verdict(self):
        """The run's verdict: the worst of its environments' (in_sync when it has none)."""
        return worst_verdict(self.env_verdict(env) for env in self.environments)

    def summary(self) -> dict:
        envs = sorted(self.environments)
        return {
            "environments": len(envs),
            "drifted": [env for env in envs if self.env_verdict(env) in ("drift", "corrected")
                        or (env not in self.summaries and any(s.count for s in self.environments[env].values()))],
            "failed": [env for env in envs if self.env_status(env) == "failed"],
        }

    def step_names(self):
        """The registry's steps that have content somewhere (source to kubernetes always; promotion only where it
        held or refused), then any other step that ran somewhere."""
        seen = {name for steps in self.environments.values() for name, step in steps.items() if step.status != "skipped"}
        core = [name for name in NAMES if name in ("source", "secrets", "terraform", "kubernetes") or name in seen]
        return core + sorted(seen - set(NAMES))

    def as_dict(self):
        return {
            "mode": "check" if self.check_mode else "apply",
            "verdict": self.verdict(),
            "started": self.started, "duration": self.duration,
            "summary": self.summary(),
            "environments": {
                env: {"status": self.env_status(env), "verdict": self.env_verdict(env),
                      **_health_entry(self.env_health(env)), **_environment_entry(self.summaries.get(env)), "steps": {
                          name: {"status": step.status, "count": step.count, "tasks": step.tasks,
                                 **({"stats": step.stats} if step.stats is not None else {})}
                          for name, step in sorted(steps.items())}}
                for env, steps in sorted(self.environments.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, default=str) + "\n"

    def changes(self, count):
        """``count`` changes, worded for the mode: existing drift, or drift corrected."""
        noun = "change" if count == 1 else "changes"
        return f"{count} {noun} corrected" if not self.check_mode else f"{count} {noun}"

    def to_junit(self) -> str:
        """JUnit XML: a suite per environment, a case per step. Names (one visible line) and texts from results
        go through report_text: a control character in a commit subject or a file name never makes the file
        invalid, nor hides from a reader."""
        suites = ET.Element("testsuites", name="trident drift")
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for env, steps in sorted(self.environments.items()):
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            suite = ET.SubElement(suites, "testsuite", name=visible(env))
            for name in [n for n in self.step_names() if n in steps]:
                step = steps[name]
                case = ET.SubElement(suite, "testcase", classname=visible(env), name=visible(name))
                counts["tests"] += 1
                lines = [f"{task['task']}: " + "; ".join(_describe(i) for i in _items(task)) for task in step.tasks]
                text = xml_text("\n".join(lines))  # every text of a result goes through xml_text
                if step.status == "changed":
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", type="drift", message=self.changes(step.count)).text = text
                elif step.status == "failed":
                    counts["errors"] += 1
                    message = (step.stats or {}).get("message")
                    ET.SubElement(case, "error", type="failed", message="step failed").text = xml_text(
                        "\n".join(lines + ([str(message)] if message else [])))
                elif step.status == "not_applied":
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", type="drift",
                                  message=f"{step.count} change{'s' * (step.count != 1)}, not applied").text = text
                elif step.status == "not_checked":
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message="not checked: an earlier step failed")
                elif step.status == "skipped":
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message="nothing to do in this environment")
                # The policy step: a failing case per denial, named by its policy, rule and object.
                for denial in [d for d in (step.stats or {}).get("denials") or [] if isinstance(d, dict)]:
                    counts["tests"] += 1
                    counts["failures"] += 1
                    denied = ET.SubElement(suite, "testcase", classname=visible(env), name=visible(
                        f"{name}: {denial.get('policy')} {denial.get('rule')}: {denial.get('subject')}"))
                    ET.SubElement(denied, "failure", type="denied", message=visible(str(denial.get("message", "")))
                                  ).text = xml_text(f"{denial.get('source', '')}: {denial.get('message', '')}")
            for key, value in counts.items():
                suite.set(key, str(value))
                if key in totals:
                    totals[key] += value
        for key, value in totals.items():
            suites.set(key, str(value))
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _health_entry(status):
    return {"health": status} if status else {}


def _environment_entry(summary):
    """What the pipeline says of the environment besides its steps: the revision it runs (or would run) and the
    branch's, when it started and how long it took, why it is held or failed."""
    keys = ("revision", "target", "started", "duration", "held", "refused", "failure", "promote_from")
    return {key: summary[key] for key in keys if summary and summary.get(key) not in (None, "", [])}


def _items(task):
    if task.get("censored"):
        return ["details hidden (no_log)"]
    if task.get("failed"):
        return [task.get("msg", "failed")]
    for key in ("drift", "resource_changes", "changed_files"):
        if isinstance(task.get(key), list):
            return task[key]
    return [task["summary"]] if "summary" in task else []


def _describe(item):
    """One line for a drift item: the scalar fields of a dict, else the value itself."""
    if isinstance(item, dict):
        # Unset and empty values (a cluster-scoped object's namespace, no fields) are noise.
        return ", ".join(f"{key}={_health_text(value) if key == 'health' else _short(value)}"
                         for key, value in item.items() if value not in (None, [], {}, ""))
    return str(item)


def _health_text(value):
    """kube_diff's ``{status, reason}`` as ``Degraded (reason)``."""
    if isinstance(value, dict):
        reason = value.get("reason")
        return f"{value.get('status')}" + (f" ({reason})" if reason else "")
    return str(value)


def _short(value):
    """Scalars and lists of scalars as they are; deeper structure is elided (the JSON has it)."""
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "…" if isinstance(value, (dict, list)) else str(value)


def merge_reports(reports: list) -> dict:
    """One report of several runs that each reconciled other environments (job slices, workers on execution nodes):
    the drift-report.json documents (:meth:`DriftReport.as_dict`) of every slice, merged. The environments are the
    union (an environment reported by two slices is an error: slices never share a host), the mode must be the same,
    the verdict is the worst, the summary is recomputed, ``started`` is the earliest and ``duration`` spans them all."""
    if not reports:
        raise ValueError("no report to merge")
    modes = {report.get("mode") for report in reports}
    if len(modes) != 1:
        raise ValueError(f"the reports mix modes ({', '.join(sorted(map(str, modes)))}): merge a run's slices only")
    environments = {}
    for report in reports:
        for env, entry in (report.get("environments") or {}).items():
            if env in environments:
                raise ValueError(f"environment {env} is in two reports: slices never share an environment")
            environments[env] = entry
    envs = sorted(environments)
    spans = [(calendar.timegm(time.strptime(r["started"], "%Y-%m-%dT%H:%M:%SZ")), r.get("duration") or 0.0)
             for r in reports if r.get("started")]
    first = min((start for start, _duration in spans), default=None)
    return {
        "mode": modes.pop(),
        "verdict": worst_verdict(environments[env].get("verdict", "error") for env in envs),
        "started": min(r["started"] for r in reports if r.get("started")) if spans else None,
        "duration": round(max(start + took for start, took in spans) - first, 3) if spans else None,
        "summary": {"environments": len(envs),
                    "drifted": [env for env in envs if environments[env].get("verdict") in ("drift", "corrected")],
                    "failed": [env for env in envs if environments[env].get("status") == "failed"]},
        "environments": {env: environments[env] for env in envs},
    }
