"""Slices operators run without AWX (issue 29): the environments inventory's ``slice``/``slice_count`` options give
three inventories of one repository that together hold every environment once, a promotion chain in one slice; three
ansible-playbook processes at once (each its own HOME, cache, checkout and locks) reconcile them, and the playbook
``trident.gitops.merge_reports`` merges their drift reports into the report of one run over everything (the oracle),
timings aside. Real API server, real ansible-playbook."""

import json
import os
import subprocess
import threading

import yaml

from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.slices import assign_slices
from kube_support import edit, unique
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops
from test_slices_merge import untimed

SLICES = 3


def make_repo(root, plane):
    suffix = unique("s")[2:]
    chain = [f"dev-{suffix}", f"stg-{suffix}"]
    names = chain + [f"app{index}-{suffix}" for index in range(4)]
    for index, name in enumerate(names):
        env = root / "environments" / name
        (env / "yaml").mkdir(parents=True)
        (env / "kubeconfig.yaml").write_text(kubeconfig_text(plane))
        (env / "env.yml").write_text(yaml.safe_dump(
            {"namespace": "default", **({"promote_from": chain[0]} if name == chain[1] else {})}))
        (env / "yaml" / "cm.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": str(index)}}))
    (root / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    for number in range(1, SLICES + 1):
        (root / f"slice{number}.environments.yml").write_text(yaml.safe_dump(
            {"plugin": "trident.gitops.environments", "path": ".", "slice_count": SLICES, "slice": number}))
    # promote_from deploys committed revisions only.
    for args in (("init", "-q", "-b", "main"), ("add", "-A"),
                 ("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "environments")):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return names


def run_slice(tmp_path, number, playbook):
    work = tmp_path / f"slice-{number}"
    (work / "home").mkdir(parents=True, exist_ok=True)
    return run_gitops(playbook, tmp_path / "repo" / f"slice{number}.environments.yml", work,
                      extra_vars=isolated_vars(work), env={"HOME": str(work / "home")})


def run_slices(tmp_path, playbook):
    """The three slices at once, as three controllers would run them."""
    results = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, run_slice(tmp_path, n, playbook)))
               for n in range(1, SLICES + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for number in range(1, SLICES + 1):
        assert results[number].rc == 0, results[number].explain()
    return [results[number] for number in range(1, SLICES + 1)]


def merge(tmp_path, runs, label):
    """trident.gitops.merge_reports over the slices' drift-report.json files, as an operator runs it."""
    reports = [str(run.report_dir / "drift-report.json") for run in runs]
    proc = subprocess.run(["ansible-playbook", "trident.gitops.merge_reports", "-e", json.dumps({"reports": reports}),
                           "-e", f"dest={label}"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    merged = json.loads((tmp_path / label / "drift-report.json").read_text())
    assert (tmp_path / label / "verdict").read_text() == f"{merged['verdict']}\n"
    return merged


def test_three_inventory_slices_reconcile_each_environment_once_and_merge_into_one_run(tmp_path, control_plane):
    names = make_repo(tmp_path / "repo", control_plane)
    expected = assign_slices({name: [names[0]] if name == names[1] else [] for name in names}, SLICES)
    assert expected[names[0]] == expected[names[1]]  # the promotion chain is one slice

    deployed = run_slices(tmp_path, "reconcile")
    for number, run in enumerate(deployed, start=1):
        assert sorted(run.report["environments"]) == sorted(n for n in names if expected[n] == number)
    applied = merge(tmp_path, deployed, "merged-reconcile")
    assert applied["summary"] == {"environments": len(names), "drifted": sorted(names), "failed": []}
    # staging was promoted in the same run as dev: they shared a slice.
    assert applied["environments"][names[1]]["revision"] == applied["environments"][names[0]]["revision"]
    assert "held" not in applied["environments"][names[1]]

    # Someone edits one environment's object: a drift check of the slices finds it, as one run does.
    edit(control_plane, "configmap", names[3], "default", {"data": {"n": "edited"}})
    (tmp_path / "single" / "home").mkdir(parents=True)
    single = run_gitops("drift", tmp_path / "repo" / "gitops.environments.yml", tmp_path / "single",
                        extra_vars=isolated_vars(tmp_path / "single"), env={"HOME": str(tmp_path / "single" / "home")})
    assert single.rc == 0, single.explain()
    merged = merge(tmp_path, run_slices(tmp_path, "drift"), "merged-drift")
    assert untimed(merged) == untimed(single.report)
    assert merged["verdict"] == "drift" and merged["summary"]["drifted"] == [names[3]]


def test_a_slice_outside_the_count_is_refused_naming_the_options(tmp_path):
    (tmp_path / "environments" / "a").mkdir(parents=True)
    config = tmp_path / "bad.environments.yml"
    config.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", "path": ".", "slice_count": 3,
                                      "slice": 4}))
    proc = subprocess.run(["ansible-inventory", "-i", str(config), "--list"], capture_output=True, text=True,
                          env={**os.environ, "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments",
                               "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}, check=False)
    assert proc.returncode != 0
    assert "slice must be a number from 1 to slice_count (3), got 4" in proc.stderr
