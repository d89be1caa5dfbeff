"""The key options every decrypting module shares (the trident.gitops.sops doc fragment), kept apart from
the SOPS implementation so that a module declaring them imports none of it (cryptography, gnupg) until a
document actually needs decrypting: kube_diff pays the import only for an encrypted manifest."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VAULT_ARGUMENT_SPEC

KEY_ARGUMENT_SPEC = dict(
    age_keys=dict(type="str", no_log=True),
    age_key_file=dict(type="path"),
    age_ssh_private_key_file=dict(type="path"),
    gnupg_home=dict(type="path"),
    pgp_private_keys=dict(type="list", elements="str", no_log=True),
    use_environment=dict(type="bool", default=True),
    verify_mac=dict(type="bool", default=True),
    sops_binary=dict(type="str", default="sops"),
    **VAULT_ARGUMENT_SPEC,
)


def lazy_document_decryptor(params, runner=None):
    """:func:`service.document_decryptor`, importing the SOPS implementation at the first encrypted document."""

    def decrypt(content, fmt, source):
        # Imported here for start-up cost: only an encrypted manifest needs it.
        from ansible_collections.trident.gitops.plugins.module_utils.sops.service import document_decryptor
        return document_decryptor(params, runner)(content, fmt, source)

    return decrypt
