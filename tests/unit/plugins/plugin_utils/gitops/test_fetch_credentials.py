"""One set of git credentials: what the inventory was given becomes the TRIDENT_GIT_* the modules read."""

from ansible_collections.trident.gitops.plugins.module_utils.git.auth import GitAuth
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.fetch import share_credentials, split_credentials


def test_options_and_url_credentials_are_shared_without_overriding_the_environment():
    url, auth = split_credentials("https://bot:s3cret@git.example.com/ops.git", GitAuth(key_file="/k"))
    environ = {"TRIDENT_GIT_USERNAME": "from-env"}
    share_credentials(auth, environ)
    assert url == "https://git.example.com/ops.git"
    assert environ == {"TRIDENT_GIT_USERNAME": "from-env", "TRIDENT_GIT_PASSWORD": "s3cret",
                       "TRIDENT_GIT_KEY_FILE": "/k"}


def test_nothing_given_sets_nothing():
    environ = {}
    share_credentials(GitAuth(), environ)
    assert environ == {}
