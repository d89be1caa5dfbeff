"""Push to applied: seconds from ``git push`` until the changed object is in the cluster, through the
reconcile_on_push rulebook (real ansible-rulebook) triggered by a webhook, and by polling every 10 s.

The anchor, measured in the same run, is the reconcile itself: ``ansible-playbook trident.gitops.reconcile
--limit <env>`` started by hand right after the push (what no event path can beat). Argo CD, not run
here, documents up to 3 minutes without webhooks (its default polling) and seconds with them.

Sizes (environment variables): TRIDENT_BENCH_PUSHES (pushes per case, default 5),
TRIDENT_BENCH_POLL_INTERVAL (default 10).
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness import print_table  # first: it puts tools/ on sys.path for testbed
from testbed.controlplane import ControlPlane
from testbed.eda import PushWorkspace, gitlab_headers, gitlab_push
from testbed.gitops import run_gitops
from testbed.gitserver import GitServer
from testbed.process import wait_until

PUSHES = int(os.environ.get("TRIDENT_BENCH_PUSHES", "5"))
POLL_INTERVAL = float(os.environ.get("TRIDENT_BENCH_POLL_INTERVAL", "10"))
TOKEN = "bench-webhook-secret-0123456789"
ENV = "benchalpha"


def push_to_applied(workspace, label, deliver, service=None):
    """Seconds from the push (its start) to the new ConfigMap value served by the API server, per push."""
    samples = []
    for number in range(PUSHES):
        before = workspace.head
        mode = f"{label}-{number}"
        workspace.set_mode(ENV, mode)
        started = time.monotonic()
        after = workspace.push(f"{label} {number}")
        deliver(before, after)
        wait_until(lambda: workspace.mode(ENV) == mode, 180, f"{label} push {number} applied", service, 0.05)
        samples.append(time.monotonic() - started)
    return samples


def by_hand(workspace):
    inventory = workspace.inventory_dir / "gitops.environments.yml"

    def deliver(_before, _after):
        result = run_gitops("reconcile", inventory, workspace.tmp, args=("--limit", ENV),
                            env={"ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"})
        if result.rc != 0:
            raise RuntimeError(result.explain())
    return push_to_applied(workspace, "by-hand", deliver)


def via_webhook(workspace):
    with workspace.rulebook("bench-webhook", TOKEN, trident_poll_interval=0) as rulebook:
        def deliver(before, after):
            if rulebook.webhook(gitlab_headers(TOKEN), gitlab_push(before, after)) != 202:
                raise RuntimeError("the webhook was not accepted")
        samples = push_to_applied(workspace, "webhook", deliver, rulebook.service)
        rulebook.wait_idle()
    return samples


def via_polling(workspace):
    with workspace.rulebook("bench-poll", TOKEN, trident_webhook=False,
                            trident_poll_interval=POLL_INTERVAL) as rulebook:
        samples = push_to_applied(workspace, "poll", lambda _before, _after: None, rulebook.service)
        rulebook.wait_idle()
    return samples


def print_results(results):
    print_table("push to applied, one environment; a round is one push, cases run one after another",
                {name: statistics.median(samples) for name, samples in results.items()}, PUSHES)
    for name, samples in results.items():
        print(f"  {name}: min {min(samples):.2f} s, max {max(samples):.2f} s")


def main():
    with tempfile.TemporaryDirectory(prefix="trident-bench-eda-") as tmp, \
            ControlPlane(Path(tmp) / "control-plane") as plane, GitServer(Path(tmp) / "git") as server:
        workspace = PushWorkspace(Path(tmp) / "work", plane, server, (ENV, "benchbeta"))
        results = {"reconcile by hand (anchor)": by_hand(workspace),
                   "webhook -> rulebook": via_webhook(workspace),
                   f"polling every {POLL_INTERVAL:g} s -> rulebook": via_polling(workspace)}
        print_results(results)


if __name__ == "__main__":
    main()
