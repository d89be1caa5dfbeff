"""Plan every step, then apply; the deployed revision recorded in the environment (issue 14).

On the real kube-apiserver, terraform and git server: a rejected Kubernetes object leaves Terraform untouched,
a refused Terraform plan leaves the cluster untouched, source drift is "the environment's folder differs from
the revision recorded in the environment" and stays reported until a reconcile deploys it, a commit touching
only another environment is no drift for this one, and a reconcile with nothing to do starts no apply-phase
module. Environments: ``both`` (Terraform + manifests), ``tfonly`` (Terraform only), ``other`` (manifests).
"""

import json
import subprocess

import pytest

from test_reconcile_e2e import Cluster, configmap, namespace
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory

# The tests build on each other's state (recorded revisions, Terraform state): one worker, in file order.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reconcile_plan")]

TF = """
resource "terraform_data" "a" {
  input = "%s"
}
"""
EXTRA_TF = """
resource "terraform_data" "extra" {
  input = "extra"
}
"""
# A Service the API server refuses (a port above 65535): found by the plan, before anything is applied.
BAD_SERVICE = """---
apiVersion: v1
kind: Service
metadata:
  name: bad
  namespace: both
spec:
  ports:
    - port: 70000
"""
# The reconcile playbook, then what reconcile_state says per environment (the interface of the promotion issue).
STATE_PLAYBOOK = """
- name: Reconcile
  hosts: all
  gather_facts: false
  roles:
    - role: trident.gitops.reconcile
- name: Show what the environments run
  hosts: all
  gather_facts: false
  tasks:
    - name: Show reconcile_state
      ansible.builtin.debug:
        var: reconcile_state
"""
APPLY_MODULE_TASKS = {"trident.gitops.terraform : Apply the saved Terraform plan",
                      "trident.gitops.kubernetes : Apply the manifests"}


@pytest.fixture(scope="module")
def gitops(tmp_path_factory, control_plane, git_server):
    work = tmp_path_factory.mktemp("plan")
    repo = GitOpsRepo(git_server, "plan-gitops", work / "clone")
    kubeconfig = kubeconfig_text(control_plane)
    repo.write("environments/both/env.yml", json.dumps({"namespace": "both", "terraform_binary": "terraform"}))
    repo.write("environments/both/kubeconfig.yaml", kubeconfig)
    repo.write("environments/both/main.tf", TF % "one")
    repo.write("environments/both/manifests/all.yaml", namespace("both") + configmap("settings", "both", "blue"))
    repo.write("environments/tfonly/env.yml", json.dumps({"terraform_binary": "terraform"}))
    repo.write("environments/tfonly/main.tf", TF % "t")
    repo.write("environments/other/kubeconfig.yaml", kubeconfig)
    repo.write("environments/other/yaml/all.yaml", namespace("other") + configmap("settings", "other", "green"))
    repo.push("three environments")
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
    (work / "state.yml").write_text(STATE_PLAYBOOK)

    def run(playbook, **extra):
        return run_gitops(playbook, inventory, work, extra_vars={**isolated_vars(work), **extra})

    return {"repo": repo, "run": run, "work": work, "cluster": Cluster(control_plane)}


def assert_ok(result):
    assert result.rc == 0, result.explain()


def states(result):
    """reconcile_state per host, from the second play of STATE_PLAYBOOK."""
    task = result.data["plays"][1]["tasks"][0]
    return {host: value["reconcile_state"] for host, value in task["hosts"].items()}


def step(result, env, name):
    return result.report["environments"][env]["steps"].get(name, {})


def git_rev(repo, spec):
    return subprocess.run(["git", "rev-parse", spec], cwd=repo.path, capture_output=True, text=True,
                          check=True).stdout.strip()


def state_serial(work, env):
    return json.loads((work / "terraform-state" / env / "terraform.tfstate").read_text())["serial"]


def leftover_plans(work, env):
    return sorted(path.name for path in (work / "terraform-state" / env).glob(".plan-saved"))


def test_revision_recorded_and_no_apply_when_in_sync(gitops):
    run, repo, work, cluster = gitops["run"], gitops["repo"], gitops["work"], gitops["cluster"]
    first = run(str(work / "state.yml"))
    assert_ok(first)
    head = git_rev(repo, "HEAD")
    recorded = states(first)
    for env in ("both", "tfonly", "other"):
        assert recorded[env] == {"revision": head, "tree": git_rev(repo, f"HEAD:environments/{env}"),
                                 "target": head, "health": "Healthy"}, env
    parent = cluster.get("/api/v1/namespaces/both/secrets/trident-both")["metadata"]["annotations"]
    assert (parent["trident.gitops/revision"], parent["trident.gitops/tree"]) == (
        head, git_rev(repo, "HEAD:environments/both"))
    record = json.loads((work / "terraform-state" / "tfonly" / "deployed-revision.json").read_text())
    assert record["default"]["revision"] == head
    assert leftover_plans(work, "both") == [] and leftover_plans(work, "tfonly") == []

    # In sync: the plans run, and no apply-phase module starts (the pipeline's apply stage is skipped whole).
    again = run("reconcile")
    assert_ok(again)
    assert again.changed_hosts() == []
    for env in ("both", "tfonly", "other"):
        results = again.task_results(env)
        names = {r["name"] for r in results}
        assert "trident.gitops.kubernetes : Validate and dry-run the manifests" in names or env == "tfonly"
        assert "trident.gitops.terraform : Plan the Terraform root module" in names or env == "other"
        assert names & APPLY_MODULE_TASKS == set(), env
        applies = [r for r in results if r["name"] == "trident.gitops.reconcile : Apply"]
        assert applies and all(r.get("skipped") for r in applies), applies


def test_source_drift_is_per_environment_and_stays_until_deployed(gitops):
    run, repo, cluster = gitops["run"], gitops["repo"], gitops["cluster"]
    before = git_rev(repo, "HEAD")
    repo.write("environments/other/yaml/all.yaml", namespace("other") + configmap("settings", "other", "yellow"))
    after = repo.push("other: settings yellow")

    for attempt in ("first", "second"):  # reported by every drift run, not only the first one after the push
        drift = run("drift")
        assert_ok(drift)
        assert drift.drifted() == ["other"], f"{attempt} drift run"
        source = step(drift, "other", "source")
        assert source["status"] == "changed"
        assert (source["stats"]["before"], source["stats"]["after"]) == (before, after)
        assert [c["subject"] for c in source["stats"]["commits"]] == ["other: settings yellow"]
        assert source["stats"]["changed_files"] == ["environments/other/yaml/all.yaml"]
        # a commit touching only another environment is no drift for these
        assert step(drift, "both", "source")["status"] == "ok"
        assert step(drift, "tfonly", "source")["status"] == "ok"
        [item] = drift.items("other", "kubernetes")
        assert item["changes"] == [{"path": "data.mode", "before": "green", "after": "yellow"}]

    fix = run("reconcile")
    assert_ok(fix)
    assert fix.changed_hosts() == ["other"]
    assert cluster.get("/api/v1/namespaces/default/secrets/trident-other")["metadata"]["annotations"][
        "trident.gitops/revision"] == after
    clean = run("drift")
    assert_ok(clean)
    assert clean.drifted() == []


def test_a_refused_plan_applies_nothing(gitops):
    run, repo, work, cluster = gitops["run"], gitops["repo"], gitops["work"], gitops["cluster"]
    serial = state_serial(work, "both")

    # The Kubernetes plan refuses an object: the Terraform change planned before it is not applied.
    repo.write("environments/both/extra.tf", EXTRA_TF)
    repo.write("environments/both/manifests/bad.yaml", BAD_SERVICE)
    repo.push("both: extra resource, a Service the API server refuses")
    refused = run("reconcile")
    assert refused.rc != 0
    [(host, task, msg)] = refused.failures()
    assert (host, task) == ("both", "trident.gitops.kubernetes : Validate and dry-run the manifests")
    assert "Service both/bad" in msg and "nothing was" in msg
    assert state_serial(work, "both") == serial
    assert leftover_plans(work, "both") == []
    assert refused.report["environments"]["both"]["steps"]["terraform"]["status"] != "changed"

    # The Terraform plan is refused (terraform_data.a deleted, the destroy guard): the cluster is not touched.
    (repo.path / "environments/both/manifests/bad.yaml").unlink()
    (repo.path / "environments/both/extra.tf").unlink()
    repo.write("environments/both/main.tf", TF.replace('"a"', '"b"') % "two")
    repo.write("environments/both/manifests/all.yaml", namespace("both") + configmap("settings", "both", "red"))
    repo.push("both: terraform_data.a becomes b, settings red")
    guarded = run("reconcile")
    assert guarded.rc != 0
    [(host, task, msg)] = guarded.failures()
    assert (host, task) == ("both", "trident.gitops.terraform : Plan the Terraform root module")
    assert "terraform_data.a" in msg and "refusing" in msg
    assert "allow_destroy: true in environments/both/env.yml" in msg, "the refusal names the file and key allowing it"
    assert cluster.get("/api/v1/namespaces/both/configmaps/settings")["data"] == {"mode": "blue"}
    assert state_serial(work, "both") == serial
    assert leftover_plans(work, "both") == []
