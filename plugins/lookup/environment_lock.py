# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: environment_lock
short_description: Take or release a lock that lives as long as the ansible-playbook run
version_added: 0.2.0
description:
  - Takes an exclusive C(flock) on a file on the controller and returns the pid of a small detached
    process that holds it; that process exits, dropping the lock, when the ansible-playbook run that
    took it ends (normally or killed, SIGKILL included) or when the lock is released with O(release).
  - The lock file records who holds it (pid, command, host, since when); a run that waits says so
    and names the holder, one that gives up after O(timeout) fails naming it.
  - Runs on the controller in the task's own process (no module is sent anywhere). The reconcile role
    uses it for the per-environment lock.
author:
  - trident.gitops maintainers (@trident)
options:
  _terms:
    description: Path of the lock file (created, with its folder, if missing).
    required: true
    type: list
    elements: path
  timeout:
    description: Seconds to wait for another holder.
    type: float
    default: 600
  release:
    description: Release the lock held by this holder pid (a value this lookup returned) instead of taking it.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Take the lock of this environment
  ansible.builtin.set_fact:
    env_lock: "{{ lookup('trident.gitops.environment_lock', '/var/lock/trident/' ~ inventory_hostname ~ '.lock') }}"

- name: Release it
  ansible.builtin.set_fact:
    env_lock_released: "{{ lookup('trident.gitops.environment_lock', '/var/lock/trident/' ~ inventory_hostname ~ '.lock',
                                  release=env_lock) }}"
"""

RETURN = r"""
_raw:
  description: The pid of the process holding the lock (0 after O(release)).
  type: list
  elements: int
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import hold_for, release

display = Display()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError("trident.gitops.environment_lock takes exactly one lock file path")
        path = os.path.expanduser(str(terms[0]))
        if self.get_option("release"):
            release(self.get_option("release"))
            return [0]
        # The task runs in a process forked from ansible-playbook: its parent is the run itself.
        try:
            return [hold_for(path, os.getppid(), self.get_option("timeout"), what="the environment", on_wait=display.display)]
        except TridentError as exc:
            raise AnsibleLookupError(exc.message) from None
