# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read an environment's record where the environment keeps it, from any controller (issue 29): what it runs
(``{revision, tree}``) and its health, for the promotion gate (an upstream environment outside this run: another
slice, ``--limit``, another controller) and the status playbook. One entry point, :func:`read_environment_record`.

With Kubernetes the record is the ApplySet parent's (module_utils/kube/record.py), reached with the same
connection the kubernetes role would use for that environment: its kubeconfig file in the repository (confined to
the checkout), its context and namespace from env.yml, and the operator's ``kubernetes_*`` host variables of it,
which win. An environment whose kubeconfig is SOPS-encrypted or that has no Kubernetes is not read here (None).
"""

from __future__ import annotations

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ApplySet
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Discovery
from ansible_collections.trident.gitops.plugins.module_utils.kube.record import read_record


# The host variables of an environment that say how its cluster and ApplySet parent are reached (the kubernetes role's
# operator settings; their defaults are derived from the environment as below).
OPERATOR_KEYS = ("kubernetes_kubeconfig", "kubernetes_context", "kubernetes_namespace", "kubernetes_applyset_name",
                 "kubernetes_applyset_namespace", "kubernetes_kubeconfig_exec_commands")


def kubernetes_access(environment: dict, operator_vars: dict, repository_root: str):
    """(ConnectionSettings, ApplySet) of the environment's cluster and ApplySet parent, as the kubernetes role's
    defaults make them; None when the environment has no Kubernetes step. ``operator_vars`` are the environment
    host's variables (its ``kubernetes_*`` settings). The connection is None when the environment's kubeconfig is
    SOPS-encrypted and the operator gives none (only the environment's own run decrypts it). The one place that
    knows how an environment's cluster is reached from outside its run (the gate's upstream, the status view)."""
    if "kubernetes" not in (environment.get("steps") or []):
        return None
    name = environment["name"]
    settings = environment.get("settings") or {}
    namespace = str(operator_vars.get("kubernetes_namespace") or settings.get("namespace") or "default")
    kubeconfig = operator_vars.get("kubernetes_kubeconfig")
    if not kubeconfig and environment.get("kubeconfig") and not environment.get("kubeconfig_encrypted"):
        kubeconfig = os.path.join(repository_root, environment["dir"], environment["kubeconfig"])
    connection = None if environment.get("kubeconfig_encrypted") and not kubeconfig else ConnectionSettings(
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=str(operator_vars.get("kubernetes_context") or settings.get("kube_context") or "") or None,
        exec_commands=tuple(operator_vars.get("kubernetes_kubeconfig_exec_commands") or ()),
        repository_root=repository_root or None)
    applyset = ApplySet(str(operator_vars.get("kubernetes_applyset_name") or f"trident-{name}"),
                        str(operator_vars.get("kubernetes_applyset_namespace") or namespace))
    return connection, applyset


def read_environment_record(environment: dict, operator_vars: dict, repository_root: str) -> dict | None:
    """``{revision, tree, health, objects, unhealthy, where}`` of the environment, read from the environment itself;
    None when this controller cannot read it from there (no Kubernetes). A failure to read names the environment."""
    access = kubernetes_access(environment, operator_vars, repository_root)
    if access is None:
        return None
    if environment.get("kubeconfig_encrypted"):
        raise TridentError(f"environment {environment['name']}: its kubeconfig is SOPS-encrypted: its record is read "
                           "by its own run")
    connection, applyset = access
    try:
        client = connect(connection, pool_size=2)
        record = read_record(client, Discovery(client).load(), applyset)
    except TridentError as exc:
        raise TridentError(f"environment {environment['name']}: cannot read its record from ApplySet parent "
                           f"{applyset.kind} {applyset.namespace}/{applyset.name}: {exc.message}") from None
    return {**record, "where": f"ApplySet parent {applyset.kind} {applyset.namespace}/{applyset.name}"}
