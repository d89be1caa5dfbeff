"""kube_diff's ``helm`` option the way users run it: ansible-playbook against the real apiserver. A chart with
values and SOPS values reconciles and a second run changes nothing; a bad chart or bad values fails clearly and
applies nothing; at -vvvv no decrypted value is in the output or anywhere on disk under the run's temp dirs;
and end to end, env.yml's helm_releases reconcile through the inventory, the kubernetes role and the playbook."""

import base64
import json

import pytest

from kube_support import get, namespace, unique
from sops_helpers import encrypt

from testbed import tool
from testbed.ansible import run_playbook
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.sops import sops

SECRET = "Hq7-kube-diff-helm-secret"
TEMPLATES = {
    "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n"
                   "data:\n  mode: {{ .Values.mode | quote }}\n",
    "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-db\n"
                   "data:\n  password: {{ .Values.db.password | b64enc }}\n",
    "cleanup.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-cleanup\n"
                    "  annotations:\n    helm.sh/hook: pre-delete\n",
}


def make_repo(tmp_path, age_key):
    repo = tmp_path / "repo"
    chart = repo / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("mode: slow\ndb: {}\n")
    for name, text in TEMPLATES.items():
        (chart / "templates" / name).write_text(text)
    env = repo / "environments" / "prod"
    (env / "secrets").mkdir(parents=True)
    (env / "values.yaml").write_text("mode: fast\n")
    encrypt(env / "secrets", "web.sops.yaml", f"db:\n  password: {SECRET}\n", "--age", age_key.public)
    return repo, chart, env


def helm_task(control_plane, tmp_path, repo, env, ns, age_key, apply=True, **release):
    release = {"name": "web", "namespace": ns, "chart": {"path": "../../charts/web"},
               "values_files": ["values.yaml"], "secret_values_files": ["secrets/web.sops.yaml"], **release}
    return {"name": "kube_diff", "trident.gitops.kube_diff": {
        "definition": [namespace(ns)], "namespace": ns, "kubeconfig": str(control_plane.kubeconfig),
        "discovery_cache": str(tmp_path / "discovery"), "apply": apply, "prune": True,
        "applyset": {"name": "trident-prod", "namespace": ns},
        "age_key_file": str(age_key.path), "use_environment": False,
        "helm": {"releases": [release], "env_path": str(env), "repo_path": str(repo), "binary": tool("helm"),
                 "chart_cache": str(tmp_path / "charts")}}}


def play(tmp_path, name, task, **kwargs):
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    # Every temp folder of the run (ansible's, the module's, helm's) lands under tmp_path, scanned below.
    run = run_playbook(tmp_path / name, [task], env={"TMPDIR": str(temp)}, **kwargs)
    results = run.task_results()
    assert results, run.stdout + run.stderr
    return run, results[-1]


def leaks(tmp_path, *values):
    found = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [str(path) for value in values if value.encode() in data]
    return found


def test_a_release_reconciles_through_the_helm_option_without_leaking(control_plane, tmp_path, age_key):
    repo, env = make_repo(tmp_path, age_key)[0::2]
    ns = unique("khelm")
    task = helm_task(control_plane, tmp_path, repo, env, ns, age_key)

    run, first = play(tmp_path, "first", task, diff=True, verbosity=4)
    assert run.rc == 0, run.stdout + run.stderr
    assert first["changed"] is True
    assert get(control_plane, "configmap", "web-config", ns)["data"] == {"mode": "fast"}
    secret = get(control_plane, "secret", "web-db", ns)
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET
    assert get(control_plane, "configmap", "web-cleanup", ns) is None, "a delete hook is not applied"
    assert len(first["skipped_hooks"]) == 1 and "templates/cleanup.yaml" in first["skipped_hooks"][0]
    encoded = base64.b64encode(SECRET.encode()).decode()
    assert SECRET not in run.stdout + run.stderr and encoded not in run.stdout + run.stderr

    run, again = play(tmp_path, "again", task, verbosity=4)
    assert run.rc == 0, run.stdout + run.stderr
    assert again["changed"] is False
    assert {d["action"] for d in again["drift"]} == {"none"}
    assert SECRET not in run.stdout + run.stderr
    assert leaks(tmp_path, SECRET, encoded) == []
    assert list((tmp_path / "tmp").glob("trident-helm-*")) == [], "helm's private home is removed"


def test_a_bad_chart_or_bad_values_fail_clearly_and_apply_nothing(control_plane, tmp_path, age_key):
    repo, chart, env = make_repo(tmp_path, age_key)
    (env / "broken.yaml").write_text("mode: [unclosed\n")
    ns = unique("khelmbad")
    bad_values = helm_task(control_plane, tmp_path, repo, env, ns, age_key, values_files=["broken.yaml"])
    run, failed = play(tmp_path, "values", bad_values, verbosity=4)
    assert run.rc != 0 and failed.get("failed") is True
    assert "nothing was sent to the cluster" in failed["msg"] and "helm release 'web'" in failed["msg"]
    assert "broken.yaml" in failed["msg"]
    assert get(control_plane, "namespace", ns) is None, "nothing applied, not even the other objects"

    (chart / "templates" / "bad.yaml").write_text("kind: {{ .Values.mode | nosuchfunction }}\n")
    bad_chart = helm_task(control_plane, tmp_path, repo, env, ns, age_key)
    run, failed = play(tmp_path, "chart", bad_chart, verbosity=4)
    assert run.rc != 0 and failed.get("failed") is True
    assert "helm template failed" in failed["msg"] and "nosuchfunction" in failed["msg"]
    assert get(control_plane, "namespace", ns) is None
    assert SECRET not in run.stdout + run.stderr
    assert leaks(tmp_path, SECRET) == []


@pytest.mark.slow
def test_env_yml_helm_releases_reconcile_through_the_playbook(tmp_path, control_plane, git_server, age_key):
    """End to end: env.yml's helm_releases, the inventory, the kubernetes role and the reconcile playbook."""
    ns = unique("e2ehelm")
    repo = GitOpsRepo(git_server, unique("e2e-helm"), tmp_path / "clone")
    repo.write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    repo.write("charts/web/values.yaml", "mode: slow\ndb: {}\n")
    for name, text in TEMPLATES.items():
        repo.write(f"charts/web/templates/{name}", text)
    repo.write("environments/charts/env.yml", json.dumps({
        "namespace": ns, "prune": True, "helm_releases": [{
            "name": "web", "chart": {"path": "../../charts/web"}, "values_files": ["values.yaml"],
            "secret_values_files": ["secrets/web.sops.yaml"]}]}))
    repo.write("environments/charts/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/charts/yaml/namespace.yaml", json.dumps(namespace(ns)))
    repo.write("environments/charts/values.yaml", "mode: fast\n")
    secret = repo.write("environments/charts/secrets/web.sops.yaml", f"db:\n  password: {SECRET}\n")
    secret.write_bytes(sops("--encrypt", "--age", age_key.public, "--input-type", "yaml", "--output-type", "yaml",
                            str(secret)))
    repo.push("a helm release")
    work = tmp_path / "work"
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")

    def reconcile():
        result = run_gitops("reconcile", inventory, work, extra_vars=isolated_vars(work),
                            env={"SOPS_AGE_KEY_FILE": str(age_key.path)}, args=("-vvvv",))
        assert result.rc == 0, result.explain()
        assert SECRET not in result.stdout + result.stderr
        return result

    first = reconcile()
    assert first.changed_hosts() == ["charts"], first.explain()
    assert get(control_plane, "configmap", "web-config", ns)["data"] == {"mode": "fast"}
    stored = get(control_plane, "secret", "web-db", ns)["data"]["password"]
    assert base64.b64decode(stored).decode() == SECRET
    again = reconcile()
    assert again.changed_hosts() == [], again.stats
