"""Generated objects whose values may break their schema (formats, enums, patterns, lengths, bounds), for the
differential test of kube_diff's schema judgement against the API server (test_kube_diff_schema_differential.py).

Every field that a schema constrains draws from a pool that mixes values the server takes with near misses:
base64 with a wrong padding or a line break, RFC 3339 times with a one-digit hour, a comma, a 24:00 offset, a
30th of February or a missing zone, MicroTimes without six fractional digits, enum values in the wrong case or
empty, out-of-range 32-bit integers. Built-in kinds (Secret, ConfigMap, Lease, Service, Deployment) and a custom
resource whose CRD uses ``byte``, ``date``, ``date-time`` and ``uuid`` formats, an enum, a pattern, lengths,
bounds and required fields.
"""

from hypothesis import strategies as st

GROUP = "schema.trident.example.com"


def _pool(taken, near_misses):
    """Values the server takes (three times as likely) and values it may not: most objects of an example then
    pass the schema, so the server's own judgement (and the namespaces created for it) gets exercised too."""
    return st.one_of(st.sampled_from(taken), st.sampled_from(taken), st.sampled_from(taken),
                     st.sampled_from(near_misses))


BYTES = _pool(["", "YQ==", "YWI=", "YWJj", "eGlhb21hZ2UK", "eGlh\nb21hZ2UK", "YWJj\r\n", "YR=="],
              ["eGlhb21hZ2UK=", "YQ=", "YQ", "Y", "YQ==YQ==", "Y Q==", "a-b_", "!!!!", "YWJj====", "=YWJ"])
TIMES = _pool(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00", "2024-05-01T1:00:00Z",
               "2024-05-01T10:00:00,25Z", "2024-05-01T10:00:00+24:00", "2024-02-29T00:00:00Z",
               "2024-05-01T10:00:00.123456Z"],
              ["2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01 10:00:00Z", "2024-05-01t10:00:00z",
               "2024-05-01T10:00:00", "2024-05-01", "yesterday", "", "2024-5-01T10:00:00Z", "2024-05-01T10:00:60Z"])
MICRO_TIMES = _pool(["2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00,123456+02:00"],
                    ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123Z", "2024-05-01T10:00:00.1234567Z",
                     "2024-05-01T1:00:00.000000Z", "2024-13-01T10:00:00.000000Z", ""])
# 0, -1 and 65536 fit an int32 and the schema, yet validation refuses them for a port or replicas: the server's call.
INT32 = _pool([1, 3, 80, 65535, 2.0], [0, -1, 65536, 2147483647, 2147483648, 4294967297, 4294967376, 2.5])
PULL_POLICY = _pool(["Always", "IfNotPresent", "Never", ""], ["always", "Sometimes"])
SERVICE_TYPE = _pool(["ClusterIP", "NodePort", "ExternalName", ""], ["clusterip", "Internal"])
PROTOCOL = _pool(["TCP", "UDP", "SCTP", ""], ["tcp", "HTTP"])
AFFINITY = _pool(["None", "ClientIP", ""], ["Sticky"])
STRATEGY = _pool(["RollingUpdate", "Recreate", ""], ["rollingupdate", "BlueGreen"])
WORDS = _pool(["ab-1", "ab-12", "xy-0"], ["a", "abcdefghi", "AB-12", "ab-", "ab-12\n", "", "é-1"])
UUIDS = _pool(["0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5Bd9cb469fa16570867728950e"],
              ["0f8fad5b-d9cb-469f-a165-70867728950", "not-a-uuid", ""])
DATES = _pool(["2024-05-01", "0000-02-29"], ["2024-02-30", "2024-5-01", "2024-05-01T00:00:00Z", ""])
COLORS = _pool(["red", "green", "blue"], ["Red", ""])
COUNTS = _pool([0, 5, 10, 2.0], [11, -1, 2.5])
# The selector of the generated Deployments is app=schema; a template labelled otherwise only the server refuses.
TEMPLATE_APP = _pool(["schema"], ["other"])


def _maybe(**fields):
    """A mapping with any subset of ``fields`` (name -> strategy)."""
    return st.fixed_dictionaries({}, optional=fields)


def secret():
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("Secret"),
                                  "data": st.dictionaries(st.sampled_from(["username", "password"]), BYTES,
                                                          min_size=1, max_size=2)})


def config_map():
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("ConfigMap")}, optional={
        "binaryData": st.dictionaries(st.sampled_from(["blob", "key"]), BYTES, min_size=1, max_size=2),
        "data": st.dictionaries(st.sampled_from(["mode"]), st.sampled_from(["fast", "1"]), max_size=1)})


def lease():
    spec = _maybe(holderIdentity=st.sampled_from(["me", ""]), acquireTime=MICRO_TIMES, renewTime=MICRO_TIMES,
                  leaseDurationSeconds=INT32, leaseTransitions=INT32)
    return st.fixed_dictionaries({"apiVersion": st.just("coordination.k8s.io/v1"), "kind": st.just("Lease"),
                                  "spec": spec})


def service():
    port = st.fixed_dictionaries({"port": INT32, "name": st.just("p")}, optional={"protocol": PROTOCOL})
    spec = st.fixed_dictionaries({"ports": st.lists(port, min_size=1, max_size=1)},
                                 optional={"type": SERVICE_TYPE, "sessionAffinity": AFFINITY})

    def named_external(svc):  # an ExternalName Service needs the name it points at
        extra = {"externalName": "example.com"} if svc["spec"].get("type") == "ExternalName" else {}
        return {**svc, "spec": {**svc["spec"], **extra}}
    return st.fixed_dictionaries({"apiVersion": st.just("v1"), "kind": st.just("Service"),
                                  "spec": spec}).map(named_external)


def deployment():
    container = st.fixed_dictionaries({"name": st.just("app"), "image": st.just("nginx:1.27")},
                                      optional={"imagePullPolicy": PULL_POLICY})
    template = st.tuples(container, TEMPLATE_APP).map(
        lambda found: {"metadata": {"labels": {"app": found[1]}}, "spec": {"containers": [found[0]]}})
    spec = st.fixed_dictionaries({"selector": st.just({"matchLabels": {"app": "schema"}}), "template": template},
                                 optional={"replicas": INT32, "strategy": st.fixed_dictionaries({"type": STRATEGY})})
    return st.fixed_dictionaries({"apiVersion": st.just("apps/v1"), "kind": st.just("Deployment"), "spec": spec})


def shape():
    spec = st.fixed_dictionaries({"code": WORDS}, optional={
        "blob": BYTES, "when": TIMES, "day": DATES, "id": UUIDS, "color": COLORS, "label": WORDS, "count": COUNTS,
        "size": INT32})
    return st.fixed_dictionaries({"apiVersion": st.just(f"{GROUP}/v1"), "kind": st.just("Shape"), "spec": spec})


KINDS = (secret, config_map, lease, service, deployment, shape)
OBJECT = st.one_of(*[kind() for kind in KINDS])
# Objects also get a creationTimestamp now and then: metav1.Time in every kind's metadata.
CREATED = st.one_of(st.none(), st.none(), st.none(), TIMES)


def shape_crd():
    """The CRD of the generated custom resources: formats, an enum, a pattern, lengths, bounds, required."""
    spec = {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string", "pattern": "^[a-z]{2}-[0-9]+$"},
        "blob": {"type": "string", "format": "byte"},
        "when": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "id": {"type": "string", "format": "uuid"},
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "label": {"type": "string", "maxLength": 8, "minLength": 1},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "size": {"type": "integer", "format": "int32"}}}
    schema = {"type": "object", "properties": {"spec": spec}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"shapes.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": "Shape", "plural": "shapes", "singular": "shape", "listKind": "ShapeList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}
