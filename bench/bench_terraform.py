"""No-op run on a 50-resource project: terraform_apply vs community.general.terraform vs a bare plan.

Every case starts from the same converged state (applied once before timing), so each timed run is a
no-op. Two tables: the module through ansible-playbook (what users run; ansible-playbook's own
startup and module process are in both Ansible cases; a ``ping`` task shows that floor), and the module_utils call in-process
against the bare ``terraform plan -detailed-exitcode``, which isolates what the module adds.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from bench.harness import REPO, compare, run_command

sys.path.insert(0, str(REPO / "tools"))

from testbed import tool  # noqa: E402  (tools/ is put on the path above)

RESOURCES = 50


def write_project(path, files_dir):
    blocks = ['terraform {\n  required_providers {\n    local = { source = "hashicorp/local" }\n  }\n}\n']
    for index in range(RESOURCES // 2):
        blocks.append(f'resource "terraform_data" "d{index}" {{\n  input = "value {index}"\n}}\n')
        blocks.append(f'resource "local_file" "f{index}" {{\n  filename = "{files_dir}/f{index}"\n'
                      f'  content  = "content {index}"\n}}\n')
    path.mkdir(parents=True)
    (path / "main.tf").write_text("".join(blocks))


def playbook(workdir, task):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "inventory.ini").write_text("localhost ansible_connection=local\n")
    play = workdir / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    argv = ["ansible-playbook", "-i", str(workdir / "inventory.ini"), str(play)]
    env = {"ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp")}
    return lambda: run_command(argv, env=env)


def main():
    # `make bench` links this checkout into ANSIBLE_COLLECTIONS_PATH as trident.gitops.
    sys.path[:0] = [entry for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if entry]
    from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
    from ansible_collections.trident.gitops.plugins.module_utils.terraform.project import Settings, reconcile

    terraform = tool("terraform")
    with tempfile.TemporaryDirectory(prefix="bench-terraform-") as tmp:
        tmp = Path(tmp)
        ours, theirs = tmp / "ours" / "project", tmp / "theirs" / "project"
        write_project(ours, tmp / "ours" / "files")
        write_project(theirs, tmp / "theirs" / "files")
        state_dir = tmp / "ours" / "state"
        # The managed files' folder is delegated to the configuration (the sandbox shows nothing else writable).
        files = str(tmp / "ours" / "files")
        settings = Settings(project_path=str(ours), binary=terraform, state_dir=str(state_dir),
                            sandbox_write_paths=(files,))
        runner = CommandRunner()
        assert reconcile(settings, runner).changed, "the first run creates the resources"
        assert not reconcile(settings, runner).changed, "the second run is a no-op"

        # community.general.terraform keeps .terraform and the state in the project (its copy of it).
        theirs_task = {"community.general.terraform": {"project_path": str(theirs), "binary_path": terraform}}
        theirs_init = dict(theirs_task["community.general.terraform"], force_init=True)
        run_command(["ansible-playbook", "--version"])
        playbook(tmp / "theirs-init", {"community.general.terraform": theirs_init})()

        bare_env = {"TF_DATA_DIR": str(state_dir / "data")}
        # On the module's copy of the configuration, where the lock file init wrote is; unsandboxed.
        bare_argv = [terraform, f"-chdir={state_dir / 'work'}", "plan", "-detailed-exitcode", "-input=false",
                     "-no-color", f"-state={state_dir / 'terraform.tfstate'}"]
        # What the module runs: the same plan, saved to a file so that exactly it can be applied.
        plan_file = tmp / "bare.tfplan"

        def bare():
            run_command(bare_argv, env=bare_env, cwd=ours)

        def bare_out():
            run_command([*bare_argv, f"-out={plan_file}"], env=bare_env, cwd=ours)

        def in_process():
            reconcile(settings, runner)

        # The module as its own process, without ansible-playbook: Python + AnsibleModule + one plan.
        args_file = tmp / "module-args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
            "project_path": str(ours), "binary": terraform, "state_dir": str(state_dir),
            "sandbox_write_paths": [files]}}))
        module_argv = [sys.executable, REPO / "plugins" / "modules" / "terraform_apply.py", args_file]
        module_env = {"PYTHONPATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")}

        def module_process():
            run_command(module_argv, env=module_env)

        ours_args = {"project_path": str(ours), "binary": terraform, "state_dir": str(state_dir),
                     "sandbox_write_paths": [files]}
        compare(f"no-op, {RESOURCES} resources, in-process module_utils and module process vs bare plan",
                {"terraform_apply (module_utils)": in_process, "bare terraform plan": bare,
                 "bare terraform plan -out=FILE": bare_out, "terraform_apply module process": module_process})
        compare(f"no-op, {RESOURCES} resources, through ansible-playbook", {
            "trident.gitops.terraform_apply": playbook(tmp / "ours-play", {"trident.gitops.terraform_apply": ours_args}),
            "community.general.terraform": playbook(tmp / "theirs-play", theirs_task),
            "bare terraform plan": bare,
            # The floor of any module task: ansible-playbook startup plus one module process.
            "ansible-playbook, one ping task": playbook(tmp / "ping-play", {"ansible.builtin.ping": {}}),
        })
        leftovers = [p.name for p in ours.iterdir() if p.name != "main.tf"]
        print(json.dumps({"files written into our project dir": leftovers}))


if __name__ == "__main__":
    main()
