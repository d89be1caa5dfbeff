"""git_source's options, once: the argument spec and the one call the module and its in-process action make
(plugins/action/git_source.py runs it in the Ansible worker for environment hosts, so a password or token is never
serialized into a module's arguments, which ANSIBLE_DEBUG prints whole)."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import masked_arguments
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import CREDENTIAL_ENV, GitAuth, masked_url
from ansible_collections.trident.gitops.plugins.module_utils.git.source import SyncRequest, sync

ARGUMENT_SPEC = dict(
    repo=dict(type="str", required=True),
    dest=dict(type="path", required=True),
    version=dict(type="str"),
    depth=dict(type="int", default=1),
    submodules=dict(type="bool", default=False),
    clean=dict(type="bool", default=True),
    verify_signature=dict(type="bool", default=False),
    trusted_keys=dict(type="list", elements="str", default=[], no_log=False),
    username=dict(type="str", fallback=(env_fallback, [CREDENTIAL_ENV["username"]])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, [CREDENTIAL_ENV["password"]])),
    token=dict(type="str", no_log=True, fallback=(env_fallback, [CREDENTIAL_ENV["token"]])),
    key_file=dict(type="path", no_log=False, fallback=(env_fallback, [CREDENTIAL_ENV["key_file"]])),
    accept_hostkey=dict(type="bool", default=False),
    known_hosts_file=dict(type="path", fallback=(env_fallback, [CREDENTIAL_ENV["known_hosts_file"]])),
    lock_timeout=dict(type="int", default=300),
)

RULES = dict(
    mutually_exclusive=[("password", "token")],
    required_if=[("verify_signature", True, ("trusted_keys",))],
)


def secret_values(params):
    """The credentials the arguments hold."""
    return [params["password"], params["token"]]


def echoed_arguments(params):
    """The arguments a result echoes: password and token masked whole, and a password in the URL (refused)."""
    return {**masked_arguments(ARGUMENT_SPEC, params), "repo": masked_url(params["repo"])}


def run_git_source(params, check_mode=False):
    """The module's result for validated ``params``; raises TridentError."""
    auth = GitAuth(username=params["username"], password=params["password"], token=params["token"],
                   key_file=params["key_file"], accept_hostkey=params["accept_hostkey"],
                   known_hosts_file=params["known_hosts_file"])
    request = SyncRequest(repo=params["repo"], dest=params["dest"], version=params["version"],
                          depth=params["depth"], submodules=params["submodules"], clean=params["clean"],
                          verify_signature=params["verify_signature"],
                          trusted_keys=tuple(params["trusted_keys"]), auth=auth,
                          lock_timeout=params["lock_timeout"])
    result = sync(request, CommandRunner(masked=auth.secrets), check_mode=check_mode)
    return {**result.as_dict(), "diff": result.diff()}
