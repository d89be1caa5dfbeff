"""helm template's command line, its output turned into objects, the fields secret values reach (masked), and
errors that never show a secret value."""

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
    # Rendered twice: with placeholders for the secret values, then with them.
    assert len(runner.calls) == 2 and "hunter2" not in runner.calls[0][2]
    argv, helm_env, data = runner.calls[1]
    assert argv[:4] == ["/opt/helm", "template", "web", str((env.parent.parent / "charts" / "web").resolve())]
    assert argv[4:] == ["--namespace", "web", "--include-crds", "--skip-tests", "--kube-version", "v1.35.4",
                        "--api-versions", "apps/v1,apps/v1/Deployment,v1",
                        "--values", "-"]
    assert json.loads(data) == {"mode": "fast", "db": {"password": "hunter2-secret"}, "replicas": 2}
    assert set(helm_env) >= {"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"}
    kinds = [(o.obj["kind"], o.obj["metadata"]["name"], o.obj["metadata"].get("namespace")) for o in rendered.objects]
    assert kinds == [("CustomResourceDefinition", "crontabs.example.com", None), ("ConfigMap", "web", "web"),
                     ("ConfigMap", "web-two", "other"), ("Job", "migrate", "web")]
    assert rendered.objects[1].source == "env.yml: helm release 'web' (chart path ../../charts/web) " \
                                         "web/templates/config.yaml"
    assert rendered.skipped_hooks == ["env.yml: helm release 'web' (chart path ../../charts/web) "
                                      "web/templates/cleanup.yaml"]
    assert all(o.masked == () for o in rendered.objects), "no field differs between the two renderings"
    # Read as helm and kubectl read it (sigs.k8s.io/yaml): YAML 1.1 keys become strings, dates stay text.
    assert rendered.objects[1].obj["data"] == {"mode": "fast", "true": "yes", "2": "two", "released": "2024-05-01"}


def password(data):
    return json.loads(data)["db"]["password"]


COPIED = """---
# Source: web/templates/config.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, labels: {{app: web}}}}
spec:
  template:
    spec:
      containers:
      - name: web
        image: web:1
        env:
        - {{name: MODE, value: fast}}
        - {{name: DB_URL, value: "postgres://app:{0}@db/app"}}
        args: [--verbose, "--password={0}"]
---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata: {{name: web, annotations: {{checksum: "{1}"}}}}
data: {{password: "{0}"}}
"""


def test_the_fields_secret_values_reach_are_masked_and_nothing_else(env, fake_runner):
    def template(argv, data):
        secret = password(data)
        return 0, COPIED.format(secret, len(secret) * 7), ""

    rendered = render(env, fake_runner(template), secret_values_files=["web.sops.yaml"])
    deployment, secret = rendered.objects
    env_path = ("spec", "template", "spec", "containers", 0, "env", 1, "value")
    args_path = ("spec", "template", "spec", "containers", 0, "args", 1)
    assert sorted(deployment.masked) == sorted([args_path, env_path])
    # A copy, an encoding, a hash (here a length): whatever the secret decides is masked, the name never.
    assert sorted(secret.masked) == [("data", "password"), ("metadata", "annotations", "checksum")]


def test_helm_errors_come_from_the_placeholder_rendering_and_never_show_values(env, fake_runner):
    runner = fake_runner(lambda argv, data: (1, "", "Error: execution error at (web/templates/x.yaml:3:4): "
                                                    f"password {password(data)} is too short\n"))
    with pytest.raises(TridentError) as caught:
        render(env, runner, secret_values_files=["web.sops.yaml"])
    message = caught.value.message
    assert message.startswith("env.yml: helm release 'web' (chart path ../../charts/web): helm template failed: ")
    assert "web/templates/x.yaml:3:4" in message and "password <masked> is too short" in message
    assert "hunter2" not in message


def test_an_error_only_the_secret_values_cause_is_not_shown(env, fake_runner):
    def template(argv, data):
        secret = password(data)
        return (1, "", f"Error: {secret} is not allowed\n") if secret.startswith("hunter") else (0, OUTPUT, "")

    with pytest.raises(TridentError) as caught:
        render(env, fake_runner(template), secret_values_files=["web.sops.yaml"])
    assert "failed with the decrypted secret values but not with placeholders" in caught.value.message
    assert "hunter2" not in caught.value.message


def test_a_chart_that_refuses_placeholders_has_every_field_masked(env, fake_runner):
    def template(argv, data):
        return (0, COPIED.format(password(data), 1), "") if password(data).startswith("hunter") else \
            (1, "", "Error: password must start with hunter\n")

    deployment, secret = render(env, fake_runner(template), secret_values_files=["web.sops.yaml"]).objects
    assert sorted(deployment.masked) == [("metadata", "labels"), ("spec",)]
    assert sorted(secret.masked) == [("data",), ("metadata", "annotations")]


def test_a_name_or_key_made_of_a_secret_value_is_refused(env, fake_runner):
    named = "---\n# Source: web/templates/n.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{0}}}\n"
    keyed = "---\n# Source: web/templates/k.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\n" \
            "data: {{k{0}: v}}\n"
    for text, expected in ((named, "names an object after a secret value"), (keyed, "is made of a secret value")):
        with pytest.raises(TridentError, match=expected) as caught:
            render(env, fake_runner(lambda argv, data, text=text: (0, text.format(password(data)), "")),
                   secret_values_files=["web.sops.yaml"])
        assert "hunter2" not in caught.value.message


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
