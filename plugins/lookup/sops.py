# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: sops
short_description: Decrypt SOPS files on the controller, natively
version_added: 0.1.0
description:
  - Decrypts files encrypted with L(SOPS,https://getsops.io) in Python (age and PGP keys, key
    groups with Shamir threshold, MAC verified), with the same code as M(trident.gitops.sops_decrypt).
  - Each file is decrypted once per controller process and set of options (cached by path,
    modification time and options); the cache lives in memory only.
  - The result is a secret; use it in tasks with C(no_log=true).
author:
  - trident.gitops maintainers (@trident)
extends_documentation_fragment:
  - trident.gitops.sops
  - trident.gitops.vault
options:
  _terms:
    description:
      - Paths of SOPS-encrypted files on the controller. An absolute path is read as it is; a relative one is
        looked up in the C(files) search path of the play or role, as M(ansible.builtin.file) does.
      - Repository paths, taken literally. C($VAR), C(${VAR}), C(~) and C(~user) are characters of a file name,
        never expanded (an expansion would put the controller's environment, a key or a token, into the path and
        from there into every message).
    required: true
    type: list
    elements: str
  input_type:
    description: Format of the files; default from each file's extension, as sops does.
    type: str
    choices: [yaml, json, dotenv, ini, binary]
  output_type:
    description:
      - How to return each file. C(raw) (default) returns the decrypted data (a mapping, a list of
        mappings for multi-document YAML, text for binary files); a format name returns the
        decrypted document as text in that format.
    type: str
    default: raw
    choices: [raw, yaml, json, dotenv, ini, binary]
  extract:
    description: Only this part of each document (sops C(--extract) syntax C(["a"]["b"]) or a list of keys).
    type: raw
  rstrip:
    description: Strip trailing whitespace from text results (as community.sops.sops does).
    type: bool
    default: true
  base64:
    description: Return text results base64-encoded (for binary content).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Use a secret value (the task must not log it)
  ansible.builtin.debug:
    msg: "{{ lookup('trident.gitops.sops', 'secrets/db.sops.yaml', extract='[\"password\"]') | length }}"
  no_log: true

- name: Pass a whole decrypted mapping to a role
  ansible.builtin.include_role:
    name: app
  vars:
    app_secrets: "{{ lookup('trident.gitops.sops', 'secrets/app.sops.yaml', age_key_file='/etc/trident/age.txt') }}"
"""

RETURN = r"""
_raw:
  description: One entry per file; data or text depending on O(output_type) (secret).
  type: list
  elements: raw
"""

import base64
import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.request import SopsDecryptRequest
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import decrypt, selected

# path, mtime, size and options -> decrypted document; memory only, for this controller process.
_CACHE = {}


def _cached_document(request):
    stat = os.stat(request.path)
    key = (os.path.realpath(request.path), stat.st_mtime_ns, stat.st_size, request.input_type, request.verify_mac,
           request.keys.cache_key())
    if key not in _CACHE:
        _CACHE[key] = decrypt(request)
    return _CACHE[key]


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        options = {name: self.get_option(name) for name in (
            "input_type", "extract", "age_keys", "age_key_file", "age_ssh_private_key_file", "gnupg_home",
            "pgp_private_keys", "use_environment", "verify_mac", "sops_binary", "vault")}
        output_type = self.get_option("output_type")
        results = []
        for term in terms:
            path = self._literal_file(variables, str(term))
            if not path:
                raise AnsibleLookupError(f"trident.gitops.sops: file not found: {term}")
            request = SopsDecryptRequest.from_params(
                dict(options, path=path, content=None, dest=None, output_type=None if output_type == "raw" else output_type))
            try:
                document = _cached_document(request)
                data, content = selected(document, request.extract, request.output_type)
            except (SopsError, OSError) as exc:
                raise AnsibleLookupError(f"trident.gitops.sops: {to_native(getattr(exc, 'message', exc))}") \
                    from None
            results.append(self._shape(data, content, output_type))
        return results

    def _literal_file(self, variables, term):
        """The file ``term`` names, never expanded: Ansible's search expands ``~`` and ``$VAR`` in a term that
        starts with ``~`` or ``/``, so an absolute term is taken as it is and a ``~`` one is searched as the
        relative name it is."""
        if "\0" in term:
            return None
        if os.path.isabs(term):
            return term if os.path.isfile(term) else None
        return self.find_file_in_search_path(variables, "files", os.path.join(os.curdir, term), ignore_missing=True)

    def _shape(self, data, content, output_type):
        if output_type == "raw" and not isinstance(data, str):
            return data
        # Text results come from the rendered bytes, so binary content survives base64.
        if self.get_option("base64"):
            return base64.b64encode(content).decode("ascii")
        text = content.decode("utf-8", errors="replace")
        return text.rstrip() if self.get_option("rstrip") else text
