"""``playbooks/drift.yml`` against a really Degraded environment on the fuller cluster (issue 15).

Two environments of one GitOps repository: ``broken`` runs a Deployment whose Pods kwok holds never
ready (``never-ready`` pod state, docs/testbed.md), so the deployment controller marks the rollout
Degraded once its 2 s progress deadline passes; ``fine`` runs a Deployment that becomes Healthy. Both
are in sync with Git: only their health differs.
"""

import time

import pytest

from kube_support import HEALTHY_TIMEOUT, client, unique
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.workloads import POD_STATE
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, HEALTHY, health

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workload_cluster")]


def deployment_yaml(name, ns, pod_state=None):
    annotations = f"\n      annotations:\n        {POD_STATE}: {pod_state}" if pod_state else ""
    return f"""---
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: 1
  progressDeadlineSeconds: 2
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}{annotations}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/{name}:1
"""


def eventually_health(kube, path, status):
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while (judged := health(kube.request("GET", path))).status != status:
        assert time.monotonic() < deadline, f"{path} still {judged} after {HEALTHY_TIMEOUT}s, not {status}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def environments(tmp_path_factory, workload_cluster, git_server):
    work = tmp_path_factory.mktemp("degraded")
    broken, fine = unique("broken"), unique("fine")
    repo = GitOpsRepo(git_server, unique("degraded-gitops"), work / "clone")
    for env, ns, pod_state in (("broken", broken, "never-ready"), ("fine", fine, None)):
        repo.write(f"environments/{env}/env.yml", f"namespace: {ns}\n")
        repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig_text(workload_cluster))
        repo.write(f"environments/{env}/yaml/app.yaml", deployment_yaml("app", ns, pod_state))
    repo.push("a broken and a fine environment")
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")

    def run(playbook, **extra):
        # ANSIBLE_SHOW_CUSTOM_STATS: the JSON callback then carries set_stats data, AWX's artifacts.
        return run_gitops(playbook, inventory, work, extra_vars={**isolated_vars(work), **extra},
                          env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})

    applied = run("reconcile")
    assert applied.rc == 0, applied.explain()
    kube = client(workload_cluster)
    eventually_health(kube, f"/apis/apps/v1/namespaces/{broken}/deployments/app", DEGRADED)
    eventually_health(kube, f"/apis/apps/v1/namespaces/{fine}/deployments/app", HEALTHY)
    return {"run": run, "broken": broken}


def degraded_message(result, host):
    (task,) = [t for t in result.task_results(host) if t["name"] == "Report a Degraded environment"]
    return task.get("msg", "")


def artifacts(result, env):
    """What AWX keeps of the run for ``env``: the kubernetes role's set_stats data."""
    return result.data["global_custom_stats"]["trident_drift"][env]["kubernetes"]


def test_drift_reports_a_degraded_environment_in_sync_and_exits_0_by_default(environments):
    result = environments["run"]("drift")
    assert result.rc == 0, result.explain()
    assert result.drifted() == [], "both environments are in sync with Git"
    report = result.report["environments"]
    assert (report["broken"]["health"], report["fine"]["health"]) == (DEGRADED, HEALTHY)
    message = degraded_message(result, "broken")
    assert message.startswith("broken is Degraded (in sync with Git): "), message
    assert f"Deployment {environments['broken']}/app (exceeded its progress deadline" in message
    assert all(t["name"] != "Report a Degraded environment" or t.get("skipped") for t in result.task_results("fine"))

    broken, fine = artifacts(result, "broken"), artifacts(result, "fine")
    assert broken["health"]["status"] == DEGRADED and fine["health"]["status"] == HEALTHY
    (unhealthy,) = broken["unhealthy"]
    assert (unhealthy["kind"], unhealthy["name"], unhealthy["health"]["status"]) == ("Deployment", "app", DEGRADED)
    assert "progress deadline" in unhealthy["health"]["reason"]
    markdown = (result.report_dir / "drift-report.md").read_text()
    assert "Degraded" in markdown and f"`{environments['broken']}/app`" in markdown


def test_fail_on_degraded_fails_the_run_naming_environment_object_and_reason(environments):
    result = environments["run"]("drift", fail_on_degraded=True)
    assert result.rc != 0, result.explain()
    assert {host for host, counts in result.stats.items() if counts["failures"]} == {"broken"}
    (failed,) = [t for t in result.task_results("broken") if t.get("failed")]
    assert failed["name"] == "Fail when an environment is Degraded"
    assert failed["msg"].startswith(f"broken is Degraded: Deployment {environments['broken']}/app "
                                    "(exceeded its progress deadline"), failed["msg"]
    assert result.report["environments"]["broken"]["health"] == DEGRADED
    assert artifacts(result, "broken")["health"]["status"] == DEGRADED
