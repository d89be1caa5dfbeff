"""JSON pointers with list items addressed by index or merge key, and managed field sets."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube import pointers


def test_pointers_resolve_indices_and_merge_keys():
    obj = {"metadata": {"annotations": {"a/b": "1"}},
           "spec": {"containers": [{"name": "x", "image": "i"}, {"name": "app", "image": "j"}],
                    "ports": [{"port": 80, "protocol": "TCP"}]}}
    assert pointers.get(obj, "/metadata/annotations/a~1b") == "1"
    assert pointers.get(obj, "/spec/containers/0/image") == "i"
    assert pointers.get(obj, "/spec/containers/name=app/image") == "j"
    assert pointers.resolve(obj, "/spec/ports/port=80,protocol=TCP") == ["spec", "ports", 0]
    assert pointers.resolve(obj, "/spec/containers/name=nope/image") is None
    pointers.delete(obj, "/spec/containers/name=app/image")
    pointers.delete(obj, "/metadata/annotations/a~1b")
    pointers.delete(obj, "/not/there")
    assert obj["spec"]["containers"][1] == {"name": "app"} and obj["metadata"]["annotations"] == {}
    with pytest.raises(ValueError):
        pointers.parse_pointer("spec/replicas")


def test_managed_pointers_of_named_managers_and_of_everyone_else():
    obj = {"spec": {"replicas": 2, "containers": [{"name": "x", "image": "i"}]}, "metadata": {"managedFields": [
        {"manager": "hpa", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "updater", "operation": "Update",
         "fieldsV1": {"f:spec": {"f:containers": {'k:{"name":"x"}': {"f:image": {}}}}}},
        {"manager": "me", "operation": "Apply", "fieldsV1": {"f:spec": {"f:containers": {}}}}]}}
    assert pointers.managed_pointers(obj, ["hpa"]) == ["/spec/replicas"]
    assert pointers.managed_pointers(obj, ["other"]) == []
    assert pointers.managed_pointers(obj, (), exclude="me") == ["/spec/containers/name=x/image", "/spec/replicas"]
