# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The operator's Vault: the vault option shared by every SOPS reader (sops_decrypt, kube_diff, the sops lookup)
    # and vault_kv (plugins/module_utils/vault/settings.py holds its argument spec).
    DOCUMENTATION = r"""
options:
  vault:
    description:
      - The operator's HashiCorp Vault (or OpenBao), where the transit keys of C(hc_vault) key groups of SOPS files
        are decrypted natively (one transit C(decrypt) call per file) and where secret references are read.
      - These are the operator's settings, never the repository's. A file's C(vault_address) is only compared
        with O(vault.address); a transit key of a file that names another address is refused and nothing is
        sent to it.
      - Unless C(use_environment=false), unset fields default to E(VAULT_ADDR), E(VAULT_NAMESPACE),
        E(VAULT_CACERT) and E(VAULT_TOKEN).
      - The token (given or obtained by logging in) stays in memory for the task; it is never logged, written
        or returned.
    type: dict
    suboptions:
      address:
        description: The Vault address, C(https://vault.example.com:8200). Default E(VAULT_ADDR).
        type: str
      namespace:
        description: Vault Enterprise / HCP namespace (sent as C(X-Vault-Namespace)). Default E(VAULT_NAMESPACE).
        type: str
      ca_cert:
        description: CA bundle that signed Vault's certificate. Default E(VAULT_CACERT), else the system's.
        type: path
      auth_method:
        description:
          - How to get a token. C(token) uses O(vault.token); C(approle) logs in with O(vault.role_id) and
            O(vault.secret_id); C(jwt) logs in with the ID token in O(vault.jwt_file) (a CI job's) as
            O(vault.jwt_role).
        type: str
        choices: [token, approle, jwt]
        default: token
      auth_mount:
        description: Where the auth method is mounted. Default C(approle) or C(jwt).
        type: str
      token:
        description: A Vault token (O(vault.auth_method=token)). Default E(VAULT_TOKEN).
        type: str
      role_id:
        description: AppRole role id.
        type: str
      secret_id:
        description: AppRole secret id.
        type: str
      jwt_role:
        description: The JWT auth role to log in as.
        type: str
      jwt_file:
        description: A file holding the JWT (an ID token the CI job writes), read at login.
        type: path
      timeout:
        description: Seconds to wait for each Vault request.
        type: int
        default: 30
      kv_mount:
        description: Where the KV version 2 engine that secret references (C(secrets/*.vault.yaml)) read is mounted.
        type: str
        default: secret
"""
