# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.kube_lease (docs: plugins/modules/kube_lease.py): the environment lock across
controllers, a Lease in the environment's cluster (module_utils/kube/lease.py), taken in the Ansible worker on the
controller and renewed by a detached process that lives as long as the ansible-playbook run."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import spawn_detached
from ansible_collections.trident.gitops.plugins.module_utils.kube import lease
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (
    ConnectionSettings, connect, module_secret_values)
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import ARGUMENT_SPEC as KUBE_DIFF_SPEC
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import PipelineAction

display = Display()

CONNECTION_OPTIONS = ("kubeconfig", "kubeconfig_exec", "repository_root", "kubeconfig_file", "context", "host",
                      "api_key", "ca_cert", "validate_certs", "request_timeout")
ARGUMENT_SPEC = dict(
    {name: KUBE_DIFF_SPEC[name] for name in CONNECTION_OPTIONS},
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    duration=dict(type="int", default=60),
    timeout=dict(type="float", default=600),
    state=dict(type="str", choices=["held", "released"], default="held"),
    renewer=dict(type="int", default=0),
)


def settings_of(params: dict) -> ConnectionSettings:
    return ConnectionSettings(params["kubeconfig"], params["context"], params["host"], params["api_key"],
                              params["ca_cert"], params["validate_certs"], params["request_timeout"],
                              tuple(params["kubeconfig_exec"]), params["repository_root"], params["kubeconfig_file"])


def hold(params: dict, owner_pid: int, on_wait=None) -> dict:
    """Take the Lease for the run ``owner_pid`` and start its renewer; the result names both."""
    if params["duration"] < 1:
        raise TridentError("duration: a Lease lasts at least 1 second")
    settings = settings_of(params)
    ref = lease.LeaseRef(params["namespace"], params["name"])
    holder = lease.holder_identity(owner_pid)
    lease.acquire(connect(settings, pool_size=1), ref, holder, params["duration"], params["timeout"], on_wait)
    renewer = spawn_detached(lambda: lease.keep_renewing(lambda: connect(settings, pool_size=1), ref, holder,
                                                         params["duration"], owner_pid))
    return {"holder": holder, "renewer": renewer, "lease": {"namespace": ref.namespace, "name": ref.name},
            "duration": params["duration"]}


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        if params["state"] == "released":
            lease.stop_renewer(params["renewer"])
            return {"changed": False, "renewer": 0}
        # The task runs in a worker forked from ansible-playbook: its parent is the run the Lease lives as long as.
        return {"changed": False, **hold(params, self.owner_pid(), display.display)}

    def secret_values(self, params):
        return module_secret_values(ARGUMENT_SPEC, params)
