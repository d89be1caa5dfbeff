"""Differential test: kube_diff's plan refuses a batch before its first write whenever the API server would refuse
one of its objects, and never refuses an object the server takes (issue 25).

Generated objects (kube_schema_corpus: values breaking formats, enums, patterns, lengths and bounds, in built-in
kinds and a custom resource) go either into a namespace that exists (some of them live already as another
version of themselves: the apply is then an update) or into a namespace the batch itself creates. The oracle is a
server-side apply dry-run of each object (our field manager, force) where it would be applied: its own namespace
when that exists, else a scratch namespace (for these kinds the same as a new, empty one). Then:
- the preview (check mode, which writes nothing) never refuses an object the server takes; in an existing
  namespace it refuses exactly the objects the server refuses; in a new namespace every object the server refuses
  is either refused or reported as checked by the schema only (``pending``), never in sync;
- the plan (``prepare_namespaces``, what the reconcile role runs before any step applies) refuses whenever the
  server refuses any object, naming only objects the server refuses. When the schema alone refused, nothing was
  written, not even the namespace; when only the server could refuse, the namespace it created for the dry-runs is
  deleted again and holds nothing; when the server takes everything, the plan passes and keeps the namespace.

CI runs TRIDENT_FUZZ_KUBE_EXAMPLES / 2 examples (default 100, derandomised); `make fuzz-kube` runs more from the
seed it prints (TRIDENT_FUZZ_KUBE_SEED).
"""

import copy
import itertools
import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from kube_schema_corpus import CREATED, GROUP, KINDS, shape_crd
from kube_support import MANAGER, client, get, kube_diff
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.newnamespaces import ANNOTATION
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Schemas

EXAMPLES = max(1, int(os.environ.get("TRIDENT_FUZZ_KUBE_EXAMPLES", "200")) // 2)
SEED = os.environ.get("TRIDENT_FUZZ_KUBE_SEED")
PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps", "Lease": "leases", "Service": "services",
           "Deployment": "deployments", "Shape": "shapes"}
SCRATCH = "schema-scratch"
# How the examples went (TRIDENT_FUZZ_KUBE_STATS names a file that receives it): refused by the schema alone, by
# the server only, or taken; per kind of namespace.
STATS = {}


def path_of(obj, namespace):
    api = obj["apiVersion"]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    return f"{base}/namespaces/{namespace}/{PLURALS[obj['kind']]}/{obj['metadata']['name']}"


def apply(api, obj, namespace, dry_run=False):
    body = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    query = {"fieldManager": MANAGER, "force": "true", **({"dryRun": "All"} if dry_run else {})}
    return api.request("PATCH", path_of(body, namespace), query, body, content_type=APPLY_PATCH)


def refusal(api, obj, namespace):
    """The server's verdict: None (it takes the object as written) or why not. A built-in kind's integer that
    does not fit its Go type is taken and stored wrapped (a port of 4294967377 becomes 81): that is no
    "as written", and kube_diff refuses it (schemacheck.py), so it counts as refused here."""
    try:
        stored = apply(api, obj, namespace, dry_run=True)
    except ApiError as exc:
        return exc.message
    altered = [path for path, sent, kept in _integers(obj, stored) if sent != kept]
    return f"stored other integers at {altered}" if altered else None


def _integers(sent, stored, path=""):
    """(path, sent, stored) of every integer of ``sent`` the stored object has at the same place."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [found for key, value in sent.items() if key in stored
                for found in _integers(value, stored[key], f"{path}.{key}")]
    if isinstance(sent, list) and isinstance(stored, list):
        return [found for index, (value, kept) in enumerate(zip(sent, stored))
                for found in _integers(value, kept, f"{path}[{index}]")]
    return [(path, sent, stored)] if isinstance(sent, int) and not isinstance(sent, bool) else []


@pytest.fixture(scope="module")
def schema_plane(control_plane, tmp_path_factory):
    api = client(control_plane)
    cache = tmp_path_factory.mktemp("schema-fuzz-cache")
    kube_diff(control_plane, cache, [shape_crd()], apply=True, wait=True, wait_timeout=60)
    for _attempt in range(150):  # the schema is published a moment after the CRD is established
        if Schemas(api).root(GROUP, "v1", "Shape") is not None:
            break
        time.sleep(0.2)
    if get(control_plane, "namespace", SCRATCH) is None:
        api.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": SCRATCH}})
    yield control_plane, api, cache, itertools.count()
    stats_file = os.environ.get("TRIDENT_FUZZ_KUBE_STATS")
    if stats_file:
        with open(stats_file + ".schema", "w", encoding="utf-8") as handle:
            json.dump(STATS, handle, indent=1, sort_keys=True)


def _settings():
    common = dict(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    if SEED:
        return lambda test: seed(int(SEED))(settings(**common)(test))
    return settings(derandomize=True, **common)


def draw_objects(data, ns):
    """1 to 3 objects named o0.. in ``ns``; each with, maybe, another version of itself to be live first."""
    pairs = data.draw(st.lists(st.sampled_from(KINDS).flatmap(lambda kind: st.tuples(kind(), kind(), st.booleans())),
                               min_size=1, max_size=3), label="objects")
    out = []
    for index, (desired, earlier, live_first) in enumerate(pairs):
        meta = {"name": f"o{index}", "namespace": ns}
        created = data.draw(CREATED, label="creationTimestamp")
        if created is not None:
            meta["creationTimestamp"] = created
        out.append(({**desired, "metadata": meta}, {**earlier, "metadata": {"name": f"o{index}", "namespace": ns}}
                    if live_first else None))
    return out


def refused_names(error, ns):
    return {f"o{i}" for i in range(3) if any(f"{ns}/o{i} " in problem for problem in error.details["problems"])}


def plan(control_plane, cache, objects, ns, **params):
    """(result, None) or (None, the TridentError)."""
    try:
        return kube_diff(control_plane, cache, copy.deepcopy(objects), namespace=ns, **params), None
    except TridentError as exc:
        return None, exc


@_settings()
@given(data=st.data())
def test_the_plan_refuses_what_the_server_refuses_and_nothing_else(schema_plane, data):
    control_plane, api, cache, counter = schema_plane
    new = data.draw(st.booleans(), label="namespace created by the batch")
    ns = f"sd-{next(counter)}-{'new' if new else 'live'}"
    pairs = draw_objects(data, ns)
    if not new:
        api.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": ns}})
        for _desired, earlier in pairs:
            if earlier is not None:
                try:
                    apply(api, earlier, ns)
                except ApiError:
                    pass  # the earlier version is refused too: the object stays to be created
    objects = [desired for desired, _earlier in pairs]
    server = {obj["metadata"]["name"]: refusal(api, obj, SCRATCH if new else ns) for obj in objects}
    rejected = {name for name, message in server.items() if message}
    batch = ([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}] if new else []) + objects

    preview, error = plan(control_plane, cache, batch, ns, check_mode=True)
    if error is not None:
        assert refused_names(error, ns), error.message
        assert refused_names(error, ns) <= rejected, f"refused what the server takes: {error.message} ({server})"
        if not new:
            assert refused_names(error, ns) == rejected, (error.message, server)
    else:
        assert not rejected or new, f"the server refuses {server}, the preview did not"
        pending = {d["name"] for d in preview["drift"] if d["pending"]}
        assert rejected <= pending, (server, preview["drift"])
    schema_refused = error is not None

    result, error = plan(control_plane, cache, batch, ns, prepare_namespaces=True)
    if rejected:
        assert error is not None, f"the server refuses {server}, the plan did not"
        assert refused_names(error, ns) and refused_names(error, ns) <= rejected, (error.message, server)
    else:
        assert error is None, f"refused what the server takes: {error.message} ({server})"
    outcome = "taken" if not rejected else "refused by the schema" if schema_refused else "refused by the server"
    key = f"{'new' if new else 'existing'} namespace: {outcome}"
    STATS[key] = STATS.get(key, 0) + 1
    if new:
        found = get(control_plane, "namespace", ns)
        if schema_refused:
            assert found is None, "refused by the schema: nothing written, not even the namespace"
        elif rejected:
            assert found is None or found["metadata"].get("deletionTimestamp"), "deleted again"
            assert error.details["namespaces_created"] == [ns]
        else:
            assert result["namespaces_created"] == [ns] and ANNOTATION in found["metadata"]["annotations"]
        if found is not None:
            for obj in objects:
                assert get(control_plane, PLURALS[obj["kind"]] + (f".{GROUP}" if obj["kind"] == "Shape" else ""),
                           obj["metadata"]["name"], ns) is None, "no object of the batch was written"
