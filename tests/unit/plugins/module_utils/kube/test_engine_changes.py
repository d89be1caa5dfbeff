"""kube_diff's per-field changes: values for ordinary fields, "masked" only for a masked one (a secret value)."""

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask
from ansible_collections.trident.gitops.plugins.module_utils.kube.engine import change_entry


def test_values_are_reported_for_ordinary_fields():
    assert change_entry("spec.replicas", 3, 1) == {"path": "spec.replicas", "before": 3, "after": 1}
    assert change_entry("data.mode", "blue", "red") == {"path": "data.mode", "before": "blue", "after": "red"}


def test_a_masked_field_is_changed_without_values():
    for before, after in ((mask("old"), mask("new")), (None, mask("new")), (mask("old"), None)):
        assert change_entry("data.url", before, after) == {"path": "data.url", "masked": True}
