"""The destroy guard: which deletes and replaces of a plan ``allow_destroy: false`` stops, and how it says so.

Why here and not in the plan parser: the guard is a decision with two inputs besides the plan. One is the mode:
a check-mode run (a preview) never refuses, it reports what the apply would refuse next to the rest of the
drift ("would be refused: replace local_file.motd (allow_destroy)"); the apply refuses before anything is
applied. The other is this module's own record of the creates it started and did not finish: Terraform taints
a resource whose create was interrupted (SIGTERM during apply) or failed, and plans to replace it. Nothing of
value exists there yet, so that replace goes ahead without ``allow_destroy`` and the result says so; every
other replace and delete is still stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write

# Per workspace, the addresses an apply of this module was creating when it last stopped without finishing.
UNFINISHED_FILE = "unfinished-creates.json"
TAINTED = "replace_because_tainted"

# What each of Terraform's action reasons means for the one who reads a refusal, and what to do.
_REASONS = {
    TAINTED: "tainted outside this module's own unfinished creates; to keep it, run "
             "'{binary} untaint {address}' on the state (TF_DATA_DIR and state in {state_dir}); "
             "to replace it, set allow_destroy: true for one run",
    "replace_because_cannot_update": "a changed argument forces a new resource",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "replace_triggered_by changed",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "count/for_each changed its kind",
    "delete_because_count_index": "its count index is gone",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "its moved block has no target",
}


@dataclass(frozen=True)
class Verdict:
    """The guard's decision on one plan."""

    # Addresses the guard stops (deletes and replaces, allow_destroy false), in plan order.
    refused: tuple = ()
    # Tainted resources replaced without allow_destroy: this module's own unfinished creates.
    unfinished: tuple = ()

    @property
    def refuses(self):
        return bool(self.refused)


def judge(plan, allow_destroy, unfinished):
    """The verdict on ``plan`` given ``allow_destroy`` and the recorded unfinished creates (addresses)."""
    resumed = tuple(change.address for change in plan.destructive
                    if change.reason == TAINTED and change.replace and change.address in unfinished)
    if allow_destroy:
        return Verdict(unfinished=resumed)
    refused = tuple(change.address for change in plan.destructive if change.address not in resumed)
    return Verdict(refused=refused, unfinished=resumed)


def would_refuse(plan, verdict):
    """The check-mode line: ``would be refused: replace local_file.motd, delete local_file.old (allow_destroy)``."""
    changes = [change for change in plan.destructive if change.address in verdict.refused]
    listed = ", ".join(f"{change.action} {change.address}" for change in changes)
    return f"would be refused: {listed} (allow_destroy)"


def refusal(plan, verdict, binary="terraform", state_dir="the state dir", project=None):
    """The apply's message: every stopped resource with its action and Terraform's reason for it, and where it is
    allowed: ``project`` is the module's folder relative to the repository, whose env.yml the reconcile pipeline
    reads."""
    changes = [change for change in plan.destructive if change.address in verdict.refused]
    listed = "; ".join(f"{change.action} {change.address} ({'/'.join(change.actions)}: "
                       f"{_reason_text(change, binary, state_dir)})" for change in changes)
    where = f"{project}/env.yml" if project and project != "." else "the environment's env.yml"
    return (f"refusing to apply a plan that deletes or replaces {len(changes)} resource(s): {listed}; "
            f"nothing was applied (set allow_destroy: true to allow it: allow_destroy: true in {where}, or the "
            "operator's variable terraform_allow_destroy)")


def _reason_text(change, binary, state_dir):
    if not change.reason:
        return "action_reason not given; a changed argument or a removed resource"
    explained = _REASONS.get(change.reason, "")
    explained = explained.format(binary=binary, address=change.address, state_dir=state_dir)
    return f"action_reason {change.reason}" + (f", {explained}" if explained else "")


def creates(plan):
    """The addresses ``plan`` creates (a replace's create included): what an interrupted apply may leave tainted."""
    return tuple(change.address for change in plan.resource_changes if "create" in change.actions)


def read_unfinished(state_dir, workspace):
    document = _load(os.path.join(state_dir, UNFINISHED_FILE))
    found = document.get(workspace)
    return tuple(found) if isinstance(found, list) and all(isinstance(item, str) for item in found) else ()


def write_unfinished(state_dir, workspace, addresses):
    """Record ``addresses`` for ``workspace`` (an empty list removes the entry)."""
    path = os.path.join(state_dir, UNFINISHED_FILE)
    document = _load(path)
    if addresses:
        document[workspace] = sorted(set(addresses))
    else:
        document.pop(workspace, None)
    if document:
        atomic_write(path, json.dumps(document, indent=1, sort_keys=True).encode())
    elif os.path.exists(path):
        os.unlink(path)


def _load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
