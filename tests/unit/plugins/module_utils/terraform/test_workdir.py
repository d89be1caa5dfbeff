"""The copy Terraform runs on: what it holds, what it refuses, and that it follows the repository."""

import os
import subprocess

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.terraform import workdir


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "environments" / "prod").mkdir(parents=True)
    (root / "modules" / "net" / "templates").mkdir(parents=True)
    (root / "modules" / "dns").mkdir()
    (root / "environments" / "other").mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "environments" / "prod" / "main.tf").write_text('module "net" {\n  source = "../../modules/net"\n}\n')
    (root / "environments" / "prod" / "values.json").write_text("{}")
    (root / "modules" / "net" / "main.tf").write_text('module "dns" { source = "../dns" }\n')
    (root / "modules" / "net" / "templates" / "a.tpl").write_text("tpl")
    (root / "modules" / "dns" / "main.tf.json").write_text('{"output": {"x": {"value": 1}}}')
    (root / "environments" / "other" / "secret.sops.yaml").write_text("other environment")
    return root


def tree(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_the_copy_holds_the_root_module_and_the_folders_its_sources_reach(repo, tmp_path):
    sandbox = workdir.repository_of(str(repo / "environments" / "prod"))
    assert sandbox.root == str(repo)
    work = tmp_path / "state" / "work"
    copy = workdir.stage(str(repo / "environments" / "prod"), sandbox, str(work))
    assert copy == str(work / "environments" / "prod")
    assert tree(work) == ["environments/prod/main.tf", "environments/prod/values.json", "modules/dns/main.tf.json",
                          "modules/net/main.tf", "modules/net/templates/a.tpl"]
    assert tree(repo / "environments" / "prod") == ["main.tf", "values.json"], "nothing is written into the checkout"


def test_the_copy_follows_changes_and_keeps_the_lock_file(repo, tmp_path):
    sandbox = workdir.repository_of(str(repo / "environments" / "prod"))
    work = tmp_path / "work"
    copy = workdir.stage(str(repo / "environments" / "prod"), sandbox, str(work))
    (work / "environments" / "prod" / workdir.LOCK_FILE).write_text("lock init wrote")
    (repo / "environments" / "prod" / "values.json").write_text('{"changed": true}')
    (repo / "modules" / "net" / "templates" / "a.tpl").unlink()
    (repo / "environments" / "prod" / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    workdir.stage(str(repo / "environments" / "prod"), sandbox, str(work))
    assert tree(work) == ["environments/prod/.terraform.lock.hcl", "environments/prod/main.tf",
                          "environments/prod/values.json"]
    assert (work / "environments" / "prod" / "values.json").read_text() == '{"changed": true}'
    assert os.path.isdir(copy)


@pytest.mark.parametrize("source", ["../../../outside", "/etc", "../../../../../../../tmp"])
def test_a_module_source_that_leaves_the_repository_is_refused(repo, tmp_path, source):
    (tmp_path / "outside").mkdir()
    (repo / "environments" / "prod" / "main.tf").write_text(f'module "x" {{\n  source = "{source}"\n}}\n')
    sandbox = workdir.repository_of(str(repo / "environments" / "prod"))
    if not source.startswith("."):
        assert workdir.reached_folders(str(repo / "environments" / "prod"), sandbox) == [
            str(repo / "environments" / "prod")], "not a local source: Terraform fetches it (or fails)"
        return
    with pytest.raises(TridentError, match=f"environments/prod/main.tf: module source '{source}'.*outside the "
                                           "repository"):
        workdir.stage(str(repo / "environments" / "prod"), sandbox, str(tmp_path / "work"))
    assert not (tmp_path / "work").exists()


def test_a_symlink_out_of_the_repository_is_refused_naming_the_link(repo, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY")
    os.symlink(canary, repo / "environments" / "prod" / "data.txt")
    sandbox = workdir.repository_of(str(repo / "environments" / "prod"))
    with pytest.raises(TridentError, match="environments/prod/data.txt is a symlink that leads outside"):
        workdir.stage(str(repo / "environments" / "prod"), sandbox, str(tmp_path / "work"))
    assert "CANARY" not in "".join(path.read_text() for path in (tmp_path).rglob("*")
                                   if path.is_file() and path != canary and "repo" not in path.parts)


def test_a_symlink_inside_is_copied_as_its_content(repo, tmp_path):
    os.symlink("../../modules/net/templates/a.tpl", repo / "environments" / "prod" / "linked.tpl")
    os.symlink("../../modules/dns", repo / "environments" / "prod" / "linked-dir")
    sandbox = workdir.repository_of(str(repo / "environments" / "prod"))
    workdir.stage(str(repo / "environments" / "prod"), sandbox, str(tmp_path / "work"))
    copy = tmp_path / "work" / "environments" / "prod"
    assert (copy / "linked.tpl").read_text() == "tpl" and not (copy / "linked.tpl").is_symlink()
    assert (copy / "linked-dir" / "main.tf.json").exists() and not (copy / "linked-dir").is_symlink()


def test_git_and_terraform_data_dirs_are_not_copied(repo, tmp_path):
    (repo / "environments" / "prod" / ".terraform" / "providers").mkdir(parents=True)
    (repo / "environments" / "prod" / ".terraform" / "providers" / "p").write_text("x")
    sandbox = workdir.repository_of(str(repo))
    workdir.stage(str(repo), sandbox, str(tmp_path / "work"))
    assert not any(part in (".git", ".terraform") for path in (tmp_path / "work").rglob("*") for part in path.parts)


def test_the_repository_is_the_given_root_or_the_checkout_or_the_project(repo, tmp_path):
    project = tmp_path / "plain" / "env"
    project.mkdir(parents=True)
    assert workdir.repository_of(str(project)).root == str(project)
    assert workdir.repository_of(str(project), str(tmp_path / "plain")).root == str(tmp_path / "plain")
    assert workdir.repository_of(str(repo / "environments" / "prod")).root == str(repo)


def test_config_files_include_opentofu_files(tmp_path):
    for name in ("a.tf", "b.tf.json", "c.tofu", "d.tofu.json", "e.tfvars", "notes.md"):
        (tmp_path / name).write_text("")
    assert [os.path.basename(p) for p in workdir.config_files(str(tmp_path))] == [
        "a.tf", "b.tf.json", "c.tofu", "d.tofu.json"]


@pytest.mark.parametrize("project", ["", "environments/prod"])
def test_files_that_did_not_change_are_not_copied_again(repo, tmp_path, project):
    sandbox = workdir.repository_of(str(repo / project))
    work = tmp_path / "work"
    copy = workdir.stage(str(repo / project), sandbox, str(work))
    (tmp_path / "work" / project / workdir.LOCK_FILE).write_text("lock")
    inodes = {path: path.stat().st_ino for path in work.rglob("*") if path.is_file()}
    assert workdir.stage(str(repo / project), sandbox, str(work)) == copy
    assert {path: path.stat().st_ino for path in work.rglob("*") if path.is_file()} == inodes
