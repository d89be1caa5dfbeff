# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The operator option shared by the reconcile pipeline's actions (reconcile_start, reconcile_gate).
    DOCUMENTATION = r"""
options:
  operator:
    description:
      - The operator's settings of the pipeline; the reconcile role passes its C(reconcile_operator) variable (built
        from C(reconcile_steps), C(reconcile_pin), C(reconcile_trusted_keys), C(reconcile_lock_dir),
        C(reconcile_lock_timeout) and C(reconcile_revisions_dir)). The repository never sets them.
    type: dict
    default: {}
    suboptions:
      steps:
        description: The steps to run (of the step registry's); null runs every step. Each runs only where the
          environment has content for it.
        type: list
        elements: str
      pin:
        description: Emergency pins, environment name to a full commit SHA.
        type: dict
        default: {}
      trusted_keys:
        description: Environment name to the fingerprints or armored public keys the operator trusts to sign
          commits that change the environment's folder.
        type: dict
        default: {}
      lock_dir:
        description: Folder of the per-environment locks.
        type: path
        default: ~/.cache/trident-gitops/locks
      lock_timeout:
        description: Seconds to wait for another run of the same environment.
        type: float
        default: 600
      revisions_dir:
        description: Where copies of the repository at a revision are kept.
        type: path
        default: ~/.cache/trident-gitops/revisions
      check_mode:
        description: Ignored; the task's own check mode decides.
        type: bool
        default: false
      policy_dirs:
        description: The operator's own Rego policy folders (the policy role's C(policy_operator_dirs)); with any,
          every environment runs the policy step (docs/policy.md).
        type: list
        elements: path
        default: []
"""
