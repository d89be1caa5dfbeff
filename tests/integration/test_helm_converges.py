"""Issue 25, with the real helm and a real kube-apiserver: Helm releases converge.

A chart that ships a CustomResourceDefinition and a custom resource of it puts the resource in the release's
namespace on the first run, as Helm does (not in the environment's namespace, to be created again in the
release's on the next run). A pre-upgrade hook Job whose image a chart update changes is created anew, as
``helm upgrade`` does by its delete policy, instead of failing the environment with "field is immutable"; a hook
whose policy keeps the live one fails saying so, and nothing is applied.
"""

import pytest

from kube_support import get, namespace, unique

from testbed import tool

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {{type: object, properties: {{size: {{type: integer}}}}}}
"""
WIDGET = """apiVersion: {group}/v1
kind: Widget
metadata:
  name: {{{{ .Release.Name }}}}-widget
spec:
  size: {{{{ .Values.size }}}}
"""
HOOK_JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    {{- with .Values.policy }}
    helm.sh/hook-delete-policy: {{ . }}
    {{- end }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {{ .Values.image }}
          command: ["migrate"]
"""
HOOK_CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook-settings
  annotations:
    helm.sh/hook: pre-upgrade
data:
  image: {{ .Values.image | quote }}
"""
APP_CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  size: {{ .Values.size | quote }}
"""


def chart(repo, files):
    folder = repo / "charts" / "app"
    for name, text in {"Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n", **files}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    env = repo / "environments" / "web"
    env.mkdir(parents=True, exist_ok=True)
    return env


def reconcile(control_plane, tmp_path, repo, env, web, apps, check_mode=False, **values):
    """kube_diff with the helm option: the environment's namespace ``web``, the release's ``apps``."""
    release = {"name": "app", "namespace": apps, "chart": {"path": "../../charts/app"}, "values": values}
    request = validated_request({
        "kubeconfig": str(control_plane.kubeconfig), "discovery_cache": str(tmp_path / "discovery"),
        "definition": [namespace(web), namespace(apps)], "namespace": web, "apply": not check_mode, "prune": True,
        "applyset": {"name": "trident-web", "namespace": web},
        "helm": {"releases": [release], "env_path": str(env), "repo_path": str(repo), "binary": tool("helm"),
                 "chart_cache": str(tmp_path / "charts")}})
    return run(request, check_mode=check_mode, runner=CommandRunner())


def drifted(result):
    return {(d["kind"], d["namespace"], d["name"]): d for d in result["drift"] if d["action"] != "none"}


@pytest.fixture()
def spaces():
    web = unique("hweb")
    return web, f"{web}-apps"


def test_a_custom_resource_of_a_chart_crd_lands_in_the_release_namespace_on_the_first_run(control_plane, tmp_path,
                                                                                          spaces):
    web, apps = spaces
    group = f"{unique('w')}.trident.example"
    repo = tmp_path / "repo"
    env = chart(repo, {"crds/widgets.yaml": CRD.format(group=group),
                       "templates/widget.yaml": WIDGET.format(group=group), "templates/config.yaml": APP_CONFIG})
    first = reconcile(control_plane, tmp_path, repo, env, web, apps, size=3)
    assert first["changed"] is True
    assert get(control_plane, f"widgets.{group}", "app-widget", apps)["spec"] == {"size": 3}
    assert get(control_plane, f"widgets.{group}", "app-widget", web) is None
    assert get(control_plane, "configmap", "app-settings", apps) is not None, "as helm install places it"

    for check_mode in (True, False):
        again = reconcile(control_plane, tmp_path, repo, env, web, apps, check_mode=check_mode, size=3)
        assert again["changed"] is False and drifted(again) == {}, drifted(again)
    assert get(control_plane, f"widgets.{group}", "app-widget", web) is None, "no second copy, no orphan"


def test_a_hook_job_whose_image_changes_is_created_anew_as_helm_upgrade_does(control_plane, tmp_path, spaces):
    web, apps = spaces
    repo = tmp_path / "repo"
    env = chart(repo, {"templates/migrate.yaml": HOOK_JOB, "templates/hook-config.yaml": HOOK_CONFIG,
                       "templates/config.yaml": APP_CONFIG})
    reconcile(control_plane, tmp_path, repo, env, web, apps, image="migrate:1.0", size=1)
    before = get(control_plane, "job", "app-migrate", apps)
    hook_config = get(control_plane, "configmap", "app-hook-settings", apps)

    preview = reconcile(control_plane, tmp_path, repo, env, web, apps, check_mode=True, image="migrate:1.1", size=1)
    found = drifted(preview)
    assert set(found) == {("Job", apps, "app-migrate"), ("ConfigMap", apps, "app-hook-settings")}
    job = found[("Job", apps, "app-migrate")]
    assert job["action"] == "replace" and "before-hook-creation" in job["reason"], job
    assert "spec.template.spec.containers[name=migrate].image" in job["fields"]
    assert found[("ConfigMap", apps, "app-hook-settings")]["action"] == "replace"
    assert preview["summary"]["replace"] == 2 and preview["changed"] is True
    assert get(control_plane, "job", "app-migrate", apps)["metadata"]["uid"] == before["metadata"]["uid"], \
        "check mode replaces nothing"

    applied = reconcile(control_plane, tmp_path, repo, env, web, apps, image="migrate:1.1", size=1)
    assert {d["action"] for d in drifted(applied).values()} == {"replace"}
    after = get(control_plane, "job", "app-migrate", apps)
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "migrate:1.1"
    assert get(control_plane, "configmap", "app-hook-settings", apps)["metadata"]["uid"] != \
        hook_config["metadata"]["uid"]
    settled = reconcile(control_plane, tmp_path, repo, env, web, apps, check_mode=True, image="migrate:1.1", size=1)
    assert drifted(settled) == {} and settled["changed"] is False


def test_a_hook_whose_delete_policy_keeps_it_fails_saying_so_and_applies_nothing(control_plane, tmp_path, spaces):
    web, apps = spaces
    repo = tmp_path / "repo"
    env = chart(repo, {"templates/migrate.yaml": HOOK_JOB, "templates/config.yaml": APP_CONFIG})
    reconcile(control_plane, tmp_path, repo, env, web, apps, image="migrate:1.0", size=1, policy="hook-succeeded")
    uid = get(control_plane, "job", "app-migrate", apps)["metadata"]["uid"]
    # No controller runs the Job here: it never succeeded, so Helm would not have deleted it.
    with pytest.raises(TridentError) as failed:
        reconcile(control_plane, tmp_path, repo, env, web, apps, image="migrate:1.1", size=2,
                  policy="hook-succeeded")
    assert "Job.batch" in failed.value.message and "immutable" in failed.value.message
    assert "before-hook-creation" in failed.value.message and "nothing was changed" in failed.value.message
    assert get(control_plane, "job", "app-migrate", apps)["metadata"]["uid"] == uid
    assert get(control_plane, "configmap", "app-settings", apps)["data"] == {"size": "1"}, "nothing applied"
