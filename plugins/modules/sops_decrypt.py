#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sops_decrypt
short_description: Decrypt a SOPS file natively (age, PGP) and write it or return its data
version_added: 0.1.0
description:
  - Decrypts a file encrypted with L(SOPS,https://getsops.io) (YAML, JSON, dotenv, INI or binary)
    in Python, without the sops binary for age and PGP keys, verifying its MAC.
  - Either writes the decrypted content to O(dest) atomically with mode C(0600), reporting
    C(changed) only when the content differs, or returns the decrypted RV(data) and RV(content).
  - The returned values are secrets; callers set C(no_log=true) on the task.
author:
  - trident.gitops maintainers (@trident)
extends_documentation_fragment:
  - trident.gitops.sops
  - trident.gitops.vault
attributes:
  check_mode:
    description: Decrypts and compares, writes nothing.
    support: full
  diff_mode:
    description: The diff shows masked values (keyed digests), so a changed secret is visible as changed.
    support: full
options:
  path:
    description:
      - The SOPS-encrypted file (on the managed host). Mutually exclusive with O(content).
      - A repository path, taken literally. C($VAR), C(${VAR}), C(~) and C(~user) are characters of a file name,
        never expanded (an expansion would put the controller's environment, a key or a token, into the path and
        from there into every message). Give an absolute path, or one relative to the task's working folder.
    type: str
  content:
    description:
      - The encrypted document itself. Mutually exclusive with O(path).
    type: str
  input_type:
    description:
      - Format of the encrypted document. Default from the extension of O(path) as sops does
        (C(.yaml)/C(.yml), C(.json), C(.env), C(.ini), anything else binary); C(yaml) for O(content).
    type: str
    choices: [yaml, json, dotenv, ini, binary]
  output_type:
    description:
      - Format of the decrypted O(dest) file and of RV(content). Default O(input_type).
    type: str
    choices: [yaml, json, dotenv, ini, binary]
  extract:
    description:
      - Only this part of the document, as sops C(--extract) (C(["a"]["b"][0])) or a list of keys and indexes.
    type: raw
  dest:
    description:
      - Write the decrypted content here (mode C(0600), atomically). Without it the module returns
        RV(data) and RV(content).
      - A controller path, the operator's (expanded like any C(path) option).
    type: path
  repository_root:
    description:
      - The repository checkout O(path) belongs to (a controller path, the operator's). When given, O(path),
        symlinks and C(..) resolved, must lie inside it, or nothing is read and the task fails naming the path
        relative to it (and the symlink that leads out).
      - The secrets role passes the checkout it deploys from (or the copy of a held revision).
    type: path
"""

EXAMPLES = r"""
- name: Decrypt a secrets file for the application (plaintext never in the log)
  trident.gitops.sops_decrypt:
    path: /srv/gitops/secrets/app.sops.yaml
    dest: /etc/app/secrets.yaml
    age_key_file: /etc/trident/age.txt

- name: Read one value into a fact
  trident.gitops.sops_decrypt:
    path: /srv/gitops/secrets/db.sops.json
    extract: '["db"]["password"]'
    gnupg_home: /etc/trident/gnupg
  register: db_secret
  no_log: true

- name: Decrypt with a PGP key from AWX credentials, returning the data
  trident.gitops.sops_decrypt:
    content: "{{ lookup('ansible.builtin.file', 'secret.sops.yaml') }}"
    input_type: yaml
    pgp_private_keys:
      - "{{ pgp_private_key }}"
  register: decrypted
  no_log: true
"""

RETURN = r"""
data:
  description:
    - The decrypted data (a mapping; a list of mappings for multi-document YAML; text for binary
      files; the extracted value with O(extract)). Only without O(dest). Secret, use C(no_log).
  returned: when dest is not set
  type: raw
content:
  description:
    - The decrypted document rendered as O(output_type). Only without O(dest). Secret, use C(no_log).
  returned: when dest is not set
  type: str
dest:
  description: The file written.
  returned: when dest is set
  type: str
  sample: /etc/app/secrets.yaml
format:
  description: The input format that was decrypted.
  returned: always
  type: str
  sample: yaml
sops_version:
  description: The sops version recorded in the file's metadata (empty when the sops binary decrypted it).
  returned: always
  type: str
  sample: 3.13.3
decrypted_by:
  description: C(native), or C(sops-binary) for key types only the sops binary handles.
  returned: always
  type: str
  sample: native
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.deps import MissingLibrary, report
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import masked_arguments, text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.sops.request import ARGUMENT_SPEC, RULES, SopsDecryptRequest
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import run_decrypt


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **RULES)
    # The echoed arguments mask the no_log options whole; Ansible searches free text only for the values long
    # enough to be searched for (common/masking.py).
    module.no_log_values = set(text_secrets(list(module.no_log_values)))
    invocation = {"module_args": masked_arguments(module.argument_spec, module.params)}
    try:
        result = run_decrypt(SopsDecryptRequest.from_params(module.params), module.check_mode, module._diff,
                             CommandRunner())
    except MissingLibrary as exc:
        report(module, exc)
    except TridentError as exc:
        module.fail_json(**exc.to_fail_kwargs(), invocation=invocation)
    except Exception as err:  # noqa: BLE001 - a bug must still end as a clear failure, not a traceback
        # Its text is left out: it may quote a decrypted value.
        module.fail_json(msg=f"sops_decrypt: unexpected {type(err).__name__}", invocation=invocation)
    module.exit_json(**result, invocation=invocation)


if __name__ == "__main__":
    main()
