"""ApplySet ids and parent annotations (kubectl's format; kubectl itself is compared in integration)."""

import base64
import hashlib

from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import (
    GROUP_KINDS, ID_LABEL, NAMESPACES, TOOLING, ApplySet, applyset_id, parse_group_kinds)


def test_id_is_the_hash_of_name_namespace_kind_group():
    digest = hashlib.sha256(b"set.ns.Secret.").digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert applyset_id("set", "ns", "Secret", "") == expected
    assert "=" not in expected and "+" not in expected and "/" not in expected
    assert applyset_id("set", "ns", "Secret", "") != applyset_id("set", "ns", "ConfigMap", "")


def test_parent_lists_sorted_group_kinds_and_other_namespaces():
    applyset = ApplySet("set", "ns")
    parent = applyset.parent({("apps", "Deployment"), ("", "ConfigMap"), ("", "Namespace")}, {"ns", "b", "a", ""})
    meta = parent["metadata"]
    assert meta["labels"] == {ID_LABEL: applyset.id}
    assert meta["annotations"][GROUP_KINDS] == "ConfigMap,Deployment.apps,Namespace"
    assert meta["annotations"][NAMESPACES] == "a,b"
    assert meta["annotations"][TOOLING].startswith("trident.gitops/")
    assert ApplySet.recorded(parent) == ({("apps", "Deployment"), ("", "ConfigMap"), ("", "Namespace")},
                                         {"a", "b", "ns"})
    assert parse_group_kinds("Widget.example.com, ,ConfigMap") == {("example.com", "Widget"), ("", "ConfigMap")}
    assert ApplySet.recorded(None) == (set(), set())


def test_the_deployed_revision_is_written_and_read_back_only_whole():
    applyset = ApplySet("set", "ns")
    parent = applyset.parent({("", "ConfigMap")}, {"ns"}, {"revision": "abc123", "tree": "def456"})
    assert ApplySet.deployed(parent) == {"revision": "abc123", "tree": "def456"}
    assert ApplySet.deployed(applyset.parent({("", "ConfigMap")}, {"ns"})) is None
    parent["metadata"]["annotations"].pop("trident.gitops/tree")
    assert ApplySet.deployed(parent) is None
    assert ApplySet.deployed(None) is None
