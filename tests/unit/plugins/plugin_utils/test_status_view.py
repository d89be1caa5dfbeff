"""Where an environment stands (status/view.py), decided from what was read; and the table and JSON show every
repository string as visible text. The real environments in every state are tests/integration/test_status.py."""

import json
import re

from hypothesis import given, settings

from test_report_text import TEXT
from ansible_collections.trident.gitops.plugins.action.environment_status import place_of
from ansible_collections.trident.gitops.plugins.plugin_utils.report_text import visible
from ansible_collections.trident.gitops.plugins.plugin_utils.status import view
from ansible_collections.trident.gitops.plugins.plugin_utils.status.read import Read

A, B = "a" * 40, "b" * 40
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def read(name, recorded_tree="t1", tree="t1", health="Healthy", revision=B, problems=()):
    recorded = {"revision": A, "tree": recorded_tree} if recorded_tree else None
    return Read(name, recorded=recorded, revision=revision, tree=tree, health=health, problems=list(problems))


def test_each_state_from_what_was_read():
    reads = [read("insync"), read("drifted", tree="t2"), read("never", recorded_tree=None),
             read("degraded", health="Degraded"), read("held", tree="t2"),
             read("unread", recorded_tree=None, problems=["cannot reach the Kubernetes API server"])]
    found = {entry["name"]: entry for entry in view.entries(reads, {"held": "drifted"})}
    assert {name: entry["state"] for name, entry in found.items()} == {
        "insync": "in sync", "drifted": "drifted", "never": "never deployed", "degraded": "Degraded",
        "held": "held", "unread": "unknown"}
    assert found["held"]["promotion"] == {"from": "drifted", "waits": True, "reason": (
        "waiting for drifted to be Healthy at bbbbbbb (drifted runs aaaaaaa, Healthy); held stays at aaaaaaa")}
    assert found["degraded"]["sync"] == "in sync"


def test_a_promotion_waits_only_while_the_upstream_does_not_run_the_branch_healthy():
    upstream_there = Read("staging", recorded={"revision": B, "tree": "s"}, revision=B, tree="s", health="Healthy")
    upstream_broken = Read("staging", recorded={"revision": B, "tree": "s"}, revision=B, tree="s", health="Degraded")
    prod = read("prod", tree="t2")
    assert view.entries([upstream_there, prod], {"prod": "staging"})[1]["state"] == "drifted"
    assert view.entries([upstream_broken, prod], {"prod": "staging"})[1]["state"] == "held"
    assert view.entries([prod], {"prod": "staging"})[0]["state"] == "held", "an upstream not read holds it"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=TEXT, subject=TEXT, reason=TEXT, problem=TEXT)
def test_repository_text_is_visible_text_in_the_table_and_the_json(name, subject, reason, problem):
    reads = [Read(name, recorded={"revision": A, "tree": "t1"}, revision=B, tree="t2", subject=subject,
                  health="Degraded", unhealthy=[{"kind": "Deployment", "namespace": name, "name": subject,
                                                 "health": "Degraded", "reason": reason}],
                  problems=[problem] if problem else [])]
    found = view.entries(reads, {})
    table, document = view.table(found), view.as_json(found)
    assert not _CONTROL.search(table) and not _CONTROL.search(document)
    assert all(line.strip() for line in table.split("\n")[:2]), "a value ended a table line"
    assert len(table.split("\n")) == 4
    loaded = json.loads(document)["environments"][0]
    assert (loaded["name"], loaded["branch"]["subject"]) == (visible(name), visible(subject))


def test_where_records_live_follows_the_roles_defaults_and_the_operators_variables():
    env = {"name": "prod", "dir": "environments/prod", "repository": {"path": "/srv/repo"},
           "steps": ["source", "terraform", "kubernetes"], "kubeconfig": "kubeconfig.yaml",
           "settings": {"namespace": "shop", "promote_from": "staging", "terraform_workspace": "blue"}}
    place = place_of("prod", {"trident_environment": env})
    assert (place.applyset.name, place.applyset.namespace, place.workspace) == ("trident-prod", "shop", "blue")
    assert place.connection.kubeconfig == "/srv/repo/environments/prod/kubeconfig.yaml"
    assert place.promote_from == "staging"
    assert place.state_dir == "~/.cache/trident-gitops/terraform-state/prod"
    operator = place_of("prod", {"trident_environment": {**env, "kubeconfig_encrypted": True},
                                 "kubernetes_applyset_name": "set", "kubernetes_applyset_namespace": "ops",
                                 "terraform_state_dir": "/state/prod"})
    assert (operator.applyset.name, operator.applyset.namespace, operator.state_dir) == ("set", "ops", "/state/prod")
    assert operator.connection is None
    assert place_of("ghost", {}).error.startswith("ghost: no trident_environment")
