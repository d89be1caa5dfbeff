#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vault_kv
short_description: Resolve an environment's Vault secret references (KV version 2)
version_added: 0.2.0
description:
  - Reads a reference file (C(secrets/<name>.vault.yaml)), a mapping of names to C({path, key, version}), and
    returns each name's value read from the operator's Vault KV version 2 engine. The repository holds the
    reference, Vault the value.
  - A reference without C(version) reads the latest version (a new version in Vault is drift on the next run); a
    pinned C(version) does not follow Vault.
  - The reference file holds only C(path), C(key) and C(version); the Vault address, mount and authentication are the
    operator's O(vault) settings, and a file that names anything else is refused.
  - Every reference is read and checked before anything is returned; a failure names the file and the reference,
    never a value or the token. Each KV path and version is read once.
  - The returned values are secrets; callers set C(no_log=true) on the task.
author:
  - trident.gitops maintainers (@trident)
extends_documentation_fragment:
  - trident.gitops.vault
attributes:
  check_mode:
    description: Reads only; the same in check mode.
    support: full
  diff_mode:
    description: Nothing to show; the values are secret.
    support: none
options:
  path:
    description:
      - The reference file. A repository path, taken literally (C($VAR) and C(~) are never expanded).
    type: str
    required: true
  repository_root:
    description:
      - The checkout O(path) belongs to (the operator's controller path). When given, O(path), symlinks and C(..)
        resolved, must lie inside it, and messages name the file relative to it.
    type: path
  use_environment:
    description: Unset O(vault) fields default to E(VAULT_ADDR), E(VAULT_NAMESPACE), E(VAULT_CACERT), E(VAULT_TOKEN).
    type: bool
    default: true
requirements:
  - PyYAML
"""

EXAMPLES = r"""
- name: Resolve the references of an environment
  trident.gitops.vault_kv:
    path: environments/prod/secrets/app.vault.yaml
    repository_root: /srv/gitops
    vault:
      address: https://vault.example.com:8200
      auth_method: approle
      role_id: "{{ vault_role_id }}"
      secret_id: "{{ vault_secret_id }}"
  register: app_secrets
  no_log: true
"""

RETURN = r"""
data:
  description: Each reference's value, by name. Secret, use C(no_log).
  returned: success
  type: dict
versions:
  description: The KV version each reference was read at, by name.
  returned: success
  type: dict
  sample: {db_password: 4}
reads:
  description: Requests sent to Vault (the login included).
  returned: success
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import masked_arguments
from ansible_collections.trident.gitops.plugins.module_utils.vault.service import ARGUMENT_SPEC, run_references


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    invocation = {"module_args": masked_arguments(module.argument_spec, module.params)}
    try:
        result = run_references(module.params)
    except TridentError as exc:
        module.fail_json(**exc.to_fail_kwargs(), invocation=invocation)
    except Exception as err:  # noqa: BLE001 - a bug must still end as a clear failure, not a traceback
        module.fail_json(msg=f"vault_kv: unexpected {type(err).__name__}", invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
