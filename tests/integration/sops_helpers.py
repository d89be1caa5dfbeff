"""Shared helpers for the sops integration tests: encrypt with the real sops, decrypt with both."""

import json
from pathlib import Path

from testbed.sops import sops

from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
from ansible_collections.trident.gitops.plugins.module_utils.sops.yamltree import load_yaml
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import to_data

SOPS_BINARIES = ("sops", "sops-3.7")
EXTENSIONS = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}


def encrypt(directory, name, plaintext, *args, binary="sops", gnupghome=None):
    """Write ``plaintext`` to DIR/NAME, encrypt it in place with the real sops; return the path."""
    path = Path(directory) / name
    path.write_bytes(plaintext.encode() if isinstance(plaintext, str) else plaintext)
    out = sops("--encrypt", *args, path.name, binary=binary, gnupghome=gnupghome, cwd=directory)
    path.write_bytes(out)
    return path


def sops_decrypt(path, fmt, binary="sops", gnupghome=None, age_key_file=None, output_type=None):
    return sops("--decrypt", "--input-type", fmt, "--output-type", output_type or fmt, path.name, binary=binary,
                gnupghome=gnupghome, age_key_file=age_key_file, cwd=path.parent)


def expected_data(path, fmt, **kwargs):
    """What the real sops decrypts, parsed by an independent parser where the format allows it."""
    if fmt == "binary":
        return sops_decrypt(path, fmt, **kwargs).decode("utf-8", errors="replace")
    if fmt == "yaml":
        docs = [to_data(b) for b in load_yaml(sops_decrypt(path, fmt, **kwargs).decode())]
        return docs[0] if len(docs) == 1 else docs
    data = json.loads(sops_decrypt(path, fmt, output_type="json", **kwargs))
    if fmt == "ini" and data.get("DEFAULT") == {}:
        del data["DEFAULT"]  # sops' JSON view of INI always shows go-ini's implicit empty section
    return data


def ours(path, fmt=None, verify=True, **keys):
    return decrypt_file(str(path), fmt=fmt, verify=verify, keys=KeyOptions(use_environment=False, **keys))


def comments(text):
    return [line.strip().lstrip("#;").strip() for line in text.splitlines() if line.strip()[:1] in ("#", ";")]
