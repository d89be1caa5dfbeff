"""The integration suite relies on `--dist loadgroup`: tests marked xdist_group("workload_cluster") share one
fuller cluster and tests that build on each other's state run on one worker, in order. pytest 9.2 with
pytest-xdist 3.8 silently dropped the grouping (pytest-dev/pytest-xdist#1386); this runs a small suite the way
the Makefile runs the integration tests and fails if the grouping is lost again."""

import subprocess
import sys
import textwrap

SAMPLE = textwrap.dedent("""
    import os
    import pytest

    pytestmark = pytest.mark.xdist_group("together")

    def test_a(record_property):
        record_property("worker", os.environ["PYTEST_XDIST_WORKER"])

    def test_b(record_property):
        record_property("worker", os.environ["PYTEST_XDIST_WORKER"])

    def test_c(record_property):
        record_property("worker", os.environ["PYTEST_XDIST_WORKER"])
    """)


def test_loadgroup_keeps_a_group_on_one_worker_in_order(tmp_path):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "3", "--dist", "loadgroup",
                          "-q", f"--junitxml={junit}", "-o", "junit_family=xunit1", "test_sample.py"],
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    text = junit.read_text()
    workers = {part.split('"')[0] for part in text.split('name="worker" value="')[1:]}
    assert len(workers) == 1, f"one group ran on workers {sorted(workers)}"
