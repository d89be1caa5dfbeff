"""Kubernetes name rules: the boundaries the apiserver enforces (length and characters)."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.names import is_dns_label, is_dns_subdomain


@pytest.mark.parametrize("name, label, subdomain", [
    ("a", True, True),
    ("web-1", True, True),
    ("a" * 63, True, True),
    ("a" * 64, False, True),
    ("web.example", False, True),
    ("-web", False, False),
    ("web-", False, False),
    ("Web", False, False),
    ("web..example", False, False),
    ("", False, False),
    (None, False, False),
    (".".join(["a" * 63] * 4), False, False),  # 255 characters
])
def test_names(name, label, subdomain):
    assert is_dns_label(name) is label
    assert is_dns_subdomain(name) is subdomain


def test_a_shorter_limit_for_helm_release_names():
    assert is_dns_label("a" * 53, 53)
    assert not is_dns_label("a" * 54, 53)
