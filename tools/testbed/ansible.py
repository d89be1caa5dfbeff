"""Run real ansible-playbook against this collection and return per-task results."""

import json
import os
import subprocess
from pathlib import Path

import yaml


class PlaybookResult:
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    def task_results(self, host="localhost"):
        """Results of every task, in order, for one host."""
        results = []
        for play in (self.data or {}).get("plays", []):
            for task in play["tasks"]:
                if host in task["hosts"]:
                    results.append({"name": task["task"]["name"], **task["hosts"][host]})
        return results

    @property
    def stats(self):
        return (self.data or {}).get("stats", {})


def run_playbook(workdir, tasks, hosts="localhost", extra_vars=None, check=False, diff=False, verbosity=0,
                 env=None, gather_facts=False):
    """Write a one-play playbook into ``workdir`` and run it with the JSON callback."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{"name": "test", "hosts": hosts, "gather_facts": gather_facts,
                                         "tasks": tasks}], sort_keys=False))
    inventory = workdir / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter={{ ansible_playbook_python }}\n")
    argv = ["ansible-playbook", "-i", str(inventory), str(playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if verbosity:
        argv.append("-" + "v" * verbosity)
    run_env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
               "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCAL_TEMP": str(workdir / ".ansible-tmp"), **(env or {})}
    proc = subprocess.run(argv, cwd=workdir, env=run_env, capture_output=True, text=True, check=False)
    return PlaybookResult(proc, _json_document(proc.stdout))


def _json_document(stdout):
    """The JSON callback's document; at -v and above, ansible prints plain lines before it."""
    start = stdout.find("\n{") + 1 if not stdout.startswith("{") else 0
    try:
        return json.loads(stdout[start:])
    except ValueError:
        return None
