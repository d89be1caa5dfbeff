#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reconcile_finish
short_description: Finish the reconcile pipeline of one environment - its verdict and report (controller only)
version_added: 0.5.0
description:
  - The last stage of the pipeline the P(trident.gitops.reconcile#role) role runs (docs/reconcile.md), on success
    and on failure. Runs on the controller as an action plugin, never as a module.
  - Releases the environment lock, removes what a plan left for an apply that did not run (a saved Terraform plan),
    and turns the steps' results, the gate and the failure into the environment's one verdict (C(in_sync),
    C(drift), C(corrected) or C(error)), which the drift report, C(fail_on_drift), C(fail_on_degraded), the AWX
    artifacts and the verdict file all read.
  - Sets the facts C(reconcile_state) (C({revision, tree, target, health}), what the environment runs after this
    run, for the environments that depend on or promote from it), C(reconcile_finished) (every step succeeded),
    C(reconcile_verdict), C(reconcile_drifted_steps) and C(reconcile_degraded), and reports C(trident_drift) (per step)
    and C(trident_environments) (per environment) with the stats AWX keeps as job artifacts.
  - With O(failed) (the role's C(rescue)), it reads C(ansible_failed_task) and C(ansible_failed_result) to name the
    step that failed (its message is hidden when the task is C(no_log)) and returns it as C(failure) without failing
    itself (a failed task sets no facts); the role fails the environment next.
options:
  environment:
    description: The environment, as the inventory describes it (C(trident_environment)).
    type: dict
    required: true
  run:
    description: M(trident.gitops.reconcile_start)'s registered result (a failed one too).
    type: raw
  gate:
    description: M(trident.gitops.reconcile_gate)'s registered result (a failed one too).
    type: raw
  failed:
    description: The environment failed (the role's C(rescue)).
    type: bool
    default: false
attributes:
  check_mode:
    description: Reports the environment's verdict for a check run (drift, never corrected).
    support: full
  diff_mode:
    description: No diff of its own; the steps' tasks show theirs.
    support: none
author:
  - trident.gitops maintainers (@trident)
"""

EXAMPLES = r"""
- name: Finish
  trident.gitops.reconcile_finish:
    environment: "{{ trident_environment }}"
    run: "{{ reconcile_run }}"
    gate: "{{ reconcile_gate }}"
"""

RETURN = r"""
verdict:
  description: C(in_sync), C(drift), C(corrected) or C(error).
  returned: always
  type: str
failure:
  description: With O(failed), the message the role fails the environment with.
  returned: when failed
  type: str
"""
