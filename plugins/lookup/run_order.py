# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: run_order
short_description: The environments of a run, in batches by their order (env.yml depends_on, promote_from)
version_added: 0.5.0
description:
  - Evaluates a host pattern (and the run's C(--limit)) against the inventory and returns the environments it
    matches, ordered by wave, with the sizes of the batches to run them in (a play's C(hosts) and C(serial)).
  - An environment runs in a batch after every environment of the run it depends on, directly or not; a dependency
    that is not in the run does not delay it. As many batches as the run needs, none empty.
  - The order comes from C(trident_environment.depends_on) of each host (the P(trident.gitops.environments#inventory)
    inventory); hosts of other inventories have no dependencies.
author:
  - trident.gitops maintainers (@trident)
options:
  _terms:
    description: The host pattern (C(trident_hosts), default C(all)).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Reconcile the environments with Git
  hosts: "{{ trident_run.hosts }}"
  serial: "{{ trident_run.serial }}"
  vars:
    trident_run: "{{ lookup('trident.gitops.run_order', trident_hosts | default('all')) }}"
  roles:
    - role: trident.gitops.reconcile
"""

RETURN = r"""
_raw:
  description: One mapping.
  type: list
  elements: dict
  contains:
    hosts:
      description: The environments of the run, batch after batch.
      type: list
      elements: str
    serial:
      description: The size of each batch.
      type: list
      elements: int
    batches:
      description: The environments of each batch.
      type: list
      elements: list
"""

from ansible.errors import AnsibleLookupError
from ansible.inventory.manager import InventoryManager
from ansible.plugins.lookup import LookupBase

from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.order import run_batches
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import VARIABLE


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError("trident.gitops.run_order takes exactly one host pattern")
        variables = variables or {}
        manager = InventoryManager(self._loader, parse=False)
        for group, hosts in (variables.get("groups") or {}).items():
            manager.add_group(group)
            for host in hosts:
                manager.add_host(host, group=group)
        hosts = [h.name for h in manager.get_hosts(pattern=str(terms[0]))]
        limit = variables.get("ansible_limit")
        if limit:
            allowed = {h.name for h in manager.get_hosts(pattern=limit)}
            hosts = [host for host in hosts if host in allowed]
        hostvars = variables.get("hostvars") or {}
        graph = {}
        for host in hosts:
            environment = hostvars[host].get(VARIABLE) if host in hostvars else None
            graph[host] = list((environment or {}).get("depends_on") or []) if isinstance(environment, dict) else []
        batches = run_batches(sorted(hosts), graph)
        return [{"hosts": [host for batch in batches for host in batch], "serial": [len(b) for b in batches],
                 "batches": batches}]
