"""`make demo DEMO_ARGS=--keep` as a person runs it: it ends Healthy, its last screen says where the cluster, the
repository and the report are, each of them is really there, and Ctrl-C stops the services and keeps the files."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testbed import tool

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
STOP_LINE = re.compile(r"^  stop\s+press Ctrl-C")


def read_until_stop_line(proc, timeout):
    """The demo's output up to its last screen's stop line (it then waits for Ctrl-C)."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if STOP_LINE.match(lines[-1]):
            return lines
    proc.kill()
    raise AssertionError("the demo never reached its last screen:\n" + "\n".join(lines[-200:]))


def shown(lines, label):
    """The value the last screen gives for ``label`` (its first word after the label)."""
    found = [line.split()[1] for line in lines if re.match(rf"^  {label}\s", line)]
    assert found, f"the last screen names no {label}"
    return found[-1]


def test_demo_keep_ends_healthy_and_says_where_to_look():
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "testbed.demo", "--keep"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    work = None
    try:
        lines = read_until_stop_line(proc, timeout=900)
        text = "\n".join(lines)
        assert "FAILED" not in text, text[-8000:]
        assert "  [ok] rolled out and Healthy at the end" in lines
        assert "<details>" not in text and "| Environment |" not in text, "the reports are shown as text, not Markdown"
        kubeconfig = re.search(r"^  cluster\s+export KUBECONFIG=(\S+);", text, re.M).group(1)
        report = Path(shown(lines, "report"))
        clone = Path(shown(lines, "repository"))
        detected = Path(re.search(r"^  the drift\s+(\S+)", text, re.M).group(1))
        assert "**2 of 2 environments drifted**" in detected.read_text()
        work = clone.parent
        deployments = subprocess.run([tool("kubectl"), "--kubeconfig", kubeconfig, "get", "deployments", "-A", "-o",
                                      "jsonpath={range .items[*]}{.status.availableReplicas}/{.spec.replicas} {end}"],
                                     capture_output=True, text=True, check=True).stdout.split()
        assert deployments and all(a == b for a, b in (d.split("/") for d in deployments)), deployments
        assert report.read_text().startswith("Trident drift report (check mode, nothing was changed): 0 of 2")
        assert (clone / "environments" / "aliyun" / "env.yml").is_file()
        assert subprocess.run(["git", "-C", str(clone), "log", "--oneline"], capture_output=True, text=True,
                              check=True).stdout.count("\n") == 2
        again = re.search(r"^  again\s+(\S+) drift", text, re.M).group(1)
        rerun = subprocess.run([again, "drift"], capture_output=True, text=True, check=False, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-2000:]
        assert "aliyun: in sync" in rerun.stdout and "k3s: in sync" in rerun.stdout
        assert (report.parent / "verdict").read_text() == "in_sync\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
        assert report.is_file() and clone.is_dir(), "the files stay after Ctrl-C"
        stopped = subprocess.run([tool("kubectl"), "--kubeconfig", kubeconfig, "--request-timeout=3s", "get", "ns"],
                                 capture_output=True, text=True, check=False)
        assert stopped.returncode != 0, "the cluster stopped with the demo"
    finally:
        if proc.poll() is None:
            proc.kill()
        if work is not None and work.name.startswith("trident-demo-"):
            shutil.rmtree(work, ignore_errors=True)
