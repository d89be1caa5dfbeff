# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""git_source in the Ansible worker for environment hosts (local connection, the controller's Python); the module
anywhere else. See plugin_utils/inprocess.py. A password or token is then never a module's arguments, which Ansible
prints whole with ANSIBLE_DEBUG."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.git.request import (ARGUMENT_SPEC, RULES,
                                                                                 echoed_arguments, run_git_source,
                                                                                 secret_values)
from ansible_collections.trident.gitops.plugins.module_utils.git.source import GITPYTHON_IMPORT_ERROR
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    argument_spec = ARGUMENT_SPEC
    rules = RULES
    required_libraries = (("GitPython", GITPYTHON_IMPORT_ERROR),)

    def secret_values(self, params, validated_no_log_values):
        return secret_values(params)

    def echoed_arguments(self, params):
        return echoed_arguments(params)

    def work(self, params, check_mode, diff):
        return run_git_source(params, check_mode)
