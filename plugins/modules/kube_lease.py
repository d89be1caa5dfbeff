#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kube_lease
short_description: Hold a Kubernetes Lease while the ansible-playbook run lives (controller only)
version_added: 0.6.0
description:
  - The environment lock across controllers (docs/reconcile.md). Takes the C(coordination.k8s.io/v1) Lease O(name) in
    O(namespace) of the cluster for this run; its C(holderIdentity) names the controller host, the
    ansible-playbook pid and the run (the process's start time), C(leaseDurationSeconds) is O(duration).
    Runs on the controller as an action plugin, never as a module.
  - A Lease held by another controller is waited for, at most O(timeout) seconds, with a message naming its holder;
    then the task fails naming the holder and when it last renewed the Lease. A Lease that nobody renewed for its
    duration (its controller was killed) is taken over. Every write is conditional on the C(resourceVersion) read
    before it, so of two controllers taking it at once only one succeeds.
  - Once held, a detached process renews the Lease every third of O(duration) while the ansible-playbook run lives.
    With O(state=released) and that process's pid (RV(renewer)) it releases the Lease and exits; when the run dies
    (SIGKILL included) it stops renewing and the Lease expires within O(duration).
  - Needs C(get), C(create) and C(update) on C(leases.coordination.k8s.io) in O(namespace).
extends_documentation_fragment:
  - trident.gitops.kubernetes
options:
  name:
    description: The Lease's name.
    type: str
    required: true
  namespace:
    description: Its namespace (it must exist).
    type: str
    required: true
  duration:
    description:
      - The C(leaseDurationSeconds), how long a Lease that is not renewed stays held, so how long another controller
        waits after this one was killed. Renewed every third of it.
    type: int
    default: 60
  timeout:
    description: Seconds to wait for a Lease another controller holds.
    type: float
    default: 600
  state:
    description: C(held) takes the Lease; C(released) stops the renewer O(renewer), which releases it.
    type: str
    choices: [held, released]
    default: held
  renewer:
    description: With O(state=released), the RV(renewer) pid a C(held) task returned.
    type: int
    default: 0
attributes:
  check_mode:
    description: It takes the Lease in check mode too (a drift check reads what a reconcile would, not while one applies).
    support: full
  diff_mode:
    description: No diff.
    support: none
author:
  - trident.gitops maintainers (@trident)
seealso:
  - module: trident.gitops.kube_diff
"""

EXAMPLES = r"""
- name: Hold the environment's Lease while this run reconciles it
  trident.gitops.kube_lease:
    name: trident-prod
    namespace: prod
    duration: 60
    timeout: 600
  register: prod_lease

- name: Release it
  trident.gitops.kube_lease:
    name: trident-prod
    namespace: prod
    state: released
    renewer: "{{ prod_lease.renewer }}"
"""

RETURN = r"""
holder:
  description: The C(holderIdentity) written, C(<host> pid <ansible-playbook pid> run <start time>).
  returned: O(state=held)
  type: str
renewer:
  description: The pid of the process renewing the Lease (0 after O(state=released)).
  returned: always
  type: int
lease:
  description: C({namespace, name}) of the Lease.
  returned: O(state=held)
  type: dict
duration:
  description: Its C(leaseDurationSeconds).
  returned: O(state=held)
  type: int
"""
