"""Pure parts of the Vault support: whose address counts, what a reference file may say, which paths go to Vault."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.vault.client import VaultError, checked_path
from ansible_collections.trident.gitops.plugins.module_utils.vault.references import Reference, parse_references
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import (
    VaultSettings, same_address, vault_settings)

OPERATOR = VaultSettings(address="https://vault.example.com:8200")


@pytest.mark.parametrize("address", [
    "https://vault.example.com:8200", "https://vault.example.com:8200/", "HTTPS://VAULT.example.com:8200"])
def test_the_operators_address_in_other_spellings_is_the_same(address):
    assert same_address(address, OPERATOR)


@pytest.mark.parametrize("address", [
    "http://vault.example.com:8200", "https://vault.example.com:8201", "https://vault.example.com",
    "https://vault.example.com:8200.evil.invalid", "https://evil.invalid/https://vault.example.com:8200",
    "https://user@vault.example.com:8200", "https://vault.example.com:8200/v1/../x",
    "https://vault.example.com:8200?x=1", "file:///etc/passwd", "{{ lookup('pipe', 'id') }}", "$VAULT_ADDR",
    "~/vault", "", "vault.example.com:8200", "https://vault.example.com:99999"])
def test_any_other_address_is_not(address):
    assert not same_address(address, OPERATOR)


def test_no_operator_address_matches_nothing():
    assert not same_address("", VaultSettings()) and not same_address("https://x", VaultSettings())


def test_environment_fills_unset_fields_only_when_allowed():
    env = {"VAULT_ADDR": "https://env:8200", "VAULT_TOKEN": "hvs.env", "VAULT_NAMESPACE": "team"}
    settings = vault_settings({"address": "https://opt:8200"}, True, env)
    assert (settings.address, settings.token, settings.namespace) == ("https://opt:8200", "hvs.env", "team")
    assert vault_settings(None, False, env) == VaultSettings()
    assert "hvs.env" not in repr(settings)
    with pytest.raises(TridentError, match="auth_method"):
        vault_settings({"auth_method": "kerberos"}, False, {})


@pytest.mark.parametrize("path", ["../sys", "a/../b", "/", "", "a//b", "a/b?x=1", "a/%2e%2e", "a b", "$X", "~x",
                                  "{{ x }}", "a/b#c", ".hidden", "a/./b"])
def test_paths_to_vault_are_plain_names(path):
    with pytest.raises(VaultError):
        checked_path(path, "path")


def test_references_hold_path_key_and_version_only():
    refs = parse_references({"db": {"path": "apps/db", "key": "password"},
                             "api": {"path": "apps/api", "key": "token", "version": 3}}, "secrets/app.vault.yaml")
    assert refs == [Reference("db", "apps/db", "password"), Reference("api", "apps/api", "token", 3)]
    for extra in ("address", "vault_address", "token", "mount", "auth", "namespace"):
        with pytest.raises(TridentError, match=f"secrets/app.vault.yaml: reference db has {extra}"):
            parse_references({"db": {"path": "apps/db", "key": "k", extra: "x"}}, "secrets/app.vault.yaml")
    for bad in ({"path": "../sys/x", "key": "k"}, {"path": "a", "key": ""}, {"path": "a", "key": "k", "version": 0},
                {"path": "a", "key": "k", "version": True}, {"path": "a", "key": "k", "version": "2"}, "apps/db"):
        with pytest.raises(TridentError, match="secrets/app.vault.yaml: reference db"):
            parse_references({"db": bad}, "secrets/app.vault.yaml")
    with pytest.raises(TridentError, match="mapping"):
        parse_references(["db"], "secrets/app.vault.yaml")
