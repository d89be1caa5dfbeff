"""Issue 25, against a real kube-apiserver: nothing the ApplySet ever owned is forgotten.

With ``prune: false`` (the default) an object Git no longer has stays in the cluster, is reported on every run as
kept, and the parent keeps listing its kind and namespace (also when the kind leaves the desired set entirely and
the apply rewrites the parent), so turning prune on later deletes it. A removed field is named to the leaf.
"""

import pytest

from kube_support import config_map, get, kube_diff, namespace, service, unique
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import (GROUP_KINDS, NAMESPACES, PART_OF,
                                                                                   applyset_id)

KEPT = "not in Git, kept (prune: false)"
PRUNED = "not in Git, pruned (prune: true)"


def elsewhere(name, where):
    return config_map(name, {"k": "v"}, namespace=where)


def entries(result):
    """{(kind, namespace, name): (action, reason)} of every entry that is not in sync."""
    return {(d["kind"], d["namespace"], d["name"]): (d["action"], d["reason"])
            for d in result["drift"] if d["action"] != "none"}


def parent_spans(control_plane, ns):
    annotations = get(control_plane, "secret", "trident-env", ns)["metadata"]["annotations"]
    return annotations[GROUP_KINDS], annotations.get(NAMESPACES, "")


def member(control_plane, kind, name, where, ns):
    """The live object, asserted still labelled part of the set."""
    found = get(control_plane, kind, name, where)
    assert found is not None, f"{kind} {where}/{name} must still exist"
    assert found["metadata"]["labels"][PART_OF] == applyset_id("trident-env", ns, "Secret", "")
    return found


@pytest.fixture()
def env(control_plane, tmp_path):
    ns = unique("kown")
    other = f"{ns}-b"

    def run(objects, **params):
        base = {"applyset": {"name": "trident-env", "namespace": ns}, "namespace": ns}
        return kube_diff(control_plane, tmp_path, [namespace(ns), namespace(other), *objects], **{**base, **params})
    return ns, other, run


def test_removed_objects_are_kept_and_reported_until_prune_is_turned_on(control_plane, env):
    ns, other, run = env
    web = service("web")
    first = run([config_map("settings", {"k": "v"}), elsewhere("elsewhere", other), web], apply=True)
    assert first["changed"] is True
    assert parent_spans(control_plane, ns) == ("ConfigMap,Namespace,Service", other)

    # Git removes both ConfigMaps (the kind leaves the set entirely, one of them in another namespace) and changes
    # the Service, so the apply writes and rewrites the parent.
    web["spec"]["ports"][0]["port"] = 8080
    applied = run([web], apply=True)
    kept = {("ConfigMap", ns, "settings"): ("keep", KEPT), ("ConfigMap", other, "elsewhere"): ("keep", KEPT)}
    assert entries(applied) == {**kept, ("Service", ns, "web"): ("update", "")}
    assert applied["summary"]["keep"] == 2 and applied["summary"]["update"] == 1
    member(control_plane, "configmap", "settings", ns, ns)
    member(control_plane, "configmap", "elsewhere", other, ns)
    assert parent_spans(control_plane, ns) == ("ConfigMap,Namespace,Service", other), \
        "the parent keeps the kind and namespace of the kept objects"

    # Reported on every run, drift preview and reconcile alike; kept objects alone change nothing.
    for params in ({"check_mode": True}, {"apply": True}, {"apply": True, "record": {"revision": "a" * 40,
                                                                                     "tree": "b" * 40}}):
        again = run([web], **params)
        assert entries(again) == kept, params
        assert again["changed"] is False, params
        assert again["health"]["counts"] == {"Healthy": 3}, "kept objects are left out of the set's health"
    assert parent_spans(control_plane, ns) == ("ConfigMap,Namespace,Service", other), "also after the record"

    # Re-added to Git: an ordinary member again, no longer reported.
    readded = run([web, config_map("settings", {"k": "v"})], check_mode=True)
    assert entries(readded) == {("ConfigMap", other, "elsewhere"): ("keep", KEPT)}

    # Prune turned on: the preview says delete, the reconcile deletes, the parent drops the kind and namespace.
    preview = run([web], check_mode=True, prune=True)
    assert entries(preview) == {key: ("delete", PRUNED) for key in kept}
    assert preview["changed"] is True
    assert get(control_plane, "configmap", "settings", ns) is not None, "check mode deletes nothing"
    pruned = run([web], apply=True, prune=True)
    assert pruned["summary"]["delete"] == 2
    assert get(control_plane, "configmap", "settings", ns) is None
    assert get(control_plane, "configmap", "elsewhere", other) is None
    assert parent_spans(control_plane, ns) == ("Namespace,Service", "")
    settled = run([web], check_mode=True, prune=True)
    assert entries(settled) == {} and settled["changed"] is False


def test_a_removal_with_prune_on_deletes_at_once(control_plane, env):
    ns, _other, run = env
    run([config_map("a", {"k": "v"}), config_map("b", {"k": "v"})], apply=True, prune=True)
    result = run([config_map("a", {"k": "v"})], apply=True, prune=True)
    assert entries(result) == {("ConfigMap", ns, "b"): ("delete", PRUNED)}
    assert get(control_plane, "configmap", "b", ns) is None
    assert parent_spans(control_plane, ns) == ("ConfigMap,Namespace", "")


def test_a_removed_field_is_named_to_the_leaf(control_plane, env):
    ns, _other, run = env
    run([config_map("notes", {"readme.txt": "hello", "mode": "fast"})], apply=True)
    removed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes"}}
    result = run([removed], check_mode=True)
    entry = next(d for d in result["drift"] if d["name"] == "notes")
    assert entry["action"] == "update"
    assert entry["fields"] == ["data.mode", "data.readme.txt"]
    assert entry["changes"] == [{"path": "data.mode", "before": "fast", "after": None},
                                {"path": "data.readme.txt", "before": "hello", "after": None}]
