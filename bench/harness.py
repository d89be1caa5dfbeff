"""Run competing implementations side by side and print ratios.

Each case is a zero-argument callable. Rounds are interleaved (the order rotates every round) so a
slow phase of the machine hits every case alike; the median of the rounds is reported, with each
case's ratio to the first case (our implementation by convention).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from testbed.ansible import run_playbook  # noqa: E402


def run_command(argv, env=None, cwd=None, check=True):
    """A case body that runs one command; output is discarded, failures raise."""
    proc = subprocess.run([str(a) for a in argv], env={**os.environ, **(env or {})}, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return proc


def playbook_task(workdir, task, check=False):
    """A case body that runs one Ansible task through ansible-playbook; returns its result, failures raise."""
    run = run_playbook(workdir, [task], check=check)
    if run.rc != 0:
        raise RuntimeError(run.stdout[-3000:])
    return run.task_results()[-1]


def ansible_floor(workdir):
    """The reference every playbook case pays: ansible-playbook's start-up with one ping task."""
    playbook_task(workdir, {"name": "ping", "ansible.builtin.ping": {}})


def compare(title, cases, rounds=5, warmup=1, setup=None):
    """Time every case ``rounds`` times (after ``warmup`` untimed runs); print and return medians.

    ``setup`` (optional) is called before every single run, untimed, e.g. to reset a checkout.
    """
    names = list(cases)
    samples = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            if setup:
                setup(name)
            started = time.perf_counter()
            cases[name]()
            elapsed = time.perf_counter() - started
            if round_index >= warmup:
                samples[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print_table(title, medians, rounds)
    return medians


def print_table(title, medians, rounds):
    baseline = medians[next(iter(medians))]
    width = max(len(name) for name in medians)
    print(f"\n## {title}  (median of {rounds} interleaved rounds)")
    print(f"{'case':<{width}}  {'seconds':>9}  {'ratio to first':>14}")
    for name, seconds in medians.items():
        print(f"{name:<{width}}  {seconds:9.3f}  {seconds / baseline:14.2f}x")
    sys.stdout.flush()
