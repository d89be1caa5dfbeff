"""The repository sandbox: symlinks and '..' that leave the checkout are refused naming the link."""

import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, confine
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import (
    BrokenEnvironment, describe_environment, describe_repository)

SECRET = "controller-secret-content"


@pytest.fixture
def repo(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {SECRET}\n")
    env = tmp_path / "repo" / "environments" / "e"
    (env / "yaml").mkdir(parents=True)
    (env / "yaml" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
    return {"root": tmp_path / "repo", "env": env, "outside": outside}


def test_a_symlink_inside_is_fine_and_resolves_to_its_target(repo):
    os.symlink("ok.yaml", repo["env"] / "yaml" / "alias.yaml")
    sandbox = Sandbox(repo["root"])
    assert sandbox.resolve("environments/e/yaml/alias.yaml") == str(repo["env"] / "yaml" / "ok.yaml")
    assert describe_environment(repo["env"]).manifest_files == ("yaml/alias.yaml", "yaml/ok.yaml")


@pytest.mark.parametrize("link, target, named", [
    ("environments/e/yaml/stolen.yaml", "outside/passwd.yaml", "environments/e/yaml/stolen.yaml"),
    ("environments/e/yaml/sub", "outside", "environments/e/yaml/sub"),
    ("environments/e/kubeconfig.yaml", "outside/passwd.yaml", "environments/e/kubeconfig.yaml"),
    ("environments/e/secrets/db.sops.yaml", "outside/passwd.yaml", "environments/e/secrets/db.sops.yaml"),
    ("environments/e/main.tf", "outside/passwd.yaml", "environments/e/main.tf"),
    ("environments/e/env.yml", "outside/passwd.yaml", "environments/e/env.yml"),
])
def test_a_symlink_leaving_the_checkout_is_an_error_naming_the_link(repo, link, target, named):
    path = repo["root"] / link
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(repo["root"].parent / target, path)
    with pytest.raises(TridentError) as caught:
        describe_environment(repo["env"])
    assert f"{named} is a symlink that leads outside the repository" in caught.value.message
    assert SECRET not in caught.value.message and "outside" not in caught.value.message.split("leads")[0]


def test_a_symlinked_environment_folder_fails_alone(repo):
    os.symlink(repo["outside"], repo["root"] / "environments" / "evil")
    broken, good = sorted(describe_repository(repo["root"]), key=lambda env: env.name != "evil")
    assert isinstance(broken, BrokenEnvironment) and good.name == "e"
    assert "environment evil: environments/evil is a symlink that leads outside the repository" in broken.error


@pytest.mark.parametrize("setting", [{"terraform_var_files": ["../../../outside/passwd.yaml"]},
                                     {"manifests": "../../../outside"}, {"kubeconfig": "../../../outside/passwd.yaml"}])
def test_dot_dot_in_env_yml_is_an_error(repo, setting):
    key = next(iter(setting))
    (repo["env"] / "env.yml").write_text(__import__("yaml").safe_dump(setting))
    with pytest.raises(TridentError, match=f"environments/e/env.yml: key '{key}': .* leads outside the repository"):
        describe_environment(repo["env"])


def test_var_files_must_exist(repo):
    (repo["env"] / "env.yml").write_text("terraform_var_files: [prod.tfvars]\n")
    with pytest.raises(TridentError, match="key 'terraform_var_files': 'prod.tfvars' does not exist"):
        describe_environment(repo["env"])


def test_walk_refuses_a_link_deep_inside(repo):
    deep = repo["env"] / "yaml" / "a" / "b"
    deep.mkdir(parents=True)
    os.symlink(repo["outside"] / "passwd.yaml", deep / "x.yaml")
    with pytest.raises(TridentError, match="environments/e/yaml/a/b/x.yaml is a symlink"):
        Sandbox(repo["root"]).walk(str(repo["env"] / "yaml"), (".yaml",))


def test_confine_checks_paths_of_a_git_checkout_and_leaves_others_alone(repo):
    (repo["root"] / ".git").mkdir()
    link = repo["env"] / "yaml" / "stolen.yaml"
    os.symlink(repo["outside"] / "passwd.yaml", link)
    outside_file = str(repo["outside"] / "passwd.yaml")
    assert confine(outside_file) == outside_file, "a file the user names outside any checkout is theirs"
    assert confine(str(repo["env"] / "yaml" / "ok.yaml")) == str(repo["env"] / "yaml" / "ok.yaml")
    with pytest.raises(TridentError, match="environments/e/yaml/stolen.yaml is a symlink that leads outside"):
        confine(str(link))
    # Relative to a file of the checkout (a kubeconfig naming its token file), nothing may leave it.
    with pytest.raises(TridentError, match="leads outside the repository"):
        confine(outside_file, str(repo["env"]))
    with pytest.raises(TridentError, match="leads outside the repository"):
        confine(os.path.join(str(repo["env"]), "../../../outside/passwd.yaml"), str(repo["env"]))
