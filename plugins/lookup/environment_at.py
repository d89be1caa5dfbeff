# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: environment_at
short_description: An environment of the GitOps checkout as it was at another revision
version_added: 0.3.0
description:
  - For an environment that stays behind the checkout (C(promote_from) waiting, C(reconcile_pin), see
    docs/promotion.md), returns the tree of its folder at a commit and, unless O(materialise=false), a copy of
    the repository at that commit in a cache folder keyed by the commit (never inside the checkout), with the
    environment described from it as the inventory describes it (the same C(trident_env_*) variables).
  - A commit missing from a shallow checkout is fetched from the checkout's origin (depth 1) with the
    C(TRIDENT_GIT_*) credentials (docs/git_source.md). Paths and links resolve inside the copy, as for the
    checkout.
  - Runs on the controller in the task's own process.
author:
  - trident.gitops maintainers (@trident)
options:
  _terms:
    description: The commit (a full SHA).
    required: true
    type: list
    elements: str
  checkout:
    description: The Git checkout of the repository (the source role's C(source_path)); a controller path, the operator's.
    required: true
    type: path
  env_dir:
    description:
      - The environment folder, relative to the repository root (C(trident_environment.dir)).
      - A repository path, taken literally (never C($VAR)- or C(~)-expanded).
    required: true
    type: str
  cache_dir:
    description: Where copies of the repository at a commit are kept, one folder per commit (a controller path).
    type: path
    default: ~/.cache/trident-gitops/revisions
  materialise:
    description: Make the copy and describe the environment; false returns the folder's tree only.
    type: bool
    default: true
  trusted_keys:
    description:
      - The environment's own signers (C(env.yml) C(trusted_keys), fingerprints or armored public keys). When given,
        every commit that changes the environment's folder after O(since) up to the commit must be signed by one of
        them, or the lookup fails naming the commit; without O(since) the commit itself is checked.
    type: list
    elements: str
    default: []
  since:
    description: The commit the environment runs now (its recorded revision), for O(trusted_keys).
    type: str
"""

EXAMPLES = r"""
- name: The environment as it was at its recorded revision
  ansible.builtin.set_fact:
    held: "{{ lookup('trident.gitops.environment_at', recorded_revision, checkout=checkout_path,
                     env_dir=trident_environment.dir) }}"
"""

RETURN = r"""
_raw:
  description: One mapping per term.
  type: list
  elements: dict
  contains:
    revision:
      description: The commit.
      type: str
    tree:
      description: The tree SHA of the environment folder at the commit; null when the folder does not exist there.
      type: str
    path:
      description: The copy of the repository at the commit (null without O(materialise)).
      type: str
    environment:
      description: The environment described from the copy, as C(trident_environment) (empty without O(materialise)).
      type: dict
    signers:
      description: With O(trusted_keys), the signer (fingerprint, uid, signing_key) of each commit checked.
      type: list
      elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.snapshot import (
    folder_tree, materialise, verify_folder_signers)
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import describe_environment
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.io import git_runner

# The run's order comes from the branch the inventory read, not from the older revision.


def environment_at(revision: str, checkout: str, env_dir: str, options: dict) -> dict:
    runner = git_runner(checkout)
    found = {"revision": revision, "tree": folder_tree(runner, checkout, revision, env_dir), "path": None,
             "environment": {}, "signers": []}
    if options["trusted_keys"]:
        found["signers"] = verify_folder_signers(runner, checkout, options["since"] or None, revision, env_dir,
                                                 tuple(options["trusted_keys"]))
    if not options["materialise"]:
        return found
    root = materialise(runner, checkout, revision, options["cache_dir"])
    if found["tree"] is None:
        raise TridentError(f"{env_dir}: not in the repository at {revision}")
    return {**found, "path": root, "environment": describe_environment(os.path.join(root, env_dir), root).as_variable()}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            options = {name: self.get_option(name) for name in ("cache_dir", "materialise", "trusted_keys", "since")}
            return [environment_at(str(term), self.get_option("checkout"), self.get_option("env_dir"), options)
                    for term in terms]
        except TridentError as exc:
            raise AnsibleLookupError(f"{self.get_option('env_dir')} at {', '.join(map(str, terms))}: {exc.message}") from None
