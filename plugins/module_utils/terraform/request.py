"""terraform_apply's options, once: the argument spec and the one call the module and its in-process action make
(plugins/action/terraform_apply.py runs it in the Ansible worker for environment hosts, so the decrypted variables
are never serialized into a module's arguments, which ANSIBLE_DEBUG prints whole)."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import text_secrets
from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import Settings, reconcile

ARGUMENT_SPEC = {
    # Repository paths are str, taken literally (never expanded as type path would: $VAR, ~); repo_path,
    # state_dir, cli_config_file, plugin_dirs, plugin_cache_dir and the sandbox paths are the operator's
    # controller paths.
    "project_path": {"type": "str", "required": True},
    "repo_path": {"type": "path"},
    "binary": {"type": "str", "default": "terraform"},
    "workspace": {"type": "str", "default": "default"},
    "backend_config": {"type": "dict", "default": {}, "no_log": True},
    "backend_config_files": {"type": "list", "elements": "str", "default": []},
    "variables": {"type": "dict", "default": {}, "no_log": True},
    "plain_variables": {"type": "dict", "default": {}, "no_log": False},
    "variables_files": {"type": "list", "elements": "str", "default": []},
    "targets": {"type": "list", "elements": "str", "default": []},
    "parallelism": {"type": "int"},
    "lock_timeout": {"type": "str", "default": "0s"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "allow_destroy": {"type": "bool", "default": False},
    "drift_only": {"type": "bool", "default": False},
    "state_dir": {"type": "path"},
    "cli_config_file": {"type": "path"},
    "plugin_dirs": {"type": "list", "elements": "path", "default": []},
    "plugin_cache_dir": {"type": "path"},
    "sandbox": {"type": "str", "choices": ["bubblewrap", "none"], "default": "bubblewrap"},
    "sandbox_read_paths": {"type": "list", "elements": "path", "default": []},
    "sandbox_write_paths": {"type": "list", "elements": "path", "default": []},
    "allow_programs": {"type": "bool", "default": False},
    "phase": {"type": "str", "choices": ["full", "plan", "apply"], "default": "full"},
    "saved_plan": {"type": "bool", "default": False},
    "plan_json": {"type": "bool", "default": False},
    "record": {"type": "dict", "options": {"revision": {"type": "str", "required": True},
                                           "tree": {"type": "str", "required": True}}},
}


def secret_values(params):
    """The secret values the arguments hold: the variables and the backend settings."""
    return [params["variables"], params["backend_config"]]


def settings_of(params, check_mode):
    """The :class:`project.Settings` of parameters validated against :data:`ARGUMENT_SPEC`."""
    return Settings(
        project_path=params["project_path"], binary=params["binary"], workspace=params["workspace"],
        backend_config=params["backend_config"], backend_config_files=tuple(params["backend_config_files"]),
        variables=params["variables"], plain_variables=params["plain_variables"],
        variables_files=tuple(params["variables_files"]),
        targets=tuple(params["targets"]), parallelism=params["parallelism"], lock_timeout=params["lock_timeout"],
        state=params["state"], allow_destroy=params["allow_destroy"], drift_only=params["drift_only"],
        state_dir=params["state_dir"], cli_config_file=params["cli_config_file"],
        plugin_dirs=tuple(params["plugin_dirs"]), plugin_cache_dir=params["plugin_cache_dir"],
        check_mode=check_mode, phase=params["phase"], saved_plan=params["saved_plan"], record=params["record"],
        repo_path=params["repo_path"], sandbox=params["sandbox"],
        sandbox_read_paths=tuple(params["sandbox_read_paths"]),
        sandbox_write_paths=tuple(params["sandbox_write_paths"]), allow_programs=params["allow_programs"],
        plan_json=params["plan_json"])


def run_terraform(params, check_mode=False, diff=False):
    """The module's result for validated ``params``; raises TridentError."""
    runner = CommandRunner(masked=text_secrets(secret_values(params)))
    return reconcile(settings_of(params, check_mode), runner).to_result(diff=diff)
