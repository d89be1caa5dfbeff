"""What the sops_decrypt module and the sops lookup do with their options (one call each)."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_tree
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.sops import stores
from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_document, decrypt_file
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import from_data
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import vault_settings


def key_options(params):
    """KeyOptions from module/lookup options (the shared doc fragment's names)."""
    use_environment = params.get("use_environment", True)
    return KeyOptions(
        age_keys=params.get("age_keys") or "",
        age_key_file=params.get("age_key_file") or "",
        age_ssh_private_key_file=params.get("age_ssh_private_key_file") or "",
        gnupg_home=params.get("gnupg_home") or "",
        pgp_private_keys=tuple(params.get("pgp_private_keys") or ()),
        sops_binary=params.get("sops_binary") or "",
        use_environment=use_environment,
        vault=vault_settings(params.get("vault"), use_environment),
    )


def decrypt(request, runner=None):
    """The decrypted document a :class:`request.SopsDecryptRequest` names (its file or its content)."""
    if request.path:
        path = Sandbox(request.repository_root).resolve(request.path) if request.repository_root else request.path
        return decrypt_file(path, fmt=request.input_type, keys=request.keys, verify=request.verify_mac,
                            runner=runner)
    return decrypt_document(request.content, request.input_type or "yaml", keys=request.keys,
                            verify=request.verify_mac, runner=runner)


def document_decryptor(params, runner=None):
    """``decrypt(content, fmt, source) -> [dict, ...]`` with the key options in ``params``: decrypts a
    SOPS document in memory (kube_diff's encrypted manifests); nothing is written to disk."""
    keys = key_options(params)
    verify = params.get("verify_mac", True)

    def decrypt(content, fmt, source):
        return decrypt_document(content, fmt, keys=keys, verify=verify, runner=runner).documents

    return decrypt


def selected(document, extract, output_type):
    """(data, rendered bytes) of the document or of its ``extract`` part, rendered as ``output_type`` (default:
    the document's format)."""
    data = document.data
    if extract not in (None, "", []):
        data = stores.extract(data, stores.parse_extract(extract))
    return data, document.render(output_type or document.fmt, extract=extract if extract not in ("", []) else None)


def _read_existing(dest):
    try:
        with open(dest, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SopsError(f"{dest}: cannot read ({exc.strerror})") from None


def _masked_text(content, data):
    """A diff-safe view of a decrypted file: the structure with every value masked."""
    if content is None:
        return ""
    if isinstance(data, (dict, list)):
        return stores.render([from_data(mask_tree(data))], "yaml").decode()
    return str(mask_tree(content)) + "\n"


def run_decrypt(request, check_mode=False, diff=False, runner=None):
    """The module's behaviour for a :class:`request.SopsDecryptRequest`: write ``dest`` (0600, changed only if
    different) or return the data."""
    document = decrypt(request, runner=runner)
    data, content = selected(document, request.extract, request.output_type)
    result = {"changed": False, "format": document.fmt, "sops_version": document.version,
              "decrypted_by": document.decrypted_by}
    dest = request.dest
    if not dest:
        result.update(data=data, content=content.decode("utf-8", errors="replace"))
        return result
    existing = _read_existing(dest)
    result["dest"] = dest
    result["changed"] = existing != content
    if diff:
        before = None
        if existing is not None:
            before = _parsed_or_none(existing, request.output_type or document.fmt)
        result["diff"] = {"before": _masked_text(existing, before),
                          "after": _masked_text(content, data),
                          "before_header": dest, "after_header": dest}
    if not check_mode:
        # The mode is fixed even when the content is unchanged (atomic_write tightens it).
        atomic_write(dest, content, mode=0o600)
    return result


def _parsed_or_none(raw, fmt):
    """The data of a previously written plaintext file, to mask it for the diff; None if unreadable."""
    try:
        branches = stores.load(raw.decode("utf-8"), fmt)[0]
    except (SopsError, UnicodeDecodeError):
        return None
    data = [stores.to_data(b) for b in branches]
    return data[0] if len(data) == 1 else data
