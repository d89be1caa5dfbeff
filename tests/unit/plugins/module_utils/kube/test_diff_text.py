"""The text of kube_diff's --diff: both sides in one key order, so a diff shows only what changed."""

import difflib
import random

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import to_yaml

KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/", min_size=1, max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=5)), max_leaves=25)
OBJECTS = st.fixed_dictionaries({"apiVersion": st.just("apps/v1"), "kind": st.just("Deployment"),
                                 "metadata": st.dictionaries(KEYS, VALUES, max_size=4)},
                                optional={"spec": st.dictionaries(KEYS, VALUES, max_size=5),
                                          "status": st.dictionaries(KEYS, VALUES, max_size=3)})


def reordered(value, rng):
    """The same value with every mapping's keys in another order (as the server or an author may write them)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: reordered(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [reordered(item, rng) for item in value]
    return value


@settings(max_examples=200, deadline=None)
@given(OBJECTS, st.randoms(use_true_random=False))
def test_the_same_object_in_any_key_order_gives_the_same_text(obj, rng):
    assert to_yaml(reordered(obj, rng)) == to_yaml(obj)
    assert yaml.safe_load(to_yaml(obj)) == obj, "the text is the object"


def test_a_deployment_diff_shows_only_the_changed_field():
    live = {"metadata": {"namespace": "n", "name": "web"}, "spec": {"replicas": 7, "selector": {"app": "web"}},
            "kind": "Deployment", "apiVersion": "apps/v1"}
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "n"},
               "spec": {"selector": {"app": "web"}, "replicas": 2}}
    diff = difflib.unified_diff(to_yaml(live).splitlines(), to_yaml(desired).splitlines(), lineterm="", n=0)
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  replicas: 7", "+  replicas: 2"]
    assert to_yaml(desired).splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]


def test_reordered_helper_really_reorders():
    obj = {str(i): i for i in range(10)}
    assert list(reordered(obj, random.Random(1))) != list(obj)
