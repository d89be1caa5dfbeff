"""Values: helm's merge rule, paths kept inside the repository, SOPS files opened in memory only."""

import json
import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.helm.paths import check_tree, inside_repository
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_release
from ansible_collections.trident.gitops.plugins.module_utils.helm.values import merge_values, release_values

WHERE = "env.yml: helm release 'web'"


def test_merge_is_helms_merge_maps():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 1}, "f": "x"}
    assert merge_values(base, {"a": {"c": [3], "g": None}, "d": "scalar", "h": {"i": 1}}) == {
        "a": {"b": 1, "c": [3], "g": None}, "d": "scalar", "f": "x", "h": {"i": 1}}
    assert base["a"] == {"b": 1, "c": [1, 2]}  # not modified in place


@pytest.fixture
def repo(tmp_path):
    env = tmp_path / "repo" / "environments" / "prod"
    env.mkdir(parents=True)
    (env / "values.yaml").write_text("a: 1\n")
    (env / "a,b.yaml").write_text("a: 1\n")
    (env / "secrets").mkdir()
    (env / "secrets" / "one.sops.yaml").write_text("encrypted: one\n")
    (env / "secrets" / "two.sops.json").write_text('{"encrypted": "two"}')
    (tmp_path / "outside.yaml").write_text("b: 2\n")
    return tmp_path / "repo", env


def _release(**extra):
    return parse_release({"name": "web", "namespace": "web", "chart": {"path": "c"}, **extra}, "env.yml")


def test_secret_files_then_inline_values_go_to_stdin_in_order(repo):
    root, env = repo
    opened = []

    def decrypt(content, fmt, source):
        opened.append((content, fmt))
        return [{"one": {"password": "s3cret-one", "keep": 1}}] if fmt == "yaml" else \
            [{"one": {"password": "s3cret-two"}, "list": ["s3cret-item"]}]

    values = release_values(_release(values_files=["values.yaml"], values={"one": {"keep": 2}},
                                     secret_values_files=["secrets/one.sops.yaml", "secrets/two.sops.json"]),
                            str(env), str(root), WHERE, decrypt)
    assert values.files == (), "no repository path reaches helm's command line"
    assert json.loads(values.stdin) == {"a": 1, "one": {"password": "s3cret-two", "keep": 2}, "list": ["s3cret-item"]}
    assert opened == [("encrypted: one\n", "yaml"), ('{"encrypted": "two"}', "json")]
    # The same document with a placeholder for each decrypted value; inline values stay (they are not secret).
    shadow = json.loads(values.shadow_stdin)
    assert shadow["one"]["keep"] == 2 and shadow["one"]["password"].startswith("trdntmask")
    assert shadow["list"][0].startswith("trdntmask") and shadow["list"][0] != shadow["one"]["password"]
    assert "s3cret" not in repr(values)


def test_a_values_file_with_a_comma_in_its_path_is_read_by_us(repo):
    root, env = repo
    (env / "a,b.yaml").write_text("b: {c: 2}\n")
    values = release_values(_release(values_files=["values.yaml", "a,b.yaml"]), str(env), str(root), WHERE)
    assert values.files == () and json.loads(values.stdin) == {"a": 1, "b": {"c": 2}}


def test_no_values_means_no_stdin(repo):
    root, env = repo
    assert release_values(_release(), str(env), str(root), WHERE).stdin is None
    assert release_values(_release(values={"a": 1}), str(env), str(root), WHERE).shadow_stdin is None, \
        "without secret values there is nothing to mask"


@pytest.mark.parametrize(("extra", "expected"), [
    ({"values_files": ["../../../outside.yaml"]}, "leads outside the repository"),
    ({"values_files": ["/etc/hostname"]}, "must be relative"),
    ({"values_files": ["missing.yaml"]}, "does not exist"),
    ({"values_files": ["secrets"]}, "is not a file"),
    ({"secret_values_files": ["secrets/one.sops.yaml"]}, "need SOPS decryption keys"),
])
def test_refused_values(repo, extra, expected):
    root, env = repo
    with pytest.raises(TridentError, match=expected) as caught:
        release_values(_release(**extra), str(env), str(root), WHERE)
    assert caught.value.message.startswith(WHERE)


def test_a_symlink_leaving_the_repository_is_refused(repo):
    root, env = repo
    (env / "link.yaml").symlink_to(root.parent / "outside.yaml")
    with pytest.raises(TridentError, match="link.yaml is a symlink that leads outside the repository"):
        release_values(_release(values_files=["link.yaml"]), str(env), str(root), WHERE)
    chart = root / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "templates" / "inside.yaml").symlink_to(env / "values.yaml")
    check_tree(str(root), str(chart), "chart")
    (chart / "templates" / ".leak.yaml").symlink_to(root.parent / "outside.yaml")  # hidden files too
    with pytest.raises(TridentError, match="symlink 'templates/.leak.yaml' leads outside"):
        check_tree(str(root), str(chart), "chart")
    assert inside_repository(str(root), str(env), "../../charts/web", "chart") == os.path.realpath(chart)


def test_decryption_errors_and_bad_shapes_never_show_content(repo):
    root, env = repo
    release = _release(secret_values_files=["secrets/one.sops.yaml"])

    def failing(content, fmt, source):
        raise TridentError("MAC mismatch")

    with pytest.raises(TridentError) as caught:
        release_values(release, str(env), str(root), WHERE, failing)
    assert caught.value.message == f"{WHERE}: secret_values_files 'secrets/one.sops.yaml': cannot decrypt: MAC mismatch"
    with pytest.raises(TridentError, match="must hold one mapping") as caught:
        release_values(release, str(env), str(root), WHERE, lambda *a: [["s3cret-value"]])
    assert "s3cret" not in caught.value.message
