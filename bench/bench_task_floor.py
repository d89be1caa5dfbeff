"""What one Ansible host-task costs on this machine, whatever the task does: the floor under
trident.gitops.reconcile's time per environment (issue 17).

Plays of bare tasks over TRIDENT_BENCH_FLOOR_HOSTS local hosts (default 20, the controller's Python, as
the environments inventory makes them) with TRIDENT_BENCH_FLOOR_FORKS forks (default 10): start-up alone,
TRIDENT_BENCH_FLOOR_TASKS set_fact tasks (default 20), as many tasks skipped by ``when``, and one module
task. Prints the cost per host-task (the case minus start-up, divided by hosts x tasks), wall and CPU.
"""

import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from bench.harness import compare, run_command

HOSTS = int(os.environ.get("TRIDENT_BENCH_FLOOR_HOSTS", "20"))
FORKS = int(os.environ.get("TRIDENT_BENCH_FLOOR_FORKS", "10"))
TASKS = int(os.environ.get("TRIDENT_BENCH_FLOOR_TASKS", "20"))
ROUNDS = int(os.environ.get("TRIDENT_BENCH_FLOOR_ROUNDS", "3"))


def set_fact(index):
    return {"name": f"fact {index}", "ansible.builtin.set_fact": {f"fact_{index}": "{{ inventory_hostname }}"}}


def skipped(index):
    return {"name": f"skipped {index}", "ansible.builtin.debug": {"msg": "never"}, "when": False}


PLAYS = {
    "start-up (one meta task)": [],
    f"{TASKS} set_fact tasks": [set_fact(i) for i in range(TASKS)],
    f"{TASKS} tasks skipped by when": [skipped(i) for i in range(TASKS)],
    "1 module task (command /bin/true)": [{"name": "module", "ansible.builtin.command": "/bin/true"}],
}


def write(work):
    inventory = work / "hosts.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {f"h{n:03d}": host for n in range(HOSTS)}}}))
    playbooks = {}
    for index, (name, tasks) in enumerate(PLAYS.items()):
        playbook = work / f"play{index}.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False,
                                             "tasks": [{"ansible.builtin.meta": "noop"}] + tasks}]))
        playbooks[name] = playbook
    return inventory, playbooks


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-floor-") as tmp:
        inventory, playbooks = write(Path(tmp))
        cpu = {name: [] for name in playbooks}

        def case(name):
            def measured():
                before = _children_cpu()
                run_command(["ansible-playbook", "-i", inventory, f"--forks={FORKS}", playbooks[name]])
                cpu[name].append(_children_cpu() - before)
            return measured

        medians = compare(f"Ansible's cost per host-task, {HOSTS} local hosts, forks={FORKS}",
                          {name: case(name) for name in playbooks}, rounds=ROUNDS, warmup=1)
        # the first sample of each case is compare's untimed warm-up run
        cpu_median = {name: statistics.median(samples[1:]) for name, samples in cpu.items()}
        start_wall, start_cpu = medians[next(iter(medians))], cpu_median[next(iter(cpu_median))]
        print("\nper host-task (case minus start-up, over hosts x tasks): wall ms, CPU ms")
        for name in list(PLAYS)[1:]:
            count = len(PLAYS[name])
            wall = (medians[name] - start_wall) / (HOSTS * count) * 1000
            used = (cpu_median[name] - start_cpu) / (HOSTS * count) * 1000
            print(f"  {name:<36} {wall:7.1f} ms  {used:7.1f} ms CPU")


if __name__ == "__main__":
    main()
