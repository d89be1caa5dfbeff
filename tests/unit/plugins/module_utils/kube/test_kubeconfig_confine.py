"""Every file a repository kubeconfig names resolves inside the repository folder, or the kubeconfig is refused
before anything is read (kube/kubeconfig.py): for every file field x every hostile spelling, generated; and the
spellings that stay inside resolve to the real file, in a checkout, a copy without .git and for content."""

import itertools
import os
import subprocess

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.kube.kubeconfig import (
    CONTENT, FILE_FIELDS, confine, lexical_refusal, named_files, read_kubeconfig, resolve_named_file)

CANARY = "controller-canary-5e1d0b7a"


def kubeconfig(**fields):
    """A kubeconfig with one cluster and one user; ``fields`` maps a FILE_FIELDS name (or exec.command,
    auth-provider.config.cmd-path) to its value."""
    cluster = {"server": "https://127.0.0.1:1"}
    user = {"username": "u", "password": "p"}
    for field, value in fields.items():
        if field in ("certificate-authority",):
            cluster[field] = value
        elif field.startswith("auth-provider.config."):
            user.setdefault("auth-provider", {"name": "oidc", "config": {}})["config"][field.split(".")[-1]] = value
        elif field == "exec.command":
            user["exec"] = {"apiVersion": "client.authentication.k8s.io/v1", "command": value}
        else:
            user[field] = value
    return {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
            "clusters": [{"name": "prod-cluster", "cluster": cluster}],
            "users": [{"name": "deployer", "user": user}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "deployer"}}]}


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """A repository (environments/prod with files inside) and, outside it, a controller folder with the canary;
    HOME and an environment variable point at the controller folder, as an attacker would hope."""
    outside = tmp_path / "controller"
    outside.mkdir()
    (outside / "secret").write_text(CANARY)
    repo = tmp_path / "repo"
    env = repo / "environments" / "prod"
    (env / "yaml").mkdir(parents=True)
    (env / "certs").mkdir()
    for name in ("token", "ca.crt", "client.crt", "client.key", "idp.crt"):
        (env / "certs" / name).write_text(f"repository {name}\n")
    os.symlink("certs/ca.crt", env / "inside-link.crt")
    os.symlink(outside / "secret", env / "outside-link")
    os.symlink(outside, env / "outside-dir")
    monkeypatch.setenv("HOME", str(outside))
    monkeypatch.setenv("TRIDENT_CANARY_DIR", str(outside))
    return {"repo": repo, "env": env, "outside": outside}


def hostile_spellings(layout):
    """Every spelling that would read the controller's canary file from environments/prod/kubeconfig.yaml."""
    outside = layout["outside"]
    depth = os.path.relpath(outside, layout["env"])
    return {
        "absolute": str(outside / "secret"),
        "tilde": "~/secret",
        "tilde-user": "~root/secret",
        "variable": "$TRIDENT_CANARY_DIR/secret",
        "braced-variable": "${TRIDENT_CANARY_DIR}/secret",
        "dot-dot": os.path.join(depth, "secret"),
        "dot-dot-inside-first": os.path.join("certs", "..", depth, "secret"),
        "symlink": "outside-link",
        "symlinked-folder": "outside-dir/secret",
        "proc-fd": "/proc/self/fd/0",
        "file-url": f"file://{outside / 'secret'}",
        "folder": "certs",
        "missing": "certs/nope",
        "not-a-string": ["certs/token"],
    }


def test_named_files_lists_every_file_field_of_every_entry():
    config = kubeconfig(**{field: f"f-{field}" for field in FILE_FIELDS}, **{"exec.command": "aws"})
    config["clusters"].append({"name": "second", "cluster": {"server": "https://x", "certificate-authority": "b"}})
    config["users"].append({"name": "gcp", "user": {"auth-provider": {"name": "gcp", "config": {
        "cmd-path": "gcloud config config-helper"}}}})
    config["users"].append({"name": "broken", "user": "not a mapping"})
    found = {(n.section, n.entry, n.field): (n.value, n.program) for n in named_files(config)}
    assert found == {
        ("cluster", "prod-cluster", "certificate-authority"): ("f-certificate-authority", False),
        ("cluster", "second", "certificate-authority"): ("b", False),
        ("user", "deployer", "tokenFile"): ("f-tokenFile", False),
        ("user", "deployer", "client-certificate"): ("f-client-certificate", False),
        ("user", "deployer", "client-key"): ("f-client-key", False),
        ("user", "deployer", "auth-provider.config.idp-certificate-authority"):
            ("f-auth-provider.config.idp-certificate-authority", False),
        ("user", "deployer", "exec.command"): ("aws", True),
        ("user", "gcp", "auth-provider.config.cmd-path"): ("gcloud", True),
    }


@pytest.mark.parametrize("value, reason", [
    ("~/x", "'~'"), ("~", "'~'"), ("$HOME/x", "'$'"), ("a/${X}", "'$'"), ("/etc/x", "absolute"),
    ("a\0b", "NUL"), (3, "not a file name"), (None, "not a file name"),
])
def test_lexical_refusals(value, reason):
    assert reason in lexical_refusal(value)


@pytest.mark.parametrize("value", ["token", "certs/ca.crt", "../x", "a~b", "with space", "file:x"])
def test_lexically_fine(value):
    assert lexical_refusal(value) is None


@pytest.mark.parametrize("field, spelling", list(itertools.product(FILE_FIELDS, [
    "absolute", "tilde", "tilde-user", "variable", "braced-variable", "dot-dot", "dot-dot-inside-first", "symlink",
    "symlinked-folder", "proc-fd", "file-url", "folder", "missing", "not-a-string"])))
def test_every_file_field_in_every_hostile_spelling_is_refused_naming_entry_and_field(layout, field, spelling):
    value = hostile_spellings(layout)[spelling]
    config = kubeconfig(**{field: value})
    shown = "environments/prod/kubeconfig.yaml"
    with pytest.raises(TridentError) as caught:
        confine(config, Sandbox(layout["repo"]), str(layout["env"]), shown)
    message = caught.value.message
    section = "cluster 'prod-cluster'" if field == "certificate-authority" else "user 'deployer'"
    assert message.startswith(f"{shown}: {section} field '{field}' "), message
    assert "so nothing was read, run or sent" in message
    assert CANARY not in message and str(layout["outside"]) not in message and str(layout["repo"]) not in message
    if isinstance(value, str) and spelling not in ("folder", "missing", "symlink", "symlinked-folder"):
        assert value not in message, "the value is never shown (a symlink is named: it is in the repository)"


def test_the_symlink_that_leads_out_is_named_relative_to_the_repository(layout):
    with pytest.raises(TridentError, match="goes through environments/prod/outside-dir, a symlink that leads "
                                           "outside the repository"):
        confine(kubeconfig(tokenFile="outside-dir/secret"), Sandbox(layout["repo"]), str(layout["env"]), "k")


@pytest.mark.parametrize("field", FILE_FIELDS)
@pytest.mark.parametrize("base, value, target", [
    ("", "certs/{name}", "certs/{name}"),
    ("yaml", "../certs/{name}", "certs/{name}"),  # '..' that stays inside
    ("", "./certs/../certs/{name}", "certs/{name}"),
])
def test_paths_inside_resolve_to_their_real_file(layout, field, base, value, target):
    name = {"tokenFile": "token", "client-certificate": "client.crt", "client-key": "client.key",
            "certificate-authority": "ca.crt"}.get(field, "idp.crt")
    config = kubeconfig(**{field: value.format(name=name)})
    confined = confine(config, Sandbox(layout["repo"]), str(layout["env"] / base), "k")
    (found,) = [n for n in named_files(confined) if n.field == field]
    assert found.value == os.path.realpath(layout["env"] / target.format(name=name))
    assert config == kubeconfig(**{field: value.format(name=name)}), "the given mapping is left as it was"


def test_a_symlink_that_stays_inside_resolves_to_its_target(layout):
    confined = confine(kubeconfig(**{"certificate-authority": "inside-link.crt"}), Sandbox(layout["repo"]),
                       str(layout["env"]), "k")
    assert confined["clusters"][0]["cluster"]["certificate-authority"] == os.path.realpath(
        layout["env"] / "certs" / "ca.crt")


@pytest.mark.parametrize("field", ["exec.command", "auth-provider.config.cmd-path"])
@pytest.mark.parametrize("value, refused", [
    ("aws", False), ("/usr/local/bin/aws", False), ("./bin/plugin", True), ("bin/plugin", True),
    ("../../../controller/plugin", True), ("~/bin/plugin", True), ("$HOME/plugin", True),
])
def test_a_credential_program_is_a_name_or_an_absolute_path_never_a_repository_file(layout, field, value, refused):
    config = kubeconfig(**{field: value})
    if field.startswith("auth-provider"):
        config["users"][0]["user"]["auth-provider"]["name"] = "gcp"
    if refused:
        with pytest.raises(TridentError, match=f"user 'deployer' field '{field}' "):
            confine(config, Sandbox(layout["repo"]), str(layout["env"]), "k")
    else:
        assert confine(config, Sandbox(layout["repo"]), str(layout["env"]), "k") == config


def test_inline_data_is_not_a_file(layout):
    config = kubeconfig()
    config["users"][0]["user"] = {"token": "/etc/passwd", "client-certificate-data": "eA==",
                                  "client-key-data": "eA=="}
    config["clusters"][0]["cluster"]["certificate-authority-data"] = "~/x"
    assert named_files(config) == []
    assert confine(config, Sandbox(layout["repo"]), str(layout["env"]), "k") == config


# -- read_kubeconfig: which root, which base folder, in every layout -------------------------------------------


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_checkout_kubeconfig_resolves_against_its_folder_inside_the_root(layout):
    subprocess.run(["git", "init", "--quiet", str(layout["repo"])], check=True)
    path = write(layout["env"] / "yaml" / "kubeconfig.yaml", kubeconfig(tokenFile="../certs/token"))
    found = read_kubeconfig(str(path), str(layout["repo"]))
    assert found.shown == "environments/prod/yaml/kubeconfig.yaml" and found.repository
    assert found.config["users"][0]["user"]["tokenFile"] == os.path.realpath(layout["env"] / "certs" / "token")


def test_without_a_root_a_checkout_kubeconfig_is_refused(layout):
    subprocess.run(["git", "init", "--quiet", str(layout["repo"])], check=True)
    path = write(layout["env"] / "kubeconfig.yaml", kubeconfig(tokenFile="certs/token"))
    with pytest.raises(TridentError, match="^environments/prod/kubeconfig.yaml: this kubeconfig lies in a Git "
                                           "checkout, so it is the repository's: kube_diff reads it only with "
                                           "repository_root"):
        read_kubeconfig(str(path))


def test_a_held_copy_without_git_is_confined_by_the_root_it_is_given(layout):
    """environment_at's copy of an older revision has no .git: the root is given, not discovered."""
    assert not (layout["repo"] / ".git").exists()
    path = write(layout["env"] / "kubeconfig.yaml", kubeconfig(tokenFile=str(layout["outside"] / "secret")))
    with pytest.raises(TridentError, match="^environments/prod/kubeconfig.yaml: user 'deployer' field 'tokenFile' "
                                           "is an absolute path"):
        read_kubeconfig(str(path), str(layout["repo"]))
    write(path, kubeconfig(tokenFile="certs/token"))
    assert read_kubeconfig(str(path), str(layout["repo"])).config["users"][0]["user"]["tokenFile"] == \
        os.path.realpath(layout["env"] / "certs" / "token")


@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_content_resolves_against_the_folder_of_the_file_it_was_decrypted_from_never_the_working_folder(
        layout, monkeypatch, spelling):
    # The working folder holds a file of the same relative name: it must never be the one read.
    monkeypatch.chdir(layout["outside"])
    (layout["outside"] / "certs").mkdir()
    (layout["outside"] / "certs" / "token").write_text(CANARY)
    origin = str(layout["env"] / "kubeconfig.sops.yaml") if spelling == "absolute" \
        else "environments/prod/kubeconfig.sops.yaml"
    text = yaml.safe_dump(kubeconfig(tokenFile="certs/token"))
    found = read_kubeconfig(text, str(layout["repo"]), origin)
    assert found.shown == "environments/prod/kubeconfig.sops.yaml"
    assert found.config["users"][0]["user"]["tokenFile"] == os.path.realpath(layout["env"] / "certs" / "token")
    # Without the origin: relative to the repository root, where there is no certs/token.
    with pytest.raises(TridentError, match=f"^{CONTENT}: user 'deployer' field 'tokenFile' names no file"):
        read_kubeconfig(text, str(layout["repo"]))


def test_content_naming_a_file_without_a_root_is_refused_and_inline_content_is_fine(layout):
    for field in FILE_FIELDS:
        for source in (kubeconfig(**{field: "certs/x"}), yaml.safe_dump(kubeconfig(**{field: "certs/x"}))):
            with pytest.raises(TridentError, match=f"^{CONTENT}: .* field '{field}' names a file, but kube_diff was "
                                                   "not given the repository folder"):
                read_kubeconfig(source)
    assert read_kubeconfig(kubeconfig()).repository is False


def test_an_operator_file_outside_any_checkout_is_read_as_given(layout, tmp_path):
    path = write(tmp_path / "operator.yaml", kubeconfig(tokenFile=str(layout["outside"] / "secret")))
    found = read_kubeconfig(str(path))
    assert not found.repository and found.config["users"][0]["user"]["tokenFile"] == str(layout["outside"] / "secret")


def test_a_kubeconfig_inside_the_root_that_leads_out_is_refused(layout):
    write(layout["outside"] / "kubeconfig.yaml", kubeconfig())
    path = layout["env"] / "outside-dir" / "kubeconfig.yaml"
    with pytest.raises(TridentError, match="environments/prod/outside-dir is a symlink that leads outside the "
                                           "repository"):
        read_kubeconfig(str(path), str(layout["repo"]))


def test_with_the_root_a_file_elsewhere_is_still_the_operators(layout):
    """repository_root confines the repository's kubeconfig; the operator's own file (outside the root and any
    checkout) names what it likes, as without the root."""
    path = write(layout["outside"] / "kubeconfig.yaml", kubeconfig(tokenFile=str(layout["outside"] / "secret")))
    found = read_kubeconfig(str(path), str(layout["repo"]))
    assert not found.repository and found.config["users"][0]["user"]["tokenFile"] == str(layout["outside"] / "secret")


def test_kubeconfig_file_is_for_content_only(layout):
    path = write(layout["env"] / "kubeconfig.yaml", kubeconfig())
    with pytest.raises(TridentError, match="leave kubeconfig_file out"):
        read_kubeconfig(str(path), str(layout["repo"]), "environments/prod/kubeconfig.yaml")


def test_resolution_is_pure_but_for_links(layout):
    named = named_files(kubeconfig(tokenFile="certs/token"))[0]
    sandbox = Sandbox(layout["repo"])
    assert resolve_named_file(named, sandbox, str(layout["env"])) == \
        (os.path.realpath(layout["env"] / "certs" / "token"), None)
    assert resolve_named_file(named, sandbox, str(layout["repo"]))[1] == "names no file of the repository"


def test_content_without_a_root_may_name_a_program_but_not_by_a_relative_path():
    for program in ("aws", "/usr/local/bin/aws"):
        assert read_kubeconfig(kubeconfig(**{"exec.command": program})).config["users"][0]["user"]["exec"][
            "command"] == program
    with pytest.raises(TridentError, match=f"^{CONTENT}: user 'deployer' field 'exec.command' is not a program name"):
        read_kubeconfig(kubeconfig(**{"exec.command": "./bin/token"}))
