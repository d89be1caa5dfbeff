#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: environment_status
short_description: Where every environment stands, without a reconcile (controller only)
version_added: 0.6.0
description:
  - "Reads, for every environment named in O(environments), the revision it runs (its record: the ApplySet parent's
    annotations, or the Terraform state dir's C(deployed-revision.json)), the branch's revision and the tree of its
    folder in the inventory's checkout, the health of its Kubernetes objects (the ApplySet's members) and whether
    C(promote_from) holds it back. Nothing is planned, decrypted or written (docs/status.md)."
  - Runs on the controller as an action plugin, once for all environments (one process, O(workers) at a time), never
    as a module. Reads each environment's C(trident_environment) and the operator's C(kubernetes_*) and
    C(terraform_*) variables of that host (the roles' defaults when unset).
  - "States, worst first: C(unknown) (something could not be read: the environment's C(problems) say what),
    C(never deployed), C(Degraded), C(held) (its folder changed and its promotion waits), C(drifted) (the branch's
    folder differs from the recorded one), C(in sync)."
  - "An environment whose kubeconfig is SOPS-encrypted is not decrypted: its record and health are unknown."
  - Every string from the repository or the cluster is shown as text (control characters dropped).
options:
  environments:
    description: The environment hosts to read (e.g. C(query('inventory_hostnames', 'all'))).
    type: list
    elements: str
    required: true
  json_file:
    description: Also write the JSON document (C(format), C(summary), C(environments)) to this controller file.
    type: str
  show:
    description: Show the table (C(table)), the JSON document (C(json)) or nothing (C(none)) in the run's output.
    type: str
    choices: [table, json, none]
    default: table
  workers:
    description: How many environments are read at once.
    type: int
    default: 16
attributes:
  check_mode:
    description: Reads only, in and outside check mode.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
author:
  - trident.gitops maintainers (@trident)
"""

EXAMPLES = r"""
- name: Where every environment stands
  trident.gitops.environment_status:
    environments: "{{ query('inventory_hostnames', 'all') }}"
    json_file: /tmp/status.json
"""

RETURN = r"""
environments:
  description: >-
    One entry per environment: C(name), C(state), C(sync), C(deployed) and C(branch) (C(revision), C(tree),
    C(subject)), C(health), C(unhealthy) (C(kind), C(namespace), C(name), C(health), C(reason)), C(promotion)
    (C(from), C(waits), C(reason)) and C(problems).
  returned: always
  type: list
  elements: dict
summary:
  description: How many environments are in each state.
  returned: always
  type: dict
"""
