"""The environment every git process runs with: credentials and SSH policy, never in argv or .git/config.

HTTPS credentials reach git through a credential helper that is itself configured through the
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` environment and reads the secret from an
environment variable. So the secret is never an argument (``ps``), never a file, never in
``.git/config``; the helper is scoped to the repository's host so submodules elsewhere never see it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Dict, Optional
from urllib.parse import urlsplit

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import MASKED_ARGUMENT

USERNAME_VAR = "TRIDENT_GIT_USERNAME"
PASSWORD_VAR = "TRIDENT_GIT_PASSWORD"
TOKEN_USERNAME = "x-access-token"
# The one set of git credentials (docs/git_source.md): git_source's options fall back to these, and the
# environments inventory exports the ones it was given as options, so the source role's fetch uses them.
CREDENTIAL_ENV = {"username": USERNAME_VAR, "password": PASSWORD_VAR, "token": "TRIDENT_GIT_TOKEN",
                  "key_file": "TRIDENT_GIT_KEY_FILE", "known_hosts_file": "TRIDENT_GIT_KNOWN_HOSTS_FILE"}
# The helper only answers "get"; "store"/"erase" are ignored, so nothing is ever persisted.
_HELPER = ("!f() { test \"$1\" = get || return 0; "
           f"printf 'username=%s\\npassword=%s\\n' \"${USERNAME_VAR}\" \"${PASSWORD_VAR}\"; }}; f")


@dataclass(frozen=True)
class GitAuth:
    username: Optional[str] = None
    password: Optional[str] = None
    token: Optional[str] = None
    key_file: Optional[str] = None
    accept_hostkey: bool = False
    known_hosts_file: Optional[str] = None

    @property
    def secrets(self):
        return tuple(value for value in (self.password, self.token) if value)


def url_password(repo):
    """The password embedded in an http(s) URL, if any (refused: check_url)."""
    parts = urlsplit(repo)
    return parts.password if parts.scheme in ("http", "https") else None


def masked_url(repo):
    """``repo`` as it may be shown: a password embedded in an http(s) URL masked where it stands."""
    password = url_password(repo)
    if not password:
        return repo
    parts = urlsplit(repo)
    netloc = f"{parts.username}:{MASKED_ARGUMENT}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def check_url(repo):
    """Refuse a URL with an embedded password: it would end up in .git/config, logs and ``ps``."""
    if url_password(repo):
        raise TridentError("repo must not embed a password or token in the URL; "
                           "use the password or token option instead")


def ssh_command(auth):
    """GIT_SSH_COMMAND for the key and host key policy, or None when the defaults apply."""
    if not (auth.key_file or auth.accept_hostkey or auth.known_hosts_file):
        return None
    argv = ["ssh", "-o", "BatchMode=yes"]
    if auth.key_file:
        argv += ["-i", auth.key_file, "-o", "IdentitiesOnly=yes"]
    argv += ["-o", "StrictHostKeyChecking=" + ("accept-new" if auth.accept_hostkey else "yes")]
    if auth.known_hosts_file:
        argv += ["-o", "UserKnownHostsFile=" + auth.known_hosts_file]
    return shlex.join(argv)


def config_env(base_env, pairs):
    """Append ``pairs`` of git config to the GIT_CONFIG_COUNT entries already in ``base_env``."""
    start = int(base_env.get("GIT_CONFIG_COUNT") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(pairs))}
    for offset, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{start + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    return env


def git_environment(auth, repo, base_env):
    """Environment variables (added to ``base_env``) for git processes talking to ``repo``."""
    env: Dict[str, str] = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"}
    password = auth.token or auth.password
    if password:
        parts = urlsplit(repo)
        if parts.scheme not in ("http", "https"):
            raise TridentError("password and token apply to http(s) repositories only")
        # The empty credential.helper first drops the user's helpers (e.g. "store", which would save the secret).
        env.update(config_env(base_env, (("credential.helper", ""),
                                         (f"credential.{parts.scheme}://{parts.netloc}.helper", _HELPER))))
        env[USERNAME_VAR] = auth.username or parts.username or (TOKEN_USERNAME if auth.token else "")
        env[PASSWORD_VAR] = password
        if not env[USERNAME_VAR]:
            raise TridentError("password needs a username")
    command = ssh_command(auth)
    if command:
        env["GIT_SSH_COMMAND"] = command
    return env
