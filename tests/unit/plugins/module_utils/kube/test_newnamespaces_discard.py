"""newnamespaces.discard: which namespaces a plan prepared for its dry-runs are taken back when no apply follows.

Only the namespace the plan created, still that object (uid), still annotated with the plan's run id (no apply took
it over) and empty but for what Kubernetes puts in every namespace is deleted, with a uid precondition; one that
appeared meanwhile gets the plan's fields given back; anything else is left as it is and named. A fake API server
records every request.
"""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
from ansible_collections.trident.gitops.plugins.module_utils.kube.newnamespaces import ANNOTATION, discard

RESOURCES = [Resource("", "v1", "ConfigMap", "configmaps", True),
             Resource("", "v1", "ServiceAccount", "serviceaccounts", True),
             Resource("", "v1", "Event", "events", True), Resource("apps", "v1", "Deployment", "deployments", True),
             Resource("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True),
             Resource("", "v1", "Namespace", "namespaces", False)]


class Discovery:
    resources = {(r.group, r.version, r.kind): r for r in RESOURCES}


class Server:
    """Namespaces by name and the objects in them by (plural, namespace)."""

    def __init__(self, namespaces, objects=None):
        self.namespaces, self.objects, self.sent = namespaces, objects or {}, []

    def request(self, method, path, query=None, body=None, content_type=None, accept=None):
        self.sent.append((method, path, body))
        parts = path.strip("/").split("/")
        if parts[-2] == "namespaces" and len(parts) in (4, 5) and parts[-1] not in ("namespaces",):
            name = parts[-1]
            if name not in self.namespaces:
                raise ApiError(404, f"namespaces {name} not found")
            return self.namespaces[name]
        if parts[-1] == "localsubjectaccessreviews":
            raise ApiError(405, "the server does not allow this method")
        return {"items": [{"metadata": {"name": n}} for n in self.objects.get((parts[-1], parts[-2]), [])]}

    def writes(self):
        return [(method, path, body) for method, path, body in self.sent if method != "GET"]


def namespace(uid="u1", run="r1", **meta):
    return {"metadata": {"name": "web", "uid": uid, "annotations": {ANNOTATION: run} if run else {}, **meta}}


PREPARED = {"name": "web", "uid": "u1", "run": "r1", "created": True}


def test_an_empty_namespace_the_plan_created_is_deleted_exactly():
    server = Server({"web": namespace()}, {("serviceaccounts", "web"): ["default"],
                                           ("configmaps", "web"): ["kube-root-ca.crt"], ("events", "web"): ["e1"]})
    assert discard(server, Discovery(), [PREPARED], "trident") == (["web"], [])
    [(method, path, body)] = server.writes()
    assert (method, path) == ("DELETE", "/api/v1/namespaces/web")
    assert body["preconditions"] == {"uid": "u1"}


@pytest.mark.parametrize("live, objects, reason", [
    (namespace(), {("deployments", "web"): ["api"]}, "it is not empty (Deployment api)"),
    (namespace(), {("configmaps", "web"): ["kube-root-ca.crt", "settings"]}, "it is not empty (ConfigMap settings)"),
    (namespace(uid="u2"), {}, "it is not the namespace this run prepared (another uid)"),
    (namespace(run="r2"), {}, f"it is no longer annotated {ANNOTATION}=r1 (an apply took it over)"),
    (namespace(run=None), {}, f"it is no longer annotated {ANNOTATION}=r1 (an apply took it over)"),
])
def test_a_namespace_that_is_not_the_plans_or_not_empty_is_left_as_it_is(live, objects, reason):
    server = Server({"web": live}, objects)
    assert discard(server, Discovery(), [PREPARED], "trident") == ([], [f"namespace web is left as it is: {reason}"])
    assert server.writes() == []


def test_a_namespace_gone_or_being_deleted_needs_nothing():
    server = Server({"web": namespace(deletionTimestamp="2026-12-07T18:00:00Z")})
    assert discard(server, Discovery(), [PREPARED, {**PREPARED, "name": "gone"}], "trident") == (["web"], [])
    assert server.writes() == []


def test_a_namespace_that_appeared_meanwhile_gets_the_plans_fields_back_and_is_never_deleted():
    server = Server({"web": namespace()}, {("deployments", "web"): ["theirs"]})
    assert discard(server, Discovery(), [{**PREPARED, "created": False}], "trident") == (["web"], [])
    [(method, path, body)] = server.writes()
    assert method == "PATCH" and body == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}
