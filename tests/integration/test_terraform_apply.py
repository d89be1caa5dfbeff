"""terraform_apply through ansible-playbook against real terraform and tofu, offline (filesystem provider mirror)."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import Settings, reconcile
from testbed import tool
from testbed.ansible import run_playbook
from testbed.process import free_port

BINARIES = ["terraform", "tofu"]
PROVIDERS = """
terraform {
  required_providers {
    local = { source = "hashicorp/local" }
  }
}
"""


class Project:
    """A root module in its own "checkout" directory, with its state dir and managed files elsewhere."""

    def __init__(self, tmp_path, binary):
        self.binary = binary
        self.path = tmp_path / "checkout" / "env"
        self.state_dir = tmp_path / "state"
        self.files = tmp_path / "managed"
        self.runs = tmp_path / "runs"
        self.path.mkdir(parents=True)
        self.files.mkdir()
        self.count = 0
        self.play = None

    def write(self, body):
        (self.path / "main.tf").write_text(PROVIDERS + body.replace("@FILES@", str(self.files)))

    def run(self, check=False, diff=False, verbosity=0, env=None, **options):
        """Run the module once and return its task result; ``self.play`` keeps the whole playbook run."""
        self.count += 1
        # The files the configuration manages are a controller folder the operator delegates to it.
        args = {"project_path": str(self.path), "binary": tool(self.binary), "state_dir": str(self.state_dir),
                "sandbox_write_paths": [str(self.files)], **options}
        play = run_playbook(self.runs / str(self.count), [{"name": "tf", "trident.gitops.terraform_apply": args}],
                            check=check, diff=diff, verbosity=verbosity, env=env)
        self.play = play
        results = play.task_results()
        assert results, f"playbook did not run:\n{play.stdout[-3000:]}\n{play.stderr[-3000:]}"
        return results[0]

    def state(self, workspace="default"):
        sub = "terraform.tfstate" if workspace == "default" else f"terraform.tfstate.d/{workspace}/terraform.tfstate"
        path = self.state_dir / sub
        return json.loads(path.read_text()) if path.exists() else None

    def addresses(self, workspace="default"):
        state = self.state(workspace) or {"resources": []}
        return sorted(f"{r['type']}.{r['name']}" for r in state["resources"] if r["mode"] == "managed")


def checkout_files(project):
    """Everything in the checkout besides the configuration (a lock file included: none is committed here)."""
    return sorted(str(p.relative_to(project.path)) for p in project.path.rglob("*") if p.name != "main.tf")


TWO_RESOURCES = """
variable "greeting" {
  type    = string
  default = "hello"
}
resource "terraform_data" "app" {
  input = var.greeting
}
resource "local_file" "motd" {
  filename = "@FILES@/motd"
  content  = "motd for ${terraform.workspace}"
}
output "greeting" { value = terraform_data.app.output }
output "workspace" { value = terraform.workspace }
"""


@pytest.fixture(params=BINARIES)
def project(request, tmp_path):
    return Project(tmp_path, request.param)


def test_create_noop_and_change_with_check_mode_and_diff(project):
    project.write(TWO_RESOURCES)
    preview = project.run(check=True)
    assert preview["changed"] is True and preview["applied"] is False
    assert preview["summary"] == {"add": 2, "change": 0, "destroy": 0, "replace": 0}
    assert {c["address"]: c["actions"] for c in preview["resource_changes"]} == {
        "terraform_data.app": ["create"], "local_file.motd": ["create"]}
    assert not (project.files / "motd").exists() and project.addresses() == [], "check mode must change nothing"

    created = project.run()
    assert created["changed"] is True and created["applied"] is True
    assert (project.files / "motd").read_text() == "motd for default"
    assert project.addresses() == ["local_file.motd", "terraform_data.app"]
    assert created["outputs"] == {"greeting": "hello", "workspace": "default"}

    again = project.run()
    assert again["changed"] is False and again["applied"] is False and again["initialized"] is False
    assert again["resource_changes"] == [] and again["outputs"] == {"greeting": "hello", "workspace": "default"}
    assert project.run(check=True)["changed"] is False

    project.write(TWO_RESOURCES.replace('default = "hello"', 'default = "bonjour"'))
    preview = project.run(check=True, diff=True)
    assert preview["changed"] is True and preview["summary"]["change"] == 1
    assert preview["resource_changes"] == [{"address": "terraform_data.app", "action": "update",
                                            "actions": ["update"]}]
    (diff,) = preview["diff"]
    assert diff["before"]["input"] == "hello" and diff["after"]["input"] == "bonjour"
    assert diff["before_header"] == "terraform_data.app (update)"
    assert project.state()["outputs"]["greeting"]["value"] == "hello", "check mode must not apply"

    changed = project.run()
    assert changed["changed"] is True and changed["outputs"]["greeting"] == "bonjour"
    assert project.run()["changed"] is False
    assert checkout_files(project) == [], "nothing a run writes may live in the checkout"


def test_drift_is_detected_in_check_mode_and_by_drift_only_and_corrected(project):
    project.write(TWO_RESOURCES)
    project.run()
    motd = project.files / "motd"
    motd.write_text("edited by hand")

    preview = project.run(check=True)
    assert preview["changed"] is True
    assert [d["address"] for d in preview["resource_drift"]] == ["local_file.motd"]
    assert preview["resource_changes"] == [{"address": "local_file.motd", "action": "create", "actions": ["create"]}]

    drift = project.run(drift_only=True)
    assert drift["changed"] is True and drift["applied"] is False
    assert drift["resource_drift"] == [{"address": "local_file.motd", "action": "delete", "actions": ["delete"]}]
    assert motd.read_text() == "edited by hand", "drift_only must change nothing"
    assert "local_file.motd" in project.addresses(), "drift_only must not even refresh the state"

    fixed = project.run()
    assert fixed["changed"] is True and motd.read_text() == "motd for default"
    assert project.run(drift_only=True)["changed"] is False

    motd.unlink()
    assert project.run(drift_only=True)["resource_drift"] == [
        {"address": "local_file.motd", "action": "delete", "actions": ["delete"]}]
    assert not motd.exists()
    assert project.run()["changed"] is True and motd.exists()
    assert project.run()["changed"] is False


def test_destroy_guard_refuses_delete_and_replace_before_applying(project):
    project.write(TWO_RESOURCES)
    project.run()
    before = (project.state_dir / "terraform.tfstate").read_bytes()

    project.write(TWO_RESOURCES.split('resource "local_file"', maxsplit=1)[0] + 'output "greeting" { value = "x" }\n')
    deleted = project.run()
    assert deleted.get("failed") is True and deleted["refused"] is True
    assert "refusing" in deleted["msg"]
    assert "delete local_file.motd (delete: action_reason delete_because_no_resource_config, no longer in the " \
           "configuration)" in deleted["msg"]
    assert deleted["summary"]["destroy"] == 1
    assert (project.files / "motd").exists() and (project.state_dir / "terraform.tfstate").read_bytes() == before

    project.write(TWO_RESOURCES.replace('content  = "motd', 'content  = "new motd'))
    replaced = project.run()
    assert replaced.get("failed") is True
    assert "replace local_file.motd (delete/create: action_reason replace_because_cannot_update" in replaced["msg"]
    assert replaced["resource_changes"] == [{
        "address": "local_file.motd", "action": "replace", "actions": ["delete", "create"],
        "action_reason": "replace_because_cannot_update", "replace_paths": [["content"]], "refused": True}]
    assert (project.files / "motd").read_text() == "motd for default"
    assert (project.state_dir / "terraform.tfstate").read_bytes() == before

    project.write(TWO_RESOURCES)
    absent = project.run(state="absent")
    assert absent.get("failed") is True and (project.files / "motd").exists()

    destroyed = project.run(state="absent", allow_destroy=True)
    assert destroyed["changed"] is True and destroyed["summary"]["destroy"] == 2
    assert not (project.files / "motd").exists() and project.addresses() == []
    assert project.run(state="absent")["changed"] is False, "nothing left to destroy: no refusal, no change"


def test_check_mode_reports_what_the_guard_would_refuse_next_to_the_rest_of_the_plan(project):
    """A preview shows the replace the apply refuses, with everything else the plan does, and does not fail."""
    project.write(TWO_RESOURCES)
    project.run()
    before = (project.state_dir / "terraform.tfstate").read_bytes()
    project.write(TWO_RESOURCES.replace('content  = "motd', 'content  = "new motd')
                  .replace('default = "hello"', 'default = "rotated"')
                  + 'resource "terraform_data" "added" {\n  input = "new"\n}\n')
    for phase in ("full", "plan"):
        preview = project.run(check=True, diff=True, phase=phase)
        assert preview.get("failed") is not True, preview.get("msg")
        assert preview["changed"] is True and preview["applied"] is False
        assert preview["refused"] is True
        assert preview["refusal"] == "would be refused: replace local_file.motd (allow_destroy)"
        assert preview["summary"] == {"add": 1, "change": 1, "destroy": 0, "replace": 1}
        by_address = {change["address"]: change for change in preview["resource_changes"]}
        assert by_address["local_file.motd"]["refused"] is True and by_address["local_file.motd"]["action"] == "replace"
        assert "refused" not in by_address["terraform_data.app"] and "refused" not in by_address["terraform_data.added"]
        assert {d["before_header"] for d in preview["diff"]} == {
            "local_file.motd (replace)", "terraform_data.app (update)", "terraform_data.added (create)"}
        assert preview["outputs"]["greeting"] == "(known after apply)"
        assert (project.state_dir / "terraform.tfstate").read_bytes() == before
    # The apply path still refuses, before anything is applied.
    refused = project.run()
    assert refused.get("failed") is True and refused["refused"] is True
    assert (project.state_dir / "terraform.tfstate").read_bytes() == before
    allowed = project.run(check=True, allow_destroy=True)
    assert allowed["refused"] is False and allowed["refusal"] is None
    assert checkout_files(project) == []


def test_workspace_is_selected_and_created(project):
    project.write(TWO_RESOURCES.replace("/motd", "/motd-${terraform.workspace}"))
    staging = project.run(workspace="staging")
    assert staging["changed"] is True and staging["outputs"]["workspace"] == "staging"
    assert (project.files / "motd-staging").read_text() == "motd for staging"
    assert project.addresses("staging") == ["local_file.motd", "terraform_data.app"]
    assert project.addresses() == [], "the default workspace is untouched"
    assert project.run(workspace="staging")["changed"] is False
    assert project.run(workspace="default")["changed"] is True
    assert (project.files / "motd-default").exists()
    assert checkout_files(project) == []


@pytest.mark.parametrize("backend", ["", 'terraform {\n  backend "local" {}\n}\n'], ids=["implicit", "local"])
def test_a_preview_of_a_new_workspace_plans_it_and_changes_no_state(project, backend):
    project.write(backend + TWO_RESOURCES)
    preview = project.run(check=True, workspace="review")
    assert preview.get("failed") is not True, preview.get("msg")
    assert preview["summary"]["add"] == 2 and project.state("review") is None
    assert project.run(workspace="review")["changed"] is True and project.addresses("review") != []
    assert checkout_files(project) == []


def test_explicit_local_backend_keeps_state_and_workspaces_in_the_state_dir(project):
    project.write('terraform {\n  backend "local" {}\n}\n' + TWO_RESOURCES)
    assert project.run(workspace="qa")["changed"] is True
    assert project.addresses("qa") == ["local_file.motd", "terraform_data.app"]
    assert project.run(workspace="qa")["changed"] is False
    assert checkout_files(project) == []


def test_default_state_dir_is_outside_the_checkout(project, tmp_path):
    project.write(TWO_RESOURCES)
    home = tmp_path / "home"
    home.mkdir()
    args = {"project_path": str(project.path), "binary": tool(project.binary),
            "sandbox_write_paths": [str(project.files)]}
    tasks = [{"name": "tf", "trident.gitops.terraform_apply": args}]
    first = run_playbook(tmp_path / "default-1", tasks, env={"HOME": str(home)}).task_results()[0]
    assert first["changed"] is True
    assert Path(first["state_dir"]).parent == home / ".cache" / "trident-gitops" / "terraform"
    assert (Path(first["state_dir"]) / "terraform.tfstate").exists()
    assert run_playbook(tmp_path / "default-2", tasks, env={"HOME": str(home)}).task_results()[0]["changed"] is False
    assert checkout_files(project) == []


SECRET = 'hunter2-"quoted"-\u00e9t\u00e9'
SECRET_CONFIG = """
variable "password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "db" {
  triggers_replace = sha256(var.password)
}
output "fingerprint" {
  value     = sha256(var.password)
  sensitive = true
}
"""


def test_variables_never_leak(project):
    project.write(SECRET_CONFIG)
    created = project.run(variables={"password": SECRET}, diff=True, verbosity=4)
    play = project.play
    assert created["changed"] is True
    masked = created["outputs"]["fingerprint"]
    assert masked.startswith("<masked:") and masked != project.state()["outputs"]["fingerprint"]["value"]
    again = project.run(variables={"password": SECRET}, check=True, diff=True, verbosity=4)
    play_again = project.play
    assert again["changed"] is False
    for text in (play.stdout, play.stderr, play_again.stdout, play_again.stderr):
        assert SECRET not in text and json.dumps(SECRET)[1:-1] not in text
    for root in (project.state_dir, project.path):
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"secret left in {path}"
    assert [p.name for p in project.state_dir.iterdir() if p.name.startswith(".run-")] == [], "temp dir left"


def test_secret_in_a_failing_variable_is_masked_in_the_error(project):
    project.write("""
variable "token" {
  type = string
  validation {
    condition     = length(var.token) < 3
    error_message = "token too long"
  }
}
resource "terraform_data" "t" { input = var.token }
""")
    failed = project.run(variables={"token": SECRET}, verbosity=4)
    play = project.play
    assert failed.get("failed") is True and "token too long" in failed["msg"]
    assert SECRET not in play.stdout + play.stderr
    assert project.addresses() == []


def test_invalid_hcl_fails_clearly(project):
    project.write(TWO_RESOURCES + '\nresource "terraform_data" "broken" {\n  input = \n')
    failed = project.run()
    assert failed.get("failed") is True
    assert "failed" in failed["msg"] and "nothing was applied" in failed["msg"]
    assert "Error:" in failed["msg"]
    assert not (project.files / "motd").exists() and project.addresses() == []


def test_missing_required_variable_fails_clearly(project):
    project.write(SECRET_CONFIG)
    failed = project.run(variables={"unrelated": "x"})
    assert failed.get("failed") is True and "password" in failed["msg"] and "nothing was applied" in failed["msg"]
    assert project.addresses() == []


def test_state_locked_by_another_process_fails_then_converges(project):
    project.write(TWO_RESOURCES)
    project.run()
    project.write(TWO_RESOURCES.replace('default = "hello"', 'default = "changed"'))
    env = {**os.environ, "TF_DATA_DIR": str(project.state_dir / "data")}
    # A real second process holding the state lock: `console` keeps it while it waits for input. It runs on the
    # module's copy of the configuration, where the lock file init wrote is.
    copy = project.state_dir / "work"
    holder = subprocess.Popen([tool(project.binary), f"-chdir={copy}", "console",
                               f"-state={project.state_dir / 'terraform.tfstate'}"],
                              cwd=project.state_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        lock_info = project.state_dir / ".terraform.tfstate.lock.info"
        # Wait on the condition, not a time a loaded machine can exceed: the lock, or the holder's exit.
        while not lock_info.exists() and holder.poll() is None:
            time.sleep(0.1)
        assert lock_info.exists(), f"the console process exited without the lock:\n{holder.communicate()[1]}"
        locked = project.run(lock_timeout="1s")
        assert locked.get("failed") is True and "state lock" in locked["msg"]
        assert project.state()["outputs"]["greeting"]["value"] == "hello"
    finally:
        holder.communicate(input=b"")
    converged = project.run()
    assert converged["changed"] is True and converged["outputs"]["greeting"] == "changed"


def test_unreachable_backend_fails_clearly(project):
    port = free_port()
    project.write(f'terraform {{\n  backend "http" {{\n    address = "http://127.0.0.1:{port}/state"\n  }}\n}}\n'
                  + TWO_RESOURCES)
    failed = project.run()
    assert failed.get("failed") is True and "nothing was applied" in failed["msg"]
    assert f"127.0.0.1:{port}" in failed["msg"]
    assert not (project.files / "motd").exists()


class RecordingRunner(CommandRunner):
    """A real runner that also records every argv and environment, and the var files as they exist mid-run."""

    def __init__(self):
        super().__init__(masked=[SECRET])
        self.calls = []
        self.var_files = []

    def __call__(self, argv, cwd=None, env=None, data=None, check=True, binary_output=False, pass_fds=(),
                 new_session=False):
        self.calls.append((list(argv), dict(env or {})))
        for arg in argv[1:]:
            if arg.startswith("-var-file="):
                path = Path(arg.split("=", 1)[1])
                self.var_files.append((path, path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777,
                                       json.loads(path.read_text())))
        return super().__call__(argv, cwd=cwd, env=env, data=data, check=check, binary_output=binary_output,
                                pass_fds=pass_fds, new_session=new_session)

    def subcommands(self):
        """The Terraform subcommand of each call (after bwrap's ``--`` and Terraform's ``-chdir``)."""
        found = []
        for argv, _env in self.calls:
            terraform = argv[argv.index("--") + 1:] if "--" in argv else argv
            found.append(next(arg for arg in terraform[1:] if not arg.startswith("-")))
        return found


def test_variables_go_through_a_private_file_never_argv(project):
    project.write(SECRET_CONFIG)
    runner = RecordingRunner()
    settings = Settings(project_path=str(project.path), binary=tool(project.binary), state_dir=str(project.state_dir),
                        variables={"password": SECRET})
    assert reconcile(settings, runner).changed is True
    assert runner.subcommands() == ["init", "plan", "show", "apply"]
    assert all(argv[0].endswith("env") and "--unshare-all" in argv for argv, _env in runner.calls), "sandboxed"
    for argv, env in runner.calls:
        assert not any(SECRET in arg for arg in argv) and not any(SECRET in value for value in env.values())
    ((path, mode, dir_mode, content),) = runner.var_files
    assert path.name.endswith(".tfvars.json") and mode == 0o600 and dir_mode == 0o700
    assert content == {"password": SECRET}
    assert not path.exists() and not path.parent.exists(), "the private var file and its directory are removed"

    runner = RecordingRunner()
    assert reconcile(settings, runner).changed is False
    # With secret variables a plan without changes is read too, to know which outputs they reach.
    assert runner.subcommands() == ["plan", "show"]


def test_targets_and_variables_files(project, tmp_path):
    project.write(TWO_RESOURCES)
    var_file = tmp_path / "greeting.tfvars"
    var_file.write_text('greeting = "from file"\n')
    targeted = project.run(targets=["terraform_data.app"], variables_files=[str(var_file)], parallelism=2)
    assert targeted["resource_changes"] == [{"address": "terraform_data.app", "action": "create",
                                             "actions": ["create"]}]
    assert targeted["outputs"]["greeting"] == "from file" and not (project.files / "motd").exists()
    # variables win over variables_files
    overridden = project.run(variables_files=[str(var_file)], variables={"greeting": "from task"})
    assert project.state()["outputs"]["greeting"]["value"] == "from task" and (project.files / "motd").exists()
    # An output that holds a (secret) variable's value is masked where it stands, whether marked sensitive or not.
    assert overridden["outputs"]["greeting"].startswith("<masked:")


def test_backend_config_without_backend_block_is_refused(project):
    project.write(TWO_RESOURCES)
    failed = project.run(backend_config={"path": "/tmp/x"})
    assert failed.get("failed") is True and "no backend block" in failed["msg"]


def test_backend_config_goes_through_a_file_and_outputs_through_the_backend(project, tmp_path):
    project.write('terraform {\n  backend "local" {}\n}\n' + TWO_RESOURCES)
    custom = tmp_path / "elsewhere" / "custom.tfstate"
    custom.parent.mkdir()
    runner = RecordingRunner()
    settings = Settings(project_path=str(project.path), binary=tool(project.binary), state_dir=str(project.state_dir),
                        backend_config={"path": str(custom)}, sandbox_write_paths=(str(project.files),))
    outcome = reconcile(settings, runner)
    assert outcome.changed is True and outcome.outputs == {"greeting": "hello", "workspace": "default"}
    assert json.loads(custom.read_text())["outputs"]["greeting"]["value"] == "hello"
    init_argv = runner.calls[0][0]
    assert runner.subcommands()[0] == "init" and not any(str(custom) in arg for arg in init_argv), \
        "backend settings via a file"
    # The state is the backend's, not ours: outputs are read with `output -json`.
    assert runner.subcommands() == ["init", "plan", "show", "apply", "output"]
    assert not (project.state_dir / "terraform.tfstate").exists()
    assert reconcile(settings, RecordingRunner()).changed is False


def test_a_failed_apply_is_reported_and_a_rerun_converges(project):
    project.write(TWO_RESOURCES.replace("@FILES@/motd", "@FILES@/blocker/motd"))
    (project.files / "blocker").write_text("a file where a directory is needed")
    failed = project.run()
    assert failed.get("failed") is True and "apply failed" in failed["msg"]
    (project.files / "blocker").unlink()
    converged = project.run()
    assert converged["changed"] is True and (project.files / "blocker" / "motd").exists()
    assert project.run()["changed"] is False


def test_a_second_run_on_the_same_state_dir_waits_then_gives_up(project):
    project.write(TWO_RESOURCES)
    settings = Settings(project_path=str(project.path), binary=tool(project.binary), state_dir=str(project.state_dir),
                        lock_timeout="1s", sandbox_write_paths=(str(project.files),))
    runner = RecordingRunner()
    with file_lock(str(project.state_dir / ".trident.lock")):
        with pytest.raises(TridentError, match="another run is in progress"):
            reconcile(settings, runner)
    assert runner.calls == [], "nothing runs while another run holds the state dir"
    assert reconcile(settings, runner).changed is True


def test_plan_then_apply_the_saved_plan_and_a_leftover_plan_is_removed(project):
    """phase=plan keeps the plan (it holds the variables) in a private folder; phase=apply applies exactly it."""
    project.write(TWO_RESOURCES)
    planned = project.run(phase="plan", variables={"greeting": "kept-in-the-plan"})
    assert planned["changed"] is True and planned["applied"] is False and project.addresses() == []
    saved = project.state_dir / ".plan-saved"
    assert planned["plan_file"] == str(saved / "plan.tfplan")
    assert saved.stat().st_mode & 0o777 == 0o700 and (saved / "plan.tfplan").is_file()
    # What a run killed (SIGKILL) between plan and apply leaves: the next plan on the state dir starts afresh.
    (saved / "left-by-a-killed-run").write_text("x")
    project.run(phase="plan", variables={"greeting": "kept-in-the-plan"})
    assert sorted(p.name for p in saved.iterdir()) == ["creates.json", "plan.tfplan"]
    applied = project.run(phase="apply", saved_plan=True, record={"revision": "c0ffee", "tree": "7ree"})
    assert applied["applied"] is True and applied["recorded"] is None and applied["record_written"] is True
    assert project.addresses() == ["local_file.motd", "terraform_data.app"]
    assert project.state()["outputs"]["greeting"]["value"] == "kept-in-the-plan"
    assert not saved.exists()
    again = project.run(phase="plan", variables={"greeting": "kept-in-the-plan"})
    assert again["changed"] is False and again["plan_file"] is None
    assert again["recorded"] == {"revision": "c0ffee", "tree": "7ree"}
    assert not saved.exists()
    refused = project.run(phase="apply", saved_plan=True)
    assert refused.get("failed") and "no saved plan" in refused["msg"] and "nothing was applied" in refused["msg"]


def test_nothing_is_written_into_the_checkout_in_any_mode_and_a_previews_lock_file_is_not_kept(project):
    """init writes .terraform.lock.hcl into its working directory: the copy, never the checkout."""
    project.write(TWO_RESOURCES)
    for options in ({"check": True}, {"check": True, "phase": "plan"}, {"drift_only": True}, {"phase": "plan"},
                    {}, {"check": True}):
        assert project.run(**options).get("failed") is not True
        assert checkout_files(project) == [], options
    kept = project.state_dir / "providers.lock.hcl"
    assert "hashicorp/local" in kept.read_text()
    # A preview's init writes a lock file into the copy; it is not kept for the applies (a branch's choice).
    kept.unlink()
    (project.state_dir / "init.fingerprint").unlink()
    assert project.run(check=True)["initialized"] is True
    assert not kept.exists(), "a preview's lock file is not kept"
    assert project.run()["initialized"] is True and "hashicorp/local" in kept.read_text()
    assert checkout_files(project) == []


def test_removing_every_resource_of_a_provider_plans_their_deletion(project):
    """init installs the providers the state still needs: it reads the state from the copy (a link to ours)."""
    project.write(TWO_RESOURCES)
    project.run()
    (project.path / "main.tf").write_text('resource "terraform_data" "only" {}\n')
    preview = project.run(check=True)
    assert preview.get("failed") is not True, preview.get("msg")
    assert preview["refusal"] == "would be refused: delete local_file.motd, delete terraform_data.app (allow_destroy)"
    removed = project.run(allow_destroy=True)
    assert removed["applied"] is True and project.addresses() == ["terraform_data.only"]
    assert not (project.files / "motd").exists()
    assert checkout_files(project) == []


def test_a_committed_lock_file_is_the_truth(project):
    project.write(TWO_RESOURCES)
    project.run()
    committed = project.path / ".terraform.lock.hcl"
    committed.write_text((project.state_dir / "providers.lock.hcl").read_text())
    runner = RecordingRunner()
    (project.state_dir / "init.fingerprint").unlink()
    settings = Settings(project_path=str(project.path), binary=tool(project.binary), state_dir=str(project.state_dir),
                        sandbox_write_paths=(str(project.files),))
    reconcile(settings, runner)
    init_argv = runner.calls[0][0]
    assert "-lockfile=readonly" in init_argv
    # A committed lock file that does not have the provider: init fails, the lock file is left as committed.
    committed.write_text("# no providers\n")
    failed = project.run()
    assert failed.get("failed") is True and "init failed" in failed["msg"]
    assert committed.read_text() == "# no providers\n"


SLOW = """
variable "started" { type = string }
variable "delay" { type = number }
resource "terraform_data" "fast" {
  input = "done before the slow one"
}
resource "terraform_data" "slow" {
  input = "v1"
  depends_on = [terraform_data.fast]
  provisioner "local-exec" {
    # exec: the interrupt reaches sleep itself; the marker is in the state dir, which the sandbox shows
    command = "touch ${var.started} && exec sleep ${var.delay}"
  }
}
"""


def test_a_rerun_after_an_interrupted_apply_converges_and_says_so(project):
    """SIGTERM during the create (through ansible-playbook, as AWX cancels a job): Terraform stops gracefully
    inside the sandbox and taints the resource; the rerun replaces it without allow_destroy and says so.
    A resource tainted by hand is still refused."""
    project.write(SLOW)
    started = project.state_dir / "apply-started"
    args = {"project_path": str(project.path), "binary": tool(project.binary), "state_dir": str(project.state_dir),
            "allow_programs": True, "variables": {"started": str(started), "delay": 300}}
    workdir = project.runs / "interrupted"
    playbook = workdir / "playbook.yml"
    workdir.mkdir(parents=True)
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": [{"trident.gitops.terraform_apply": args}]}]))
    inventory = workdir / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    proc = subprocess.Popen(["ansible-playbook", "-i", str(inventory), str(playbook)], cwd=workdir,
                            env={**os.environ, "ANSIBLE_LOCAL_TEMP": str(workdir / ".tmp")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    while not started.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate()
    assert proc.returncode != 0
    # ansible-playbook dies at once; the module goes on until Terraform has stopped. Its state dir lock tells when.
    with file_lock(str(project.state_dir / ".trident.lock"), timeout=float("inf")):
        pass
    slow = next(r for r in project.state()["resources"] if r["name"] == "slow")
    assert slow["instances"][0]["status"] == "tainted", "Terraform stopped gracefully and wrote its state"
    assert json.loads((project.state_dir / "unfinished-creates.json").read_text()) == {
        "default": ["terraform_data.fast", "terraform_data.slow"]}

    fast = {"started": str(started), "delay": 0}
    preview = project.run(check=True, allow_programs=True, variables=fast)
    assert preview["refused"] is False and preview["unfinished_creates"] == ["terraform_data.slow"]
    assert preview["resource_changes"] == [{
        "address": "terraform_data.slow", "action": "replace", "actions": ["delete", "create"],
        "action_reason": "replace_because_tainted", "unfinished_create": True}]
    converged = project.run(allow_programs=True, variables=fast)
    assert converged.get("failed") is not True, converged.get("msg")
    assert converged["applied"] is True and converged["unfinished_creates"] == ["terraform_data.slow"]
    assert not (project.state_dir / "unfinished-creates.json").exists()
    assert project.run(allow_programs=True, variables=fast)["changed"] is False

    # Tainted by hand: not this module's unfinished create, so the guard refuses it as before.
    env = {**os.environ, "TF_DATA_DIR": str(project.state_dir / "data")}
    subprocess.run([tool(project.binary), f"-chdir={project.state_dir / 'work'}", "taint",
                    f"-state={project.state_dir / 'terraform.tfstate'}", "terraform_data.fast"],
                   env=env, check=True, capture_output=True)
    refused = project.run(allow_programs=True, variables=fast)
    assert refused.get("failed") is True and "replace terraform_data.fast" in refused["msg"]
    assert f"'{project.binary} untaint terraform_data.fast'" in refused["msg"]
    assert project.run(check=True, allow_programs=True, variables=fast)["refusal"] == \
        "would be refused: replace terraform_data.fast (allow_destroy)"


@pytest.mark.parametrize("where", ["path", "workspace_dir"])
def test_a_preview_of_a_local_backend_outside_the_state_dir_reads_it_and_changes_nothing(project, tmp_path, where):
    # The local backend's state lives where the operator's backend_config says, outside the state dir; the sandbox
    # shows that folder read-only to a preview. The preview must plan (not fail taking Terraform's state lock) and
    # leave the folder exactly as it was: no lock file, no state written, nothing new.
    project.write('terraform {\n  backend "local" {}\n}\n' + TWO_RESOURCES)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # (The operator's folders exist: the sandbox shows only existing paths.)
    (elsewhere / "workspaces").mkdir()
    backend = {"path": str(elsewhere / "custom.tfstate")} if where == "path" else {
        "workspace_dir": str(elsewhere / "workspaces")}
    workspace = "default" if where == "path" else "blue"
    settings = Settings(project_path=str(project.path), binary=tool(project.binary), state_dir=str(project.state_dir),
                        backend_config=backend, workspace=workspace, sandbox_write_paths=(str(project.files),))
    assert reconcile(settings, RecordingRunner()).applied is True

    def snapshot():
        return {str(p.relative_to(elsewhere)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
                for p in sorted(elsewhere.rglob("*"))}

    before = snapshot()
    assert before, "the apply wrote the state there"
    (project.files / "motd").unlink()  # drift the preview must find
    project.write('terraform {\n  backend "local" {}\n}\n' + TWO_RESOURCES.replace('"hello"', '"bonjour"'))
    runner = RecordingRunner()
    preview = reconcile(replace(settings, check_mode=True), runner)
    assert preview.applied is False and preview.changed is True
    assert {c.address for c in preview.plan.resource_changes} == {"terraform_data.app", "local_file.motd"}
    assert snapshot() == before, "a preview changed the backend's folder"
    assert not (project.files / "motd").exists()
    # Through the module too: check mode, the preview reports the same and changes nothing.
    module_preview = project.run(check=True, backend_config=backend, workspace=workspace)
    assert module_preview.get("failed") is not True, module_preview.get("msg")
    assert module_preview["changed"] is True and snapshot() == before
