"""Canonical quantity spellings, as k8s.io/apimachinery's resource.Quantity stores them."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube import quantity


@pytest.mark.parametrize("given, stored", [
    ("0.5", "500m"), (0.5, "500m"), (1, "1"), ("1000", "1k"), ("1200", "1200"), ("1.5", "1500m"),
    ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("0.5Gi", "512Mi"), ("1Ki", "1Ki"), ("0.1Ki", "102400m"),
    ("1073741824", "1073741824"), ("1e3", "1e3"), ("129e6", "129e6"), ("129M", "129M"), ("0", "0"),
    ("0Gi", "0"), ("100m", "100m"), ("0.1n", "1n"), ("-1.5", "-1500m"), ("2048Ki", "2Mi")])
def test_canonical_spelling(given, stored):
    assert quantity.canonical(given) == stored


@pytest.mark.parametrize("value", ["abc", "1.2.3", "1Kb", True, None, "", {"a": 1}])
def test_not_a_quantity(value):
    assert quantity.canonical(value) is None
