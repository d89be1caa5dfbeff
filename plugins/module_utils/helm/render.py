"""Rendering an environment's Helm releases into Kubernetes objects with ``helm template``.

This is the one entry point kube_diff's loader calls (:func:`render_releases`): the objects it
returns go through the same validation, diff, ignore rules, ApplySet ownership and prune as plain
manifests. helm only renders here; the release lifecycle (install, upgrade, hooks as phases,
``helm ls``) is not used, the way Argo CD uses helm (docs/helm.md says what that means for
``lookup`` and hooks). The cluster's version and API versions are passed in, so charts that look at
``.Capabilities`` render for the cluster they are applied to.

A release with secret values is rendered twice: with the decrypted values and with a placeholder in place of
each (helm/values.py). Every field in which the two renderings differ, or which holds a placeholder, is reached
by a secret value (copied, encoded, hashed or decided by it) and is masked in every output, before and after
(kube/objects.py). The placeholder rendering holds no secret, so its error messages are the ones shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import has_placeholder, mask_placeholders
from ansible_collections.trident.gitops.plugins.module_utils.helm.charts import ChartFetcher, helm_environment
from ansible_collections.trident.gitops.plugins.module_utils.helm.values import release_values
from ansible_collections.trident.gitops.plugins.module_utils.kube.compare import json_equal
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


@dataclass(frozen=True)
class RenderedObject:
    """One rendered object; ``source`` names env file, release, chart and template for messages; ``masked`` are
    the paths (keys and list indices) of the fields the release's secret values reach."""

    source: str
    obj: dict
    masked: tuple = ()


@dataclass
class Rendered:
    objects: list = field(default_factory=list)
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
    """Run ``helm template`` for one release (the decrypted values go through stdin only); returns
    ``[(template, object, masked paths)]``. With secret values it runs again with placeholders
    (:func:`secret_reach`); an error is then told from that run, since helm's message may quote the values."""
    argv = template_argv(helm, release, chart_path, values, cluster)

    def template(stdin):
        result = runner(argv, env=helm_environment(helm_home), data=stdin, check=False)
        if result.rc != 0:
            reason = (result.stderr or "").strip() or "no error output"
            raise TridentError(f"{where}: helm template failed: {mask_placeholders(reason)[-2000:]}")
        return parse_objects(result.stdout, where)

    if values.shadow_stdin is None:
        return [(path, obj, ()) for path, obj in template(values.stdin)]
    try:
        shadow, refusal = template(values.shadow_stdin), None
    except TridentError as exc:
        shadow, refusal = None, TridentError(mask_placeholders(exc.message))
    try:
        real = template(values.stdin)
    except TridentError:
        if refusal is not None:
            raise refusal from None
        raise TridentError(f"{where}: helm template failed with the decrypted secret values but not with "
                           "placeholders in their place; its message is not shown, since it may quote them") from None
    return secret_reach(real, shadow, where)


def secret_reach(real, shadow, where):
    """``[(template, object, masked paths)]``: each object of the ``real`` rendering with the paths of the fields
    in which the placeholder rendering ``shadow`` differs or holds a placeholder. Without ``shadow`` (the chart
    refuses the placeholders) or a twin in it (an object that exists only with the secret values), every field
    but the object's name is masked. A name or a key made of a secret value is refused."""
    if shadow is None:
        return [(path, obj, everything(obj)) for path, obj in real]
    twins = {}
    for path, obj in shadow:
        if has_placeholder(list(identity(obj))):
            raise TridentError(f"{where}: {path} names an object after a secret value; object names are shown "
                               "everywhere, so they cannot be masked")
        twins[(path, identity(obj))] = obj
    found, matched, alone = [], set(), set()
    for path, obj in real:
        twin = twins.get((path, identity(obj)))
        if twin is None:
            alone.add(path)
            found.append((path, obj, everything(obj)))
            continue
        matched.add((path, identity(obj)))
        try:
            found.append((path, obj, tuple(differing_paths(obj, twin))))
        except ValueError as exc:
            raise TridentError(f"{where}: {path}: {exc}") from None
    if any(path in alone for path, obj in shadow if (path, identity(obj)) not in matched):
        # An object of the same template under another name in each rendering.
        raise TridentError(f"{where}: a name in {sorted(alone)[0]} depends on a secret value (or changes at each "
                           "rendering); object names are shown everywhere, so they cannot be masked")
    return found


def identity(obj):
    """What names an object: apiVersion, kind, namespace and name."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))


def everything(obj):
    """The paths of every field of ``obj`` but what names it."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return tuple([(key,) for key in obj if key not in ("apiVersion", "kind", "metadata")]
                 + [("metadata", key) for key in meta if key not in ("name", "namespace")])


def differing_paths(real, shadow, path=()):
    """The paths at which ``real`` and ``shadow`` differ (a value, a type, a key or list item only ``real`` has)
    or ``shadow`` holds a placeholder; raises ValueError for a mapping key made of a placeholder."""
    if isinstance(real, dict) and isinstance(shadow, dict):
        made = [key for key in shadow if key not in real and has_placeholder(key)]
        if made:
            raise ValueError(f"the key at {_dotted(path)} is made of a secret value; keys are shown, so they "
                             "cannot be masked")
        found = []
        for key, value in real.items():
            found += differing_paths(value, shadow[key], (*path, key)) if key in shadow else [(*path, key)]
        return found
    if isinstance(real, list) and isinstance(shadow, list) and len(real) == len(shadow):
        return [found for index, (left, right) in enumerate(zip(real, shadow))
                for found in differing_paths(left, right, (*path, index))]
    if json_equal(real, shadow) and not has_placeholder(shadow):
        return []
    return [path]


def _dotted(path):
    return ".".join(str(step) for step in path) or "."


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
            chart_path = fetcher.fetch(release.chart, where, env_path, repo_path)
            for template, obj, masked in render_release(release, chart_path, values, cluster, runner, helm,
                                                        helm_home, where):
                phases = hook_phases(obj)
                if phases and not phases & KEPT_HOOKS:
                    rendered.skipped_hooks.append(f"{where} {template}")
                    continue
                rendered.objects.append(RenderedObject(f"{where} {template}", obj, masked))
                homes.append(release.namespace)
    # Placed once every release is rendered, so a custom resource of a CRD a chart ships goes where Helm puts it.
    scope = with_crds(namespaced, [item.obj for item in rendered.objects])
    for item, home in zip(rendered.objects, homes):
        place(item.obj, home, scope)
    return rendered
