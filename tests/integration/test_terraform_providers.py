"""Per-environment provider sources: terraform_apply's cli_config_file, plugin_dirs and plugin_cache_dir.

Two mirrors on one controller, as two environments with different air-gapped mirrors would have them:
the project's filesystem mirror (``hashicorp/local``, through its CLI configuration) and a second mirror
holding the same provider binary under another source address (through ``plugin_dirs``). The
controller's own CLI configuration names no mirror at all, so a provider can only come from what the
run itself was given: nothing here can fall back to the project-wide ``TF_CLI_CONFIG_FILE``.
"""

import shutil
from pathlib import Path

import pytest

import toolchain
from testbed import tool
from testbed.ansible import run_playbook

BINARIES = ["terraform", "tofu"]
PROVIDER = toolchain.VERSIONS["terraform-provider-local"]["provider"]
SECOND_SOURCE = "mirror.trident.invalid/acme/local"
CONFIG = """
terraform {
  required_providers {
    local = { source = "%s" }
  }
}
resource "local_file" "motd" {
  filename = "%s"
  content  = "hello from %s"
}
"""


def second_mirror(folder):
    """The provider laid out as a plugin folder (the filesystem mirror layout) under another source."""
    target = Path(folder) / SECOND_SOURCE / PROVIDER["version"] / "linux_amd64"
    target.mkdir(parents=True)
    shutil.copy(tool("terraform-provider-local"), target / f"terraform-provider-local_v{PROVIDER['version']}")
    return Path(folder)


@pytest.fixture
def controller(tmp_path):
    """A controller CLI configuration with no mirror: registries are unreachable here, so it provides nothing."""
    empty = tmp_path / "controller.terraformrc"
    empty.write_text("# no provider_installation: only what a run is given can install providers\n")
    return {"TF_CLI_CONFIG_FILE": str(empty)}


def converge(tmp_path, name, binary, source, env, **options):
    project = tmp_path / name / "checkout"
    project.mkdir(parents=True)
    managed = tmp_path / name / "managed" / "motd"
    managed.parent.mkdir()
    (project / "main.tf").write_text(CONFIG % (source, managed, name))
    args = {"project_path": str(project), "binary": tool(binary), "state_dir": str(tmp_path / name / "state"),
            "sandbox_write_paths": [str(managed.parent)], **options}
    play = run_playbook(tmp_path / name / "run", [{"name": "tf", "trident.gitops.terraform_apply": args}], env=env)
    return play, managed


@pytest.mark.parametrize("binary", BINARIES)
def test_two_environments_take_providers_from_their_own_mirrors(tmp_path, binary, controller):
    mirror = second_mirror(tmp_path / "second-mirror")
    cache = tmp_path / "plugin-cache"
    cache.mkdir()

    first, first_file = converge(tmp_path, "alpha", binary, "hashicorp/local", controller,
                                 cli_config_file=str(toolchain.CACHE / "terraformrc"))
    second, second_file = converge(tmp_path, "beta", binary, SECOND_SOURCE, controller,
                                   plugin_dirs=[str(mirror)], plugin_cache_dir=str(cache))

    for play, managed, name in ((first, first_file, "alpha"), (second, second_file, "beta")):
        assert play.rc == 0, play.stdout[-3000:]
        assert play.task_results()[0]["changed"] is True
        assert managed.read_text() == f"hello from {name}"
    # A plugin folder's providers are linked, not copied; the cache still records what the run installed.
    assert (cache / SECOND_SOURCE).is_dir(), "the run used its own plugin cache"


@pytest.mark.parametrize("binary", BINARIES)
def test_a_mirror_without_the_provider_fails_before_anything_is_applied(tmp_path, binary, controller):
    play, managed = converge(tmp_path, "gamma", binary, SECOND_SOURCE, controller,
                             cli_config_file=str(toolchain.CACHE / "terraformrc"))
    assert play.rc != 0
    result = play.task_results()[0]
    assert result["failed"] and "init failed" in result["msg"] and "nothing was applied" in result["msg"]
    assert not managed.exists()


def test_a_missing_plugin_dir_is_refused_by_name(tmp_path, controller):
    play, managed = converge(tmp_path, "delta", "tofu", SECOND_SOURCE, controller,
                             plugin_dirs=[str(tmp_path / "nowhere")])
    assert play.rc != 0
    assert f"plugin_dirs: {tmp_path / 'nowhere'} is not a directory" in play.task_results()[0]["msg"]
    assert not managed.exists()
