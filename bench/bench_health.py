"""Health per object: kube/health.py vs kubernetes.core's waiter predicates; start-up of the test cluster.

1. The control plane's start-up time, bare (etcd + kube-apiserver) and with the controllers
   (ControlPlane(workloads=True): + kube-controller-manager, kube-scheduler, kwok and its nodes),
   TRIDENT_BENCH_HEALTH_STARTS rounds (default 3).
2. The cost of judging one object: real objects (Deployments, ReplicaSets, StatefulSets, DaemonSets,
   Pods, Jobs, custom resources with conditions, ConfigMaps) are created on the fuller cluster, read
   back once, and judged TRIDENT_BENCH_HEALTH_N times in all (default 20000). The anchor is
   kubernetes.core's k8s/waiter.py: its predicates read a ResourceInstance, which the kubernetes
   dynamic client builds from every object it reads, so the anchor is timed with that wrapping
   and, separately, on objects wrapped beforehand. The anchor answers only ready or not (and knows
   four kinds; others only "exists"), health.py says which of six states and why.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, compare

sys.path.insert(0, str(REPO / "tools"))
# `make bench` links this checkout as trident.gitops on ANSIBLE_COLLECTIONS_PATH (for the in-process case).
sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]

from kubernetes.dynamic.resource import ResourceInstance  # noqa: E402

from ansible_collections.kubernetes.core.plugins.module_utils.k8s import waiter  # noqa: E402
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (  # noqa: E402
    APPLY_PATCH, ConnectionSettings, connect)
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import health  # noqa: E402
from testbed.controlplane import ControlPlane  # noqa: E402

NS = "bench-health"
GROUP = "bench.health.example.com"
LISTS = ("/apis/apps/v1/deployments", "/apis/apps/v1/replicasets", "/apis/apps/v1/statefulsets",
         "/apis/apps/v1/daemonsets", "/api/v1/pods", "/apis/batch/v1/jobs", f"/apis/{GROUP}/v1/widgets",
         "/api/v1/configmaps")


def pod_template(app, **spec):
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
                     **spec}}


def workload(prefix, kind, name, **spec):
    """(REST prefix, plural, body) of a workload whose pods are labelled app=<name>."""
    group_version = prefix.split("/", 1)[1]
    if kind != "Job":
        spec["selector"] = {"matchLabels": {"app": name}}
    template = pod_template(name, restartPolicy="Never") if kind == "Job" else pod_template(name)
    return (prefix, kind.lower() + "s", {"apiVersion": group_version, "kind": kind, "metadata": {"name": name},
                                         "spec": {**spec, "template": template}})


def workloads():
    """What the bench cluster runs: a few of each kind the controllers and kwok bring to life."""
    made = [workload("apis/apps/v1", "Deployment", f"web-{i}", replicas=5) for i in range(3)]
    made.append(workload("apis/apps/v1", "StatefulSet", "db", replicas=3, serviceName="db"))
    made.append(workload("apis/apps/v1", "DaemonSet", "agent"))
    made.append(workload("apis/batch/v1", "Job", "once"))
    made += [("api/v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                       "data": {"k": "v" * 100}}) for i in range(10)]
    return made


def widget_crd():
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": schema}}]}}


def populate(client):
    """Create the workloads and custom resources; wait until the controllers have brought them up."""
    apply = {"fieldManager": "bench", "force": "true"}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    client.request("POST", "/api/v1/namespaces", body=namespace)
    client.request("PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}", apply,
                   widget_crd(), content_type=APPLY_PATCH)
    for prefix, plural, body in workloads():
        client.request("PATCH", f"/{prefix}/namespaces/{NS}/{plural}/{body['metadata']['name']}", apply, body,
                       content_type=APPLY_PATCH)
    time.sleep(2)  # the CRD is established
    for i in range(10):
        path = f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w{i}"
        client.request("PATCH", path, apply, {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                              "metadata": {"name": f"w{i}"}, "spec": {"size": i}},
                       content_type=APPLY_PATCH)
        ready = {"type": "Ready", "status": "True" if i % 3 else "False", "reason": "Bench", "message": "m"}
        status = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": f"w{i}"},
                  "status": {"observedGeneration": 1, "conditions": [ready]}}
        client.request("PATCH", path + "/status", apply, status, content_type=APPLY_PATCH)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        objects = read_all(client)
        pods = [o for o in objects if o["kind"] == "Pod"]
        if len(pods) >= 21 and all(health(o).status == "Healthy" for o in objects if o["kind"] != "Widget"):
            return objects
        time.sleep(0.5)
    raise RuntimeError("the bench workloads did not become healthy within 120s")


def read_all(client):
    objects = []
    for path in LISTS:
        data = client.request("GET", path)
        kind = data["kind"][:-len("List")]
        for item in data.get("items") or []:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", data.get("apiVersion"))
            if item["metadata"].get("namespace") == NS:
                objects.append(item)
    return objects


def anchor_predicate(obj):
    return waiter.RESOURCE_PREDICATES.get(obj["kind"], waiter.exists)


def bench_per_object(objects):
    n = int(os.environ.get("TRIDENT_BENCH_HEALTH_N", "20000"))
    sample = (objects * (n // len(objects) + 1))[:n]
    wrapped = [(anchor_predicate(o), ResourceInstance(None, o)) for o in sample]

    def ours():
        for obj in sample:
            health(obj)

    def anchor_with_wrapping():
        for obj in sample:
            anchor_predicate(obj)(ResourceInstance(None, obj))

    def anchor_prewrapped():
        for predicate, instance in wrapped:
            predicate(instance)

    kinds = sorted({o["kind"] for o in objects})
    medians = compare(f"health of {n} objects ({len(objects)} distinct real ones: {', '.join(kinds)})", {
        "trident health()": ours,
        "kubernetes.core predicate, with ResourceInstance": anchor_with_wrapping,
        "kubernetes.core predicate, pre-wrapped": anchor_prewrapped,
    }, rounds=5, warmup=1)
    for name, seconds in medians.items():
        print(f"{name}: {seconds / n * 1e6:.2f} µs per object")


def bench_start_up():
    rounds = int(os.environ.get("TRIDENT_BENCH_HEALTH_STARTS", "3"))
    seconds = {"bare": [], "workloads": []}

    def start(kind):
        with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
            plane = ControlPlane(Path(tmp) / "cp", workloads=kind == "workloads")
            with plane:
                seconds[kind].append(plane.ready_seconds)

    cases = {"bare control plane": lambda: start("bare"), "with controllers and kwok": lambda: start("workloads")}
    compare("control plane start-up until ready (and stop)", cases, rounds=rounds, warmup=0)
    for kind, values in seconds.items():
        print(f"{kind}: ready after {sorted(values)[len(values) // 2]:.2f}s (median of {len(values)})")


def main():
    bench_start_up()
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp, \
            ControlPlane(Path(tmp) / "cp", workloads=True) as plane:
        client = connect(ConnectionSettings(kubeconfig=str(plane.kubeconfig)))
        bench_per_object(populate(client))


if __name__ == "__main__":
    main()
