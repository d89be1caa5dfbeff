"""Differential test: kube_diff's verdict equals what a server-side apply dry-run would change.

Generated objects (kube_corpus: ten kinds, a CRD with every list and map type) are applied with our
field manager; Git edits them (fields and list items removed or changed) and another manager edits
them live; then kube_diff's check-mode verdict (drift or not, and the changed paths) must equal the
difference between the live object and a dry-run of the same apply (same field manager, force),
ignoring resourceVersion, generation and managedFields. Whenever the cheap proof says "in sync",
the dry-run must change nothing.

CI runs TRIDENT_FUZZ_KUBE_EXAMPLES examples (default 200, derandomised: the same every run, about
70 s on a quiet machine); `make fuzz-kube` runs many more from a seed it prints. TRIDENT_FUZZ_KUBE_STATS names a
file that receives how many in-sync objects the proof settled without a dry-run.
"""

import copy
import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from kube_corpus import OBJECT, fuzz_crd, git_edit, live_edit
from kube_support import MANAGER, client, kube_diff
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import APPLY_PATCH, ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Schemas

EXAMPLES = int(os.environ.get("TRIDENT_FUZZ_KUBE_EXAMPLES", "200"))
SEED = os.environ.get("TRIDENT_FUZZ_KUBE_SEED")
PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets", "Service": "services", "Deployment": "deployments",
           "NetworkPolicy": "networkpolicies", "Role": "roles", "PodDisruptionBudget": "poddisruptionbudgets",
           "LimitRange": "limitranges", "ResourceQuota": "resourcequotas", "Fuzz": "fuzzes"}
VOLATILE = ("managedFields", "resourceVersion", "generation")
STATS = {"in_sync": 0, "proven": 0, "drift": 0, "rejected": 0}


def path_of(obj, name=None):
    api = obj["apiVersion"]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    return f"{base}/namespaces/{obj['metadata']['namespace']}/{PLURALS[obj['kind']]}" + (f"/{name}" if name else "")


def apply(api, obj, dry_run=False):
    query = {"fieldManager": MANAGER, "force": "true", **({"dryRun": "All"} if dry_run else {})}
    return api.request("PATCH", path_of(obj, obj["metadata"]["name"]), query, obj, content_type=APPLY_PATCH)


def stripped(obj):
    out = copy.deepcopy(obj)
    for name in VOLATILE:
        out["metadata"].pop(name, None)
    return out


def oracle(api, obj, live):
    """The paths a server-side apply of ``obj`` would change in ``live``, or the server's refusal."""
    try:
        after = apply(api, obj, dry_run=True)
    except ApiError as exc:
        return None, exc.message
    before, after = compare.normalise(stripped(live)), compare.normalise(stripped(after))
    paths = compare.changed_paths(before, after)
    if not paths and before != after:
        paths = ["."]
    return sorted(paths), None


@pytest.fixture(scope="module")
def fuzz_plane(control_plane, tmp_path_factory):
    api = client(control_plane)
    cache = tmp_path_factory.mktemp("fuzz-cache")
    kube_diff(control_plane, cache, [fuzz_crd()], apply=True, wait=True, wait_timeout=60)
    schemas = Schemas(api)
    for _attempt in range(150):  # the schema is published a moment after the CRD is established
        if schemas.root("fuzz.trident.example.com", "v1", "Fuzz") is not None:
            break
        schemas = Schemas(api)
        __import__("time").sleep(0.2)
    yield control_plane, api, cache, itertools.count()
    stats_file = os.environ.get("TRIDENT_FUZZ_KUBE_STATS")
    if stats_file:
        with open(stats_file, "w", encoding="utf-8") as handle:
            json.dump(STATS, handle)


def scenario(data, api, ns):
    """Apply generated objects, then edit them in Git and live; returns [(desired, live)]."""
    objects = data.draw(st.lists(OBJECT, min_size=1, max_size=3), label="objects")
    out = []
    for index, obj in enumerate(objects):
        obj = {**obj, "metadata": {"name": f"o{index}", "namespace": ns}}
        try:
            apply(api, obj)
        except ApiError:
            STATS["rejected"] += 1  # the generator made something the server refuses: nothing to compare
            continue
        desired = copy.deepcopy(obj)
        for _edit in range(data.draw(st.integers(0, 2), label="git edits")):
            git_edit(data.draw, desired)
        if data.draw(st.booleans(), label="live edit"):
            live = api.request("GET", path_of(obj, obj["metadata"]["name"]))
            try:
                api.request("PATCH", path_of(obj, obj["metadata"]["name"]), {"fieldManager": "editor"},
                            live_edit(data.draw, live), content_type="application/json-patch+json")
            except ApiError:
                pass  # an edit the server refuses is no edit
        out.append((desired, api.request("GET", path_of(obj, obj["metadata"]["name"]))))
    return out


def check_proof(api, desired, live, expected):
    group, version = desired["apiVersion"].rpartition("/")[::2]
    root = Schemas(api).root(group, version, desired["kind"])
    proven = compare.proven_in_sync(desired, live, MANAGER, root)
    assert not (proven and expected), f"the proof says in sync, yet a dry-run changes {expected}"
    if not expected:
        STATS["in_sync"] += 1
        STATS["proven"] += proven
    else:
        STATS["drift"] += 1


def _settings():
    if SEED:
        return lambda test: seed(int(SEED))(settings(max_examples=EXAMPLES, deadline=None, database=None,
                                                     suppress_health_check=list(HealthCheck))(test))
    return settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@_settings()
@given(data=st.data())
def test_verdict_equals_a_server_side_apply_dry_run(fuzz_plane, data):
    control_plane, api, cache, counter = fuzz_plane
    ns = f"fz-{next(counter)}"
    api.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cases = scenario(data, api, ns)
    if not cases:
        return
    expected = {d["metadata"]["name"]: oracle(api, d, live) for d, live in cases}
    refused = {name for name, (paths, error) in expected.items() if error}
    try:
        result = kube_diff(control_plane, cache, [desired for desired, live in cases], check_mode=True, namespace=ns)
    except TridentError as exc:
        assert refused, f"kube_diff refused what the server accepts: {exc.message}"
        for name in refused:
            assert f"{ns}/{name} " in exc.message, exc.message
        return
    assert not refused, f"the server refuses {refused} ({expected}), kube_diff did not"
    for entry in result["drift"]:
        paths = expected[entry["name"]][0]
        assert (entry["action"], sorted(entry["fields"])) == ("update" if paths else "none", paths), entry
    for desired, live in cases:
        check_proof(api, desired, live, expected[desired["metadata"]["name"]][0])
