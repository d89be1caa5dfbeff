import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.signature import (
    GpgStatus, decide, imported_fingerprints, normalize_fingerprint, parse_status, split_trusted_keys)

PRIMARY = "A" * 40
SUBKEY = "B" * 40
GOOD = (f"[GNUPG:] NEWSIG\n[GNUPG:] KEY_CONSIDERED {PRIMARY} 0\n[GNUPG:] SIG_ID x 2026-01-01 1\n"
        f"[GNUPG:] GOODSIG {SUBKEY[-16:]} Alice <alice@example.com>\n"
        f"[GNUPG:] VALIDSIG {SUBKEY} 2026-01-01 1767225600 0 4 0 22 10 00 {PRIMARY}\n"
        "[GNUPG:] TRUST_UNDEFINED 0 pgp\n")
ARMOR = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxyz\n-----END PGP PUBLIC KEY BLOCK-----\n"


def test_normalize_fingerprint():
    assert normalize_fingerprint("0x" + "ab" * 20) == "AB" * 20
    assert normalize_fingerprint("ABCD " * 10) == "ABCD" * 10
    assert normalize_fingerprint("1234ABCD") is None  # short key ids are spoofable: refused


def test_split_trusted_keys():
    assert split_trusted_keys(["a" * 40, ARMOR]) == (["A" * 40], [ARMOR])
    with pytest.raises(TridentError, match=r"trusted_keys\[1\]"):
        split_trusted_keys(["a" * 40, "alice@example.com"])


def test_imported_fingerprints():
    out = f"[GNUPG:] IMPORT_OK 1 {PRIMARY}\n[GNUPG:] IMPORT_OK 0 {SUBKEY.lower()}\n[GNUPG:] IMPORT_RES 2 0"
    assert imported_fingerprints(out) == {PRIMARY, SUBKEY}


def test_good_signature_by_a_trusted_primary_or_subkey():
    status = parse_status(GOOD)
    assert status == GpgStatus(True, SUBKEY, PRIMARY, "Alice <alice@example.com>")
    signer = decide(status, {PRIMARY}, "commit x")
    assert (signer.fingerprint, signer.signing_key, signer.uid) == (PRIMARY, SUBKEY, "Alice <alice@example.com>")
    assert decide(status, {SUBKEY}, "commit x").fingerprint == PRIMARY


def test_good_signature_by_a_key_not_in_the_trusted_set_is_refused():
    with pytest.raises(TridentError, match="not in trusted_keys"):
        decide(parse_status(GOOD), {"C" * 40}, "commit x")


@pytest.mark.parametrize("status, reason", [
    ("", "is not signed"),
    (f"[GNUPG:] ERRSIG {SUBKEY[-16:]} 1 10 00 1767225600 9 -\n[GNUPG:] NO_PUBKEY {SUBKEY[-16:]}", "not in trusted_keys"),
    (f"[GNUPG:] BADSIG {SUBKEY[-16:]} Alice", "bad signature"),
    (GOOD.replace("GOODSIG", "EXPKEYSIG"), "expired key"),
    (GOOD + f"[GNUPG:] REVKEYSIG {SUBKEY[-16:]} Alice", "revoked"),
])
def test_refusals(status, reason):
    with pytest.raises(TridentError, match=reason) as err:
        decide(parse_status(status), {PRIMARY}, "commit 123")
    assert err.value.message.startswith("refusing commit 123")
