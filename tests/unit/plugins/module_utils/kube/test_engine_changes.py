"""kube_diff's per-field changes: values for ordinary fields, never for a Secret's values."""

from ansible_collections.trident.gitops.plugins.module_utils.kube.engine import change_entry


def test_values_are_reported_for_ordinary_fields():
    assert change_entry("Deployment", "spec.replicas", 3, 1) == {"path": "spec.replicas", "before": 3, "after": 1}
    assert change_entry("ConfigMap", "data.mode", "blue", "red") == {"path": "data.mode", "before": "blue",
                                                                     "after": "red"}


def test_a_secret_value_is_changed_without_values():
    for path in ("data", "data.password", "stringData.token", "binaryData.key"):
        assert change_entry("Secret", path, "b2xk", "bmV3") == {"path": path, "masked": True}
    # a Secret's other fields keep their values
    assert change_entry("Secret", "metadata.labels.tier", "a", "b")["after"] == "b"
    assert change_entry("Secret", "dataset", 1, 2)["after"] == 2
