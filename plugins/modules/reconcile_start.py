#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reconcile_start
short_description: Start the reconcile pipeline of one environment (controller only)
version_added: 0.5.0
description:
  - The first stage of the pipeline the P(trident.gitops.reconcile#role) role runs (docs/reconcile.md). Runs on the
    controller as an action plugin, never as a module.
  - Fails an environment the P(trident.gitops.environments#inventory) inventory could not read (its message names the
    environment, the file and the problem), or one whose dependency (env.yml C(depends_on), C(promote_from)) started
    earlier in this run and failed (its C(reconcile_finished) fact is false).
  - Resolves the committed content the environment is deployed from. A checkout git_source keeps is used as it is. A
    local checkout with uncommitted or untracked changes is never deployed as it is; the environment is deployed
    from a copy of the repository at HEAD (cached by commit, outside the checkout) and the changed files of its
    folder are reported as drift. A folder that is no Git checkout is deployed as it is, with no revision recorded.
  - Takes the environment's lock (an C(flock) held by a process that lives as long as the ansible-playbook run).
extends_documentation_fragment:
  - trident.gitops.reconcile
options:
  environment:
    description: The environment, as the inventory describes it (C(trident_environment)).
    type: dict
    required: true
  source:
    description: What the source step exposes (the P(trident.gitops.source#role) role's C(source_exposed)).
    type: dict
    required: true
    suboptions:
      repo:
        description: The repository URL git_source fetched; empty for a local checkout.
        type: str
        default: ""
      dest:
        description: git_source's checkout.
        type: str
        default: ""
      local_path:
        description: A local checkout to use instead of the playbook's folder or the inventory's.
        type: str
        default: ""
      playbook_dir:
        description: The playbook's folder, used when it holds the environment.
        type: str
        default: ""
      fetch:
        description: git_source's result.
        type: dict
        default: {}
attributes:
  check_mode:
    description: It reads and locks in check mode too (a drift check reads the same state a reconcile would).
    support: full
  diff_mode:
    description: No diff of its own; the steps' tasks show theirs.
    support: none
author:
  - trident.gitops maintainers (@trident)
seealso:
  - module: trident.gitops.reconcile_gate
  - module: trident.gitops.reconcile_finish
"""

EXAMPLES = r"""
- name: Start
  trident.gitops.reconcile_start:
    environment: "{{ trident_environment }}"
    operator: "{{ reconcile_operator }}"
    source: "{{ source_exposed }}"
  register: reconcile_run
"""

RETURN = r"""
name:
  description: The environment.
  returned: success
  type: str
environment:
  description: The environment as deployed (re-described from a copy when the checkout had uncommitted changes).
  returned: success
  type: dict
checkout:
  description: C({path, repository, env_path, revision, tree, uncommitted, fetched}) of the content deployed.
  returned: success
  type: dict
plan:
  description: The steps to plan, in order, each C({name, role}).
  returned: success
  type: list
  elements: dict
registry:
  description:
    - Every step of the registry that has a role (C({name, role})), in order, the same list for every environment.
      The role loops over it (each step's own entry runs where it is in RV(plan)), so that Ansible runs each step
      for all environments of a batch at one place in the order.
  returned: success
  type: list
  elements: dict
discard:
  description:
    - The planned steps whose plan may write something for the apply (the kubernetes plan creates the namespaces the
      batch introduces, to dry-run the objects in them); when the environment fails before their apply, the role's
      rescue runs their C(discard) entry point, which takes back what their registered plan result lists. Empty in
      check mode.
  returned: success
  type: list
  elements: str
record_step:
  description: The step that keeps the deployed record (C(kubernetes), C(terraform)), null for none.
  returned: success
  type: str
secrets:
  description: Whether the secrets step runs (decrypted values are forgotten after the steps).
  returned: success
  type: bool
lock:
  description: C({file, holder}) of the environment lock.
  returned: success
  type: dict
started:
  description: When the environment started (seconds since the epoch).
  returned: success
  type: float
trident_step:
  description: The step that stopped the environment.
  returned: failure
  type: str
"""
