# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""terraform_apply in the Ansible worker for environment hosts (local connection, the controller's Python); the
module anywhere else. See plugin_utils/inprocess.py. Its decrypted variables are then never a module's arguments,
which Ansible prints whole with ANSIBLE_DEBUG."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.terraform.request import (
    ARGUMENT_SPEC, run_terraform, secret_values)
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    argument_spec = ARGUMENT_SPEC

    def secret_values(self, params, validated_no_log_values):
        return secret_values(params)

    def work(self, params, check_mode, diff):
        return run_terraform(params, check_mode, diff)
