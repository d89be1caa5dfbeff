# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube_diff in the Ansible worker for environment hosts (local connection, the controller's Python); the
module anywhere else. See plugin_utils/inprocess.py."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import URLLIB3_IMPORT_ERROR, module_secret_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import YAML_IMPORT_ERROR
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import ARGUMENT_SPEC, RULES, KubeDiffRequest
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run
from ansible_collections.trident.gitops.plugins.module_utils.sops.options import lazy_document_decryptor
from ansible_collections.trident.gitops.plugins.plugin_utils.inprocess import InProcessAction


class ActionModule(InProcessAction):
    argument_spec = ARGUMENT_SPEC
    rules = RULES
    required_libraries = (("PyYAML", YAML_IMPORT_ERROR), ("urllib3", URLLIB3_IMPORT_ERROR))

    def secret_values(self, params, validated_no_log_values):
        # As the module: of a kubeconfig only its credentials (see module_secret_values).
        return module_secret_values(ARGUMENT_SPEC, params)

    def work(self, params, check_mode, diff):
        runner = CommandRunner()
        return run(KubeDiffRequest.from_params(params), check_mode, diff, runner,
                   decrypt=lazy_document_decryptor(params, runner))
