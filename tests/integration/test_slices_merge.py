"""Slices merged into one report (issue 29): three runs that each reconcile one environment (as AWX job slices or
workers on execution nodes do, each with its own HOME and cache) give drift reports whose merge
(plugin_utils/drift_report.py merge_reports) equals the report of one run over all three, apart from timings.
The oracle is the single run; real API server, real ansible-playbook."""

import json

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.plugin_utils.drift_report import merge_reports
from kube_support import unique
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops

TIMINGS = ("started", "duration")


def untimed(value):
    if isinstance(value, dict):
        return {key: untimed(item) for key, item in value.items() if key not in TIMINGS}
    if isinstance(value, list):
        return [untimed(item) for item in value]
    return value


@pytest.fixture
def repo(tmp_path, control_plane):
    names = [unique(f"slice{index}") for index in range(3)]
    for index, name in enumerate(names):
        env = tmp_path / "repo" / "environments" / name
        (env / "yaml").mkdir(parents=True)
        (env / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
        objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": str(index)}}]
        (env / "yaml" / "cm.yaml").write_text(yaml.safe_dump_all(objects))
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    return {"names": names, "inventory": inventory, "root": tmp_path}


def run(repo, label, playbook, limit=None):
    work = repo["root"] / label
    (work / "home").mkdir(parents=True, exist_ok=True)
    result = run_gitops(playbook, repo["inventory"], work, extra_vars=isolated_vars(work),
                        env={"HOME": str(work / "home")}, args=("--limit", limit) if limit else ())
    assert result.rc == 0, result.explain()
    return json.loads((result.report_dir / "drift-report.json").read_text())


def test_three_slices_merge_into_the_report_of_one_run(repo):
    # Two environments in sync, one never deployed (drift): the merge keeps each verdict and the worst overall.
    run(repo, "setup", "reconcile", limit=",".join(repo["names"][:2]))
    single = run(repo, "single", "drift")
    slices = [run(repo, f"slice-{index}", "drift", limit=name) for index, name in enumerate(repo["names"])]
    merged = merge_reports(slices)
    assert untimed(merged) == untimed(single)
    assert merged["verdict"] == "drift" and merged["summary"]["drifted"] == sorted(repo["names"][2:])
    assert merged["started"] == min(s["started"] for s in slices)
    with pytest.raises(ValueError, match="is in two reports"):
        merge_reports([slices[0], slices[0]])
