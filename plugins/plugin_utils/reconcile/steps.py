# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The step registry: every step of the environment pipeline, in order, and what the pipeline knows of it.

A step is one entry here and one role. The entry says the step's name and report title, the role whose ``plan``
and ``apply`` entry points run it, when an environment has content for it, which steps must have succeeded before
it can be planned, the host variable its plan (and apply) register, whether it can keep the deployed record, and
how its drift is read from that result. The reconcile role runs the roles in this order (plan all, then apply
those with something to apply); the gate, the finish and the drift report read the results through
:func:`outcome_of`, the one place a step's drift is decided. ``source`` is run by the pipeline itself (the
checkout and the record), so it has no role entry points here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable

# Object content never enters a report: keys that hold it are dropped, a Secret's value changes keep their path only.
_CONTENT_KEY = re.compile(r"^(data|content|string_?data|binary_?data)$", re.I)
_SECRET_VALUE_PATH = re.compile(r"^(data|stringData|binaryData)(?=$|[.\[])")


@dataclass(frozen=True)
class Outcome:
    """What a step did for one environment: ``status`` is ``ok`` (in sync), ``changed`` (drift: found in check mode,
    corrected otherwise), ``not_applied`` (apply mode: drift found and not applied), ``failed``, ``not_checked`` (a
    step it needs failed) or ``skipped`` (nothing to do here);
    ``count`` how many things drifted; ``account`` what the report shows (names, paths, actions; never values)."""

    status: str
    count: int = 0
    account: dict = field(default_factory=dict)
    health: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    role: str | None
    present: Callable[[dict], bool]
    result: str | None = None
    needs: tuple = ()
    records: bool = False
    read: Callable[[dict], Outcome] | None = None
    has_work: Callable[[dict], bool] = field(default=lambda result: False)
    # A file or folder its plan left for the apply (it may hold secrets), removed when the apply does not run.
    leftover: Callable[[dict], str | None] = field(default=lambda result: None)
    # Whether its role has a ``discard`` entry point: what its plan wrote for the apply (the namespaces the
    # kubernetes plan created for its dry-runs), taken back when the environment's apply does not follow.
    discards: bool = False
    # What its plan wrote for the apply (read from its result; an apply's result lists nothing).
    prepared: Callable[[dict], list] = field(default=lambda result: [])
    # Whether the operator's settings (reconcile/operator.py) give every environment content for it.
    operator_present: Callable[[object], bool] = field(default=lambda operator: False)


def is_secret_value_path(kind: object, path: object) -> bool:
    """Whether ``path`` (a kube_diff field path) of an object of ``kind`` holds a Secret's value."""
    return kind == "Secret" and bool(_SECRET_VALUE_PATH.match(str(path)))


def scrub(value: object) -> object:
    """A copy of ``value`` without object or file content (keys like ``data``, ``content``), and a Secret's value
    changes reduced to their paths (still shown as changed): what a report may hold."""
    if isinstance(value, dict):
        kept = {key: scrub(item) for key, item in value.items() if not _CONTENT_KEY.match(str(key))}
        if value.get("kind") == "Secret" and isinstance(kept.get("changes"), list):
            kept["changes"] = [{"path": c["path"], "masked": True}
                               if isinstance(c, dict) and is_secret_value_path("Secret", c.get("path")) else c
                               for c in kept["changes"]]
        return kept
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


# -- how each step's drift is read from its result ---------------------------------------------------------------

# kube_diff's actions that write to the cluster ("keep" and "none" write nothing).
KUBERNETES_WRITES = ("create", "update", "replace", "delete")


def _secrets(result: dict) -> Outcome:
    # Decrypting is reading: never drift. The result is the decrypt loop's (no_log); nothing of it is kept.
    return Outcome("ok")


def _terraform(result: dict) -> Outcome:
    changes = [c for c in result.get("resource_changes") or [] if isinstance(c, dict)]
    account = {"items": scrub(changes), "outside_terraform": scrub(result.get("resource_drift") or []),
               "summary": scrub(result.get("summary") or {})}
    if result.get("refused"):  # check mode: the destroy guard would refuse the apply ("would be refused: ...")
        account["refusal"] = scrub(result.get("refusal") or "would be refused by the destroy guard")
    return Outcome("changed" if changes else "ok", len(changes), account)


def _kubernetes(result: dict) -> Outcome:
    entries = [d for d in result.get("drift") or [] if isinstance(d, dict)]
    drifted = [d for d in entries if d.get("action") in KUBERNETES_WRITES]
    kept = [d for d in entries if d.get("action") == "keep"]  # not in Git, kept (prune: false): listed, not drift
    unhealthy = [d for d in entries if d.get("action") == "none"
                 and (d.get("health") or {}).get("status", "Healthy") != "Healthy"]
    health = result.get("health") if isinstance(result.get("health"), dict) else {"status": "Unknown", "counts": {}}
    account = {"items": scrub(drifted), "health": scrub(health), "unhealthy": scrub(unhealthy)}
    if kept:
        account["kept"] = scrub(kept)
    return Outcome("changed" if drifted else "ok", len(drifted), account, health.get("status"))


def _policy(result: dict) -> Outcome:
    # A denial refuses the environment (the gate reads refused/refusal); it counts as the step's drift so that the
    # report shows it next to the plans. Warnings are reported and pass.
    denials = [d for d in result.get("denials") or [] if isinstance(d, dict)]
    warnings = [w for w in result.get("warned") or [] if isinstance(w, dict)]
    account = {"denials": scrub(denials), "warnings": scrub(warnings)}
    excepted = [e for e in result.get("excepted") or [] if isinstance(e, dict)]
    if excepted:  # rules a package's exception rule excepted (conftest's exceptions): counted, never a denial
        account["exceptions"] = scrub(excepted)
    if result.get("refused"):
        account["refusal"] = scrub(result.get("refusal") or "denied by policy")
    return Outcome("changed" if denials else "ok", len(denials), account)


def _terraform_work(result: dict) -> bool:
    return result.get("plan_file") is not None


def _terraform_leftover(result: dict) -> str | None:
    """The private folder of the saved plan (terraform_apply keeps it in the state dir for the apply)."""
    return os.path.dirname(result["plan_file"]) if result.get("plan_file") else None


def _kubernetes_work(result: dict) -> bool:
    summary = result.get("summary") or {}
    return any(summary.get(action, 0) for action in KUBERNETES_WRITES)


REGISTRY = (
    Step("source", "Source", None, present=lambda env: True),
    Step("secrets", "Secrets", "trident.gitops.secrets", result="secrets_decrypted", read=_secrets,
         present=lambda env: bool(env["secrets"]) or bool(env.get("kubeconfig_encrypted"))),
    Step("terraform", "Terraform", "trident.gitops.terraform", result="terraform_result", needs=("secrets",),
         records=True, read=_terraform, has_work=_terraform_work, leftover=_terraform_leftover,
         present=lambda env: bool(env["terraform_files"])),
    Step("kubernetes", "Kubernetes", "trident.gitops.kubernetes", result="kubernetes_result", needs=("secrets",),
         records=True, read=_kubernetes, has_work=_kubernetes_work, discards=True,
         prepared=lambda result: list(result.get("namespaces_prepared") or []),
         present=lambda env: env.get("manifests_kind") is not None
         or bool((env.get("settings") or {}).get("helm_releases"))),
    # The repository's and the operator's Rego policies on the plans above (docs/policy.md): a deny refuses the
    # environment at the gate (refused/refusal, as any refused plan); nothing of its own to apply.
    Step("policy", "Policy", "trident.gitops.policy", result="policy_result", needs=("terraform", "kubernetes"),
         read=_policy, present=lambda env: bool(env.get("policy_dirs")),
         operator_present=lambda operator: bool(getattr(operator, "policy_dirs", ()))),
    # Which revision the environment deploys and who signed it (promotion.py), decided by the gate from the plans:
    # changed while the environment is held behind the branch, failed when a signer is refused. No content of its
    # own: the gate reports it when it holds or refuses.
    Step("promotion", "Promotion", None, present=lambda env: False),
)
NAMES = tuple(step.name for step in REGISTRY)
# The modules that do each step's work, to name the step a task of theirs belongs to.
MODULE_STEPS = {"trident.gitops.git_source": "source", "trident.gitops.sops_decrypt": "secrets",
                "trident.gitops.vault_kv": "secrets",
                "trident.gitops.terraform_apply": "terraform", "trident.gitops.kube_diff": "kubernetes",
                "trident.gitops.policy_check": "policy", "trident.gitops.kube_lease": "kubernetes"}
BY_NAME = {step.name: step for step in REGISTRY}


def present_steps(layout: dict) -> list:
    """The steps an environment has content for (``layout`` is the environment variable's shape), in order."""
    return [step.name for step in REGISTRY if step.present(layout)]


def title(name: str) -> str:
    """A step's title in reports: the registry's, or its name for a step the registry does not know."""
    return BY_NAME[name].title if name in BY_NAME else name


def outcome_of(step: Step, result: object) -> Outcome:
    """The step's outcome from its registered result (the plan's, or the apply's when it ran)."""
    if not isinstance(result, dict) or result.get("skipped"):
        return Outcome("skipped")
    if result.get("failed"):
        return Outcome("failed")
    return step.read(result) if step.read else Outcome("ok")


def record_step(steps: list) -> str | None:
    """The step that keeps the deployed record among ``steps``: the last one that can (the ApplySet parent when the
    environment has Kubernetes, else the Terraform state dir); None when none can."""
    keepers = [name for name in steps if name in BY_NAME and BY_NAME[name].records]
    return keepers[-1] if keepers else None
