# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that read a step's registered result the way the reconcile pipeline does (reconcile/steps.py), for the
step roles' own ``report`` and ``main`` entry points: one place decides a step's drift."""

from __future__ import annotations

DOCUMENTATION = r"""
name: step_stats
short_description: A reconcile step's drift account from its registered result
version_added: 0.5.0
description:
  - Reads the result a step's plan or apply registered (C(kubernetes_result), C(terraform_result)) with the step
    registry's reader, the same the reconcile role's pipeline uses, and returns the step's C(trident_drift) entry
    (C(changed), C(status), C(count) and the account of names, paths and actions, never values).
options:
  _input:
    description: The registered result.
    type: dict
    required: true
  step:
    description: The step (C(terraform), C(kubernetes), ...).
    type: str
    required: true
author:
  - trident.gitops maintainers (@trident)
"""

EXAMPLES = r"""
- name: Report Kubernetes drift
  ansible.builtin.set_stats:
    data:
      trident_drift: "{{ {inventory_hostname: {'kubernetes': kubernetes_result | trident.gitops.step_stats('kubernetes')}} }}"
"""

RETURN = r"""
_value:
  description: C({changed, status, count, items, ...}).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import BY_NAME, outcome_of


def _step(name):
    if name not in BY_NAME:
        raise AnsibleFilterError(f"unknown step {name!r} (known: {', '.join(BY_NAME)})")
    return BY_NAME[name]


def step_stats(result, step):
    outcome = outcome_of(_step(step), result)
    return {"changed": outcome.status == "changed", "status": outcome.status, "count": outcome.count,
            **outcome.account}


def step_has_work(result, step):
    return isinstance(result, dict) and not result.get("failed") and _step(step).has_work(result)


class FilterModule:
    def filters(self):
        return {"step_stats": step_stats, "step_has_work": step_has_work}
