"""Rendered releases through kube_diff's engine (as ``definition``) on a real kube-apiserver (the ``helm``
option itself, through ansible-playbook, is test_helm_kube_diff.py): reconcile, a second run changes nothing,
drift from Git and from another manager object by object, a chart version bump, and a value removed from Git
pruning the object it rendered."""

import json

import pytest

from kube_support import actions, fields, get, kube_diff, kubectl, namespace, unique
from sops_helpers import encrypt

from testbed import tool

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.helm.render import Cluster, render_releases
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import document_decryptor

SECRET = "Kd9-helm-secret-value"
LABELS = """  labels:
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
"""
TEMPLATES = {
    "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n" + LABELS
                   + "data:\n  mode: {{ .Values.mode | quote }}\n",
    "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-db\n" + LABELS
                   + "data:\n  password: {{ .Values.db.password | b64enc }}\n",
    "extra.yaml": "{{- if .Values.extra }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-extra\n"
                  + LABELS + "data: {on: \"yes\"}\n{{- end }}\n",
}


@pytest.fixture
def environment(tmp_path, age_key):
    chart = tmp_path / "repo" / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("mode: slow\nextra: false\ndb: {}\n")
    for name, text in TEMPLATES.items():
        (chart / "templates" / name).write_text(text)
    env = tmp_path / "repo" / "environments" / "prod"
    (env / "secrets").mkdir(parents=True)
    (env / "values.yaml").write_text("mode: fast\nextra: true\n")
    encrypt(env / "secrets", "web.sops.yaml", f"db:\n  password: {SECRET}\n", "--age", age_key.public)
    return chart, env


def reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=False):
    releases = parse_releases([{"name": "web", "namespace": ns, "chart": {"path": "../../charts/web"},
                                "values_files": ["values.yaml"], "secret_values_files": ["secrets/web.sops.yaml"]}],
                              "env.yml")
    rendered = render_releases(releases, "env.yml", str(env), str(env.parent.parent), Cluster("v1.35.4"),
                               CommandRunner(), tool("helm"), str(tmp_path / "charts"),
                               decrypt=document_decryptor({"age_key_file": str(age_key.path),
                                                           "use_environment": False}),
                               namespaced=lambda api_version, kind: kind != "Namespace")
    objects = [namespace(ns)] + [o.obj for o in rendered.objects]
    return kube_diff(control_plane, tmp_path, objects, check_mode=check_mode, apply=not check_mode, prune=True,
                     applyset={"name": "trident-prod", "namespace": ns}, namespace=ns, diff=True)


def drifted(result):
    return {key: action for key, action in actions(result).items() if action != "none"}


def test_a_release_reconciles_reports_drift_and_prunes(control_plane, tmp_path, environment, age_key):
    chart, env = environment
    ns = unique("helm")
    first = reconcile(control_plane, tmp_path, env, ns, age_key)
    assert first["changed"] is True
    # `on:` is a YAML 1.1 boolean key: stored as "true", as helm install would, and in sync on the next run.
    assert get(control_plane, "configmap", "web-extra", ns)["data"] == {"true": "yes"}
    assert reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=True)["changed"] is False
    assert SECRET not in json.dumps(first)

    (env / "values.yaml").write_text("mode: faster\nextra: true\n")
    from_git = reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=True)
    assert drifted(from_git) == {("ConfigMap", "web-config"): "update"}
    assert fields(from_git, "ConfigMap", "web-config") == ["data.mode"]
    reconcile(control_plane, tmp_path, env, ns, age_key)

    kubectl(control_plane, "-n", ns, "patch", "configmap", "web-config", "--type=merge", "-p",
            '{"data": {"mode": "live-edit"}}', "--field-manager=someone-else")
    live = reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=True)
    assert drifted(live) == {("ConfigMap", "web-config"): "update"}
    reconcile(control_plane, tmp_path, env, ns, age_key)
    assert get(control_plane, "configmap", "web-config", ns)["data"]["mode"] == "faster"

    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.2.0\n")
    bump = reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=True)
    assert drifted(bump) == {("ConfigMap", "web-config"): "update", ("Secret", "web-db"): "update",
                             ("ConfigMap", "web-extra"): "update"}

    (env / "values.yaml").write_text("mode: faster\n")
    pruned = reconcile(control_plane, tmp_path, env, ns, age_key)
    assert actions(pruned)[("ConfigMap", "web-extra")] == "delete"
    assert get(control_plane, "configmap", "web-extra", ns) is None
    assert get(control_plane, "secret", "web-db", ns)["metadata"]["labels"]["helm.sh/chart"] == "web-0.2.0"
    assert reconcile(control_plane, tmp_path, env, ns, age_key, check_mode=True)["changed"] is False
    assert SECRET not in json.dumps(pruned)
