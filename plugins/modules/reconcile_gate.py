#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reconcile_gate
short_description: Decide what one environment deploys, from the plans of its steps (controller only)
version_added: 0.5.0
description:
  - The gate of the pipeline the P(trident.gitops.reconcile#role) role runs, after every step planned
    (docs/reconcile.md). Runs on the controller as an action plugin, never as a module.
  - Reads the deployed revision the plans found where the environment keeps it, decides the revision it deploys
    (C(reconcile_pin), C(promote_from), see docs/promotion.md), checks that every commit changing its folder since is
    signed by a key it trusts now (the operator's C(reconcile_trusted_keys) and the C(trusted_keys) of the env.yml
    it runs; a commit cannot loosen them), decides the source drift, collects what the plans would refuse, and
    lists the steps to apply with the revision to record.
  - An environment held at another revision than the checkout's gets C(replan) (the steps to plan again on a copy of
    the repository at that revision); the role plans them and calls the gate again with O(decided).
  - Outside check mode a refused plan fails the environment here, naming the step and why, with nothing applied; in
    check mode it is reported (C(refused)) next to the rest of the drift.
  - Reads the steps' registered results by the names the step registry gives them (C(secrets_decrypted),
    C(terraform_result), C(kubernetes_result)) and the C(reconcile_state) fact of the environment it promotes from.
extends_documentation_fragment:
  - trident.gitops.reconcile
options:
  run:
    description: M(trident.gitops.reconcile_start)'s result.
    type: dict
    required: true
  decided:
    description: The first gate's result, when the plans of a held revision ran since.
    type: dict
attributes:
  check_mode:
    description: Decides as outside check mode, but applies nothing; refusals are reported, not a stop.
    support: full
  diff_mode:
    description: No diff of its own; the steps' tasks show theirs.
    support: none
author:
  - trident.gitops maintainers (@trident)
"""

EXAMPLES = r"""
- name: Gate
  trident.gitops.reconcile_gate:
    run: "{{ reconcile_run }}"
    operator: "{{ reconcile_operator }}"
  register: reconcile_gate
"""

RETURN = r"""
deploy:
  description: The revision the environment deploys; null while it waits for its first promotion.
  returned: always
  type: str
held:
  description: Why the environment stays at another revision than the checkout's; empty when it does not.
  returned: always
  type: str
recorded:
  description: What the environment ran before this run (C({revision, tree})), null if nothing.
  returned: always
  type: dict
record:
  description: What the run records once every step succeeded (C({revision, tree})), null for nothing.
  returned: always
  type: dict
replan:
  description: The steps to plan again at the held revision (C({name, role})).
  returned: always
  type: list
  elements: dict
apply:
  description: The steps to apply, in order (C({name, role, record})); empty in check mode.
  returned: always
  type: list
  elements: dict
records:
  description: The record (C({revision, tree}), or empty) each step of RV(apply) writes, by step name.
  returned: always
  type: dict
source:
  description: The source step's outcome (C({changed, count, account})).
  returned: when not replanning
  type: dict
discard:
  description:
    - The steps whose plan wrote something for an apply that does not run (the namespaces the kubernetes plan created
      for its dry-runs, when the gate refuses or deploys a held revision without it), in order; the role runs their
      C(discard) entry point, which takes it back.
  returned: always
  type: list
  elements: str
apply_stage:
  description: Whether the role's apply stage has anything to do (plan a held revision, apply, take back what a plan
    wrote for an apply that does not run, forget decrypted secrets).
  returned: always
  type: bool
refused:
  description: What the plans would refuse, one line each.
  returned: always
  type: list
  elements: str
environment:
  description: The environment deployed (the held revision's layout when held).
  returned: always
  type: dict
checkout:
  description: The checkout deployed (a copy at the held revision when held).
  returned: always
  type: dict
trident_step:
  description: The step that stopped the environment.
  returned: failure
  type: str
"""
