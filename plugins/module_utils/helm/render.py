"""Rendering an environment's Helm releases into Kubernetes objects with ``helm template``.

This is the one entry point kube_diff's loader calls (:func:`render_releases`): the objects it
returns go through the same validation, diff, ignore rules, ApplySet ownership and prune as plain
manifests. helm only renders here; the release lifecycle (install, upgrade, hooks as phases,
``helm ls``) is not used, the way Argo CD uses helm (docs/helm.md says what that means for
``lookup`` and hooks). The cluster's version and API versions are passed in, so charts that look at
``.Capabilities`` render for the cluster they are applied to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import ChartFetcher, helm_environment
from ansible_collections.trident.gitops.plugins.module_utils.helm.values import release_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import split_api_version
from ansible_collections.trident.gitops.plugins.module_utils.kube.validate import kinds_from_crds
from ansible_collections.trident.gitops.plugins.module_utils.kube.yamljson import KubectlLoader, jsonable

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

# Hooks that belong to installing or upgrading are kept as ordinary objects; test, delete and
# rollback hooks describe other lifecycle events and are left out (docs/helm.md).
KEPT_HOOKS = frozenset(("pre-install", "post-install", "pre-upgrade", "post-upgrade"))
_SOURCE = re.compile(r"^# Source: (.+)$", re.M)
_SEPARATOR = re.compile(r"^---[ \t]*$", re.M)
# Registered secrets shorter than this would scrub ordinary words out of messages (kube_diff uses the same).
MIN_HIDDEN = 4


@dataclass(frozen=True)
class RenderedObject:
    """One rendered object; ``source`` names env file, release, chart and template for messages."""

    source: str
    obj: dict


@dataclass
class Rendered:
    objects: list = field(default_factory=list)
    sensitive: set = field(default_factory=set, repr=False)
    skipped_hooks: list = field(default_factory=list)


@dataclass(frozen=True)
class Cluster:
    """What helm is told about the cluster: ``kube_version`` (v1.35.4) and its API versions."""

    kube_version: str
    api_versions: tuple = ()


def cluster_capabilities(server_version, resources):
    """A :class:`Cluster` from the server's version and its ``(api_version, kind)`` pairs; like Argo CD,
    both ``group/version`` and ``group/version/Kind`` are listed."""
    versions = set()
    for api_version, kind in resources:
        versions.update((api_version, f"{api_version}/{kind}"))
    return Cluster(server_version, tuple(sorted(versions)))


def template_argv(helm, release, chart_path, values, cluster):
    """The ``helm template`` command line; values files in order, then the stdin document."""
    argv = [helm, "template", release.name, chart_path, "--namespace", release.namespace,
            *(["--include-crds"] if release.include_crds else []), *(["--no-hooks"] if release.skip_hooks else []),
            "--skip-tests", "--kube-version", cluster.kube_version]
    if cluster.api_versions:
        argv += ["--api-versions", ",".join(cluster.api_versions)]
    for path in values.files:
        argv += ["--values", path]
    if values.stdin is not None:
        argv += ["--values", "-"]
    return argv


def split_manifests(text):
    """``[(template path, document text)]`` of helm's output, in order."""
    found = []
    for chunk in _SEPARATOR.split(text):
        if not chunk.strip():
            continue
        match = _SOURCE.search(chunk)
        found.append((match.group(1).strip() if match else "(no source)", chunk))
    return found


def hook_phases(obj):
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    hooks = annotations.get("helm.sh/hook")
    return {phase.strip() for phase in hooks.split(",") if phase.strip()} if isinstance(hooks, str) else set()


def scrub(text, sensitive):
    for value in sorted((v for v in sensitive if len(v) >= MIN_HIDDEN), key=len, reverse=True):
        text = text.replace(value, "********")
    return text


def parse_objects(text, where):
    """``[(template path, object)]`` from helm's output; anything not an object is an error."""
    objects = []
    for template, chunk in split_manifests(text):
        try:
            # Read as kubectl and helm read it (sigs.k8s.io/yaml): keys become strings, timestamps stay text.
            documents = [d for d in yaml.load_all(chunk, Loader=KubectlLoader) if d is not None]
        except yaml.YAMLError:
            # The rendered text may hold secret values: name the template only.
            raise TridentError(f"{where}: {template} did not render to valid YAML") from None
        for document in documents:
            data, problems = jsonable(document)
            if problems:
                raise TridentError(f"{where}: {template}: {problems[0]}")
            if not isinstance(data, dict) or not data.get("apiVersion") or not data.get("kind"):
                raise TridentError(f"{where}: {template} rendered a document that is not a Kubernetes object")
            objects.append((template, data))
    return objects


def with_crds(namespaced, objects):
    """``namespaced`` that also knows the scope of the kinds the CustomResourceDefinitions among ``objects`` serve:
    Helm installs a chart's CRDs first and then places the chart's custom resources by their CRD's scope. None
    without ``namespaced`` (kustomize's helmCharts: kustomize places nothing)."""
    if namespaced is None:
        return None
    kinds = kinds_from_crds([RenderedObject("", obj) for obj in objects])

    def scope(api_version, kind):
        found = namespaced(api_version, kind)
        if found is None:
            resource = kinds.get((*split_api_version(api_version), kind))
            found = resource.namespaced if resource is not None else None
        return found
    return scope


def place(obj, namespace, namespaced):
    """Put an object that names no namespace into the release's, when ``namespaced`` says its kind is."""
    metadata = obj.setdefault("metadata", {})
    if not metadata.get("namespace") and namespaced is not None and namespaced(obj["apiVersion"], obj["kind"]):
        metadata["namespace"] = namespace
    return obj


def render_release(release, chart_path, values, cluster, runner, helm, helm_home, where):
    """Run ``helm template`` for one release; the decrypted values go through stdin only."""
    argv = template_argv(helm, release, chart_path, values, cluster)
    result = runner(argv, env=helm_environment(helm_home), data=values.stdin, check=False)
    if result.rc != 0:
        reason = scrub((result.stderr or "").strip() or "no error output", values.sensitive)
        raise TridentError(f"{where}: helm template failed: {reason[-2000:]}")
    return parse_objects(result.stdout, where)


def render_releases(releases, env_file, env_path, repo_path, cluster, runner, helm, cache_dir, credentials=(),
                    decrypt=None, namespaced=None, get=None):
    """Render every release of one environment; fails (naming env file, release, chart) before returning any.

    ``releases`` come from :func:`helm.spec.parse_releases`; ``decrypt(content, fmt, source)`` opens SOPS
    values files in memory (kube_diff's decryptor); ``namespaced(api_version, kind)`` says whether a kind
    is namespaced (from discovery; the CRDs the releases render add their kinds); ``get(url, credentials)``
    replaces the HTTP download in tests.
    """
    rendered, homes = Rendered(), []
    with private_tempdir(prefix="trident-helm-") as helm_home:
        extra = {"get": get} if get is not None else {}
        fetcher = ChartFetcher(cache_dir, runner, helm, credentials, helm_home=helm_home, **extra)
        for release in releases:
            where = f"{env_file}: helm release '{release.name}' (chart {release.chart.label})"
            values = release_values(release, env_path, repo_path, where, decrypt)
            rendered.sensitive |= values.sensitive
            chart_path = fetcher.fetch(release.chart, where, env_path, repo_path)
            for template, obj in render_release(release, chart_path, values, cluster, runner, helm, helm_home, where):
                phases = hook_phases(obj)
                if phases and not phases & KEPT_HOOKS:
                    rendered.skipped_hooks.append(f"{where} {template}")
                    continue
                rendered.objects.append(RenderedObject(f"{where} {template}", obj))
                homes.append(release.namespace)
    # Placed once every release is rendered, so a custom resource of a CRD a chart ships goes where Helm puts it.
    scope = with_crds(namespaced, [item.obj for item in rendered.objects])
    for item, home in zip(rendered.objects, homes):
        place(item.obj, home, scope)
    return rendered
