"""A kustomization with ``helmCharts`` through kube_diff with the real helm 4, kubectl kustomize, apiserver, an
HTTPS chart repository with basic auth and an OCI registry: the charts are fetched and verified by the collection,
rendered by helm, built by kustomize (its prefix and namespace apply), then reconciled by the engine. A second run
changes nothing, a version bump is drift, a chart whose bytes do not match the index digest is refused with
nothing applied, and nothing is ever written into the checkout. What is refused before anything is fetched
(floating versions, generated names, paths leaving the repository, SOPS values) is unit-tested
(tests/unit/plugins/module_utils/helm/test_helm_kustomize.py)."""

import hashlib

import pytest

from kube_support import get, namespace, unique

from testbed import tool
from testbed.ansible import run_playbook
from testbed.chartrepo import ChartRepository, OCIRegistry
from test_helm_render import TEMPLATES

CONFIG = TEMPLATES["config.yaml"] + "  chart: {{ .Chart.Version | quote }}\n"


def write_chart(folder, version, mode="slow"):
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: web\nversion: {version}\n")
    (folder / "values.yaml").write_text(f"mode: {mode}\nreplicas: 1\n")
    (folder / "templates" / "config.yaml").write_text(CONFIG)
    return folder


@pytest.fixture(scope="module")
def charts(tmp_path_factory):
    """web 0.1.0, 0.2.0 and 0.3.0 in the repository, 0.3.0's package replaced after indexing; web 1.0.0 by OCI."""
    with ChartRepository(tmp_path_factory.mktemp("repo")) as repo, \
            OCIRegistry(tmp_path_factory.mktemp("oci")) as registry:
        source = tmp_path_factory.mktemp("sources")
        for version in ("0.1.0", "0.2.0", "0.3.0"):
            repo.add(write_chart(source / version / "web", version))
        tampered = repo.root / "web-0.3.0.tgz"
        tampered.write_bytes((repo.root / "web-0.2.0.tgz").read_bytes())
        registry.push(write_chart(source / "oci" / "web", "1.0.0", mode="oci"))
        yield repo, registry


def write_checkout(root, repo, registry, version="0.1.0"):
    manifests = root / "environments" / "prod" / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    (manifests / "values.yaml").write_text("mode: fast\n")
    (manifests / "kustomization.yaml").write_text(f"""namePrefix: prod-
helmCharts:
- name: web
  repo: {repo.url}
  version: {version}
  releaseName: web
  valuesFile: values.yaml
  valuesInline: {{replicas: 3}}
- name: web
  repo: oci://{registry.host}/charts
  version: 1.0.0
  releaseName: api
""")
    return manifests


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in root.rglob("*")}


def reconcile(control_plane, tmp_path, name, root, manifests, ns, charts, apply=True):
    repo, registry = charts
    credentials = [{"url": repo.url, "username": repo.username, "password": repo.password,
                    "ca_file": str(repo.ca_file)},
                   {"url": f"oci://{registry.host}", "username": registry.username, "password": registry.password,
                    "ca_file": str(registry.ca_file)}]
    task = {"name": "kube_diff", "trident.gitops.kube_diff": {
        "kustomize": str(manifests), "definition": [namespace(ns)], "namespace": ns,
        "kubeconfig": str(control_plane.kubeconfig), "discovery_cache": str(tmp_path / "discovery"),
        "apply": apply, "prune": True, "applyset": {"name": "trident-prod", "namespace": ns},
        "kubectl": tool("kubectl"),
        "helm": {"repo_path": str(root), "binary": tool("helm"), "chart_cache": str(tmp_path / "chart-cache"),
                 "repositories": credentials}}}
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    run = run_playbook(tmp_path / name, [task], env={"TMPDIR": str(temp)}, check=not apply)
    results = run.task_results()
    assert results, run.stdout + run.stderr
    return run, results[-1]


def test_helm_charts_of_a_kustomization_reconcile_verified_and_outside_the_checkout(control_plane, tmp_path, charts):
    root = tmp_path / "checkout"
    manifests = write_checkout(root, *charts)
    ns = unique("kzhelm")
    before = snapshot(root)

    run, first = reconcile(control_plane, tmp_path, "first", root, manifests, ns, charts)
    assert run.rc == 0, run.stdout + run.stderr
    assert first["changed"] is True
    web = get(control_plane, "configmap", "prod-web-config", ns)
    assert web["data"]["kube"] == "v1.35.4", "rendered for the cluster's version"
    assert {key: web["data"][key] for key in ("mode", "replicas", "chart")} == {"mode": "fast", "replicas": "3",
                                                                                "chart": "0.1.0"}, "valuesFile, inline"
    assert get(control_plane, "configmap", "prod-api-config", ns)["data"]["mode"] == "oci"
    assert web["metadata"]["labels"]["applyset.kubernetes.io/part-of"], "owned by the ApplySet like any object"
    assert snapshot(root) == before, "nothing is written into the checkout (no charts/ folder)"

    run, again = reconcile(control_plane, tmp_path, "again", root, manifests, ns, charts, apply=False)
    assert run.rc == 0, run.stdout + run.stderr
    assert again["changed"] is False and {d["action"] for d in again["drift"]} == {"none"}

    write_checkout(root, *charts, version="0.2.0")
    run, bumped = reconcile(control_plane, tmp_path, "bumped", root, manifests, ns, charts, apply=False)
    assert run.rc == 0, run.stdout + run.stderr
    drifted = {d["name"]: d for d in bumped["drift"] if d["action"] != "none"}
    assert bumped["changed"] is True and set(drifted) == {"prod-web-config"}
    assert get(control_plane, "configmap", "prod-web-config", ns)["data"]["chart"] == "0.1.0", "check mode"

    write_checkout(root, *charts, version="0.3.0")
    (manifests / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    (manifests / "kustomization.yaml").write_text("resources: [extra.yaml]\n"
                                                  + (manifests / "kustomization.yaml").read_text())
    before = snapshot(root)
    run, refused = reconcile(control_plane, tmp_path, "tampered", root, manifests, ns, charts)
    assert run.rc != 0 and refused.get("failed") is True
    assert "does not match the repository index digest" in refused["msg"], refused["msg"]
    assert "kustomization.yaml: helm release 'web' (chart web 0.3.0" in refused["msg"] and "nothing was sent to the cluster" in refused["msg"]
    assert get(control_plane, "configmap", "prod-extra", ns) is None, "nothing applied"
    assert get(control_plane, "configmap", "prod-web-config", ns)["data"]["chart"] == "0.1.0"
    assert repo_password_absent(run, charts)

    assert snapshot(root) == before, "nothing is written into the checkout"
    assert list((tmp_path / "tmp").glob("trident-*")) == [], "the private copies are removed"


def repo_password_absent(run, charts):
    return all(c.password not in run.stdout + run.stderr for c in charts)
