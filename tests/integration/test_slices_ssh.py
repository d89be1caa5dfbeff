"""Slices on execution nodes, as AWX runs them (issue 29): three ``ansible-runner transmit | ssh <node> ansible-runner
worker | ansible-runner process`` pipelines (the streaming protocol of AWX's receptor mesh) over the testbed's real
sshd, each slice limited to one environment with its own HOME, cache, locks and checkout on the worker. Their drift
reports merged (drift_report.merge_reports) equal the report of one run over the three environments, timings aside."""

import json
import os
import shutil
import subprocess
import sys

import yaml

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import merge_reports
from kube_support import unique
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops
from test_slices_merge import untimed

EXAMPLE_DRIFT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "gitops-repo", "drift.yml")


def test_three_slices_over_ssh_merge_into_the_report_of_one_run(tmp_path, control_plane, ssh_server):
    names = [unique(f"node{index}") for index in range(3)]
    project = tmp_path / "project"
    for index, name in enumerate(names):
        env = project / "environments" / name
        (env / "yaml").mkdir(parents=True)
        (env / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
        (env / "yaml" / "cm.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": str(index)}}))
    (project / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    shutil.copy(EXAMPLE_DRIFT, project / "drift.yml")
    # Two environments deployed, one not (drift), by a run of its own.
    for folder in ("setup", "single"):
        (tmp_path / folder).mkdir()
    setup = run_gitops("reconcile", project / "gitops.environments.yml", tmp_path / "setup",
                       extra_vars=isolated_vars(tmp_path / "setup"), args=("--limit", ",".join(names[:2])))
    assert setup.rc == 0, setup.explain()
    single = run_gitops("drift", project / "gitops.environments.yml", tmp_path / "single",
                        extra_vars=isolated_vars(tmp_path / "single"))
    assert single.rc == 0, single.explain()

    # The inventory as AWX hands it to a job: a script printing what the inventory source listed.
    listing = subprocess.run(["ansible-inventory", "-i", "gitops.environments.yml", "--list"], cwd=project,
                             env={**os.environ, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"},
                             capture_output=True, text=True, check=True).stdout
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(ssh_server.known_hosts_line())
    runner = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
    ssh = (f"ssh -i {ssh_server.client_key} -p {ssh_server.port} -o UserKnownHostsFile={known_hosts} "
           f"-o StrictHostKeyChecking=yes -o BatchMode=yes {ssh_server.user}@127.0.0.1")
    pipelines = []
    for index, name in enumerate(names):
        data = tmp_path / f"job-{index}"
        shutil.copytree(project, data / "project")
        (data / "inventory").mkdir()
        script = data / "inventory" / "hosts"
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({listing!r})\n")
        script.chmod(0o700)
        node = tmp_path / f"node-{index}"  # what exists on the execution node: its HOME, caches and report
        (node / "home").mkdir(parents=True)
        (data / "env").mkdir()
        (data / "env" / "extravars").write_text(yaml.safe_dump(isolated_vars(node)))
        (data / "env" / "envvars").write_text(yaml.safe_dump({
            "HOME": str(node / "home"), "PATH": os.environ["PATH"],
            "ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"],
            "ANSIBLE_INVENTORY_ENABLED": "script", "ANSIBLE_CALLBACKS_ENABLED": "trident.gitops.drift_report",
            "TRIDENT_DRIFT_REPORT_DIR": str(node / "report"), "ANSIBLE_LOCAL_TEMP": str(node / "tmp")}))
        command = (f"{runner} transmit {data} -p drift.yml --limit {name} | "
                   f"{ssh} {runner} worker --private-data-dir={node / 'job'} | "
                   f"{runner} process {tmp_path / f'processed-{index}'}")
        pipelines.append(subprocess.Popen(["bash", "-o", "pipefail", "-c", command], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    outputs = [proc.communicate(timeout=600)[0] for proc in pipelines]
    for proc, output in zip(pipelines, outputs):
        assert proc.returncode == 0, output[-4000:]
    reports = [json.loads((tmp_path / f"node-{index}" / "report" / "drift-report.json").read_text())
               for index in range(3)]
    for index, name in enumerate(names):
        assert list(reports[index]["environments"]) == [name]
    # The job events came back through the stream: the processed side saw each slice's stats.
    for index in range(3):
        assert (tmp_path / f"processed-{index}" / "artifacts").is_dir()
    merged = merge_reports(reports)
    expected = json.loads((single.report_dir / "drift-report.json").read_text())
    assert untimed(merged) == untimed(expected)
    assert merged["verdict"] == "drift" and merged["summary"]["drifted"] == [names[2]]
