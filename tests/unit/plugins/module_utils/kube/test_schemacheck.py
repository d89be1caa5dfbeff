"""Checking objects the server cannot dry-run yet against a schema (served, or a CRD's from the batch)."""

from ansible_collections.trident.gitops.plugins.module_utils.kube import schemacheck
from mini_openapi import root
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Node

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


def _typed(raw, name="io.k8s.api.core.v1.Thing"):
    """A built-in kind's root node, shaped like the served document (its ref names a typed schema)."""
    return Node.resolve({"components": {"schemas": {name: raw}}}, {"$ref": f"#/components/schemas/{name}"})


def test_formats_enums_and_the_empty_string_of_a_built_in_kind():
    root = _typed({"type": "object", "properties": {
        "data": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
        "policy": {"type": "string", "enum": ["Always", "Never"]}}})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"username": "eGlhb21hZ2UK=", "ok": "eGlhb21hZ2UK"}, "policy": "always"}
    problems = schemacheck.check(secret, root, custom=False)
    assert problems == [".data.username: is not valid base64 (the standard alphabet, padded with '=')",
                        ".policy: 'always' is not one of ['Always', 'Never']"]
    # The empty string of a built-in enum is filled in by defaulting: the server takes it.
    assert schemacheck.check({**secret, "data": {}, "policy": ""}, root, custom=False) == []


def test_required_fields_and_minimum_sizes_only_where_the_server_holds_them():
    raw = {"type": "object", "properties": {"spec": {"type": "object", "required": ["size", "mode"], "properties": {
        "size": {"type": "integer"}, "mode": {"type": "string", "default": "fast"},
        "tags": {"type": "array", "minItems": 2, "items": {"type": "string"}}}}}}
    obj = {"apiVersion": "e.com/v1", "kind": "W", "metadata": {"name": "w"}, "spec": {"tags": ["a"]}}
    # A custom resource created: size is missing (mode has a default, which the server fills in first).
    assert schemacheck.check(obj, Node({}, raw), custom=True) == [".spec.size: required", ".spec.tags: minimum size is 2"]
    # An update is merged with the live object's fields of other managers: neither is judged.
    assert schemacheck.check(obj, Node({}, raw), custom=True, update=True) == []
    # A built-in kind's "required" is the hand-written validation's to judge (a zero value may be fine).
    assert schemacheck.check(obj, _typed(raw), custom=False) == [".spec.tags: minimum size is 2"]


def test_patterns_are_judged_as_re2_would_and_never_stall():
    assert schemacheck.match_patterns([("^[a-z]{2}-[0-9]+$", "ab-12"), ("^[a-z]{2}-[0-9]+$", "AB-12"),
                                       ("^[[:alpha:]]+$", "abc"), ("^a{,3}$", "a{,3}"), ("(?i)^k$", "\u212a"),
                                       ("^(", "x")]) == [True, False, None, None, None, None]
    # A pattern that makes a backtracking engine run for ever is left to the server, within the time limit.
    assert schemacheck.match_patterns([("^(a+)+$", "a" * 40 + "!")], timeout=1) == [None]


def test_names_are_judged_only_for_kinds_whose_rule_is_known():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:view"}}
    assert schemacheck.check(role, None, custom=False) == []  # RBAC names are path segments
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
    assert "is not a DNS subdomain" in schemacheck.check(config, None, custom=False)[0]


def test_a_built_in_integer_that_the_server_would_wrap_is_refused():
    root = _typed({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "port": {"type": "integer", "format": "int32"}, "big": {"type": "integer", "format": "int64"}}}}})
    obj = {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"},
           "spec": {"port": 4294967377, "big": 2 ** 63}}
    assert schemacheck.check(obj, root, custom=False) == [
        ".spec.port: 4294967377 does not fit in a 32-bit integer (the API server would not store it as written)",
        ".spec.big: 9223372036854775808 does not fit in a 64-bit integer (the API server would not store it as "
        "written)"]
    fine = {**obj, "spec": {"port": 2147483647, "big": -(2 ** 63)}}
    assert schemacheck.check(fine, root, custom=False) == []
    # A custom resource keeps the number as written: its int32 format is not enforced by the server.
    assert schemacheck.check(obj, Node({}, root.raw), custom=True) == []


def test_an_object_schema_that_declares_no_fields_takes_anything():
    # A RawExtension, a CRD's JSONSchemaPropsOrArray, a custom resource's bare "type: object" (the server prunes
    # what it does not know there): no field of theirs is "undeclared".
    raw = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "free": {"type": "object"}, "any": {"description": "JSONSchemaPropsOrArray"}}}}}
    obj = {"apiVersion": "e.com/v1", "kind": "W", "metadata": {"name": "w"},
           "spec": {"free": {"x": 1}, "any": {"type": "object", "items": {"type": "string"}}}}
    assert schemacheck.check(obj, Node({}, raw), custom=True) == []
    assert schemacheck.check(obj, _typed(raw), custom=False) == []
    assert schemacheck.check({**obj, "spec": {"colour": "red"}}, Node({}, raw), custom=True) == [
        ".spec.colour: field not declared in the schema"]
