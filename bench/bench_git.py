"""git_source vs ansible.builtin.git, both through ansible-playbook against the same local git daemon.

Two scenarios: a no-op run on an up-to-date checkout, and an update after one new commit (each case
has its own upstream repository, so every timed run sees exactly one new commit). Both modules fetch
shallow (depth 1), single branch. Each scenario is timed twice: through ansible-playbook (what users
see, dominated by Ansible's own start-up) and as the module alone (``python -m <module> args.json``,
the way Ansible's runtime executes it, without the controller), which isolates the modules' work.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

from bench.harness import compare, run_command
from testbed.gitserver import GitServer, git

FILES = 200


def seed(server, workdir, name):
    """An upstream repository with a few hundred small files, and a clone to push new commits from."""
    server.create_repo(name)
    work = workdir / f"{name}-work"
    git("clone", "--quiet", server.git_url(name), str(work))
    for index in range(FILES):
        path = work / "environments" / f"env{index % 10}" / f"manifest{index}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{index}\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "seed", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    return work


def playbook(workdir, name, module, args):
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": [{"name": name, module: args}]}]))
    return path


class Case:
    """One module on its own upstream repository and destination."""

    def __init__(self, server, workdir, name, module, python_module, extra):
        self.work = seed(server, workdir, name)
        args = {"repo": server.git_url(name), "dest": str(workdir / f"{name}-checkout"), "version": "main",
                "depth": 1, **extra}
        self.commits = 0
        self.playbook_argv = ["ansible-playbook", "-i", str(workdir / "inventory.ini"),
                              str(playbook(workdir, name, module, args))]
        args_file = workdir / f"{name}-args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        self.module_argv = [sys.executable, "-m", python_module, str(args_file)]

    def playbook(self):
        run_command(self.playbook_argv)

    def module(self):
        run_command(self.module_argv, env={"PYTHONPATH": os.environ["ANSIBLE_COLLECTIONS_PATH"]})

    def new_commit(self):
        self.commits += 1
        (self.work / "environments" / "env0" / "manifest0.yaml").write_text(f"# revision {self.commits}\n")
        git("commit", "--quiet", "-am", f"edit {self.commits}", cwd=self.work)
        git("push", "--quiet", "origin", "HEAD:main", cwd=self.work)


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-git-") as tmp, GitServer(Path(tmp) / "repos") as server:
        workdir = Path(tmp)
        (workdir / "inventory.ini").write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
        cases = {"git_source": Case(server, workdir, "ours", "trident.gitops.git_source",
                                    "ansible_collections.trident.gitops.plugins.modules.git_source", {}),
                 "ansible.builtin.git": Case(server, workdir, "anchor", "ansible.builtin.git", "ansible.modules.git",
                                             {"single_branch": True})}
        for case in cases.values():
            case.playbook()  # the initial clone, untimed
        for how in ("playbook", "module"):
            runs = {name: getattr(case, how) for name, case in cases.items()}
            compare(f"no-op update of an up-to-date checkout ({how})", runs)
            compare(f"update after one new commit ({how})", runs, setup=lambda name: cases[name].new_commit())


if __name__ == "__main__":
    main()
