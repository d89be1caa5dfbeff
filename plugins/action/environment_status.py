# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action of trident.gitops.environment_status (docs: plugins/modules/environment_status.py): where every
environment stands, read in this one process on the controller (status/read.py), decided and shown (status/view.py).
"""

from __future__ import annotations

import os

from ansible.utils.display import Display

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.action import PipelineAction
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.records import kubernetes_access
from ansible_collections.trident.gitops.plugins.plugin_utils.status import view
from ansible_collections.trident.gitops.plugins.plugin_utils.status.read import Place, read_all

ARGUMENT_SPEC = dict(
    environments=dict(type="list", elements="str", required=True),
    json_file=dict(type="str"),
    show=dict(type="str", choices=["table", "json", "none"], default="table"),
    workers=dict(type="int", default=16),
)
# The state dir the terraform role keeps per environment unless the operator sets terraform_state_dir.
DEFAULT_STATE_DIR = "~/.cache/trident-gitops/terraform-state/{name}"

display = Display()


def place_of(name: str, host: dict) -> Place:
    """Where environment ``name`` is and keeps its record, from its host variables: the inventory's
    ``trident_environment`` and the operator's role variables (their defaults as the roles set them; the cluster's
    as records.kubernetes_access makes them for the gate)."""
    env = host.get("trident_environment") or {}
    settings = env.get("settings") or {}
    repository = str((env.get("repository") or {}).get("path") or "")
    env_dir = str(env.get("dir") or "")
    access = kubernetes_access({**env, "name": name, "dir": env_dir}, host, repository) if env else None
    connection, applyset = access or (None, None)
    return Place(
        name=name, env_dir=env_dir, repository=repository,
        steps=tuple(step for step in ("terraform", "kubernetes") if step in (env.get("steps") or [])),
        promote_from=settings.get("promote_from"), error=env.get("error") or (
            None if env else f"{name}: no trident_environment (not a host of the trident.gitops.environments "
                             "inventory)"),
        connection=connection, applyset=applyset,
        state_dir=str(host.get("terraform_state_dir") or DEFAULT_STATE_DIR.format(name=name)),
        workspace=str(host.get("terraform_workspace") or settings.get("terraform_workspace") or "default"))


class ActionModule(PipelineAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, params, task_vars):
        hostvars = task_vars.get("hostvars") or {}
        places = [place_of(name, _host(hostvars, name)) for name in params["environments"]]
        found = view.entries(read_all(places, params["workers"]),
                             {place.name: place.promote_from for place in places if place.promote_from})
        if params["show"] != "none":
            display.display(view.table(found) if params["show"] == "table" else view.as_json(found))
        if params["json_file"]:
            try:
                atomic_write(os.path.abspath(params["json_file"]), view.as_json(found).encode("utf-8"), mode=0o644)
            except (OSError, TridentError) as exc:
                return {"failed": True, "msg": f"cannot write the status to {params['json_file']}: {exc}"}
        return {"changed": False, "environments": found, "summary": view.summary(found)}


def _host(hostvars, name: str) -> dict:
    """The variables of one environment host that status reads (templated as the roles would see them)."""
    try:
        host = hostvars[name]
    except KeyError:
        return {}
    keys = ("trident_environment", "kubernetes_kubeconfig", "kubernetes_namespace", "kubernetes_context",
            "kubernetes_kubeconfig_exec_commands", "kubernetes_applyset_name", "kubernetes_applyset_namespace",
            "terraform_state_dir", "terraform_workspace")
    return {key: host.get(key) for key in keys if key in host}
