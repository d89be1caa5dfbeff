# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sops_decrypt in the Ansible worker for environment hosts (local connection, the controller's Python); the
module anywhere else. See plugin_utils/inprocess.py."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.sops.request import ARGUMENT_SPEC, RULES, SopsDecryptRequest
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import run_decrypt
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import InProcessAction, missing_library_failure


class ActionModule(InProcessAction):
    argument_spec = ARGUMENT_SPEC
    rules = RULES

    def work(self, params, check_mode, diff):
        return run_decrypt(SopsDecryptRequest.from_params(params), check_mode, diff, CommandRunner())

    def failure(self, exc):
        # As the module: a missing library is reported with missing_required_lib's message.
        return missing_library_failure(exc) or super().failure(exc)
