"""Checking objects the server cannot dry-run yet against a schema (served, or a CRD's from the batch)."""

from ansible_collections.trident.gitops.plugins.module_utils.kube import schemacheck
from mini_openapi import root

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "ws.e.com"},
       "spec": {"group": "e.com", "names": {"kind": "W", "plural": "ws"}, "versions": [{"name": "v1", "schema": {
           "openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
                                                                         "properties": {
               "size": {"type": "integer", "minimum": 1}, "mode": {"type": "string", "enum": ["a", "b"]},
               "port": {"x-kubernetes-int-or-string": True},
               "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}}


def test_a_custom_resource_against_its_crd_from_the_batch():
    node = schemacheck.crd_schemas([CRD])[("e.com", "v1", "W")]
    good = {"apiVersion": "e.com/v1", "kind": "W", "metadata": {"name": "w"},
            "spec": {"size": 2, "mode": "a", "port": "http", "free": {"any": ["thing"]}}}
    assert schemacheck.check(good, node, custom=True) == []
    bad = {"apiVersion": "e.com/v1", "kind": "W", "metadata": {"name": "W!"},
           "spec": {"mode": "c", "port": 1.5, "extra": 1}}
    problems = "\n".join(schemacheck.check(bad, node, custom=True))
    for expected in ("'W!' is not a DNS subdomain", ".spec.size: required", ".spec.mode: 'c' is not one of",
                     ".spec.port: must be an integer or a string", ".spec.extra: field not declared"):
        assert expected in problems


def test_a_built_in_object_against_the_served_schema():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "i", "resources": {"limits": {"cpu": "500m", "memory": "lots"}}},
        {"name": "a", "image": 3}]}}
    problems = "\n".join(schemacheck.check(pod, root("Pod"), custom=False))
    assert ".spec.containers[0].resources.limits.memory: 'lots' is not a quantity" in problems
    assert ".spec.containers[1].image: expected string, got int" in problems
    assert ".spec.containers[1]: duplicate entry for keys name" in problems
    assert "cpu" not in problems
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a.b"}, "spec": {}}
    assert "is not an RFC 1123 label" in schemacheck.check(service, root("Service"), custom=False)[0]
