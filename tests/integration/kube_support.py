"""Helpers shared by the kube_diff integration tests (real control plane, no mocks)."""

import json
import subprocess
import uuid

import yaml

from testbed import tool
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

MANAGER = "trident-gitops"
# Waits on the fuller cluster, generous for a loaded 2-core machine. A wait for Healthy ends as soon as
# the object is; a wait that must time out gives the deployment controller this long after a 2 s
# progress deadline to mark the rollout Degraded.
HEALTHY_TIMEOUT = 180
STUCK_TIMEOUT = 30


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def kube_diff(control_plane, tmp_path, objects, check_mode=False, diff=False, **params):
    """Run kube_diff's module_utils with the admin kubeconfig and a per-test discovery cache."""
    base = {"kubeconfig": str(control_plane.kubeconfig), "discovery_cache": str(tmp_path / "discovery"),
            "definition": objects}
    return run(validated_request({**base, **params}), check_mode=check_mode, diff_mode=diff)


def client(control_plane):
    return connect(ConnectionSettings(kubeconfig=str(control_plane.kubeconfig)))


def kubectl(control_plane, *args, check=True, env=None, stdin=None):
    proc = subprocess.run([tool("kubectl"), "--kubeconfig", str(control_plane.kubeconfig), *map(str, args)],
                          capture_output=True, text=True, env=env, input=stdin, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(map(str, args))} failed: {proc.stderr}")
    return proc


def get(control_plane, kind, name, namespace=None):
    args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    proc = kubectl(control_plane, *args, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def edit(control_plane, kind, name, namespace, patch, manager="kubectl-edit", subresource=None, patch_type="strategic"):
    """A patch by another field manager: what `kubectl edit` does to an object."""
    args = ["patch", kind, name, "-n", namespace, f"--type={patch_type}", "-p", json.dumps(patch),
            f"--field-manager={manager}"] + ([f"--subresource={subresource}"] if subresource else [])
    kubectl(control_plane, *args)


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def config_map(name, data, **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data}


def deployment(name, image="nginx:1.27", cpu="0.5", containers=None, **spec):
    containers = containers or [{
        "name": "web", "image": image,
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        "resources": {"limits": {"cpu": cpu, "memory": "0.125Gi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
    }]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "annotations": {}},
            "spec": {"selector": {"matchLabels": {"app": name}}, **spec,
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}}


def service(name, target_port="http"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": target_port}]}}


def crd(group, kind, plural, scope="Namespaced", status=False):
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "size": {"type": "integer", "default": 3},
            "mode": {"type": "string", "default": "fast"},
            "limits": {"type": "object", "default": {}, "properties": {
                "cpu": {"x-kubernetes-int-or-string": True, "default": 1}}},
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {
                          "name": {"type": "string"}, "weight": {"type": "integer", "default": 1}}}},
        }},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    if status:
        version["subresources"] = {"status": {}}
    names = {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": kind + "List"}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope, "names": names, "versions": [version]}}


def actions(result):
    return {(d["kind"], d["name"]): d["action"] for d in result["drift"]}


def fields(result, kind, name):
    return next(d["fields"] for d in result["drift"] if (d["kind"], d["name"]) == (kind, name))


def resource_versions(control_plane, ns):
    out = kubectl(control_plane, "get", "configmaps,secrets,services,deployments", "-n", ns, "-o", "json").stdout
    return {(o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in json.loads(out)["items"]}


def dump(objects):
    return yaml.safe_dump_all(objects, sort_keys=False)
