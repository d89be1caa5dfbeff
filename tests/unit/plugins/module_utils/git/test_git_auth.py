import os
import shlex
import subprocess

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import (
    PASSWORD_VAR, GitAuth, check_url, config_env, git_environment, masked_url, ssh_command, url_password)


def test_urls_with_embedded_passwords_are_refused_and_masked_where_they_stand():
    check_url("https://user@example.com/r.git")
    check_url("git@example.com:org/r.git")
    assert url_password("https://u:s3cret@example.com/r.git") == "s3cret"
    with pytest.raises(TridentError) as err:
        check_url("https://u:s3cret@example.com/r.git")
    assert "s3cret" not in err.value.message
    # The password "app" is masked where it stands, the rest of the URL (its /apps path too) untouched.
    assert masked_url("https://u:app@example.com:8443/apps/r.git") == \
        "https://u:VALUE_SPECIFIED_IN_NO_LOG_PARAMETER@example.com:8443/apps/r.git"
    assert masked_url("https://u@example.com/apps.git") == "https://u@example.com/apps.git"


def test_no_ssh_command_by_default():
    assert ssh_command(GitAuth()) is None


def test_ssh_command_with_key_and_known_hosts_is_strict_and_parsed_by_real_ssh(tmp_path):
    key = tmp_path / "deploy key"  # a space: the command must quote it
    key.write_text("")  # ssh -G lists only identity files that exist
    known = tmp_path / "known_hosts"
    command = ssh_command(GitAuth(key_file=str(key), known_hosts_file=str(known)))
    effective = subprocess.run([*shlex.split(command), "-G", "git.example.com"], capture_output=True, text=True,
                               check=True).stdout.lower().splitlines()
    assert [line for line in effective if line.startswith("identityfile") and str(key).lower() in line]
    assert "identitiesonly yes" in effective and "batchmode yes" in effective
    assert "stricthostkeychecking true" in effective
    assert f"userknownhostsfile {known}".lower() in effective


def test_accept_hostkey_accepts_new_hosts_only():
    command = ssh_command(GitAuth(accept_hostkey=True))
    assert "StrictHostKeyChecking=accept-new" in shlex.split(command)
    assert "-i" not in shlex.split(command)


def test_config_env_appends_to_existing_entries():
    env = config_env({"GIT_CONFIG_COUNT": "2"}, (("a.b", "1"), ("c.d", "")))
    assert env == {"GIT_CONFIG_COUNT": "4", "GIT_CONFIG_KEY_2": "a.b", "GIT_CONFIG_VALUE_2": "1",
                   "GIT_CONFIG_KEY_3": "c.d", "GIT_CONFIG_VALUE_3": ""}


def test_without_credentials_the_users_helpers_are_left_alone():
    env = git_environment(GitAuth(), "https://example.com/r.git", {})
    assert "GIT_CONFIG_COUNT" not in env and env["GIT_TERMINAL_PROMPT"] == "0"


def test_password_needs_http_and_a_username():
    with pytest.raises(TridentError, match="http"):
        git_environment(GitAuth(password="p"), "git@example.com:r.git", {})
    with pytest.raises(TridentError, match="username"):
        git_environment(GitAuth(password="p"), "https://example.com/r.git", {})


def credential_fill(env, host, tmp_path):
    """Ask real git for the credential of ``host`` with an empty user config."""
    global_config = tmp_path / "gitconfig"
    global_config.touch()
    full = {**os.environ, "GIT_CONFIG_GLOBAL": str(global_config), "GIT_CONFIG_NOSYSTEM": "1", **env}
    return subprocess.run(["git", "credential", "fill"], input=f"protocol=https\nhost={host}\n\n", env=full,
                          capture_output=True, text=True, check=False)


def test_token_is_served_by_a_helper_scoped_to_the_repository_host(tmp_path):
    env = git_environment(GitAuth(token="tok-123"), "https://git.example.com/org/r.git", {})
    assert env[PASSWORD_VAR] == "tok-123"
    assert not [value for key, value in env.items() if key != PASSWORD_VAR and "tok-123" in value]
    filled = credential_fill(env, "git.example.com", tmp_path)
    assert filled.returncode == 0 and "username=x-access-token\n" in filled.stdout
    assert "password=tok-123\n" in filled.stdout
    other = credential_fill(env, "elsewhere.example.com", tmp_path)
    assert "tok-123" not in other.stdout + other.stderr and other.returncode != 0


def test_username_from_option_or_url():
    env = git_environment(GitAuth(password="p"), "https://bob@example.com/r.git", {})
    assert env["TRIDENT_GIT_USERNAME"] == "bob"
    env = git_environment(GitAuth(username="alice", token="t"), "https://bob@example.com/r.git", {})
    assert env["TRIDENT_GIT_USERNAME"] == "alice"
