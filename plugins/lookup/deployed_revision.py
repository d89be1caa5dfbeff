# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: deployed_revision
short_description: An environment folder's Git tree, and what changed in it since its deployed revision
version_added: 0.3.0
description:
  - Reads the controller's Git checkout in the task's own process (no module is sent anywhere).
  - Returns the commit O(revision) resolves to and the tree hash of O(env_dir) at it
    (C(git rev-parse <commit>:<env_dir>)), both null when the checkout is not a Git repository.
  - With O(recorded) (the C({revision, tree}) an environment was last deployed from), also the commits touching
    O(env_dir) since then (C(git log recorded..commit -- env_dir), at most 100) and the files of O(env_dir) that
    differ. C(history) is C(complete) when the recorded commit is in the checkout, else C(unavailable) (a shallow
    clone may not have it; the changed files then still come from the recorded tree when Git has that object).
  - The reconcile role uses it to decide source drift (docs/reconcile.md).
author:
  - trident.gitops maintainers (@trident)
options:
  _terms:
    description: Path of the checkout.
    required: true
    type: list
    elements: path
  revision:
    description: Commit, branch or tag; C(HEAD) when empty.
    type: str
    default: ""
  env_dir:
    description: The environment's folder, relative to the checkout (the inventory's C(trident_env_dir)).
    type: str
    default: ""
  recorded:
    description: The deployed C({revision, tree}) to compare with; without it no history is read.
    type: dict
"""

EXAMPLES = r"""
- name: The tree of this environment's folder at the checkout's revision
  ansible.builtin.set_fact:
    env_now: "{{ lookup('trident.gitops.deployed_revision', checkout, revision=commit, env_dir=trident_env_dir) }}"
"""

RETURN = r"""
_raw:
  description: C({revision, tree, commits [{sha, subject}], changed_files, history}).
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.trident.gitops.plugins.plugin_utils.deployed_revision import folder_tree, history, run_git


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError("trident.gitops.deployed_revision takes exactly one checkout path")
        git = run_git(os.path.expanduser(str(terms[0])))
        env_dir = self.get_option("env_dir")
        commit, tree = folder_tree(git, self.get_option("revision"), env_dir)
        found = {"revision": commit, "tree": tree}
        found.update(history(git, self.get_option("recorded"), commit, tree, env_dir))
        return [found]
