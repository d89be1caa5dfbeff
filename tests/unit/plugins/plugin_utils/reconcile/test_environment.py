"""trident_environment carries no string Ansible would template: trust given to the inventory's options (a branch
name in ``version`` comes from a YAML file Ansible trusts) is dropped everywhere in the variable."""

from __future__ import annotations

from ansible._internal._datatag._tags import TrustedAsTemplate
from ansible.module_utils._internal._datatag import AnsibleTagHelper

from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import (BrokenEnvironment,
                                                                                           as_data)

HOSTILE = "{{ lookup('pipe', 'touch marker') }}"


def tagged(text):
    return TrustedAsTemplate().tag(text)


def strings(value):
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in strings(key) + strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def test_no_string_of_the_variable_is_trusted_as_a_template():
    source = {"url": tagged("git://host/repo.git"), "version": tagged(HOSTILE), tagged("commit"): tagged("abc")}
    variable = BrokenEnvironment("prod", "environments/prod", "broken", "/repo").as_variable(source)
    found = strings(variable)
    assert HOSTILE in found and "commit" in found
    assert all(not AnsibleTagHelper.tags(text) for text in found)


def test_as_data_keeps_values_and_shapes():
    value = {"a": [tagged("x"), 1, True, None, ("t", {"k": tagged("v")})]}
    assert as_data(value) == {"a": ["x", 1, True, None, ["t", {"k": "v"}]]}
    assert not AnsibleTagHelper.tags(as_data(value)["a"][4][1]["k"])
