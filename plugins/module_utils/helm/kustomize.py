"""Kustomize ``helmCharts`` rendered through this collection's helm path, then built by kustomize offline.

Why not ``kubectl kustomize --enable-helm``: kustomize pulls a chart into ``charts/`` under the
kustomization (the checkout, read-only to us) with no digest check, from any URL the kustomization
names, with a helm configuration of its own; and the kustomize v5.7.1 in kubectl v1.35.4 cannot run
Helm 4 at all (it calls ``helm version -c --short``, a flag Helm 4 removed, and refuses a major version
other than 3). So each kustomization that declares ``helmCharts`` is turned into releases rendered by
:func:`render.render_releases` (fetched once per run, cached by digest, verified, credentials from the
run), in a private copy of the kustomization folders where ``helmCharts`` is replaced by a resource
file holding the rendered objects. kustomize then builds the copy without helm and without network,
so its patches, prefixes, labels and namespace apply to the chart's objects as they would have.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, enclosing_checkout
from ansible_collections.trident.gitops.plugins.module_utils.helm.paths import inside_repository
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import Rendered, render_releases
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_chart, parse_release
from ansible_collections.trident.gitops.plugins.module_utils.helm.values import merge_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.kustomization import (local_kustomizations,
                                                                                        remote_problems)

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

# The helmCharts keys this collection renders; the others change what is fetched or how it is
# rendered in ways the collection does not support (a floating version, generated names, kube version).
CHART_KEYS = ("name", "repo", "version", "releaseName", "namespace", "valuesFile", "valuesInline", "valuesMerge",
              "additionalValuesFiles", "includeCRDs", "skipHooks", "skipTests")
RENDERED_FILE = "trident-rendered-helm-charts.yaml"
SECRET_VALUES = (".sops.yaml", ".sops.yml", ".sops.json")


def has_helm_charts(root, repo_path=None):
    """Whether building ``root`` inflates a Helm chart (False when it cannot be read: kustomize reports that).
    Without ``repo_path``, the Git checkout holding ``root`` (else ``root`` itself) bounds the search."""
    sandbox = Sandbox(repo_path) if repo_path else enclosing_checkout(root) or Sandbox(root)
    try:
        return any("helmCharts" in data for _f, _p, data in local_kustomizations(root, sandbox))
    except TridentError:
        return False


def chart_release(entry, where, namespace):
    """A :class:`spec.Release` for one ``helmCharts`` entry (kustomize's field names)."""
    if not isinstance(entry, dict):
        raise TridentError(f"{where}: a helmCharts entry must be a mapping")
    unknown = sorted(str(key) for key in entry if key not in CHART_KEYS)
    if unknown:
        raise TridentError(f"{where}: helmCharts key(s) {', '.join(unknown)} are not supported here "
                           f"(supported: {', '.join(CHART_KEYS)}; docs/helm.md)")
    if not entry.get("releaseName"):
        raise TridentError(f"{where}: 'releaseName' is required (kustomize would generate a new name on every run)")
    release = parse_release({"name": entry["releaseName"], "namespace": entry.get("namespace", namespace),
                             "chart": {"path": "."}}, where)
    return replace(release, chart=chart_source(entry, f"{where} (release '{release.name}')"),
                   include_crds=bool(entry.get("includeCRDs", False)), skip_hooks=bool(entry.get("skipHooks", False)))


def chart_source(entry, where):
    """kustomize's ``repo`` + ``name`` + ``version`` as an env.yml chart; no repo: the folder ``charts/<name>``."""
    name, repo = entry.get("name"), entry.get("repo") or ""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise TridentError(f"{where}: 'name' must be a chart name, got {name!r}")
    if not repo:
        return parse_chart({"path": os.path.join("charts", name)}, where)
    version = str(entry.get("version", ""))
    if repo.startswith("oci://"):
        return parse_chart({"oci": f"{repo.rstrip('/')}/{name}", "version": version}, where)
    return parse_chart({"repo": repo, "name": name, "version": version}, where)


def chart_values(entry, release, folder, repo_path, where):
    """The release with kustomize's values: ``valuesFile`` then ``additionalValuesFiles`` by path; with
    ``valuesInline``, one merged document the way ``valuesMerge`` says (override, merge or replace)."""
    files = ([entry["valuesFile"]] if entry.get("valuesFile") else []) + list(entry.get("additionalValuesFiles") or [])
    for rel in files:
        if not isinstance(rel, str) or "://" in rel:
            raise TridentError(f"{where}: values file {rel!r} must be a path in the repository")
        if rel.endswith(SECRET_VALUES):
            raise TridentError(f"{where}: '{rel}' is SOPS-encrypted; kustomize reads rendered objects from files, so "
                               "secret values belong in env.yml helm_releases (secret_values_files)")
    inline, mode = entry.get("valuesInline"), entry.get("valuesMerge", "override")
    if not inline:
        return replace(release, values_files=tuple(files))
    if not isinstance(inline, dict) or mode not in ("override", "merge", "replace"):
        raise TridentError(f"{where}: 'valuesInline' must be a mapping and 'valuesMerge' override, merge or replace")
    base = load_values(entry.get("valuesFile"), folder, repo_path, where) if mode != "replace" else {}
    merged = merge_values(base, inline) if mode == "override" else merge_values(inline, base)
    for rel in entry.get("additionalValuesFiles") or ():
        merged = merge_values(merged, load_values(rel, folder, repo_path, where))
    return replace(release, values=merged)


def load_values(rel, folder, repo_path, where):
    if not rel:
        return {}
    path = inside_repository(repo_path, folder, rel, f"{where}: values file")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise TridentError(f"{where}: values file '{rel}' is not readable YAML") from None
    if not isinstance(data, dict) or "sops" in data:
        raise TridentError(f"{where}: values file '{rel}' must be a plain (not SOPS-encrypted) mapping")
    return data


def kustomization_releases(folder, path, data, repo_path, namespace):
    """The releases of one kustomization's ``helmCharts``; ``helmGlobals`` beyond the default chart home is refused."""
    if data.get("helmGlobals") or data.get("helmChartInflationGenerator"):
        raise TridentError(f"{path}: helmGlobals and helmChartInflationGenerator are not supported (docs/helm.md)")
    entries = data.get("helmCharts")
    if not isinstance(entries, list):
        raise TridentError(f"{path}: 'helmCharts' must be a list")
    releases = []
    for index, entry in enumerate(entries):
        where = f"{path}: helmCharts[{index}]"
        release = chart_release(entry, where, data.get("namespace") or namespace)
        releases.append(chart_values(entry, release, folder, repo_path, f"{where} (release '{release.name}')"))
    return releases


def copy_folders(folders, repo_path, work):
    """Copy each folder (symlinks as links) to the same place under ``work``; returns ``{folder: copy}``."""
    copies = {}
    for folder in sorted(folders):
        copy = os.path.join(work, os.path.relpath(folder, repo_path))
        shutil.copytree(folder, copy, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
        copies[folder] = copy
    return copies


def replace_helm_charts(copy, path, data, objects):
    """In the copy: the rendered objects in :data:`RENDERED_FILE`, named in ``resources`` instead of ``helmCharts``."""
    rendered = os.path.join(copy, RENDERED_FILE)
    if os.path.lexists(rendered):
        raise TridentError(f"{path}: the folder already holds {RENDERED_FILE}, the name used for the rendered charts")
    with open(rendered, "w", encoding="utf-8") as handle:
        yaml.safe_dump_all(objects, handle, sort_keys=False)
    data = {key: value for key, value in data.items() if key != "helmCharts"}
    data["resources"] = list(data.get("resources") or []) + [RENDERED_FILE]
    with open(os.path.join(copy, os.path.basename(path)), "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)


def build(root, repo_path, render, runner, kubectl, namespace, allow_remote=False):
    """``kubectl kustomize`` of ``root`` with every ``helmCharts`` rendered by ``render(releases, folder, path)``
    (returns :class:`render.Rendered`); returns (kustomize's output, the merged :class:`render.Rendered`).
    A chart with no namespace of its own or of its kustomization renders into ``namespace``. Remote references
    are refused unless ``allow_remote`` and pinned (kube/kustomization.py), before anything is rendered."""
    sandbox = Sandbox(repo_path)
    repo_path = sandbox.root
    found = local_kustomizations(root, sandbox)
    refused = remote_problems(found, allow_remote, sandbox)
    if refused:
        raise TridentError("\n".join(refused))
    total = Rendered()
    with private_tempdir(prefix="trident-kustomize-") as work:
        copies = copy_folders({folder for folder, _p, _d in found}, repo_path, work)
        for folder, path, data in found:
            if "helmCharts" in data:
                rendered = render(kustomization_releases(folder, path, data, repo_path, namespace), folder, path)
                total.objects += rendered.objects
                total.skipped_hooks += rendered.skipped_hooks
                replace_helm_charts(copies[folder], path, data, [item.obj for item in rendered.objects])
        result = runner([kubectl, "kustomize", "--load-restrictor=LoadRestrictionsRootOnly",
                         copies[os.path.realpath(root)]], check=False)
    if result.rc != 0:
        raise TridentError(f"{root}: kubectl kustomize failed: {result.stderr.strip().replace(work, '<copy>')}")
    return result.stdout, total


def build_with_charts(root, helm, cluster, runner, kubectl, credentials, namespace, allow_remote=False):
    """:func:`build` with the releases rendered for ``cluster`` (one chart fetcher per kustomization; the
    chart cache is shared). ``helm`` is kube_diff's ``helm`` option."""

    def render(releases, folder, path):
        shown = Sandbox(helm["repo_path"]).display(path)  # the kustomization as the repository names it
        return render_releases(releases, shown, folder, helm["repo_path"], cluster, runner, helm=helm["binary"],
                               cache_dir=helm["chart_cache"], credentials=credentials)

    return build(root, helm["repo_path"], render, runner, kubectl, namespace, allow_remote)
