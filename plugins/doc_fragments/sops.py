# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Key options shared by the sops_decrypt and kube_diff modules and the trident.gitops.sops lookup.
    DOCUMENTATION = r"""
options:
  age_keys:
    description:
      - age identities (C(AGE-SECRET-KEY-1...), one or more per line) to decrypt with.
      - Combined with O(age_key_file) and, unless O(use_environment=false), with E(SOPS_AGE_KEY),
        E(SOPS_AGE_KEY_FILE) and the default file C(~/.config/sops/age/keys.txt), as sops does.
    type: str
  age_key_file:
    description:
      - Path of an age identity file.
      - Lines that hold no usable identity (post-quantum C(AGE-SECRET-KEY-PQ-1...), plugins) are
        skipped; they are named in the error only when nothing else decrypts.
    type: path
  age_ssh_private_key_file:
    description:
      - Path of an unencrypted SSH private key (C(ssh-ed25519) or C(ssh-rsa)) used as an age identity,
        as sops' E(SOPS_AGE_SSH_PRIVATE_KEY_FILE).
      - Unless O(use_environment=false), E(SOPS_AGE_SSH_PRIVATE_KEY_FILE), C(~/.ssh/id_ed25519) and
        C(~/.ssh/id_rsa) are tried too, as sops does.
    type: path
  gnupg_home:
    description:
      - GnuPG home holding the PGP secret keys. Defaults to E(GNUPGHOME) or C(~/.gnupg).
    type: path
  pgp_private_keys:
    description:
      - Armored PGP private keys (without passphrase). They are imported into a private temporary
        GnuPG home that is removed, with its agent, when decryption ends.
    type: list
    elements: str
  use_environment:
    description:
      - Also use the keys sops finds in the environment (E(SOPS_AGE_KEY), E(SOPS_AGE_KEY_FILE),
        E(SOPS_AGE_SSH_PRIVATE_KEY_FILE), E(GNUPGHOME), the default age key file, C(~/.ssh/id_ed25519),
        C(~/.ssh/id_rsa)).
    type: bool
    default: true
  verify_mac:
    description:
      - Verify the file's MAC and refuse a file that was modified after it was encrypted.
      - Only disable it to recover a damaged file.
    type: bool
    default: true
  sops_binary:
    description:
      - The sops binary (name on E(PATH) or a path), used only for key types decrypted natively by
        nothing here (AWS/GCP KMS, Azure Key Vault, post-quantum age identities).
      - It is run with E(SOPS_HC_VAULT_ALLOWLIST) set to the operator's Vault (O(vault.address)), or to
        C(none), so it never sends a Vault token to an address a file names.
    type: str
    default: sops
requirements:
  - cryptography (AES-GCM values, age)
  - PyYAML
  - python-gnupg and gpg (PGP keys only)
notes:
  - Vault transit keys (C(hc_vault)) are decrypted natively with the operator's O(vault) settings
    (docs/vault.md).
  - PGP and age (X25519, ssh-ed25519, ssh-rsa) keys are decrypted natively in Python; key groups are
    combined with Shamir's secret sharing as sops does. Files written by sops 3.x are supported,
    whatever version their metadata names.
"""
