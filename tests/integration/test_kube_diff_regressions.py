"""Drift the old in-sync proof missed (issue 11, and the differential test's counterexamples on the
old code), each on the real apiserver: apply, edit in Git, and the check must report the change."""

import copy

import pytest

from kube_corpus import fuzz_crd
from kube_support import fields, kube_diff, kubectl, unique
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


def policy():
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"},
            "spec": {"podSelector": {}, "ingress": [{"from": [
                {"podSelector": {"matchLabels": {"app": "a"}}, "namespaceSelector": {"matchLabels": {"team": "x"}}}]}]}}


def pod_with_toleration():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
                "metadata": {"labels": {"app": "d"}}, "spec": {
                    "containers": [{"name": "app", "image": "nginx:1.27"}],
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]}}}}


def role():
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["one"]}]}


def limit_range():
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m"}}]}}


def fuzz(limits):
    return {"apiVersion": "fuzz.trident.example.com/v1", "kind": "Fuzz", "metadata": {"name": "f"},
            "spec": {"limits": limits}}


def drop(path):
    def edit(obj):
        node = obj
        for token in path[:-1]:
            node = node[token]
        del node[path[-1]]
    return edit


def setter(path, value):
    def edit(obj):
        node = obj
        for token in path[:-1]:
            node = node[token]
        node[path[-1]] = value
    return edit


CASES = {
    "issue11_network_policy_peer_loses_namespace_selector": (
        policy, drop(("spec", "ingress", 0, "from", 0, "namespaceSelector")), "spec.ingress[0].from[0].namespaceSelector"),
    "issue11_toleration_loses_effect": (
        pod_with_toleration, drop(("spec", "template", "spec", "tolerations", 0, "effect")),
        "spec.template.spec.tolerations[0].effect"),
    "issue11_role_rule_loses_resource_names": (role, drop(("rules", 0, "resourceNames")), "rules[0].resourceNames"),
    "issue11_custom_resource_string_1_2_is_not_1_20": (
        lambda: fuzz({"cpu": "1.20"}), setter(("spec", "limits", "cpu"), "1.2"), "spec.limits.cpu"),
    "issue11_config_map_key_named_storage_is_a_string": (
        lambda: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"storage": "1024Mi"}},
        setter(("data", "storage"), "1Gi"), "data.storage"),
    # Found by the differential test on the old code: the server also drops the defaults it derived.
    "fuzz_limit_range_item_loses_max": (limit_range, drop(("spec", "limits", 0, "max")), "spec.limits[type=Container]"),
}


@pytest.fixture(scope="module")
def fuzz_kind(control_plane, tmp_path_factory):
    kube_diff(control_plane, tmp_path_factory.mktemp("crd"), [fuzz_crd()], apply=True, wait=True, wait_timeout=60)


@pytest.mark.parametrize("case", sorted(CASES))
def test_git_edit_the_old_proof_missed_is_reported(control_plane, tmp_path, fuzz_kind, case):
    make, edit, path = CASES[case]
    ns = unique("kdr")
    kubectl(control_plane, "create", "namespace", ns)
    original = make()
    kube_diff(control_plane, tmp_path, [original], apply=True, namespace=ns)
    assert kube_diff(control_plane, tmp_path, [original], check_mode=True, namespace=ns)["changed"] is False
    edited = copy.deepcopy(original)
    edit(edited)
    check = kube_diff(control_plane, tmp_path, [edited], check_mode=True, namespace=ns)
    changed = fields(check, original["kind"], original["metadata"]["name"])
    assert any(p == path or p.startswith(path + ".") or p.startswith(path + "[") for p in changed), changed
    kube_diff(control_plane, tmp_path, [edited], apply=True, namespace=ns)
    assert kube_diff(control_plane, tmp_path, [edited], check_mode=True, namespace=ns)["changed"] is False


def test_fuzz_role_rule_losing_resources_is_refused_not_in_sync(control_plane, tmp_path):
    """Found by the differential test on the old code: it called this in sync; the server refuses it."""
    ns = unique("kdr")
    kubectl(control_plane, "create", "namespace", ns)
    kube_diff(control_plane, tmp_path, [role()], apply=True, namespace=ns)
    edited = role()
    del edited["rules"][0]["resources"]
    with pytest.raises(TridentError, match=r"Role.rbac.authorization.k8s.io .*/r .*resources"):
        kube_diff(control_plane, tmp_path, [edited], check_mode=True, namespace=ns)
