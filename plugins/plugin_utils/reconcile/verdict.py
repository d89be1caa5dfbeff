# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one drift verdict of an environment, and the account every consumer reads.

The finish of the pipeline turns the steps' outcomes (steps.outcome_of), the source decision of the gate and the
failure (if any) into one :class:`Report`: per step a status (``skipped``, ``ok``, ``changed``, ``failed``,
``not_checked``), its count and account, and for the environment the revision it runs or would run, the health,
the failure and the verdict: ``in_sync``, ``drift`` (check mode: Git and the environment differ; apply mode: a
difference remains, e.g. a held promotion), ``corrected`` (apply mode: drift was corrected) or ``error``. The drift
report, ``fail_on_drift``/``fail_on_degraded``, the AWX artifacts (``trident_drift``, ``trident_environments``) and
the verdict file all read this, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import REGISTRY, Outcome

# Worst first; an environment's verdict is the worst of what happened, a run's the worst of its environments'.
VERDICTS = ("error", "drift", "corrected", "in_sync")
# kube_diff's health vocabulary (Argo CD's), worst first.
HEALTH = ("Unknown", "Degraded", "Missing", "Progressing", "Suspended", "Healthy")


@dataclass(frozen=True)
class Failure:
    step: str
    message: str
    task: str = ""


@dataclass(frozen=True)
class Report:
    name: str
    check_mode: bool
    steps: dict  # name -> Outcome, in registry order
    revision: str | None = None  # the revision the environment runs after this run (would run, in check mode)
    tree: str | None = None
    target: str | None = None  # the checkout's revision
    health: str | None = None
    failure: Failure | None = None
    started: str | None = None
    duration: float | None = None
    held: str = ""
    refused: list = field(default_factory=list)
    promote_from: str | None = None  # env.yml promote_from: the environment it waits for (the report's chain)

    @property
    def verdict(self) -> str:
        if self.failure or any(o.status in ("failed", "not_checked") for o in self.steps.values()):
            return "error"
        if any(o.status == "not_applied" for o in self.steps.values()):
            return "drift"
        if self.held or self.refused or self.steps.get("source", Outcome("skipped")).account.get("uncommitted"):
            return "drift"  # differences no run corrects: a held promotion, a refusal, changes never committed
        if any(o.status == "changed" for o in self.steps.values()):
            return "drift" if self.check_mode else "corrected"
        return "in_sync"

    @property
    def drifted_steps(self) -> list:
        return [name for name, o in self.steps.items() if o.status in ("changed", "not_applied")]

    def degraded(self) -> str:
        """The Degraded objects of the environment, one line (empty when it is not Degraded)."""
        if self.health != "Degraded":
            return ""
        account = self.steps.get("kubernetes", Outcome("skipped")).account
        objects = [*account.get("items", []), *account.get("unhealthy", [])]
        return "; ".join(
            f"{o.get('kind')} {(o.get('namespace') + '/') if o.get('namespace') else ''}{o.get('name')} "
            f"({(o.get('health') or {}).get('reason')})"
            for o in objects if isinstance(o, dict) and o.get("action") != "delete"
            and (o.get("health") or {}).get("status") == "Degraded")

    def state(self) -> dict:
        """``reconcile_state``: what the environment runs (for environments that depend on or promote from it)."""
        return {"revision": self.revision, "tree": self.tree, "target": self.target,
                "health": "Unknown" if self.verdict == "error" else (self.health or "Healthy")}

    def step_stats(self) -> dict:
        """``trident_drift.<env>``: per step with something to say, ``changed``, ``count`` and the account."""
        return {name: {"changed": o.status == "changed", "count": o.count, "status": o.status, **o.account}
                for name, o in self.steps.items() if o.status != "skipped"}

    def summary(self) -> dict:
        """``trident_environments.<env>``: the environment's verdict and what it runs."""
        return {"verdict": self.verdict, "mode": "check" if self.check_mode else "apply", "revision": self.revision,
                "target": self.target, "health": self.health, "held": self.held, "refused": self.refused,
                "failure": None if self.failure is None else {"step": self.failure.step, "task": self.failure.task,
                                                              "message": self.failure.message},
                "started": self.started, "duration": self.duration, "promote_from": self.promote_from,
                "steps": {name: o.status for name, o in self.steps.items()}}


def worst_verdict(verdicts) -> str:
    found = [v for v in verdicts if v in VERDICTS] or ["in_sync"]
    return min(found, key=VERDICTS.index)


def worst_health(statuses) -> str | None:
    found = [s for s in statuses if s in HEALTH]
    return min(found, key=HEALTH.index) if found else None


def settle(planned: dict, failure: Failure | None, applied: list | None) -> dict:
    """Every registry step's final outcome. ``planned`` holds the outcomes known (skipped steps absent);
    a step the failure names is failed; a step after it that has no outcome, or needs a failed one, was not
    checked. ``applied`` (apply mode) lists the steps whose apply ran: a step whose plan found drift that was not
    applied (the run failed or refused, a promotion waits for its first deploy) is ``not_applied``, never
    ``changed`` (which in apply mode says the drift was corrected)."""
    result = {}
    failed = set()
    for step in REGISTRY:
        outcome = planned.get(step.name)
        if failure is not None and failure.step == step.name:
            outcome = Outcome("failed", 0, {**(outcome.account if outcome else {}), "message": failure.message},
                              outcome.health if outcome else None)
        elif outcome is None:
            outcome = Outcome("skipped")
        elif outcome.status == "not_checked" or (set(step.needs) & failed):
            outcome = Outcome("not_checked")
        if outcome.status == "failed":
            failed.add(step.name)
        if applied is not None and outcome.status == "changed" and step.role and step.name not in applied:
            outcome = Outcome("not_applied", outcome.count, outcome.account, outcome.health)
        result[step.name] = outcome
    return result
