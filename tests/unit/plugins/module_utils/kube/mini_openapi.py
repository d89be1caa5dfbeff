"""A small OpenAPI v3 document shaped like the server's (refs wrapped in allOf, list and map
markers, Quantity by reference), for unit tests of the schema-driven comparison."""

from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Node

REF = "#/components/schemas/"


def ref(name, **extra):
    return {"allOf": [{"$ref": REF + name}], **extra}


def string_map():
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""}}


def gvk(group, version, kind):
    return {"x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}]}


def _kind(group, version, kind, **properties):
    return {"type": "object", **gvk(group, version, kind), "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", default={}), **properties}}


SELECTOR = {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {
    "matchLabels": string_map(),
    "matchExpressions": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "operator": {"type": "string"},
        "values": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}}}}}}}

SCHEMAS = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": SELECTOR,
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"},
        "labels": string_map(), "annotations": string_map()}},
    "io.k8s.api.core.v1.ConfigMap": _kind("", "v1", "ConfigMap", data=string_map()),
    "io.k8s.api.core.v1.Secret": _kind("", "v1", "Secret", data=string_map(), stringData=string_map(),
                                       type={"type": "string"}),
    "io.k8s.api.core.v1.Service": _kind("", "v1", "Service", spec={"type": "object", "properties": {
        "clusterIP": {"type": "string"},
        "selector": {**string_map(), "x-kubernetes-map-type": "atomic"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object", "properties": {
                      "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"},
                      "targetPort": {"x-kubernetes-int-or-string": True}}}}}}),
    "io.k8s.api.core.v1.Pod": _kind("", "v1", "Pod", spec={"type": "object", "properties": {
        "tolerations": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "operator": {"type": "string"}, "value": {"type": "string"},
            "effect": {"type": "string"}}}},
        "containers": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                       "items": {"type": "object", "properties": {
                           "name": {"type": "string"}, "image": {"type": "string"},
                           "args": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
                           "resources": {"type": "object", "default": {}, "properties": {
                               "limits": {"type": "object", "additionalProperties": ref(
                                   "io.k8s.apimachinery.pkg.api.resource.Quantity", default={})}}}}}},
        "finalizers": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}}),
    "io.k8s.api.networking.v1.NetworkPolicy": _kind("networking.k8s.io", "v1", "NetworkPolicy", spec={
        "type": "object", "properties": {"podSelector": ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
                                         "ingress": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {
                                             "type": "object", "properties": {"from": {
                                                 "type": "array", "x-kubernetes-list-type": "atomic", "items": {
                                                     "type": "object", "properties": {
                                                         "podSelector": ref(
                                                             "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
                                                         "namespaceSelector": ref(
                                                             "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")}}},
                                                 "ports": {"type": "array", "x-kubernetes-list-type": "atomic",
                                                           "items": {"type": "object", "properties": {
                                                               "port": {"x-kubernetes-int-or-string": True},
                                                               "protocol": {"type": "string",
                                                                            "default": "TCP"}}}}}}}}}),
    "io.k8s.api.rbac.v1.Role": _kind("rbac.authorization.k8s.io", "v1", "Role", rules={
        "type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "object", "properties": {
            "apiGroups": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
            "resources": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
            "resourceNames": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
            "verbs": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}}}}}),
    "com.example.v1.Widget": _kind("example.com", "v1", "Widget", spec={"type": "object", "properties": {
        "version": {"type": "string"}, "size": {"type": "integer", "default": 3},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}}}}),
}
DOC = {"components": {"schemas": SCHEMAS}}


def root(kind):
    name = next(name for name, raw in SCHEMAS.items()
                if raw.get("x-kubernetes-group-version-kind", [{}])[0].get("kind") == kind)
    return Node.resolve(DOC, {"$ref": REF + name})
