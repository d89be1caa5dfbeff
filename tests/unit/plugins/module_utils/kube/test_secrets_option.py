"""kube_diff's ``secrets`` option: Secrets built in the module from decrypted data, never in a template."""

import base64

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import secret_documents


def test_secrets_are_built_from_the_named_data_with_string_values():
    data = {"app": {"greeting": "hi", "port": 8080, "debug": True}, "other": {"x": "y"}}
    secrets = [{"name": "app-secret", "from": "app"},
               {"name": "tls", "namespace": "edge", "type": "kubernetes.io/tls", "from": "other"}]
    documents, problems = secret_documents(secrets, data, "apps")
    assert problems == []
    first, second = (doc.obj for doc in documents)
    assert first["metadata"] == {"name": "app-secret", "namespace": "apps"} and first["type"] == "Opaque"
    assert {key: base64.b64decode(value).decode() for key, value in first["data"].items()} == {
        "greeting": "hi", "port": "8080", "debug": "True"}
    assert second["metadata"] == {"name": "tls", "namespace": "edge"} and second["type"] == "kubernetes.io/tls"
    assert documents[1].source == "secrets[1] (tls)"


def test_a_secret_naming_missing_data_is_a_problem_without_values():
    data = {"app": {"greeting": "s3cr3t"}, "list": ["not", "a", "mapping"]}
    documents, problems = secret_documents([{"name": "a", "from": "missing"}, {"name": "b", "from": "list"}], data, "")
    assert documents == []
    assert problems == ["secrets[0] (a): no decrypted SOPS file named 'missing' holds a mapping",
                        "secrets[1] (b): no decrypted SOPS file named 'list' holds a mapping"]
    assert not any("s3cr3t" in problem for problem in problems)


def test_the_request_carries_the_argument_spec_defaults_and_rules():
    request = validated_request({"secrets": [{"name": "s", "from": "app"}], "secret_data": {"app": {"k": "v"}}})
    assert request.namespace == "default" and request.field_manager == "trident-gitops"
    assert request.secrets == ({"name": "s", "namespace": None, "type": "Opaque", "from": "app"},)
    with pytest.raises(TridentError, match="one of the following is required"):
        validated_request({"namespace": "x"})
    with pytest.raises(TridentError, match="prune is True but all of the following are missing: applyset"):
        validated_request({"src": ["a.yaml"], "prune": True})
