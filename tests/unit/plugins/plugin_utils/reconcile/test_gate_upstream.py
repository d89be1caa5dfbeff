"""The promotion gate's upstream when the inventory does not hold it (AWX job slicing lists only the slice's hosts):
described from the checkout, so its record can be read from its cluster; a name the checkout lacks is unknown."""

import yaml

from ansible_collections.trident.gitops.plugins.action.reconcile_gate import described_upstream, upstream_of


def checkout(tmp_path):
    staging = tmp_path / "environments" / "staging"
    (staging / "yaml").mkdir(parents=True)
    (staging / "env.yml").write_text(yaml.safe_dump({"namespace": "web"}))
    (staging / "yaml" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    tf_only = tmp_path / "environments" / "network"
    tf_only.mkdir(parents=True)
    (tf_only / "main.tf").write_text('resource "terraform_data" "a" {}\n')
    return str(tmp_path)


def test_an_upstream_outside_the_inventory_is_described_from_the_checkout(tmp_path):
    described = described_upstream("staging", checkout(tmp_path), "environments")
    assert described["name"] == "staging" and described["dir"] == "environments/staging"
    assert "kubernetes" in described["steps"] and described["settings"]["namespace"] == "web"
    assert described_upstream("nowhere", str(tmp_path), "environments") is None


def test_an_upstream_without_kubernetes_outside_the_inventory_is_not_known(tmp_path):
    # Nothing this controller can read it from: the gate's decision says the upstream runs nothing.
    assert upstream_of("network", {}, checkout(tmp_path), "environments") is None


def test_an_upstream_that_ran_in_this_run_is_what_it_reported(tmp_path):
    state = {"revision": "abc", "tree": "def", "health": "Healthy"}
    assert upstream_of("staging", {"staging": {"reconcile_state": state}}, checkout(tmp_path), "environments") == state


def test_an_upstream_named_by_a_path_is_never_looked_up(tmp_path):
    root = checkout(tmp_path)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "env.yml").write_text("namespace: x\n")
    for hostile in ("../outside", "staging/../staging", "/etc", "~root", "$HOME", "{{ lookup('pipe','id') }}", ""):
        assert described_upstream(hostile, root, "environments") is None
