"""The public entry points: decrypt a SOPS document held in memory or a SOPS file.

Other module_utils (kube, terraform) call :func:`decrypt_document`; the sops_decrypt module and the
``trident.gitops.sops`` lookup call :func:`decrypt_file`. Nothing here writes plaintext to disk.
"""

from __future__ import annotations

import hmac
import os
import shutil
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.sops import stores
from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import decrypt_value
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions, NoUsableKey, recover_data_key
from ansible_collections.trident.gitops.plugins.module_utils.sops.metadata import parse_metadata
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import decrypt_branches, from_data, to_data

format_from_path = stores.format_from_path


@dataclass(frozen=True)
class DecryptedDocument:
    """A decrypted document. ``branches`` keeps comments and order (for rendering); ``documents``
    is plain data (one dict per YAML document); ``binary`` is the content of a binary-store file."""

    fmt: str
    branches: tuple
    binary: bytes = None
    version: str = ""
    decrypted_by: str = "native"

    @property
    def documents(self):
        return [to_data(branch) for branch in self.branches]

    @property
    def data(self):
        """One document's data; a list of them for multi-document YAML; text for binary files."""
        if self.fmt == "binary" and self.binary is not None:
            return self.binary.decode("utf-8", errors="replace")
        documents = self.documents
        return documents[0] if len(documents) == 1 else documents

    def render(self, output_type=None, extract=None):
        """The decrypted content as bytes in ``output_type`` (default: the input format)."""
        output_type = output_type or self.fmt
        if extract is not None:
            value = stores.extract(self.data, stores.parse_extract(extract))
            if isinstance(value, (dict, list)):
                return stores.render([from_data(value)], "json" if output_type == "binary" else output_type)
            return value if isinstance(value, bytes) else str(value).encode("utf-8", errors="surrogateescape")
        return stores.render(list(self.branches), output_type, binary_data=self._binary_payload())

    def _binary_payload(self):
        if self.binary is not None:
            return self.binary
        data = self.data
        if isinstance(data, dict) and list(data) == ["data"] and isinstance(data["data"], str):
            return data["data"].encode("utf-8", errors="surrogateescape")
        return None


def _text(content):
    if isinstance(content, bytes):
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            raise SopsError("not a SOPS file (not UTF-8 text)") from None
    return content


def verify_mac(metadata, key, computed):
    """Compare the MAC sops stored (encrypted, bound to lastmodified) with the one just computed."""
    if not metadata.mac:
        raise SopsError("MAC mismatch: the file has no MAC (verify_mac: false reads it, like sops --ignore-mac)")
    try:
        stored = decrypt_value(metadata.mac, key, metadata.lastmodified, where="sops metadata mac")
    except SopsError as exc:
        raise SopsError(f"MAC verification failed: {exc.message} (file tampered with?)") from None
    if not isinstance(stored, str) or not hmac.compare_digest(stored.upper(), computed):
        raise SopsError("MAC mismatch: the file was modified after it was encrypted (refusing to use it)")


def decrypt_document(content, fmt, keys=None, verify=True, runner=None):
    """Decrypt a SOPS document given as text or bytes.

    ``fmt`` is one of yaml, json, dotenv, ini, binary; ``keys`` a :class:`KeyOptions` (default: the
    environment, as sops does); ``verify`` checks the MAC (refuse tampered files). Returns a
    :class:`DecryptedDocument`; raises :class:`SopsError` whose message never holds plaintext.
    """
    keys = keys or KeyOptions()
    runner = runner or CommandRunner()
    text = _text(content)
    branches, raw_metadata = stores.load(text, fmt)
    if raw_metadata is None:
        raise SopsError(f"not a SOPS-encrypted {fmt} file (no sops metadata found)")
    metadata = parse_metadata(raw_metadata)
    try:
        data_key = recover_data_key(metadata, keys, runner)
    except NoUsableKey as exc:
        if not exc.foreign:
            raise
        return _decrypt_with_binary(text, fmt, keys, runner, exc, verify)
    decrypted, computed = decrypt_branches(branches, data_key, metadata.rules)
    if verify:
        verify_mac(metadata, data_key, computed)
    binary = None
    if fmt == "binary":
        payload = dict((k, v) for k, v in decrypted[0] if isinstance(k, str)).get("data")
        if not isinstance(payload, str):
            raise SopsError("binary SOPS file without a 'data' value")
        binary = payload.encode("utf-8", errors="surrogateescape")
    return DecryptedDocument(fmt=fmt, branches=tuple(decrypted), binary=binary, version=metadata.version)


def _decrypt_with_binary(text, fmt, keys, runner, cause, verify=True):
    """Key types we do not implement (cloud KMS, Vault): let the sops binary decrypt, in memory."""
    binary = shutil.which(keys.sops_binary) if keys.sops_binary else None
    if not binary:
        raise SopsError(f"{cause.message}; key type(s) {', '.join(cause.foreign)} need the sops binary, which "
                        f"was not found ({keys.sops_binary or 'disabled'})", key_types=list(cause.foreign)) from None
    env = {}
    if keys.gnupg_home:
        env["GNUPGHOME"] = keys.gnupg_home
    if keys.age_key_file:
        env["SOPS_AGE_KEY_FILE"] = keys.age_key_file
    if keys.age_ssh_private_key_file:
        env["SOPS_AGE_SSH_PRIVATE_KEY_FILE"] = keys.age_ssh_private_key_file
    if keys.age_keys:
        env["SOPS_AGE_KEY"] = keys.age_keys
    # sops would send the Vault token (VAULT_TOKEN, ~/.vault-token) to whatever address a file names: only the
    # operator's Vault is allowed (sops' allowlist), or none.
    env["SOPS_HC_VAULT_ALLOWLIST"] = keys.vault.address.rstrip("/") + "/" if keys.vault.configured else "none"
    with private_tempdir(prefix="trident-sops-") as tmp:
        # Only the encrypted document is written; the plaintext comes back on stdout.
        source = os.path.join(tmp, "input." + {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini"}
                              .get(fmt, "bin"))
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            argv = [binary, "--decrypt", "--input-type", fmt, "--output-type", fmt, source]
            result = runner(argv[:2] + ([] if verify else ["--ignore-mac"]) + argv[2:], env=env, binary_output=True)
        except TridentError as exc:
            raise SopsError(f"sops binary could not decrypt the file: {exc.message}") from None
    if fmt == "binary":
        return DecryptedDocument(fmt=fmt, branches=(), binary=result.stdout, decrypted_by="sops-binary")
    branches = stores.load(_text(result.stdout), fmt)[0]
    return DecryptedDocument(fmt=fmt, branches=tuple(branches), decrypted_by="sops-binary")


def read_file(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SopsError(f"{path}: no such file") from None
    except OSError as exc:
        raise SopsError(f"{path}: cannot read ({exc.strerror})") from None


def decrypt_file(path, fmt=None, keys=None, verify=True, runner=None):
    """Decrypt a SOPS file; ``fmt`` defaults to the one its extension names (as sops does)."""
    fmt = fmt or format_from_path(path)
    try:
        return decrypt_document(read_file(path), fmt, keys=keys, verify=verify, runner=runner)
    except SopsError as exc:
        raise SopsError(f"{path}: {exc.message}", **exc.details) from None
