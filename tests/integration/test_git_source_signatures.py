"""verify_signature with real gpg: trusted signers pass, everything else is refused before the checkout moves."""

from pathlib import Path

import pytest
from git_source_support import Upstream, head_of, run_source, snapshot


@pytest.fixture()
def keys(gnupg_home):
    rsa, ed = gnupg_home.keys
    return rsa, ed


@pytest.fixture()
def upstream(git_server, gnupg_home, keys, tmp_path, request):
    repo = Upstream(git_server, tmp_path, request.node.name.replace("[", "-").replace("]", ""))
    repo.env = {"GNUPGHOME": str(gnupg_home.path)}
    repo.commit({"README.md": "signed\n"}, "first", sign_with=keys[0].fingerprint)
    return repo


@pytest.fixture()
def trusted(gnupg_home, keys):
    """Only the RSA key, as an armored public key."""
    return [gnupg_home.export_public(keys[0].fingerprint)]


@pytest.fixture()
def clean_tmpdir(tmp_path):
    path = tmp_path / "module-tmp"
    path.mkdir()
    return path


def verified(tmp_path, upstream, dest, trusted, env=None, **params):
    return run_source(tmp_path, env=env, repo=upstream.url, dest=str(dest), verify_signature=True,
                      trusted_keys=trusted, **params)


def test_commit_signed_by_a_trusted_key_is_checked_out_with_its_signer(upstream, trusted, keys, tmp_path,
                                                                       clean_tmpdir):
    dest = tmp_path / "checkout"
    result = verified(tmp_path, upstream, dest, trusted, env={"TMPDIR": str(clean_tmpdir)})
    assert result["changed"] is True and head_of(dest) == upstream.head()
    assert result["signer"]["fingerprint"] == keys[0].fingerprint
    assert result["signer"]["uid"] == "Trident RSA <rsa@trident.invalid>"
    assert result["tag_signer"] is None
    assert list(clean_tmpdir.iterdir()) == [], "the private GnuPG home is removed"


def test_fingerprint_names_a_key_of_the_users_keyring(upstream, gnupg_home, keys, tmp_path):
    dest = tmp_path / "checkout"
    result = verified(tmp_path, upstream, dest, [keys[0].fingerprint.lower()],
                      env={"GNUPGHOME": str(gnupg_home.path)})
    assert result["changed"] is True and result["signer"]["fingerprint"] == keys[0].fingerprint

    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    missing = verified(tmp_path, upstream, tmp_path / "other", [keys[0].fingerprint], env={"GNUPGHOME": str(empty)})
    assert missing["failed"] is True and "is not in the keyring" in missing["msg"]
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("signer", ["unsigned", "untrusted"])
def test_refused_commit_leaves_previous_checkout_intact(upstream, trusted, keys, tmp_path, signer):
    dest = tmp_path / "checkout"
    good = verified(tmp_path, upstream, dest, trusted)
    assert good["changed"] is True
    before = snapshot(dest)
    upstream.commit({"README.md": "tampered\n", "evil.sh": "rm -rf /\n"}, "not trusted",
                    sign_with=keys[1].fingerprint if signer == "untrusted" else None)
    refused = verified(tmp_path, upstream, dest, trusted)
    assert refused["failed"] is True and upstream.head() in refused["msg"]
    expected = "is not signed" if signer == "unsigned" else "not in trusted_keys"
    assert expected in refused["msg"]
    assert snapshot(dest) == before

    fresh = tmp_path / "fresh"
    again = verified(tmp_path, upstream, fresh, trusted)
    assert again["failed"] is True and not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if ".clone-" in p.name]


def test_both_keys_trusted_accepts_either_signer(upstream, gnupg_home, keys, tmp_path):
    upstream.commit({"x": "1\n"}, "by ed", sign_with=keys[1].fingerprint)
    both = [gnupg_home.export_public(keys[0].fingerprint), keys[1].fingerprint]
    result = verified(tmp_path, upstream, tmp_path / "checkout", both, env={"GNUPGHOME": str(gnupg_home.path)})
    assert result["signer"]["fingerprint"] == keys[1].fingerprint


def test_signed_tag_of_signed_commit_is_accepted(upstream, trusted, keys, tmp_path):
    upstream.tag("v1", sign_with=keys[0].fingerprint)
    result = verified(tmp_path, upstream, tmp_path / "checkout", trusted, version="v1")
    assert result["kind"] == "tag" and result["after"] == upstream.head()
    assert result["tag_signer"]["fingerprint"] == keys[0].fingerprint
    assert result["signer"]["fingerprint"] == keys[0].fingerprint


@pytest.mark.parametrize("tag", ["unsigned-annotated", "lightweight", "untrusted"])
def test_tag_that_is_not_signed_by_a_trusted_key_is_refused(upstream, trusted, keys, tmp_path, tag):
    dest = tmp_path / "checkout"
    verified(tmp_path, upstream, dest, trusted)
    before = snapshot(dest)
    upstream.commit({"README.md": "release\n"}, "release", sign_with=keys[0].fingerprint)
    if tag == "untrusted":
        upstream.tag("v2", sign_with=keys[1].fingerprint)
    else:
        upstream.tag("v2", annotated=tag != "lightweight")
    refused = verified(tmp_path, upstream, dest, trusted, version="v2")
    assert refused["failed"] is True and "refusing tag v2" in refused["msg"]
    assert snapshot(dest) == before
    assert Path(dest, "README.md").read_text() == "signed\n"


def test_bad_trusted_keys_are_a_clear_error_before_anything_runs(upstream, tmp_path):
    result = verified(tmp_path, upstream, tmp_path / "checkout", ["not a key"])
    assert result["failed"] is True and "trusted_keys[0]" in result["msg"]
    missing = run_source(tmp_path, repo=upstream.url, dest=str(tmp_path / "checkout"), verify_signature=True)
    assert missing["failed"] is True and "trusted_keys" in missing["msg"]
    assert not (tmp_path / "checkout").exists()
