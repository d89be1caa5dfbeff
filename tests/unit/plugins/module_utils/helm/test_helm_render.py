"""helm template's command line, its output turned into objects, and errors that hide values."""

import json

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import (
    Cluster,
    cluster_capabilities,
    render_releases,
)
from ansible_collections.trident.gitops.plugins.module_utils.helm.service import render_from_params
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import HELM_OPTION
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases

OUTPUT = """---
# Source: web/crds/crontab.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.example.com}
---
# Source: web/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
data: {mode: fast, on: "yes", 2: two, released: 2024-05-01}
---
# Source: web/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: web-two, namespace: other}
---
# Source: web/templates/migrate.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {helm.sh/hook: "pre-install,pre-upgrade"}
---
# Source: web/templates/cleanup.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: cleanup
  annotations: {helm.sh/hook: pre-delete}
"""
CLUSTER = Cluster("v1.35.4", ("apps/v1", "apps/v1/Deployment", "v1"))


@pytest.fixture
def env(tmp_path):
    chart = tmp_path / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    env = tmp_path / "environments" / "prod"
    env.mkdir(parents=True)
    (env / "values.yaml").write_text("mode: fast\n")
    (env / "web.sops.yaml").write_text("encrypted\n")
    return env


def releases(**extra):
    return parse_releases([{"name": "web", "namespace": "web", "chart": {"path": "../../charts/web"}, **extra}],
                          "env.yml")


def render(env, runner, **extra):
    return render_releases(releases(**extra), "env.yml", str(env), str(env.parent.parent), CLUSTER, runner,
                           helm="/opt/helm", cache_dir=str(env / "cache"),
                           decrypt=lambda content, fmt, source: [{"db": {"password": "hunter2-secret"}}],
                           namespaced=lambda api_version, kind: kind != "CustomResourceDefinition")


def test_objects_sources_hooks_and_namespaces(env, fake_runner):
    runner = fake_runner(lambda argv, data: (0, OUTPUT, ""))
    rendered = render(env, runner, values_files=["values.yaml"], values={"replicas": 2},
                      secret_values_files=["web.sops.yaml"])
    argv, helm_env, data = runner.calls[0]
    assert argv[:4] == ["/opt/helm", "template", "web", str((env.parent.parent / "charts" / "web").resolve())]
    assert argv[4:] == ["--namespace", "web", "--include-crds", "--skip-tests", "--kube-version", "v1.35.4",
                        "--api-versions", "apps/v1,apps/v1/Deployment,v1",
                        "--values", str((env / "values.yaml").resolve()), "--values", "-"]
    assert json.loads(data) == {"db": {"password": "hunter2-secret"}, "replicas": 2}
    assert set(helm_env) >= {"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"}
    kinds = [(o.obj["kind"], o.obj["metadata"]["name"], o.obj["metadata"].get("namespace")) for o in rendered.objects]
    assert kinds == [("CustomResourceDefinition", "crontabs.example.com", None), ("ConfigMap", "web", "web"),
                     ("ConfigMap", "web-two", "other"), ("Job", "migrate", "web")]
    assert rendered.objects[1].source == "env.yml: helm release 'web' (chart path ../../charts/web) " \
                                         "web/templates/config.yaml"
    assert rendered.skipped_hooks == ["env.yml: helm release 'web' (chart path ../../charts/web) "
                                      "web/templates/cleanup.yaml"]
    assert rendered.sensitive == {"hunter2-secret"}
    # Read as helm and kubectl read it (sigs.k8s.io/yaml): YAML 1.1 keys become strings, dates stay text.
    assert rendered.objects[1].obj["data"] == {"mode": "fast", "true": "yes", "2": "two", "released": "2024-05-01"}


def test_helm_errors_name_release_and_chart_but_never_values(env, fake_runner):
    runner = fake_runner(lambda argv, data: (1, "", "Error: execution error at (web/templates/x.yaml:3:4): "
                                                    "password hunter2-secret is too short\n"))
    with pytest.raises(TridentError) as caught:
        render(env, runner, secret_values_files=["web.sops.yaml"])
    message = caught.value.message
    assert message.startswith("env.yml: helm release 'web' (chart path ../../charts/web): helm template failed: ")
    assert "web/templates/x.yaml:3:4" in message and "hunter2" not in message


@pytest.mark.parametrize(("output", "expected"), [
    ("---\n# Source: web/templates/bad.yaml\nkey: [hunter2-secret\n", "web/templates/bad.yaml did not render to valid"),
    ("---\n# Source: web/templates/list.yaml\n- hunter2-secret\n", "web/templates/list.yaml rendered a document that"),
    ("---\n# Source: web/templates/nokind.yaml\napiVersion: v1\n", "nokind.yaml rendered a document that is not"),
])
def test_output_that_is_not_objects_fails_without_content(env, fake_runner, output, expected):
    with pytest.raises(TridentError, match=expected) as caught:
        render(env, fake_runner(lambda argv, data: (0, output, "")))
    assert "hunter2" not in caught.value.message


def test_a_folder_without_chart_yaml_is_not_a_chart(env, fake_runner):
    (env.parent.parent / "charts" / "web" / "Chart.yaml").unlink()
    with pytest.raises(TridentError, match="is not a chart folder"):
        render(env, fake_runner(lambda argv, data: (0, "", "")))


def test_cluster_capabilities_list_versions_and_kinds():
    cluster = cluster_capabilities("v1.35.4", [("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("apps/v1", "StatefulSet")])
    assert cluster == Cluster("v1.35.4", ("apps/v1", "apps/v1/Deployment", "apps/v1/StatefulSet", "v1",
                                          "v1/ConfigMap"))


def test_the_module_option_maps_to_a_rendering(env, fake_runner):
    runner = fake_runner(lambda argv, data: (0, OUTPUT, ""))
    option = {"releases": [{"name": "web", "chart": {"path": "../../charts/web"}}], "env_path": str(env),
              "repo_path": str(env.parent.parent), "binary": "/opt/helm", "chart_cache": str(env / "cache"),
              "repositories": [{"url": "https://x", "username": "u", "password": "p", "ca_file": ""}]}
    rendered = render_from_params(option, "apps", "v1.30.0", [("v1", "ConfigMap")], runner)
    argv = runner.calls[0][0]
    assert argv[:3] == ["/opt/helm", "template", "web"]
    assert argv[argv.index("--namespace") + 1] == "apps"
    assert argv[argv.index("--api-versions") + 1] == "v1,v1/ConfigMap"
    # env.yml is named as the repository names it, never by the controller's path.
    assert rendered.objects[0].source.startswith("environments/prod/env.yml: helm release 'web'")
    assert HELM_OPTION["options"]["repositories"]["options"]["password"]["no_log"] is True
