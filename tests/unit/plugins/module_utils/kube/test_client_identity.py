"""A 401 names the server and who we tried to be (user, context, kind of credential), never the credential."""

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.kube.client import credential_kind

CONFIG = {"current-context": "prod", "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "ci"}}],
          "users": [{"name": "ci", "user": {}}]}


@pytest.mark.parametrize("user, kind", [({"token": "s3cr3t"}, "a bearer token"),
                                        ({"tokenFile": "t"}, "a token file"),
                                        ({"client-certificate-data": "x", "client-key-data": "y"}, "a client certificate"),
                                        ({"exec": {"command": "aws"}}, "an exec plugin"),
                                        ({}, "no credentials")])
def test_credential_kind_names_user_context_and_kind_only(user, kind):
    config = {**CONFIG, "users": [{"name": "ci", "user": user}]}
    described = credential_kind(config)
    assert described == f"user 'ci' of context 'prod' ({kind})"
    assert "s3cr3t" not in described
