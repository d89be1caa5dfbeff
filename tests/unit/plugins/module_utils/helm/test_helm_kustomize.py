"""kustomize helmCharts as releases: kustomize's field names mapped to env.yml's, values merged the way
valuesMerge says, and what the collection refuses (floating versions, generated names, paths that leave the
repository, SOPS values) refused before anything is fetched. The build runs with fakes: the real helm and
kubectl are in tests/integration/test_helm_kustomize.py."""

import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandResult
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm import kustomize
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import Rendered, RenderedObject

REPO = "https://charts.example.com/stable"


@pytest.fixture
def checkout(tmp_path):
    folder = tmp_path / "repo" / "envs" / "prod"
    (folder / "base").mkdir(parents=True)
    (folder / "values.yaml").write_text("mode: fast\nnested: {a: 1, b: 2}\n")
    (folder / "more.yaml").write_text("nested: {b: 3}\n")
    (folder / "base" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (folder / "base" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\n")
    return tmp_path / "repo", folder


def releases(checkout, *entries, namespace="apps"):
    root, folder = checkout
    data = {"helmCharts": list(entries)}
    return kustomize.kustomization_releases(str(folder), str(folder / "kustomization.yaml"), data, str(root),
                                            namespace)


def test_sources_names_and_flags_map_to_releases(checkout):
    web, api, local = releases(checkout,
                               {"name": "web", "repo": REPO + "/", "version": "1.2.3", "releaseName": "web",
                                "includeCRDs": True},
                               {"name": "api", "repo": "oci://registry.example.com/charts", "version": "2.0.0",
                                "releaseName": "api", "namespace": "api", "skipHooks": True},
                               {"name": "local", "releaseName": "local"})
    assert (web.chart.kind, web.chart.location, web.chart.name, web.chart.version) == ("repo", REPO + "/", "web",
                                                                                       "1.2.3")
    assert (web.namespace, web.include_crds, web.skip_hooks) == ("apps", True, False)
    assert (api.chart.kind, api.chart.location) == ("oci", "oci://registry.example.com/charts/api")
    assert (api.namespace, api.include_crds, api.skip_hooks) == ("api", False, True)
    assert (local.chart.kind, local.chart.location) == ("path", os.path.join("charts", "local"))


@pytest.mark.parametrize(("mode", "expected"), [
    ("override", {"mode": "inline", "nested": {"a": 1, "b": 3}, "extra": True}),
    ("merge", {"mode": "fast", "nested": {"a": 1, "b": 3}, "extra": True}),
    ("replace", {"mode": "inline", "nested": {"b": 3}, "extra": True}),
])
def test_values_inline_merges_as_values_merge_says_then_additional_files(checkout, mode, expected):
    (release,) = releases(checkout, {"name": "web", "repo": REPO, "version": "1.0.0", "releaseName": "web",
                                     "valuesFile": "values.yaml", "valuesInline": {"mode": "inline", "extra": True},
                                     "valuesMerge": mode, "additionalValuesFiles": ["more.yaml"]})
    assert release.values == expected and release.values_files == ()


def test_without_inline_values_helm_reads_the_files_in_order(checkout):
    (release,) = releases(checkout, {"name": "web", "repo": REPO, "version": "1.0.0", "releaseName": "web",
                                     "valuesFile": "values.yaml", "additionalValuesFiles": ["more.yaml"]})
    assert release.values_files == ("values.yaml", "more.yaml") and release.values == {}


@pytest.mark.parametrize(("entry", "expected"), [
    ({"version": ">=1.0.0"}, "chart 'version' must be an exact version"),
    ({"version": None}, "chart 'version' must be a non-empty string"),
    ({"releaseName": None}, "'releaseName' is required"),
    ({"devel": True}, "helmCharts key(s) devel are not supported"),
    ({"kubeVersion": "1.30"}, "helmCharts key(s) kubeVersion are not supported"),
    ({"repo": "https://user:pw@charts.example.com"}, "must not hold credentials"),
    ({"valuesFile": "https://example.com/values.yaml"}, "must be a path in the repository"),
    ({"valuesFile": "secrets/web.sops.yaml"}, "secret values belong in env.yml helm_releases"),
    ({"valuesFile": "../../../outside.yaml", "valuesInline": {"a": 1}}, "leads outside the repository"),
    ({"valuesInline": {"a": 1}, "valuesMerge": "deep"}, "'valuesMerge' override, merge or replace"),
    ({"name": "../web"}, "'name' must be a chart name"),
])
def test_what_is_refused_before_anything_is_fetched(checkout, tmp_path, entry, expected):
    (tmp_path / "outside.yaml").write_text("a: 1\n")
    base = {"name": "web", "repo": REPO, "version": "1.0.0", "releaseName": "web"}
    with pytest.raises(TridentError) as caught:
        releases(checkout, {key: value for key, value in {**base, **entry}.items() if value is not None})
    assert expected in caught.value.message
    assert "helmCharts[0]" in caught.value.message


def test_helm_globals_are_refused(checkout):
    root, folder = checkout
    with pytest.raises(TridentError, match="helmGlobals"):
        kustomize.kustomization_releases(str(folder), "k.yaml", {"helmGlobals": {"chartHome": "/tmp"},
                                                                 "helmCharts": []}, str(root), "apps")


def test_build_renders_in_a_private_copy_and_leaves_the_checkout_alone(checkout):
    root, folder = checkout
    (folder / "kustomization.yaml").write_text("namePrefix: p-\nresources: [base]\nhelmCharts:\n"
                                               f"- {{name: web, repo: '{REPO}', version: 1.0.0, releaseName: web}}\n")
    before = sorted(p.name for p in folder.rglob("*"))
    seen = {}

    def render(found, where_folder, path):
        seen["releases"] = found
        return Rendered(objects=[RenderedObject("t", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "web"}})])

    def runner(argv, check=True):
        copy = argv[-1]
        seen["kustomization"] = open(os.path.join(copy, "kustomization.yaml"), encoding="utf-8").read()
        seen["rendered"] = open(os.path.join(copy, kustomize.RENDERED_FILE), encoding="utf-8").read()
        seen["base"] = os.path.isfile(os.path.join(copy, "base", "cm.yaml"))
        return CommandResult(tuple(argv), 0, "built", "")

    text, rendered = kustomize.build(str(folder), str(root), render, runner, "kubectl", "apps")
    assert text == "built" and [r.name for r in seen["releases"]] == ["web"]
    assert "helmCharts" not in seen["kustomization"] and kustomize.RENDERED_FILE in seen["kustomization"]
    assert "name: web" in seen["rendered"] and seen["base"]
    assert sorted(p.name for p in folder.rglob("*")) == before
    assert kustomize.has_helm_charts(str(folder), str(root))
    assert not kustomize.has_helm_charts(str(folder / "base"), str(root))


def test_a_base_outside_the_repository_is_refused(checkout, tmp_path):
    root, folder = checkout
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "kustomization.yaml").write_text("helmCharts: []\n")
    (folder / "kustomization.yaml").write_text("resources: [../../../elsewhere]\n")
    with pytest.raises(TridentError, match="leads outside the repository"):
        kustomize.local_kustomizations(str(folder), kustomize.Sandbox(str(root)))
    assert not kustomize.has_helm_charts(str(folder), str(root)), "kustomize's own build reports it"
