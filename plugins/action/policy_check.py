# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""policy_check in the Ansible worker for environment hosts (local connection, the controller's Python); the
module anywhere else. See plugin_utils/inprocess.py."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.policy.request import (
    ARGUMENT_SPEC, PolicyRequest, echoed, run)
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    argument_spec = ARGUMENT_SPEC

    def echoed_arguments(self, params):
        return echoed(params)

    def work(self, params, check_mode, diff):
        return run(PolicyRequest.from_params(params), CommandRunner())
