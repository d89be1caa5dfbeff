import json
import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.terraform.locations import (
    ProviderLocations, provider_locations, refuse_repository_paths)
from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import (
    Settings, backend_settings, backend_type, default_state_dir, init_fingerprint, local_backend_paths,
    owns_local_state, parse_duration, provider_download_hint,
    read_record, remove_leftover_runs, saved_plan_file, state_file, without_values,
    validate, write_record)
from ansible_collections.trident.gitops.plugins.module_utils.terraform.workdir import config_files


@pytest.mark.parametrize("text, seconds", [("0s", 0), ("30s", 30), ("5m", 300), ("1m30s", 90), ("1h", 3600),
                                           ("250ms", 0.25)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "5 minutes", "1m 30s", "-1s"])
def test_parse_duration_rejects_garbage(text):
    with pytest.raises(TridentError, match="lock_timeout"):
        parse_duration(text)


DIAGNOSTIC = """Error: Invalid value for variable

  on main.tf line 1:
   1: variable "password" {
    ├────────────────
    │ var.password is "app"
    │ var.region is "eu-west-1"

The password is too short.

This was checked by the validation rule at main.tf:3,3-13.
"""


def test_source_lines_of_the_private_var_file_are_left_out():
    text = ('Error: Invalid value for variable\n\n  on /s/.run-z_7zy5ja/trident.tfvars.json line 1:\n'
            '   1: {"password": "app"}\n\nThe password is too short.\n\n  on main.tf line 3:\n   3:   a = 1\n')
    shown = without_values(text)
    assert '"app"' not in shown and "on /s/.run-z_7zy5ja/trident.tfvars.json line 1:" in shown
    assert "   3:   a = 1" in shown, "the module's own lines stay"


def test_diagnostics_lose_the_lines_that_quote_values_and_nothing_else():
    bordered = "".join(f"│ {line}\n" if line else "│\n" for line in DIAGNOSTIC.splitlines())
    for diagnostic in (DIAGNOSTIC, bordered):
        text = without_values(diagnostic)
        assert '"app"' not in text and "eu-west-1" not in text
        assert "Error: Invalid value for variable" in text and "The password is too short." in text
        assert "main.tf:3,3-13" in text and '1: variable "password" {' in text


@pytest.mark.parametrize("files, expected", [
    ({"main.tf": 'resource "terraform_data" "x" {}\n'}, None),
    ({"main.tf": 'terraform {\n  backend "s3" {\n  }\n}\n'}, "s3"),
    ({"main.tf": "", "backend.tf": 'terraform {\n  backend "local" {}\n}\n'}, "local"),
    ({"main.tf": 'terraform {\n  cloud {\n    organization = "o"\n  }\n}\n'}, "cloud"),
    ({"main.tf.json": json.dumps({"terraform": {"backend": {"http": {"address": "x"}}}})}, "http"),
    ({"main.tf.json": json.dumps({"terraform": [{"required_version": ">= 1"}]})}, None),
    # a commented-out or quoted mention is not a block
    ({"main.tf": '# backend "s3" {}\nlocals { x = "backend \\"s3\\"" }\n'}, None),
])
def test_backend_type(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert backend_type(config_files(str(tmp_path))) == expected


def test_backend_type_rejects_broken_json(tmp_path):
    (tmp_path / "main.tf.json").write_text("{")
    with pytest.raises(TridentError, match="not valid JSON"):
        backend_type(config_files(str(tmp_path)))


def test_state_paths_follow_the_local_backend_layout(tmp_path):
    assert state_file("/s", "default") == "/s/terraform.tfstate"
    assert state_file("/s", "qa") == "/s/terraform.tfstate.d/qa/terraform.tfstate"
    assert default_state_dir(str(tmp_path), "qa") != default_state_dir(str(tmp_path), "default")
    assert default_state_dir(str(tmp_path), "qa") == default_state_dir(str(tmp_path / "." / ""), "qa")
    settings = Settings(project_path=str(tmp_path))
    assert backend_settings("local", settings, "/s") == {"path": "/s/terraform.tfstate",
                                                         "workspace_dir": "/s/terraform.tfstate.d"}
    own = Settings(project_path=str(tmp_path), backend_config={"path": "/elsewhere"})
    assert backend_settings("local", own, "/s") == {"path": "/elsewhere"}
    assert not owns_local_state("local", own) and owns_local_state(None, own)
    from_file = Settings(project_path=str(tmp_path), backend_config_files=("local.tfbackend",))
    assert backend_settings("local", from_file, "/s") == {} and not owns_local_state("local", from_file)
    assert owns_local_state("local", settings) and not owns_local_state("s3", settings)
    assert backend_settings("http", own, "/s") == {"path": "/elsewhere"}
    assert backend_settings(None, settings, "/s") == {}


def test_init_fingerprint_changes_with_lock_file_config_and_backend(tmp_path):
    (tmp_path / "main.tf").write_text("# v1\n")
    settings = Settings(project_path=str(tmp_path))
    binary = os.path.realpath("/bin/sh")
    lock = tmp_path / ".terraform.lock.hcl"

    def fingerprint(backend=None, s=settings):
        return init_fingerprint(s, config_files(str(tmp_path)), backend or {}, binary, str(lock), ProviderLocations())

    first = fingerprint()
    assert fingerprint() == first
    lock.write_text("lock")
    with_lock = fingerprint()
    assert with_lock != first
    assert fingerprint({"path": "/x"}) != with_lock
    assert fingerprint(s=Settings(project_path=str(tmp_path), workspace="qa")) != with_lock
    (tmp_path / "main.tf").write_text("# v2\n")
    assert fingerprint() != with_lock


def test_init_fingerprint_changes_with_the_provider_sources(tmp_path):
    (tmp_path / "main.tf").write_text("")
    rc = tmp_path / "mirror.tfrc"
    rc.write_text("# one\n")
    binary = os.path.realpath("/bin/sh")

    def fingerprint(**options):
        settings = Settings(project_path=str(tmp_path), **options)
        return init_fingerprint(settings, [], {}, binary, str(tmp_path / "lock"),
                                provider_locations(settings, {"HOME": str(tmp_path / "home")}))

    plain, with_rc = fingerprint(), fingerprint(cli_config_file=str(rc))
    assert len({plain, with_rc, fingerprint(plugin_dirs=("/m",)), fingerprint(plugin_cache_dir="/c")}) == 4
    rc.write_text("# two\n")
    assert fingerprint(cli_config_file=str(rc)) != with_rc


def test_provider_locations_are_the_operators_and_what_their_cli_configuration_names(tmp_path):
    home = tmp_path / "home"
    (home / ".terraform.d" / "plugins").mkdir(parents=True)
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    rc = tmp_path / "ops.tfrc"
    rc.write_text('plugin_cache_dir = "$HOME/.cache/tf"\nprovider_installation {\n  filesystem_mirror {\n'
                  f'    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
                  '  dev_overrides {\n    "acme/x" = "~/dev/x"\n  }\n}\n'
                  'credentials "app.terraform.io" {\n  token = "not-a-path"\n}\n')
    env = {"HOME": str(home), "TF_CLI_CONFIG_FILE": str(rc)}
    found = provider_locations(Settings(project_path=str(tmp_path), plugin_cache_dir=str(cache),
                                        plugin_dirs=(str(tmp_path / "pd"),)), env)
    assert found.cli_config == str(rc)
    assert {str(mirror), str(home / "dev" / "x"), str(rc), str(home / ".terraform.d" / "plugins"),
            str(tmp_path / "pd")} <= set(found.readable)
    assert str(home / ".terraform.d") not in found.readable, "not the registry tokens terraform login keeps there"
    assert "not-a-path" not in " ".join(found.readable)
    assert set(found.caches) == {str(cache), str(home / ".cache" / "tf")}
    own = provider_locations(Settings(project_path=str(tmp_path), cli_config_file=str(tmp_path / "other.tfrc")), env)
    assert own.cli_config == str(tmp_path / "other.tfrc"), "the option wins over the controller's variable"
    implicit = provider_locations(Settings(project_path=str(tmp_path)), {"HOME": str(home)})
    assert implicit.cli_config is None and str(home / ".terraformrc") in implicit.readable


@pytest.mark.parametrize("option", ["plugin_dirs", "cli_config_file", "plugin_cache_dir", "binary", "mirror"])
def test_a_provider_location_inside_the_repository_is_refused(tmp_path, option):
    repo = tmp_path / "repo"
    (repo / "providers").mkdir(parents=True)
    (repo / "providers" / "rc").write_text(f'provider_installation {{\n  filesystem_mirror {{\n'
                                           f'    path = "{repo / "providers"}"\n  }}\n}}\n')
    inside = str(repo / "providers")
    values = {"plugin_dirs": {"plugin_dirs": (inside,)}, "cli_config_file": {"cli_config_file": inside + "/rc"},
              "plugin_cache_dir": {"plugin_cache_dir": inside}, "binary": {}, "mirror": {}}
    settings = Settings(project_path=str(repo), **values[option])
    env = {"HOME": str(tmp_path / "home"), **({"TF_CLI_CONFIG_FILE": inside + "/rc"} if option == "mirror" else {})}
    binary = inside + "/rc" if option == "binary" else "/bin/sh"
    with pytest.raises(TridentError, match="'providers.*' is inside the repository; a repository folder is never"):
        refuse_repository_paths(settings, binary, provider_locations(settings, env), Sandbox(str(repo)))
    outside = Settings(project_path=str(repo), plugin_dirs=(str(tmp_path),))
    refuse_repository_paths(outside, "/bin/sh", provider_locations(outside, {"HOME": str(tmp_path / "h")}),
                            Sandbox(str(repo)))


def test_a_local_backend_pointed_elsewhere_is_shown_to_the_run(tmp_path):
    settings = Settings(project_path=str(tmp_path), backend_config={"path": "/srv/state/x.tfstate",
                                                                    "workspace_dir": "/srv/ws"})
    assert local_backend_paths("local", settings) == ["/srv/state", "/srv/ws"]
    assert local_backend_paths("s3", settings) == []
    assert local_backend_paths("local", Settings(project_path=str(tmp_path))) == []


def test_validate_refuses_bad_settings(tmp_path):
    project = tmp_path / "project"
    repo = Sandbox(str(tmp_path))
    with pytest.raises(TridentError, match="not a directory"):
        validate(Settings(project_path=str(project)), repo)
    project.mkdir()
    with pytest.raises(TridentError, match="no \\*.tf"):
        validate(Settings(project_path=str(project)), repo)
    (project / "main.tf").write_text("")
    with pytest.raises(TridentError, match="state_dir must be outside the repository"):
        validate(Settings(project_path=str(project), state_dir=str(project / ".state")), repo)
    with pytest.raises(TridentError, match="state_dir must be outside the repository"):
        validate(Settings(project_path=str(project), state_dir=str(tmp_path / "state")), repo)
    with pytest.raises(TridentError, match="outside the repository"):
        validate(Settings(project_path=str(project)), Sandbox(str(tmp_path / "elsewhere")))
    with pytest.raises(TridentError, match="drift_only"):
        validate(Settings(project_path=str(project), state="absent", drift_only=True), repo)
    with pytest.raises(TridentError, match="file not found"):
        validate(Settings(project_path=str(project), variables_files=(str(tmp_path / "missing.tfvars"),)), repo)
    with pytest.raises(TridentError, match="file not found"):
        validate(Settings(project_path=str(project), cli_config_file=str(tmp_path / "missing.tfrc")), repo)
    with pytest.raises(TridentError, match="plugin_dirs: .* is not a directory"):
        validate(Settings(project_path=str(project), plugin_dirs=(str(tmp_path / "nowhere"),)), repo)
    with pytest.raises(TridentError, match="sandbox_read_paths: .* does not exist"):
        validate(Settings(project_path=str(project), sandbox_read_paths=(str(tmp_path / "nowhere"),)), repo)
    for inside_or_around in (project, tmp_path):
        with pytest.raises(TridentError, match="sandbox_write_paths: .* holds or is inside the repository"):
            validate(Settings(project_path=str(project), sandbox_write_paths=(str(inside_or_around),)),
                     Sandbox(str(project)))
    with pytest.raises(TridentError, match="sandbox must be"):
        validate(Settings(project_path=str(project), sandbox="chroot"), repo)
    validate(Settings(project_path=str(project), state_dir=str(tmp_path.parent / "state")), Sandbox(str(project)))


def test_deployed_revision_record_per_workspace(tmp_path):
    assert read_record(str(tmp_path), "default") is None
    assert write_record(str(tmp_path), "default", {"revision": "r1", "tree": "t1"}) is True
    assert write_record(str(tmp_path), "prod", {"revision": "r2", "tree": "t2"}) is True
    assert write_record(str(tmp_path), "default", {"revision": "r1", "tree": "t1"}) is False
    assert read_record(str(tmp_path), "default") == {"revision": "r1", "tree": "t1"}
    assert read_record(str(tmp_path), "prod") == {"revision": "r2", "tree": "t2"}
    assert (tmp_path / "deployed-revision.json").stat().st_mode & 0o777 == 0o600


def test_the_saved_plan_is_kept_only_for_the_apply(tmp_path):
    for folder in (".plan-saved", ".run-old"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "plan.tfplan").write_text("plan")
    assert saved_plan_file(str(tmp_path)) == str(tmp_path / ".plan-saved" / "plan.tfplan")
    remove_leftover_runs(str(tmp_path), keep_saved_plan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".plan-saved"]
    remove_leftover_runs(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TridentError, match="no saved plan"):
        saved_plan_file(str(tmp_path))


# What init prints without network, as terraform 1.x and tofu 1.x wrap it (copied from real runs).
TERRAFORM_OFFLINE = """Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider hashicorp/null:
could not connect to registry.terraform.io: failed to request
discovery document: Get
"https://registry.terraform.io/.well-known/terraform.json": dial tcp: lookup
registry.terraform.io on 10.255.255.53:53: no such host"""
TOFU_OFFLINE = """Error: Failed to resolve provider packages

Could not resolve provider hashicorp/null: could not connect to
registry.opentofu.org: failed to request discovery document: Get
"https://registry.opentofu.org/.well-known/terraform.json": dial tcp: lookup
registry.opentofu.org on 10.255.255.53:53: no such host"""


@pytest.mark.parametrize("detail", [TERRAFORM_OFFLINE, TOFU_OFFLINE])
def test_an_unreachable_registry_names_where_providers_come_from(detail):
    hint = provider_download_hint(detail)
    assert "terraform_cli_config_file" in hint and "docs/terraform_apply.md" in hint and ".terraform.lock.hcl" in hint


@pytest.mark.parametrize("detail", ["", "Error: Unsupported argument", "Error: Backend initialization required"])
def test_other_init_failures_get_no_provider_hint(detail):
    assert provider_download_hint(detail) == ""
