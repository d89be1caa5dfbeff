"""The seam between a module's parameters and :func:`render.render_releases`.

kube_diff takes one ``helm`` option (its argument spec is :data:`spec.HELM_OPTION`) and, once it knows the
cluster (discovery), calls :func:`render_from_params` (env.yml releases) and :func:`kustomize_from_params` (a
kustomization with ``helmCharts``); the objects they return join the manifests. Keeping the option's
spec and its translation here means the module stays thin and the defaults live in one place.
"""

from __future__ import annotations

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import RepositoryCredentials
from ansible_collections.trident.gitops.plugins.module_utils.helm.kustomize import build_with_charts
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import (Rendered, cluster_capabilities,
                                                                                 render_releases)
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases


def render_from_params(helm, default_namespace, server_version, resources, runner, decrypt=None, namespaced=None):
    """Render the ``helm`` option's releases for the cluster whose version and ``(api_version, kind)``
    pairs are given; returns :class:`render.Rendered`."""
    if not helm.get("releases"):
        return Rendered()
    if not helm.get("env_path"):
        raise TridentError("helm.releases need helm.env_path (the environment folder their paths are relative to)")
    # Messages name env.yml as the repository does (environments/<name>/env.yml), not by the controller's path.
    env_file = Sandbox(helm["repo_path"]).display(os.path.join(helm["env_path"], "env.yml"))
    releases = parse_releases(helm["releases"], env_file, default_namespace)
    return render_releases(releases, env_file, helm["env_path"], helm["repo_path"],
                           cluster_capabilities(server_version, resources), runner, helm=helm["binary"],
                           cache_dir=helm["chart_cache"], credentials=repository_credentials(helm), decrypt=decrypt,
                           namespaced=namespaced)


def kustomize_from_params(helm, kustomize, kubectl, default_namespace, server_version, resources, runner,
                          allow_remote=False):
    """Build the kustomization ``kustomize`` with its ``helmCharts`` rendered for the cluster; returns
    (kustomize's output, :class:`render.Rendered`). ``allow_remote``: kube_diff's ``kustomize_remote``."""
    return build_with_charts(kustomize, helm, cluster_capabilities(server_version, resources), runner, kubectl,
                             repository_credentials(helm), default_namespace, allow_remote)


def repository_credentials(helm):
    return [RepositoryCredentials(r["url"], r.get("username") or "", r.get("password") or "", r.get("ca_file") or "")
            for r in helm.get("repositories") or ()]
