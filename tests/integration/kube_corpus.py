"""Generated Kubernetes objects and edits for the differential test of kube_diff (and the bench).

Built-in kinds whose schemas use atomic lists (tolerations, NetworkPolicy peers, Role rules,
LimitRange limits), keyed lists (containers, ports, env), atomic maps (selectors), quantities and
int-or-string, and a custom resource whose CRD uses every list and map type, defaults,
int-or-string, quantity-like strings and a preserve-unknown subtree. Git-side edits delete or
change a field or a list item anywhere; other managers' edits are JSON patches and applies.
"""

import base64

from hypothesis import strategies as st

GROUP = "fuzz.trident.example.com"
QUANTITY = st.sampled_from(["1", "2", "0.5", "500m", "1Gi", "1024Mi", "1073741824", "1.2", "1.20", "100m",
                            "0.1", "2k", "2000", "1e3", "1.5Gi", "1536Mi"])
WORD = st.sampled_from(["x", "y", "blue", "2024-05-01", "1.2", "1.20", "1Gi", "1024Mi"])
LABELS = st.dictionaries(st.sampled_from(["app", "tier", "team"]), st.sampled_from(["x", "y"]), min_size=1,
                         max_size=2)
EXPRESSIONS = st.lists(st.fixed_dictionaries({
    "key": st.sampled_from(["app", "team"]), "operator": st.just("In"),
    "values": st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=2, unique=True)}),
    min_size=1, max_size=1)
SELECTOR = st.one_of(st.just({}), st.fixed_dictionaries({"matchLabels": LABELS}),
                     st.fixed_dictionaries({"matchExpressions": EXPRESSIONS}))
# Replacement values for a field of this name, when an edit changes it.
POOLS = {"image": st.sampled_from(["nginx:1.27", "nginx:1.28"]), "replicas": st.sampled_from([1, 2, 3]),
         "value": WORD, "effect": st.sampled_from(["NoSchedule", "NoExecute"]), "cpu": QUANTITY, "memory": QUANTITY,
         "storage": QUANTITY, "targetPort": st.sampled_from([8080, "8080", "http"]), "protocol": st.sampled_from(
             ["TCP", "UDP"]), "minAvailable": st.sampled_from([1, 2, "50%"]), "version": WORD,
         "size": st.sampled_from([1, "1", "50%", 2]), "amount": QUANTITY, "weight": st.sampled_from([1, 2, 5]),
         "mode": st.sampled_from(["fast", "slow"]), "level": st.sampled_from([1, 2]), "note": WORD,
         "release": WORD, "team": WORD, "app": WORD, "tier": WORD, "pods": st.sampled_from(["10", "20"])}
# Fields an edit never removes (identity, required by validation, or tying a selector to its template).
KEEP = frozenset(("apiVersion", "kind", "metadata", "name", "namespace", "spec", "selector", "template",
                  "containers", "image", "port", "containerPort", "verbs", "apiGroups", "type", "matchLabels",
                  "key", "operator", "values", "matchExpressions", "limits", "rules", "hard", "clusterIP", "labels"))


def config_map():
    keys = st.sampled_from(["storage", "cpu", "memory", "release", "mode"])
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("ConfigMap")},
                                 optional={"data": st.dictionaries(keys, st.one_of(QUANTITY, WORD), max_size=3)})


def secret():
    values = st.dictionaries(st.sampled_from(["user", "password"]), WORD, min_size=1, max_size=2)
    encoded = values.map(lambda d: {k: base64.b64encode(v.encode()).decode() for k, v in d.items()})
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("Secret")},
                                 optional={"stringData": values, "data": encoded})


def service():
    def port(number):
        return st.fixed_dictionaries({"port": st.just(number), "name": st.just(f"p{number}")},
                                     optional={"protocol": st.just("TCP"), "targetPort": POOLS["targetPort"]})
    ports = st.lists(st.sampled_from([80, 443]), min_size=1, max_size=2, unique=True).flatmap(
        lambda numbers: st.tuples(*[port(n) for n in numbers]).map(list))
    spec = st.fixed_dictionaries({"clusterIP": st.just("None"), "ports": ports}, optional={"selector": LABELS})
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("Service"), "spec": spec})


def _container(name):
    amounts = st.fixed_dictionaries({}, optional={"cpu": QUANTITY, "memory": QUANTITY})
    resources = st.one_of(st.fixed_dictionaries({"limits": amounts}), st.fixed_dictionaries({"requests": amounts}))
    toleration = st.one_of(
        st.fixed_dictionaries({"key": st.just("k"), "operator": st.just("Exists")}, optional={"effect": POOLS["effect"]}),
        st.fixed_dictionaries({"key": st.just("k"), "operator": st.just("Equal"), "value": WORD},
                              optional={"effect": POOLS["effect"]}))
    env = st.lists(st.sampled_from(["A", "B"]), min_size=1, max_size=2, unique=True).map(
        lambda names: [{"name": n, "value": "1"} for n in names])
    ports = st.lists(st.sampled_from([80, 8080]), min_size=1, max_size=2, unique=True).flatmap(
        lambda numbers: st.tuples(*[st.fixed_dictionaries({"containerPort": st.just(n)},
                                                          optional={"protocol": st.just("TCP")})
                                    for n in numbers]).map(list))
    container = st.fixed_dictionaries({"name": st.just(name), "image": POOLS["image"]},
                                      optional={"resources": resources, "env": env, "ports": ports})
    return container, toleration


def deployment():
    app, toleration = _container("app")
    side = _container("side")[0]
    containers = st.one_of(app.map(lambda c: [c]), st.tuples(app, side).map(list))
    pod = st.fixed_dictionaries({"containers": containers},
                                optional={"tolerations": st.lists(toleration, min_size=1, max_size=2)})
    template = pod.map(lambda spec: {"metadata": {"labels": {"app": "fuzz"}}, "spec": spec})
    spec = st.fixed_dictionaries({"selector": st.just({"matchLabels": {"app": "fuzz"}}), "template": template},
                                 optional={"replicas": POOLS["replicas"]})
    return st.fixed_dictionaries({"apiVersion": st.just("apps/v1"), "kind": st.just("Deployment"), "spec": spec})


def network_policy():
    peer = st.fixed_dictionaries({}, optional={"podSelector": SELECTOR, "namespaceSelector": SELECTOR}).filter(bool)
    port = st.fixed_dictionaries({}, optional={"port": st.sampled_from([80, "http"]), "protocol": POOLS["protocol"]})
    rule = st.fixed_dictionaries({}, optional={"from": st.lists(peer, min_size=1, max_size=2),
                                               "ports": st.lists(port, min_size=1, max_size=2)})
    spec = st.fixed_dictionaries({"podSelector": SELECTOR}, optional={"ingress": st.lists(rule, min_size=1, max_size=2),
                                                                      "policyTypes": st.just(["Ingress"])})
    return st.fixed_dictionaries({"apiVersion": st.just("networking.k8s.io/v1"), "kind": st.just("NetworkPolicy"),
                                  "spec": spec})


def role():
    rule = st.fixed_dictionaries(
        {"apiGroups": st.sampled_from([[""], ["apps"]]), "resources": st.sampled_from([["pods"], ["secrets", "configmaps"]]),
         "verbs": st.sampled_from([["get"], ["get", "list"]])},
        optional={"resourceNames": st.lists(st.sampled_from(["one", "two"]), min_size=1, max_size=2, unique=True)})
    return st.fixed_dictionaries({"apiVersion": st.just("rbac.authorization.k8s.io/v1"), "kind": st.just("Role"),
                                  "rules": st.lists(rule, min_size=1, max_size=2)})


def disruption_budget():
    spec = st.fixed_dictionaries({}, optional={"minAvailable": POOLS["minAvailable"], "selector": SELECTOR})
    return st.fixed_dictionaries({"apiVersion": st.just("policy/v1"), "kind": st.just("PodDisruptionBudget"),
                                  "spec": spec})


def limit_range():
    item = st.fixed_dictionaries({"type": st.just("Container")},
                                 optional={"max": st.fixed_dictionaries({"cpu": QUANTITY}, optional={"memory": QUANTITY})})
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("LimitRange"),
                                  "spec": st.fixed_dictionaries({"limits": st.lists(item, min_size=1, max_size=1)})})


def resource_quota():
    hard = st.fixed_dictionaries({"pods": POOLS["pods"]}, optional={"requests.cpu": QUANTITY, "limits.memory": QUANTITY})
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("ResourceQuota"),
                                  "spec": st.fixed_dictionaries({"hard": hard})})


def fuzz_resource():
    named = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
    atomic = named.flatmap(lambda names: st.tuples(*[st.fixed_dictionaries(
        {"name": st.just(n)}, optional={"weight": POOLS["weight"], "note": WORD}) for n in names]).map(list))
    keyed = named.flatmap(lambda names: st.tuples(*[st.fixed_dictionaries(
        {"name": st.just(n)}, optional={"value": WORD, "weight": POOLS["weight"]}) for n in names]).map(list))
    spec = st.fixed_dictionaries({}, optional={
        "version": WORD, "size": POOLS["size"], "amount": QUANTITY, "atomicItems": atomic, "keyed": keyed,
        "storage": QUANTITY, "limits": st.dictionaries(st.sampled_from(["cpu", "memory"]), QUANTITY, min_size=1),
        "tags": st.lists(st.sampled_from(["t1", "t2", "t3"]), min_size=1, max_size=3, unique=True),
        "labels": st.dictionaries(st.sampled_from(["team", "tier"]), WORD, max_size=2),
        "selector": st.dictionaries(st.sampled_from(["app", "tier"]), WORD, min_size=1, max_size=2),
        "nested": st.fixed_dictionaries({}, optional={"mode": POOLS["mode"], "level": POOLS["level"]}),
        "blob": st.dictionaries(st.sampled_from(["k", "j"]), st.one_of(WORD, st.integers(0, 3)), max_size=2)})
    return st.fixed_dictionaries({"apiVersion": st.just(f"{GROUP}/v1"), "kind": st.just("Fuzz"), "spec": spec})


KINDS = (config_map, secret, service, deployment, network_policy, role, disruption_budget, limit_range,
         resource_quota, fuzz_resource)
OBJECT = st.one_of(*[kind() for kind in KINDS])


def fuzz_crd():
    """The CRD of the generated custom resources: every list and map type, defaults, int-or-string."""
    item = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "weight": {"type": "integer", "default": 1}, "note": {"type": "string"},
        "value": {"type": "string"}}}
    spec = {"type": "object", "properties": {
        "version": {"type": "string"}, "size": {"x-kubernetes-int-or-string": True},
        "amount": {"type": "string"}, "storage": {"type": "string"},
        "limits": {"type": "object", "additionalProperties": {"type": "string"}},
        "atomicItems": {"type": "array", "x-kubernetes-list-type": "atomic", "items": item},
        "keyed": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {**item, "properties": {**item["properties"], "weight": {"type": "integer", "default": 2}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "selector": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
        "nested": {"type": "object", "default": {}, "properties": {
            "mode": {"type": "string", "default": "fast"}, "level": {"type": "integer"}}},
        "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    schema = {"type": "object", "properties": {"spec": spec}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"fuzzes.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": "Fuzz", "plural": "fuzzes", "singular": "fuzz", "listKind": "FuzzList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


# -- edits ------------------------------------------------------------------------------------------------
def _places(node, path=()):
    """(path, kind) of every place an edit may touch: ``key`` (a map entry) or ``item`` (a list item)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in KEEP or key in POOLS:
                out.append((path + (key,), "key"))
            out.extend(_places(value, path + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if len(node) > 1:
                out.append((path + (index,), "item"))
            out.extend(_places(value, path + (index,)))
    return out


def _parent(obj, path):
    node = obj
    for token in path[:-1]:
        node = node[token]
    return node


def git_edit(draw, obj):
    """Git deletes a field or a list item, or changes a value (a new draw for a field of that name)."""
    places = [p for p in _places(obj) if p[0][0] not in ("apiVersion", "kind", "metadata")]
    if not places:
        return
    path, what = draw(st.sampled_from(places))
    parent, last = _parent(obj, path), path[-1]
    if what == "key" and last in POOLS and not isinstance(parent[last], (dict, list)) and draw(st.booleans()):
        parent[last] = draw(POOLS[last])
    elif last not in KEEP:
        del parent[last]
    elif what == "item":
        del parent[last]


def live_edit(draw, obj):
    """A JSON patch another manager could send (``kubectl edit``): replace or remove one field."""
    places = [p for p, what in _places(obj) if what == "key" and p[0] not in ("apiVersion", "kind", "metadata")]
    places.append(("metadata", "labels", "edited-by"))
    path = draw(st.sampled_from(places))
    pointer = "/" + "/".join(str(t).replace("~", "~0").replace("/", "~1") for t in path)
    last = path[-1]
    if last == "edited-by":
        return [{"op": "add", "path": "/metadata/labels", "value": {"edited-by": "someone"}}]
    if last in POOLS and draw(st.booleans()):
        return [{"op": "replace", "path": pointer, "value": draw(POOLS[last])}]
    return [{"op": "remove", "path": pointer}]
