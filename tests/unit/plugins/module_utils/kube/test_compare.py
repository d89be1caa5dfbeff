"""The pure comparison logic: the schema-driven in-sync proof and field paths.

The regression cases of issue 11 (drift the old proof missed) are named ``test_issue11_*``.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.module_utils.kube import compare
from mini_openapi import root

MANAGER = "trident-gitops"


def live_with(obj, fields, manager=MANAGER, api_version=None):
    live = json.loads(json.dumps(obj))
    live.setdefault("metadata", {})["managedFields"] = [{
        "manager": manager, "operation": "Apply", "apiVersion": api_version or obj["apiVersion"],
        "fieldsType": "FieldsV1", "fieldsV1": json.loads(json.dumps(fields))}]
    return live


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n", "labels": {"a": "1"}},
      "data": {"k": "v"}}
CM_FIELDS = {"f:metadata": {"f:labels": {"f:a": {}}}, "f:data": {"f:k": {}}}


def test_in_sync_when_values_and_ownership_match():
    live = live_with(CM, CM_FIELDS)
    live["metadata"].update(uid="x", resourceVersion="9", labels={"a": "1", "someone-else": "y"})
    assert compare.proven_in_sync(CM, live, MANAGER, root("ConfigMap"))


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
    assert not compare.proven_in_sync(CM, live, manager, root("ConfigMap"))


def test_keyed_lists_atomic_maps_and_defaulted_key_fields():
    desired = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    fields = {"f:spec": {"f:selector": {}, "f:ports": {'k:{"port":80,"protocol":"TCP"}': {
        ".": {}, "f:port": {}, "f:targetPort": {}}}}}
    live = live_with(desired, fields)
    live["spec"]["ports"][0]["protocol"] = "TCP"
    live["spec"]["clusterIP"] = "10.0.0.1"
    assert compare.proven_in_sync(desired, live, MANAGER, root("Service"))
    live["spec"]["selector"]["extra"] = "x"  # an atomic map is replaced whole by an apply
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Service"))


def test_string_data_compares_with_the_stored_data():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}}
    live = live_with({**desired, "stringData": None, "data": {"pw": "aHVudGVyMg=="}},
                     {"f:stringData": {"f:pw": {}}})
    assert compare.proven_in_sync(desired, live, MANAGER, root("Secret"))
    live["data"]["pw"] = "b3RoZXI="
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Secret"))


def test_ignored_pointer_is_left_out_of_the_proof():
    live = live_with(CM, {**CM_FIELDS, "f:data": {"f:k": {}, "f:gone": {}}})
    assert not compare.proven_in_sync(CM, live, MANAGER, root("ConfigMap"))
    assert compare.proven_in_sync(CM, live, MANAGER, root("ConfigMap"), ["/data/gone"])


def test_changed_paths_name_keyed_items_and_ignore_their_order():
    before = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
              "data": {"x": "1"}}
    after = {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "a", "image": "1"}]},
             "data": {"y": "1"}}
    assert compare.changed_paths(before, after) == ["data.x", "data.y", "spec.containers[name=b].image"]
    assert compare.changed_paths({"args": ["a", "b"]}, {"args": ["b", "a"]}) == ["args[0]", "args[1]"]
    assert compare.changed_paths({"args": ["a"]}, {"args": ["a", "b"]}) == ["args"]


def test_normalise_drops_bookkeeping_and_nulls_but_keeps_empty_values():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "status": {"x": 1},
           "metadata": {"name": "c", "uid": "u", "resourceVersion": "1", "managedFields": [], "generation": 2,
                        "creationTimestamp": "t", "annotations": {compare.LAST_APPLIED: "{}"}, "labels": None},
           "data": {}}
    # An empty selector means "everything": it must never compare equal to an absent one.
    assert compare.normalise(obj) == {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "c", "annotations": {}}, "data": {}}


def test_no_schema_proves_nothing():
    assert not compare.proven_in_sync(CM, live_with(CM, CM_FIELDS), MANAGER, None)


POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
          "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}],
                                                   "ports": [{"port": 80}]}]}}
POLICY_FIELDS = {"f:spec": {"f:podSelector": {}, "f:ingress": {}}}


def test_atomic_list_items_may_hold_schema_defaults_only():
    live = live_with(POLICY, POLICY_FIELDS)
    live["spec"]["ingress"][0]["ports"][0]["protocol"] = "TCP"  # declared default: the server set it
    assert compare.proven_in_sync(POLICY, live, MANAGER, root("NetworkPolicy"))
    live["spec"]["ingress"][0]["ports"][0]["protocol"] = "UDP"
    assert not compare.proven_in_sync(POLICY, live, MANAGER, root("NetworkPolicy"))


def test_issue11_network_policy_peer_losing_namespace_selector_is_drift():
    live = live_with(POLICY, POLICY_FIELDS)
    live["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {"matchLabels": {"team": "x"}}
    assert not compare.proven_in_sync(POLICY, live, MANAGER, root("NetworkPolicy"))


def test_issue11_an_empty_selector_is_not_an_absent_one():
    desired = json.loads(json.dumps(POLICY))
    desired["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}  # every namespace: wider than live
    assert not compare.proven_in_sync(desired, live_with(POLICY, POLICY_FIELDS), MANAGER, root("NetworkPolicy"))


def test_issue11_toleration_losing_effect_is_drift():
    desired = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}
    live = live_with(desired, {"f:spec": {"f:tolerations": {}}})
    assert compare.proven_in_sync(desired, live, MANAGER, root("Pod"))
    live["spec"]["tolerations"][0]["effect"] = "NoSchedule"
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Pod"))


def test_issue11_role_rule_losing_resource_names_is_drift():
    desired = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    live = live_with(desired, {"f:rules": {}})
    live["rules"][0]["resourceNames"] = ["only-this-one"]
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Role"))


def test_issue11_custom_resource_strings_are_not_quantities():
    desired = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"version": "1.2"}}
    live = live_with(desired, {"f:spec": {"f:version": {}}})
    assert compare.proven_in_sync(desired, live, MANAGER, root("Widget"))
    live["spec"]["version"] = "1.20"
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Widget"))


def test_issue11_config_map_key_named_storage_is_a_string():
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"storage": "1Gi"}}
    live = live_with(desired, {"f:data": {"f:storage": {}}})
    live["data"]["storage"] = "1024Mi"
    assert not compare.proven_in_sync(desired, live, MANAGER, root("ConfigMap"))


def pod(limits):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "i", "resources": {"limits": limits}}]}}


POD_FIELDS = {"f:spec": {"f:containers": {'k:{"name":"app"}': {
    ".": {}, "f:name": {}, "f:image": {}, "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}}}}}}


@pytest.mark.parametrize("spelled, stored, proven", [
    ("0.5", "500m", True), (0.5, "500m", True), ("1024Mi", "1Gi", True), ("1000", "1k", True),
    # The same amount in another suffix family is stored differently: an apply would change it.
    ("1073741824", "1Gi", False), ("1Gi", "1073741824", False), ("500m", "0.5", False)])
def test_quantities_compare_by_the_canonical_spelling_where_the_schema_says_quantity(spelled, stored, proven):
    live = live_with(pod({"cpu": "1", "memory": stored}), POD_FIELDS)
    assert compare.proven_in_sync(pod({"cpu": 1, "memory": spelled}), live, MANAGER, root("Pod")) is proven


def test_keyed_list_order_must_agree_with_live():
    two = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]}}
    item = {".": {}, "f:name": {}, "f:image": {}}
    live = live_with(two, {"f:spec": {"f:containers": {'k:{"name":"a"}': item, 'k:{"name":"b"}': item}}})
    assert compare.proven_in_sync(two, live, MANAGER, root("Pod"))
    swapped = json.loads(json.dumps(two))
    swapped["spec"]["containers"].reverse()
    assert not compare.proven_in_sync(swapped, live, MANAGER, root("Pod"))


def test_set_lists_match_by_value():
    desired = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"finalizers": ["a", "b"]}}
    live = live_with(desired, {"f:spec": {"f:finalizers": {".": {}, 'v:"a"': {}, 'v:"b"': {}}}})
    live["spec"]["finalizers"].append("someone-elses")
    assert compare.proven_in_sync(desired, live, MANAGER, root("Pod"))
    live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:finalizers"]['v:"gone"'] = {}
    assert not compare.proven_in_sync(desired, live, MANAGER, root("Pod"))


def test_empty_maps_are_dropped_by_built_in_kinds_only():
    desired = {**CM, "metadata": {**CM["metadata"], "annotations": {}}}
    assert compare.proven_in_sync(desired, live_with(CM, CM_FIELDS), MANAGER, root("ConfigMap"))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"tags": {}}}
    live = live_with({**widget, "spec": {}}, {"f:spec": {}})
    assert not compare.proven_in_sync(widget, live, MANAGER, root("Widget")), "a custom resource keeps {}"


def test_unknown_fields_are_not_proven():
    desired = {**CM, "dataa": {"typo": "x"}}
    live = live_with(CM, {**CM_FIELDS, "f:dataa": {"f:typo": {}}})
    assert not compare.proven_in_sync(desired, live, MANAGER, root("ConfigMap"))


def test_changed_paths_report_a_reordering():
    before = {"c": [{"name": "a"}, {"name": "b"}]}
    assert compare.changed_paths(before, {"c": [{"name": "b"}, {"name": "a"}]}) == ["c"]


def test_changed_values_carry_before_and_after_for_every_changed_path():
    before = {"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "web", "image": "app:v6.1.1-hotfix"}, {"name": "side", "image": "s:1"}]}}}}
    after = {"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "web", "image": "app:v6.2.0"}, {"name": "side", "image": "s:1"}]}}}, "data": {"k": "v"}}
    changes = compare.changed_values(before, after)
    assert changes == [("data.k", None, "v"), ("spec.replicas", 3, 1),
                       ("spec.template.spec.containers[name=web].image", "app:v6.1.1-hotfix", "app:v6.2.0")]
    assert compare.changed_paths(before, after) == [change[0] for change in changes]
    assert compare.changed_values([1, 2], [1, 2, 3], "args") == [("args", [1, 2], [1, 2, 3])]


def test_a_map_removed_or_added_whole_is_named_to_the_leaf():
    """Issue 25: Git dropping a ConfigMap's whole ``data`` names ``data.readme.txt``, not ``data``."""
    live = {"data": {"readme.txt": "hello", "mode": "fast"}, "metadata": {"labels": {"a": "1"}}}
    assert compare.changed_values(live, {"metadata": {"labels": {"a": "1"}}}) == [
        ("data.mode", "fast", None), ("data.readme.txt", "hello", None)]
    assert compare.changed_paths({}, {"spec": {"limits": {"cpu": 1}, "mode": "x"}}) == ["spec.limits.cpu", "spec.mode"]
    # an empty map, a list and a change of type are named by their own path
    assert compare.changed_paths({"data": {}}, {}) == ["data"]
    assert compare.changed_paths({"args": ["a"]}, {}) == ["args"]
    assert compare.changed_paths({"spec": {"a": 1}}, {"spec": "text"}) == ["spec"]


# Keys without "." or "[" so that a reported path can be followed back into the objects.
_KEYS = st.text(alphabet="abcxyz-_/", min_size=1, max_size=4)
_TREES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text("ab", max_size=2)),
                      lambda children: st.dictionaries(_KEYS, children, max_size=4), max_leaves=12)


def _at(tree, path):
    for name in path.split("."):
        if not isinstance(tree, dict):
            return None
        tree = tree.get(name)
    return tree


def _put(tree, path, value):
    names = path.split(".")
    for name in names[:-1]:
        if not isinstance(tree.get(name), dict):
            tree[name] = {}
        tree = tree[name]
    if value is None:
        tree.pop(names[-1], None)
    else:
        tree[names[-1]] = value


def _pruned(tree):
    """The tree without null values and empty maps: leaf by leaf, a map whose fields are all removed and one
    removed whole read the same."""
    if not isinstance(tree, dict):
        return tree
    out = {key: _pruned(value) for key, value in tree.items() if value is not None}
    return {key: value for key, value in out.items() if value != {}}


@settings(max_examples=300, deadline=None)
@given(before=st.dictionaries(_KEYS, _TREES, max_size=4), after=st.dictionaries(_KEYS, _TREES, max_size=4))
def test_changes_are_leaves_that_turn_before_into_after(before, after):
    """Differential against the objects themselves: every change names a leaf (never a non-empty map on both
    sides' absent/present boundary), its values are what the objects hold there, and applying the changes to
    ``before`` gives ``after`` (up to empty maps)."""
    changes = compare.changed_values(before, after)
    rebuilt = json.loads(json.dumps(before))
    for path, old, new in changes:
        assert not (isinstance(old, dict) and old and new is None), path
        assert not (isinstance(new, dict) and new and old is None), path
        assert compare.json_equal(old, _at(before, path)) or old is None and _at(before, path) is None
        assert compare.json_equal(new, _at(after, path)) or new is None and _at(after, path) is None
        _put(rebuilt, path, new)
    assert compare.json_equal(_pruned(rebuilt), _pruned(after))
    assert [c[0] for c in changes] == compare.changed_paths(before, after)
