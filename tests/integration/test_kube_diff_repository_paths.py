"""Issue 25: kube_diff and its helm option name the repository's files relative to the repository
(``environments/web/env.yml``), never by the controller folder the repository is kept in.

The repository lies where the controller keeps it (``.cache/trident-gitops/checkouts/<digest>``), given as
``repository_root`` (a copy of a revision has no ``.git``), or found as the Git checkout holding the manifests, or
known only as the helm option's ``repo_path``. Every kind of problem these inputs can cause (generated below: our
own messages, kustomize's and helm's error output, the API server's refusal) and the report of a drifting
environment are searched for that folder.
"""

import json
import os

import pytest

from kube_support import get, unique

from testbed import tool

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

ENV = "environments/web"
CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  mode: {{{{ .Values.mode | quote }}}}\n"


def release(**chart):
    return {"name": "app", "namespace": "default", "chart": chart or {"path": "../../charts/app"}}


# name -> (files {repository path: text}, kube_diff parameters (paths relative to the repository), what the message
# must name). The parameter "releases" becomes the helm option.
CASES = {
    "yaml error": ({f"{ENV}/yaml/bad.yaml": "a: [unclosed\n"}, {"src": [f"{ENV}/yaml"]},
                   f"{ENV}/yaml/bad.yaml: invalid YAML"),
    "missing kind": ({f"{ENV}/yaml/cm.yaml": "apiVersion: v1\nmetadata: {name: x}\n"}, {"src": [f"{ENV}/yaml"]},
                     f"{ENV}/yaml/cm.yaml: missing kind"),
    "unknown kind": ({f"{ENV}/yaml/cm.yaml": "apiVersion: v1\nkind: Gadget\nmetadata: {name: x}\n"},
                     {"src": [f"{ENV}/yaml/cm.yaml"]}, f"{ENV}/yaml/cm.yaml: Gadget x: unknown kind"),
    "no such file": ({}, {"src": [f"{ENV}/yaml/missing.yaml"]}, f"{ENV}/yaml/missing.yaml: no such file"),
    "empty folder": ({f"{ENV}/yaml/README.md": "#\n"}, {"src": [f"{ENV}/yaml"]}, f"{ENV}/yaml: no .yaml"),
    "no match": ({f"{ENV}/yaml/README.md": "#\n"}, {"src": [f"{ENV}/yaml/*.yaml"]},
                 f"{ENV}/yaml/*.yaml: the pattern matches no file"),
    "kustomization as a file": ({f"{ENV}/k/kustomization.yaml": "resources: []\n"},
                                {"src": [f"{ENV}/k/kustomization.yaml"]},
                                f"{ENV}/k/kustomization.yaml: a kustomization, not a manifest"),
    "sops without keys": ({f"{ENV}/yaml/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                                                 "data: {k: ENC}\nsops: {version: 3.8.1}\n"},
                          {"src": [f"{ENV}/yaml"]}, f"{ENV}/yaml/s.yaml: SOPS-encrypted manifest"),
    "server refusal": ({f"{ENV}/yaml/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"
                        "  labels: {bad: 'not a valid label value!'}\n"},
                       {"src": [f"{ENV}/yaml"]}, f"ConfigMap default/ok ({ENV}/yaml/cm.yaml)"),
    "kustomize folder missing": ({}, {"kustomize": f"{ENV}/manifests"}, f"{ENV}/manifests: kustomize directory"),
    "kustomize fails": ({f"{ENV}/manifests/kustomization.yaml": "resources: [bad.yaml]\n",
                         f"{ENV}/manifests/bad.yaml": "apiVersion: v1\nkind: [\n"},
                        {"kustomize": f"{ENV}/manifests"}, f"{ENV}/manifests: kubectl kustomize failed"),
    "kustomize remote": ({f"{ENV}/manifests/kustomization.yaml": "resources: [https://example.invalid/x.yaml]\n"},
                         {"kustomize": f"{ENV}/manifests"}, f"{ENV}/manifests/kustomization.yaml: resources entry"),
    "kustomize helmCharts without helm": (
        {f"{ENV}/manifests/kustomization.yaml": "helmCharts: [{name: app, releaseName: app}]\n"},
        {"kustomize": f"{ENV}/manifests"}, f"{ENV}/manifests: the kustomization declares helmCharts"),
    "helm values error": ({f"{ENV}/broken.yaml": "mode: [unclosed\n"},
                          {"releases": [{**release(), "values_files": ["broken.yaml"]}]},
                          "values_files 'broken.yaml': not valid YAML"),
    "helm chart missing": ({}, {"releases": [release(path="../../charts/none")]},
                           f"{ENV}/env.yml: helm release 'app'"),
    "helm template error": ({"charts/app/templates/bad.yaml": "kind: {{ .Values.mode | nosuchfunction }}\n"},
                            {"releases": [release()]}, f"{ENV}/env.yml: helm release 'app'"),
    "helm release spec": ({}, {"releases": [{"name": "Bad_Name", "chart": {"path": "../../charts/app"}}]},
                          f"{ENV}/env.yml: helm_releases[0]"),
    "helm secret values without keys": ({f"{ENV}/s.sops.yaml": "mode: x\n"},
                                        {"releases": [{**release(), "secret_values_files": ["s.sops.yaml"]}]},
                                        f"{ENV}/env.yml: helm release 'app'"),
    "helm chart outside": ({}, {"releases": [release(path="../../../../outside")]}, f"{ENV}/env.yml"),
}

# How the run knows the repository: the operator's option (no .git: a copy of a revision), the Git checkout
# holding the manifests, or the helm option's repo_path alone (for the cases with releases).
KNOWN_BY = ("repository_root", "git checkout", "helm repo_path")
GENERATED = [(case, known_by) for case in sorted(CASES) for known_by in KNOWN_BY
             if known_by != "helm repo_path" or "releases" in CASES[case][1]]


def repository(tmp_path, files):
    """A repository where the controller keeps checkouts, with a chart, the environment folder and ``files``."""
    root = tmp_path / ".cache" / "trident-gitops" / "checkouts" / ("0f" * 32)
    (tmp_path / "outside").mkdir()
    base = {"charts/app/Chart.yaml": CHART, "charts/app/values.yaml": "mode: slow\n",
            "charts/app/templates/config.yaml": CONFIG.format(name="app-config"),
            "charts/app/templates/cleanup.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-cleanup\n"
                                                 "  annotations: {helm.sh/hook: pre-delete}\n",
            f"{ENV}/env.yml": "{}\n"}
    for path, text in {**base, **files}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def request(control_plane, tmp_path, root, known_by, params):
    """kube_diff's request for ``params`` (repository paths made absolute, as the roles pass them)."""
    params = dict(params)
    if "src" in params:
        params["src"] = [str(root / path) for path in params["src"]]
    if "kustomize" in params:
        params["kustomize"] = str(root / params["kustomize"])
    if "releases" in params:
        params["helm"] = {"releases": params.pop("releases"), "env_path": str(root / ENV), "repo_path": str(root),
                          "binary": tool("helm"), "chart_cache": str(tmp_path / "charts")}
    if known_by == "repository_root":
        params["repository_root"] = str(root)
    elif known_by == "git checkout":
        (root / ".git").mkdir(exist_ok=True)
    base = {"kubeconfig": str(control_plane.kubeconfig), "discovery_cache": str(tmp_path / "discovery"),
            "namespace": "default"}
    return validated_request({**base, **params})


def controller_folders(tmp_path, root):
    return {str(root), os.path.realpath(root), str(tmp_path), ".cache/trident-gitops/checkouts"}


@pytest.mark.parametrize("case, known_by", GENERATED)
def test_every_message_names_repository_files_relative_to_the_repository(control_plane, tmp_path, case, known_by):
    files, params, named = CASES[case]
    root = repository(tmp_path, files)
    with pytest.raises(TridentError) as failed:
        run(request(control_plane, tmp_path, root, known_by, params), check_mode=True, runner=CommandRunner())
    text = failed.value.message + json.dumps(failed.value.details)
    assert named in text, text
    for folder in controller_folders(tmp_path, root):
        assert folder not in text, f"{case}: {text}"


@pytest.mark.parametrize("known_by", ["repository_root", "git checkout"])
def test_a_drifting_environment_reports_repository_paths(control_plane, tmp_path, known_by):
    name = unique("paths")
    root = repository(tmp_path, {f"{ENV}/values.yaml": "mode: fast\n",
                                 f"{ENV}/yaml/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
                                                        "data: {k: v}\n"})
    params = {"src": [f"{ENV}/yaml"], "releases": [{**release(), "values_files": ["values.yaml"]}]}
    result = run(request(control_plane, tmp_path, root, known_by, params), check_mode=True, diff_mode=True,
                 runner=CommandRunner())
    assert result["changed"] is True
    assert result["skipped_hooks"] == [f"{ENV}/env.yml: helm release 'app' (chart path ../../charts/app) "
                                       "app/templates/cleanup.yaml"]
    text = json.dumps(result)
    for folder in controller_folders(tmp_path, root):
        assert folder not in text
    assert get(control_plane, "configmap", name, "default") is None


def test_src_outside_repository_root_is_refused_before_anything_is_read(control_plane, tmp_path):
    root = repository(tmp_path, {})
    (tmp_path / "outside" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\n")
    (root / ENV / "yaml").symlink_to(tmp_path / "outside")
    for params in ({"src": [f"{ENV}/yaml"]}, {"src": [f"{ENV}/yaml/*.yaml"]}, {"src": ["../../../../outside"]},
                   {"kustomize": f"{ENV}/yaml"}):
        with pytest.raises(TridentError) as failed:
            run(request(control_plane, tmp_path, root, "repository_root", params), check_mode=True,
                runner=CommandRunner())
        assert "outside the repository" in failed.value.message and "stolen" not in failed.value.message
        assert "nothing was sent to the cluster" in failed.value.message
