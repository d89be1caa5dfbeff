"""Shared helpers for the sops integration tests: encrypt with the real sops, decrypt with both."""

import hashlib
import json
from pathlib import Path

from testbed.sops import sops

from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
from ansible_collections.trident.gitops.plugins.module_utils.sops.yamltree import load_yaml
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import to_data

SOPS_BINARIES = ("sops", "sops-3.7")
EXTENSIONS = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}


def encrypt(directory, name, plaintext, *args, binary="sops", gnupghome=None, vault=None):
    """Write ``plaintext`` to DIR/NAME, encrypt it in place with the real sops; return the path.
    ``vault``: ``(address, token)`` for transit keys."""
    path = Path(directory) / name
    path.write_bytes(plaintext.encode() if isinstance(plaintext, str) else plaintext)
    out = sops("--encrypt", *args, path.name, binary=binary, gnupghome=gnupghome, cwd=directory, vault=vault)
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


def bech32_encode(hrp, data):
    """Bech32 as age writes keys (no length limit); for post-quantum keys, which age-keygen 1.2 cannot make."""
    from ansible_collections.trident.gitops.plugins.module_utils.sops.age import _BECH32_CHARSET, _bech32_polymod
    acc = bits = 0
    values = []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            values.append((acc >> bits) & 31)
    if bits:
        values.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + values + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[v] for v in values + checksum)


def post_quantum_identity(seed):
    """(AGE-SECRET-KEY-PQ-1 identity, age1pq1 recipient) of a 32-byte seed, derived as filippo.io/hpke
    derives an MLKEM768-X25519 key pair (SHAKE256 of the seed: ML-KEM seed, then X25519 key)."""
    from cryptography.hazmat.primitives.asymmetric import mlkem
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    expanded = hashlib.shake_256(seed).digest(96)
    pq_public = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    curve_key = X25519PrivateKey.from_private_bytes(expanded[64:])
    curve_public = curve_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return bech32_encode("age-secret-key-pq-", seed).upper(), bech32_encode("age1pq", pq_public + curve_public)
