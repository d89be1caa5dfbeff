import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import (
    BrokenEnvironment, describe_environment, describe_repository, list_environments, validate_settings)


def write(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return root


APP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
SOPS_KUBECONFIG = {"apiVersion": "ENC[AES256_GCM,data:x]", "sops": {"mac": "ENC[...]", "version": "3.9.0"}}


def test_seed_layout_with_kubeconfig_in_the_env_folder(tmp_path):
    write(tmp_path, {"environments/aliyun/kubeconfig.yaml": "apiVersion: v1\nkind: Config\n",
                     "environments/aliyun/main.tf": 'resource "terraform_data" "x" {}\n',
                     "environments/aliyun/yaml/app.yaml": APP})
    env = describe_environment(tmp_path / "environments" / "aliyun")
    assert env.name == "aliyun" and env.relpath == "environments/aliyun"
    assert env.kubeconfig == "kubeconfig.yaml" and env.kubeconfig_encrypted is False
    assert env.terraform_files == ("main.tf",)
    assert (env.manifests_dir, env.manifests_kind, env.manifest_files) == ("yaml", "files", ("yaml/app.yaml",))
    assert env.steps == ["source", "terraform", "kubernetes"]


def test_seed_layout_with_kubeconfig_inside_yaml_is_not_a_manifest(tmp_path):
    write(tmp_path, {"environments/k3s/yaml/app.yaml": APP,
                     "environments/k3s/yaml/kubeconfig.yaml": "apiVersion: v1\nkind: Config\n"})
    env = describe_environment(tmp_path / "environments" / "k3s")
    assert env.kubeconfig == "yaml/kubeconfig.yaml"
    assert env.manifest_files == ("yaml/app.yaml",)
    assert env.terraform_files == () and env.steps == ["source", "kubernetes"]


@pytest.mark.parametrize("name, content", [("kubeconfig.sops.yaml", "anything: ENC[x]\n"),
                                           ("kubeconfig.yaml", yaml.safe_dump(SOPS_KUBECONFIG))])
def test_encrypted_kubeconfig_is_recognised_by_name_or_metadata(tmp_path, name, content):
    write(tmp_path, {f"environments/prod/{name}": content, "environments/prod/manifests/a.yaml": APP})
    env = describe_environment(tmp_path / "environments" / "prod")
    assert env.kubeconfig == name and env.kubeconfig_encrypted is True
    assert "secrets" in env.steps, "decrypting the kubeconfig is a secrets step"


def test_two_kubeconfigs_are_ambiguous(tmp_path):
    write(tmp_path, {"environments/e/kubeconfig.yaml": "{}", "environments/e/yaml/kubeconfig.sops.yaml": "{}"})
    with pytest.raises(TridentError, match=r"more than one kubeconfig: kubeconfig.yaml, yaml/kubeconfig.sops.yaml"):
        describe_environment(tmp_path / "environments" / "e")


def test_kustomization_makes_a_kustomize_env_without_file_list(tmp_path):
    write(tmp_path, {"environments/e/manifests/kustomization.yaml": "resources: [a.yaml]\n",
                     "environments/e/manifests/a.yaml": APP})
    env = describe_environment(tmp_path / "environments" / "e")
    assert (env.manifests_dir, env.manifests_kind, env.manifest_files) == ("manifests", "kustomize", ())


def test_manifest_files_are_recursive_sorted_and_skip_hidden_and_other_files(tmp_path):
    write(tmp_path, {"environments/e/yaml/b.yml": APP, "environments/e/yaml/a/z.json": "{}",
                     "environments/e/yaml/.hidden.yaml": APP, "environments/e/yaml/.git/x.yaml": APP,
                     "environments/e/yaml/README.md": "docs"})
    env = describe_environment(tmp_path / "environments" / "e")
    assert env.manifest_files == ("yaml/a/z.json", "yaml/b.yml")


def test_yaml_and_manifests_together_are_ambiguous_unless_env_yml_chooses(tmp_path):
    write(tmp_path, {"environments/e/yaml/a.yaml": APP, "environments/e/manifests/b.yaml": APP})
    with pytest.raises(TridentError, match="both yaml/ and manifests/ hold manifests"):
        describe_environment(tmp_path / "environments" / "e")
    write(tmp_path, {"environments/e/env.yml": {"manifests": "manifests"}})
    assert describe_environment(tmp_path / "environments" / "e").manifest_files == ("manifests/b.yaml",)


def test_secrets_by_format_and_a_warning_for_plaintext(tmp_path):
    write(tmp_path, {"environments/e/secrets/db.sops.yaml": "x", "environments/e/secrets/tf.sops.json": "{}",
                     "environments/e/secrets/app.sops.env": "", "environments/e/secrets/legacy.sops.ini": "",
                     "environments/e/secrets/plain.yaml": "password: oops"})
    env = describe_environment(tmp_path / "environments" / "e")
    assert [(s.path, s.name, s.format) for s in env.secrets] == [
        ("secrets/app.sops.env", "app", "dotenv"), ("secrets/db.sops.yaml", "db", "yaml"),
        ("secrets/legacy.sops.ini", "legacy", "ini"), ("secrets/tf.sops.json", "tf", "json")]
    assert env.warnings == ("secrets/plain.yaml is not named *.sops.{yaml,json,env,ini}; ignored",)
    assert env.steps == ["source", "secrets"]


def test_empty_env_has_only_the_source_step(tmp_path):
    (tmp_path / "environments" / "empty").mkdir(parents=True)
    env = describe_environment(tmp_path / "environments" / "empty")
    assert env.steps == ["source"] and env.kubeconfig is None and env.manifests_kind is None


def test_settings_go_into_the_one_environment_variable_and_unset_settings_stay_unset(tmp_path):
    write(tmp_path, {"environments/e/env.yml": {"namespace": "web", "prune": False, "tags": ["prod", "eu_west"],
                                                "terraform_vars": {"size": 3}, "vars": {"kubernetes_wait": True}},
                     "environments/e/yaml/app.yaml": APP})
    variable = describe_environment(tmp_path / "environments" / "e").as_variable({"commit": "c0ffee"})
    settings = variable["settings"]
    assert settings["namespace"] == "web"
    assert settings["prune"] is False
    assert settings["terraform_vars"] == {"size": 3}
    assert variable["tags"] == ["prod", "eu_west"] and "tags" not in settings
    assert settings["vars"] == {"kubernetes_wait": True}, "vars stay inside the environment, never host variables"
    assert "kube_context" not in settings and "allow_destroy" not in settings
    assert variable["dir"] == "environments/e"
    assert variable["repository"] == {"path": str(tmp_path.resolve()), "commit": "c0ffee"}


@pytest.mark.parametrize("data, message", [
    (["a"], r"env.yml: expected a mapping of settings, got list"),
    ({"namespce": "x"}, r"env.yml: unknown key 'namespce' \(known keys: allow_destroy, "),
    ({"prune": "yes"}, r"env.yml: key 'prune' must be a boolean, got str"),
    ({"tags": "prod"}, r"env.yml: key 'tags' must be a list, got str"),
    ({"tags": ["prod-eu"]}, r"env.yml: key 'tags': 'prod-eu' is not a valid group name"),
    ({"tags": ["all"]}, r"env.yml: key 'tags': 'all' is not a valid group name"),
    ({"terraform_binary": "pulumi"}, r"key 'terraform_binary' must be one of terraform, tofu, got 'pulumi'"),
    ({"vars": {"1bad": 1}}, r"key 'vars': '1bad' is not a valid variable name"),
    ({"vars": {"ansible_python_interpreter": "/bin/sh"}}, r"'ansible_python_interpreter' cannot be set by the repo"),
    ({"vars": {"terraform_binary": "./evil"}}, r"'terraform_binary' cannot be set by the repository"),
    ({"vars": {"trident_environment": {}}}, r"'trident_environment' cannot be set by the repository"),
    ({"vars": {"terraform_plugin_dirs": ["/opt"]}}, r"'terraform_plugin_dirs' cannot be set by the repository"),
    # Which commands a kubeconfig may run is the operator's decision, never the repository's.
    ({"vars": {"kubernetes_kubeconfig_exec_commands": ["sh"]}},
     r"'kubernetes_kubeconfig_exec_commands' cannot be set by the repository"),
    # Gates are the operator's (issue 24): no name outside the allowlist, prefixed or not.
    ({"vars": {"fail_on_drift": False}}, r"'fail_on_drift' cannot be set by the repository"),
    ({"vars": {"reconcile_steps": ["kubernetes"]}}, r"'reconcile_steps' cannot be set by the repository"),
    ({"vars": {"kubernetes_workers": 100000}}, r"'kubernetes_workers' must be a number from 1 to 64"),
    # What runs or is fetched on the controller moved to the operator's settings.
    ({"kustomize_remote": True}, r"key 'kustomize_remote' is the operator's to set.*'kubernetes_kustomize_remote'"),
    ({"terraform_plugin_dirs": ["p"]}, r"key 'terraform_plugin_dirs' is the operator's to set"),
    ({"terraform_cli_config": "x"}, r"key 'terraform_cli_config' is the operator's to set"),
    ({"terraform_var_files": [1]}, r"key 'terraform_var_files': 1 is not a path"),
])
def test_invalid_settings_name_the_file_and_the_key(data, message):
    with pytest.raises(TridentError, match=message):
        validate_settings(data, "/repo/environments/e/env.yml")


def test_env_yml_errors_from_disk_name_the_file(tmp_path):
    write(tmp_path, {"environments/e/env.yml": "prune: [unclosed\n"})
    with pytest.raises(TridentError, match=r"environments/e/env.yml: not valid YAML: .* at line 2"):
        describe_environment(tmp_path / "environments" / "e")
    write(tmp_path, {"environments/e/env.yml": {"allow_destroy": 1}})
    with pytest.raises(TridentError, match=r"environments/e/env.yml: key 'allow_destroy' must be a boolean, got int"):
        describe_environment(tmp_path / "environments" / "e")


@pytest.mark.parametrize("value, message", [("/etc/kubeconfig", "must be relative"),
                                            ("../../../outside", "leads outside the repository"),
                                            ("missing.yaml", "'missing.yaml' does not exist")])
def test_path_settings_stay_inside_the_repository(tmp_path, value, message):
    write(tmp_path, {"environments/e/env.yml": {"kubeconfig": value}})
    with pytest.raises(TridentError, match=message):
        describe_environment(tmp_path / "environments" / "e")


@pytest.mark.parametrize("key, value", [("terraform_cli_config", "/etc/terraformrc"),
                                        ("terraform_cli_config", "../../../outside.tfrc"),
                                        ("terraform_plugin_dirs", ["providers", "../../../opt"])])
def test_provider_paths_stay_inside_the_repository(tmp_path, key, value):
    write(tmp_path, {"environments/e/providers/.keep": "", "environments/e/env.yml": {key: value}})
    with pytest.raises(TridentError, match=f"key '{key}'"):
        describe_environment(tmp_path / "environments" / "e")


def test_kubeconfig_setting_may_point_at_a_shared_file_in_the_repo(tmp_path):
    write(tmp_path, {"clusters/shared.sops.yaml": "x: 1", "environments/e/env.yml": {
        "kubeconfig": "../../clusters/shared.sops.yaml"}})
    env = describe_environment(tmp_path / "environments" / "e")
    assert env.kubeconfig == "../../clusters/shared.sops.yaml" and env.kubeconfig_encrypted


def test_environments_are_sorted_and_hidden_or_plain_files_ignored(tmp_path):
    for name in ("zeta", "alpha", ".template", "mid"):
        (tmp_path / "environments" / name).mkdir(parents=True)
    (tmp_path / "environments" / "README.md").write_text("x")
    assert list_environments(tmp_path) == ["alpha", "mid", "zeta"]
    assert [env.name for env in describe_repository(tmp_path)] == ["alpha", "mid", "zeta"]


def test_a_repository_without_environments_is_refused(tmp_path):
    with pytest.raises(TridentError, match="no 'environments' folder"):
        list_environments(tmp_path)


def test_env_folder_names_must_be_host_names(tmp_path):
    (tmp_path / "environments" / "bad name").mkdir(parents=True)
    (tmp_path / "environments" / "good").mkdir(parents=True)
    broken, good = describe_repository(tmp_path)
    assert isinstance(broken, BrokenEnvironment) and good.name == "good"
    assert broken.name.startswith("invalid-environment-"), "the folder's name never becomes a host name"
    assert broken.error.endswith("the folder 'bad name' of environments cannot be an environment: its name cannot be "
                                 "an inventory host name (use letters, digits, '.', '_' and '-', starting with a "
                                 "letter or digit)")
    assert broken.as_variable()["error"] == broken.error


@pytest.mark.parametrize("name, good, bad", [
    ("kubernetes_wait_timeout", 300, "{{ lookup('pipe', 'id') }}"),
    ("kubernetes_wait_timeout", 2.5, True),
    ("kubernetes_wait", True, "yes"),
    ("kubernetes_workers", 8, 65),
    ("kubernetes_secrets", [{"name": "s", "from": "app"}], ["app"]),
    ("kubernetes_ignore_differences", [], {"kind": "x"}),
    ("terraform_parallelism", 4, -1),
    ("terraform_lock_timeout", "5m", "$(id)"),
    ("terraform_secret_vars", False, "false"),
])
def test_repository_role_vars_are_checked_by_type_and_the_refusal_quotes_no_value(name, good, bad):
    assert validate_settings({"vars": {name: good}}, "environments/e/env.yml")["vars"] == {name: good}
    with pytest.raises(TridentError) as caught:
        validate_settings({"vars": {name: bad}}, "environments/e/env.yml")
    assert caught.value.message.startswith(f"environments/e/env.yml: key 'vars': '{name}' must be ")
    assert str(bad) not in caught.value.message
