"""The pure comparison logic: quantities, the cheap in-sync proof, field paths, pointers."""

import json

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube import compare

MANAGER = "trident-gitops"


def live_with(obj, fields, manager=MANAGER, api_version=None):
    live = json.loads(json.dumps(obj))
    live.setdefault("metadata", {})["managedFields"] = [{
        "manager": manager, "operation": "Apply", "apiVersion": api_version or obj["apiVersion"],
        "fieldsType": "FieldsV1", "fieldsV1": fields}]
    return live


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n", "labels": {"a": "1"}},
      "data": {"k": "v"}}
CM_FIELDS = {"f:metadata": {"f:labels": {"f:a": {}}}, "f:data": {"f:k": {}}}


@pytest.mark.parametrize("left, right", [("500m", "0.5"), ("1", 1), ("1Gi", "1024Mi"), ("1k", "1000"),
                                         ("1e3", "1k"), (0.5, "500m")])
def test_equal_quantities(left, right):
    assert compare.quantity(left) == compare.quantity(right)
    assert compare.scalar_equal(left, right, "cpu", "limits")


def test_quantity_spelling_only_counts_where_quantities_live():
    assert not compare.scalar_equal("500m", "0.5", "mode", "data"), "a ConfigMap value is a plain string"
    assert not compare.scalar_equal(True, 1) and not compare.scalar_equal("80", 80)
    assert compare.quantity("abc") is None and compare.quantity(True) is None


def test_in_sync_when_values_and_ownership_match():
    live = live_with(CM, CM_FIELDS)
    live["metadata"].update(uid="x", resourceVersion="9", labels={"a": "1", "someone-else": "y"})
    assert compare.proven_in_sync(CM, live, MANAGER)


@pytest.mark.parametrize("change", ["value", "owned-extra", "not-owned", "other-manager", "api-version"])
def test_not_proven_when_anything_differs(change):
    live = live_with(CM, CM_FIELDS)
    manager = MANAGER
    if change == "value":
        live["data"]["k"] = "edited"
    elif change == "owned-extra":  # Git dropped a field we own: applying would remove it
        live["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]["f:old"] = {}
        live["data"]["old"] = "x"
    elif change == "not-owned":  # another manager took the field over
        del live["metadata"]["managedFields"][0]["fieldsV1"]["f:data"]
    elif change == "other-manager":
        manager = "someone"
    else:
        live["metadata"]["managedFields"][0]["apiVersion"] = "v2"
    assert not compare.proven_in_sync(CM, live, manager)


def test_keyed_lists_atomic_maps_and_defaulted_key_fields():
    desired = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    fields = {"f:spec": {"f:selector": {}, "f:ports": {'k:{"port":80,"protocol":"TCP"}': {
        ".": {}, "f:port": {}, "f:targetPort": {}}}}}
    live = live_with(desired, fields)
    live["spec"]["ports"][0]["protocol"] = "TCP"
    live["spec"]["clusterIP"] = "10.0.0.1"
    assert compare.proven_in_sync(desired, live, MANAGER)
    live["spec"]["selector"]["extra"] = "x"  # an atomic map is replaced whole by an apply
    assert not compare.proven_in_sync(desired, live, MANAGER)


def test_string_data_compares_with_the_stored_data():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}}
    live = live_with({**desired, "stringData": None, "data": {"pw": "aHVudGVyMg=="}},
                     {"f:stringData": {"f:pw": {}}})
    assert compare.proven_in_sync(desired, live, MANAGER)
    live["data"]["pw"] = "b3RoZXI="
    assert not compare.proven_in_sync(desired, live, MANAGER)


def test_ignored_pointer_is_left_out_of_the_proof():
    live = live_with(CM, {**CM_FIELDS, "f:data": {"f:k": {}, "f:gone": {}}})
    assert not compare.proven_in_sync(CM, live, MANAGER)
    assert compare.proven_in_sync(CM, live, MANAGER, ["/data/gone"])


def test_changed_paths_name_keyed_items_and_ignore_their_order():
    before = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
              "data": {"x": "1"}}
    after = {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "a", "image": "1"}]},
             "data": {"y": "1"}}
    assert compare.changed_paths(before, after) == ["data.x", "data.y", "spec.containers[name=b].image"]
    assert compare.changed_paths({"args": ["a", "b"]}, {"args": ["b", "a"]}) == ["args[0]", "args[1]"]
    assert compare.changed_paths({"args": ["a"]}, {"args": ["a", "b"]}) == ["args"]


def test_normalise_drops_bookkeeping_and_empty_values():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "status": {"x": 1},
           "metadata": {"name": "c", "uid": "u", "resourceVersion": "1", "managedFields": [], "generation": 2,
                        "creationTimestamp": "t", "annotations": {compare.LAST_APPLIED: "{}"}, "labels": {}},
           "data": {}}
    assert compare.normalise(obj) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_pointers_round_trip_and_managed_field_sets():
    obj = {"metadata": {"annotations": {"a/b": "1"}}, "spec": {"containers": [{"name": "x", "image": "i"}]}}
    assert compare.pointer_get(obj, "/metadata/annotations/a~1b") == "1"
    assert compare.pointer_get(obj, "/spec/containers/0/image") == "i"
    compare.pointer_set(obj, "/spec/replicas", 3)
    compare.pointer_delete(obj, "/metadata/annotations/a~1b")
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["annotations"] == {}
    with pytest.raises(ValueError):
        compare.parse_pointer("spec/replicas")
    obj["metadata"]["managedFields"] = [{"manager": "hpa", "fieldsV1": {
        "f:spec": {"f:replicas": {}, "f:containers": {'k:{"name":"x"}': {"f:image": {}}}}}}]
    assert compare.managed_pointers(obj, ["hpa"]) == ["/spec/containers/0/image", "/spec/replicas"]
    assert compare.managed_pointers(obj, ["other"]) == []
