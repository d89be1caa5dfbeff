"""The parts of a cluster that make workloads run, for ``ControlPlane(workloads=True)``.

kube-controller-manager (ReplicaSets, Pods of Deployments/Jobs, namespace finalisation, garbage
collection, service accounts), kube-scheduler and kwok, which plays the kubelets of a few fake nodes
and moves Pods through the states its Stages (``kwok/stages/``) describe. Everything listens on
loopback only; nothing runs a container.
"""

import ssl
import time
from pathlib import Path

from . import tool
from .process import Service, free_port, http_ok, wait_until

# One kwok Stage per file. Nodes and the Pods without the POD_STATE annotation follow kwok v0.8.0's
# own "fast" stages (its kustomize/stage/{node,pod}/fast and node/heartbeat-with-lease, Apache-2.0):
# nodes become Ready at once and renew their Lease, Pods become Running and Ready once scheduled, Pods
# of Jobs then succeed, deleted Pods go away. pod-{never-ready,crash-loop,image-pull-error,fail}.yaml
# make the POD_STATES (docs/testbed.md).
STAGES = sorted((Path(__file__).resolve().parent / "kwok" / "stages").glob("*.yaml"))
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# Annotate a Pod (template) with POD_STATE: one of POD_STATES to make kwok hold it in that state.
POD_STATE = "testbed.trident.gitops/pod-state"
POD_STATES = ("never-ready", "crash-loop", "image-pull-error", "fail")


def fake_node(name):
    """A Node object kwok manages (selected by its annotation); kwok fills in its status."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {NODE_ANNOTATION: "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}}}


def _insecure_context():
    # The components serve /healthz with self-signed certificates they make at start-up.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class WorkloadControllers:
    """Started by the ControlPlane once kube-apiserver is ready; stopped before it."""

    def __init__(self, plane, nodes):
        self.plane = plane
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.services = []
        self.ready_seconds = None

    def start(self, timeout):
        started = time.monotonic()
        probes = [self._start_component("kube-controller-manager", self._controller_manager_args()),
                  self._start_component("kube-scheduler", []),
                  self._start_kwok()]
        for name in self.node_names:
            self.plane.request("POST", "/api/v1/nodes", fake_node(name))
        for service, url in probes:
            wait_until(lambda u=url: http_ok(u, context=_insecure_context()), timeout, f"{service.name} /healthz",
                       service, interval=0.2)
        wait_until(self._nodes_ready, timeout, f"{len(self.node_names)} kwok nodes Ready", self.services[-1],
                   interval=0.2)
        # The service account controller runs: Pods can be admitted in the default namespace.
        wait_until(lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"), timeout,
                   "the default ServiceAccount", self.services[0], interval=0.2)
        self.ready_seconds = time.monotonic() - started

    def stop(self):
        for service in reversed(self.services):
            service.stop()
        self.services = []

    def _start_component(self, name, extra):
        plane, port = self.plane, free_port()
        kubeconfig = plane.kubeconfig
        argv = [tool(name), f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}", "--leader-elect=false", "--bind-address=127.0.0.1",
                f"--secure-port={port}", "--v=1", *extra]
        if name == "kube-controller-manager":
            argv.append(f"--cert-dir={plane.workdir / 'controller-manager-certs'}")
        service = Service(name, argv, plane.workdir / f"{name}.log").start()
        self.services.append(service)
        return service, f"https://127.0.0.1:{port}/healthz"

    def _controller_manager_args(self):
        plane = self.plane
        # Controllers act with the admin credentials of the kubeconfig (no per-controller accounts, no
        # legacy token Secrets); the CA goes into every namespace's kube-root-ca.crt ConfigMap.
        # kwok nodes are simulated: on a busy machine their lease renewals lag past the default 50 s grace
        # period, the node lifecycle controller marks every pod NotReady and no Deployment is Healthy again.
        return [f"--root-ca-file={plane.ca_file}", "--use-service-account-credentials=false",
                "--cluster-name=trident-test", "--node-monitor-grace-period=1h"]

    def _start_kwok(self):
        plane, port = self.plane, free_port()
        service = Service("kwok", [
            tool("kwok"), f"--kubeconfig={plane.kubeconfig}", *(f"--config={stage}" for stage in STAGES),
            "--manage-all-nodes=false", f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            "--node-ip=127.0.0.1", f"--server-address=127.0.0.1:{port}",
        ], plane.workdir / "kwok.log").start()
        self.services.append(service)
        return service, f"http://127.0.0.1:{port}/healthz"

    def _nodes_ready(self):
        nodes = self.plane.request("GET", "/api/v1/nodes?labelSelector=type%3Dkwok").get("items") or []
        ready = [n for n in nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                         for c in (n.get("status") or {}).get("conditions") or [])]
        return len(ready) == len(self.node_names)

    def _exists(self, path):
        try:
            self.plane.request("GET", path)
        except OSError:  # urllib's HTTPError (404) is an OSError
            return False
        return True
