"""Native decryption of age v1 files (https://age-encryption.org/v1) for X25519 and SSH identities.

Only what sops needs: the (optionally armored) file holding a data key. Header: version line,
recipient stanzas, ``---`` and the header MAC; then a 16-byte nonce and the ChaCha20-Poly1305
STREAM payload in 64 KiB chunks. Identities: ``AGE-SECRET-KEY-1`` (X25519), ``AGE-SECRET-KEY-PQ-1``
(post-quantum hybrid, when cryptography offers ML-KEM) and SSH private keys (``ssh-ed25519``,
``ssh-rsa``) as age's agessh package uses them. Lines we cannot use (plugins, damaged lines, PQ
without ML-KEM) are skipped and reported only if nothing decrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import MissingLibrary, SopsError

try:
    from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:  # reported when an age key is used
    X25519PrivateKey = None
try:  # ML-KEM arrived in cryptography 47; without it post-quantum identities go to the sops binary
    from cryptography.hazmat.primitives.asymmetric import mlkem
except ImportError:
    mlkem = None

VERSION_LINE = b"age-encryption.org/v1"
ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
SECRET_KEY_HRP = "age-secret-key-"
PQ_STANZA = "mlkem768x25519"
PQ_SECRET_KEY_HRP = "age-secret-key-pq-"
PQ_HPKE_INFO = b"age-encryption.org/mlkem768x25519"
# HPKE (RFC 9180) suite: KEM MLKEM768-X25519 (X-Wing) 0x647a, KDF HKDF-SHA256 0x0001, AEAD ChaCha20Poly1305 0x0003.
_HPKE_SUITE = b"HPKE" + bytes.fromhex("647a00010003")
_XWING_LABEL = b"\\.//^\\"
_MLKEM768_CIPHERTEXT = 1088
SSH_ED25519_LABEL = b"age-encryption.org/v1/ssh-ed25519"
SSH_RSA_LABEL = b"age-encryption.org/v1/ssh-rsa"
CHUNK = 64 * 1024
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


@dataclass(frozen=True)
class Stanza:
    type: str
    args: tuple
    body: bytes


@dataclass(frozen=True)
class AgeHeader:
    stanzas: tuple
    mac: bytes
    mac_input: bytes  # the header bytes up to and including "---", which the MAC covers
    payload: bytes


def _require():
    if X25519PrivateKey is None:
        raise MissingLibrary("cryptography")


def _b64_raw(text):
    """age's unpadded standard base64 (canonical: no padding, no stray characters)."""
    if "=" in text or "\n" in text or "\r" in text:
        raise ValueError("padded base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def bech32_decode(text):
    """Decode a Bech32 string into (hrp, data bytes); only the checksum and charset are checked."""
    lowered = text.lower()
    if text != lowered and text != text.upper():
        raise ValueError("mixed case")
    hrp, sep, data = lowered.rpartition("1")
    if not sep or not hrp or len(data) < 6:
        raise ValueError("no separator")
    values = [_BECH32_CHARSET.index(char) for char in data]
    if _bech32_polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values) != 1:
        raise ValueError("bad checksum")
    acc = bits = 0
    out = bytearray()
    for value in values[:-6]:
        acc = (acc << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise ValueError("bad padding")
    return hrp, bytes(out)


def _bech32_polymod(values):
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value
        for i, generator in enumerate(generators):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


@dataclass(frozen=True)
class X25519Identity:
    secret: bytes = field(repr=False)

    def unwrap(self, stanza):
        if stanza.type != "X25519" or len(stanza.args) != 1:
            return None
        return _unwrap_x25519(stanza, self.secret)


@dataclass(frozen=True)
class SshEd25519Identity:
    """An ssh-ed25519 key as agessh uses it: its X25519 form plus a tweak bound to the public key."""

    scalar: bytes = field(repr=False)
    ssh_public: bytes

    def unwrap(self, stanza):
        if stanza.type != "ssh-ed25519" or len(stanza.args) != 2 or stanza.args[0] != _ssh_tag(self.ssh_public):
            return None
        try:
            share = _b64_raw(stanza.args[1])
        except (ValueError, binascii.Error):
            return None
        identity = X25519PrivateKey.from_private_bytes(self.scalar)
        ours = identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        try:
            shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
            # agessh: HKDF with no input key material, the SSH public key as salt.
            tweak = X25519PrivateKey.from_private_bytes(_hkdf(b"", self.ssh_public, SSH_ED25519_LABEL))
            shared = tweak.exchange(X25519PublicKey.from_public_bytes(shared))
        except ValueError:
            return None
        return _open_file_key(_hkdf(shared, share + ours, SSH_ED25519_LABEL), stanza.body)


@dataclass(frozen=True)
class SshRsaIdentity:
    key: object = field(repr=False)
    ssh_public: bytes

    def unwrap(self, stanza):
        if stanza.type != "ssh-rsa" or len(stanza.args) != 1 or stanza.args[0] != _ssh_tag(self.ssh_public):
            return None
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=SSH_RSA_LABEL)
        try:
            return self.key.decrypt(stanza.body, oaep)
        except ValueError:
            return None


@dataclass(frozen=True)
class HybridIdentity:
    """A post-quantum AGE-SECRET-KEY-PQ-1 identity: HPKE base mode with the X-Wing KEM, as age 1.3 and
    filippo.io/hpke implement it."""

    seed: bytes = field(repr=False)

    def unwrap(self, stanza):
        if stanza.type != PQ_STANZA or len(stanza.args) != 1 or len(stanza.body) != 32:
            return None
        try:
            enc = _b64_raw(stanza.args[0])
        except (ValueError, binascii.Error):
            return None
        if len(enc) != _MLKEM768_CIPHERTEXT + 32:
            return None
        expanded = hashlib.shake_256(self.seed).digest(96)
        curve = X25519PrivateKey.from_private_bytes(expanded[64:])
        curve_share = enc[_MLKEM768_CIPHERTEXT:]
        try:
            shared_pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).decapsulate(
                enc[:_MLKEM768_CIPHERTEXT])
            shared_curve = curve.exchange(X25519PublicKey.from_public_bytes(curve_share))
        except ValueError:
            return None
        curve_public = curve.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        shared = hashlib.sha3_256(shared_pq + shared_curve + curve_share + curve_public + _XWING_LABEL).digest()
        key, nonce = _hpke_key_and_nonce(shared, PQ_HPKE_INFO)
        try:
            return ChaCha20Poly1305(key).decrypt(nonce, stanza.body, None)
        except InvalidTag:
            return None


def _hpke_extract(salt, label, ikm):
    return hmac.new(salt, b"HPKE-v1" + _HPKE_SUITE + label + ikm, hashlib.sha256).digest()


def _hpke_expand(prk, label, info, length):
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + _HPKE_SUITE + label + info
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=labeled).derive(prk)


def _hpke_key_and_nonce(shared_secret, info):
    """RFC 9180 key schedule, base mode (no PSK): the AEAD key and the nonce of the first message."""
    context = b"\x00" + _hpke_extract(b"", b"psk_id_hash", b"") + _hpke_extract(b"", b"info_hash", info)
    secret = _hpke_extract(shared_secret, b"secret", b"")
    return _hpke_expand(secret, b"key", context, 32), _hpke_expand(secret, b"base_nonce", context, 12)


def _mlkem_available():
    if mlkem is None:
        return False
    try:
        mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(64))
    except UnsupportedAlgorithm:  # a cryptography built against a backend without ML-KEM
        return False
    return True


@dataclass(frozen=True)
class Identities:
    """Usable identities, and a note for each line or key that was skipped (never its content)."""

    usable: tuple = ()
    skipped: tuple = ()

    def __add__(self, other):
        return Identities(self.usable + other.usable, self.skipped + other.skipped)

    def __bool__(self):
        return bool(self.usable)


def _ssh_tag(ssh_public):
    return base64.b64encode(hashlib.sha256(ssh_public).digest()[:4]).decode().rstrip("=")


def _open_file_key(wrap_key, body):
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(b"\x00" * 12, body, None)
    except InvalidTag:
        return None


def _parse_line(word):
    """One identity, or the reason it is skipped."""
    if word.startswith("AGE-PLUGIN-"):
        return None, "age plugin identity is not supported"
    try:
        hrp, data = bech32_decode(word)
    except ValueError:
        hrp, data = None, b""
    if hrp == PQ_SECRET_KEY_HRP and len(data) == 32:
        if not _mlkem_available():
            return None, "post-quantum identity (AGE-SECRET-KEY-PQ-1...) needs ML-KEM, which this cryptography lacks"
        return HybridIdentity(data), None
    if hrp != SECRET_KEY_HRP or len(data) != 32:
        return None, "not an age identity (AGE-SECRET-KEY-1...)"  # never echo the line: it may be a secret
    return X25519Identity(data), None


def parse_identities(text, source="age identities", words=False):
    """Identities of an identity file (one per line; every word of a line with ``words``, as sops reads
    SOPS_AGE_KEY). Comments and blank lines are ignored; unusable lines are skipped with a note."""
    _require()
    usable, skipped = [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for word in line.split() if words else [line]:
            identity, reason = _parse_line(word)
            if identity is None:
                skipped.append(f"{source}, line {number}: {reason}")
            else:
                usable.append(identity)
    return Identities(tuple(usable), tuple(skipped))


def parse_ssh_identity(data, source):
    """An SSH private key (OpenSSH or PEM, unencrypted) as an age identity."""
    _require()
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return Identities(skipped=(f"{source}: not an unencrypted ssh-ed25519 or ssh-rsa private key",))
    ssh_public = base64.b64decode(key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[1])
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return Identities((SshEd25519Identity(hashlib.sha512(seed).digest()[:32], ssh_public),))
    if isinstance(key, rsa.RSAPrivateKey):
        return Identities((SshRsaIdentity(key, ssh_public),))
    return Identities(skipped=(f"{source}: SSH key type is not ssh-ed25519 or ssh-rsa",))


def dearmor(data):
    """Strip the PEM-like armor sops stores age files in; binary input is returned unchanged."""
    text = data.decode("ascii", errors="replace").strip() if isinstance(data, bytes) else data.strip()
    if not text.startswith(ARMOR_BEGIN):
        return data if isinstance(data, bytes) else data.encode()
    if not text.endswith(ARMOR_END):
        raise SopsError("age: armored data without its END line (truncated)")
    body = "".join(line.strip() for line in text[len(ARMOR_BEGIN):-len(ARMOR_END)].splitlines())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise SopsError("age: armored data is not valid base64") from None


def parse_header(data):
    """Split an age file into stanzas, header MAC and payload."""
    lines = data.split(b"\n")
    if not lines or lines[0] != VERSION_LINE:
        raise SopsError("age: not an age v1 file")
    stanzas = []
    index = 1
    offset = len(lines[0]) + 1
    try:
        while True:
            line = lines[index]
            if line.startswith(b"--- "):
                mac = _b64_raw(line[4:].decode("ascii"))
                mac_input = data[:offset + 3]
                payload = data[offset + len(line) + 1:]
                return AgeHeader(tuple(stanzas), mac, mac_input, payload)
            if not line.startswith(b"-> "):
                raise ValueError("bad stanza")
            parts = line[3:].decode("ascii").split(" ")
            offset += len(line) + 1
            index += 1
            body = b""
            while True:
                body_line = lines[index]
                offset += len(body_line) + 1
                index += 1
                body += _b64_raw(body_line.decode("ascii")) if body_line else b""
                if len(body_line) < 64:  # a short (possibly empty) line ends the body
                    break
            stanzas.append(Stanza(parts[0], tuple(parts[1:]), body))
    except (IndexError, ValueError, UnicodeDecodeError, binascii.Error):
        raise SopsError("age: malformed or truncated header") from None


def _hkdf(ikm, salt, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _unwrap_x25519(stanza, secret):
    """The file key from one X25519 stanza, or None if it is not for this identity."""
    try:
        share = _b64_raw(stanza.args[0])
    except (ValueError, binascii.Error):
        return None
    if len(share) != 32 or len(stanza.body) != 32:
        return None
    identity = X25519PrivateKey.from_private_bytes(secret)
    try:
        shared = identity.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:  # all-zero shared secret (low-order point): never for us
        return None
    recipient = identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _open_file_key(_hkdf(shared, share + recipient, b"age-encryption.org/v1/X25519"), stanza.body)


def decrypt_payload(file_key, payload):
    if len(payload) < 16:
        raise SopsError("age: truncated payload")
    nonce, stream = payload[:16], payload[16:]
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    out = bytearray()
    counter = 0
    position = 0
    while True:
        chunk = stream[position:position + CHUNK + 16]
        position += len(chunk)
        last = position >= len(stream)
        if len(chunk) < 16 or (not last and len(chunk) != CHUNK + 16):
            raise SopsError("age: truncated payload")
        try:
            out += aead.decrypt(counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), chunk, None)
        except InvalidTag:
            raise SopsError("age: payload authentication failed (tampered or truncated)") from None
        if last:
            if not out and counter:
                raise SopsError("age: payload ends with an empty chunk")
            return bytes(out)
        counter += 1


class PostQuantumOnly(SopsError):
    """Only a post-quantum stanza could open the file, and we hold such an identity we cannot use."""


def decrypt(data, identities):
    """Decrypt an (armored) age file with any of the identities; None if none matches."""
    _require()
    header = parse_header(dearmor(data))
    for identity in identities.usable:
        for stanza in header.stanzas:
            file_key = identity.unwrap(stanza)
            if file_key is None:
                continue
            expected = hmac.new(_hkdf(file_key, b"", b"header"), header.mac_input, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, header.mac):
                raise SopsError("age: header MAC mismatch (tampered)")
            return decrypt_payload(file_key, header.payload)
    if any(stanza.type == PQ_STANZA for stanza in header.stanzas) and \
            any("post-quantum" in note for note in identities.skipped):
        raise PostQuantumOnly("only a post-quantum (mlkem768x25519) identity could decrypt it, and this "
                              "cryptography has no ML-KEM")
    return None


def default_ssh_identity_files(home=None):
    """sops' default SSH identities: ~/.ssh/id_ed25519 and ~/.ssh/id_rsa."""
    home = home or os.path.expanduser("~")
    return [os.path.join(home, ".ssh", name) for name in ("id_ed25519", "id_rsa")]


def default_identity_file(env=None):
    """sops' default age key file: $XDG_CONFIG_HOME/sops/age/keys.txt, else ~/.config/sops/age/keys.txt."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "sops", "age", "keys.txt")
