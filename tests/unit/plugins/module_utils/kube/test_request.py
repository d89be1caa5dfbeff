"""kube_diff's ``record`` option in the typed request: the argument spec's rule, not a check of run()'s own."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request

RECORD = {"revision": "3f2a9c01", "tree": "9c8b7a6f"}


def test_record_needs_applyset():
    with pytest.raises(TridentError, match="missing parameter.*required by 'record': applyset"):
        validated_request({"src": ["a.yaml"], "record": RECORD})


def test_the_request_carries_the_record_and_none_without_it():
    request = validated_request({"src": ["a.yaml"], "record": RECORD, "applyset": {"name": "trident-web"}})
    assert request.record == RECORD
    assert request.applyset.name == "trident-web" and request.applyset.namespace == "default"
    assert validated_request({"src": ["a.yaml"]}).record is None
