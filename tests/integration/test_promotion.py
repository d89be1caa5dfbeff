"""Promotion dev -> staging -> prod through the reconcile playbook (issue 18, docs/promotion.md).

dev and staging run on the fuller cluster (controllers and kwok nodes: Deployments roll out and become
Healthy, or Degraded for a crash-looping pod), prod on the plain control plane. staging depends_on dev,
prod promote_from staging. The repository is on the local git server, fetched by the inventory.
"""

import time

import pytest
import yaml

from kube_support import client
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.workloads import POD_STATE
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
from ansible_collections.trident.gitops.plugins.module_utils.kube.health import DEGRADED, HEALTHY, health

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workload_cluster")]
TIMEOUT = 240  # seconds for a rollout; the machine may be busy


def web(ns, release, pod_state=None):
    """A Deployment; with ``pod_state`` its pods are held in that state and its rollout is soon Degraded."""
    annotations = {"release": release, **({POD_STATE: pod_state} if pod_state else {})}
    deadline = {"progressDeadlineSeconds": 5} if pod_state else {}
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, **deadline,
                      "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations},
                                   "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}]


class Story:
    """The repository, the clusters and the runs of one promotion story."""

    def __init__(self, repo, clusters, work, namespaces):
        self.repo, self.clusters, self.work, self.namespaces = repo, clusters, work, namespaces
        self.inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
        self.extra = {**isolated_vars(work)}

    def commit(self, release, pod_state=None):
        for env, ns in self.namespaces.items():
            self.repo.write(f"environments/{env}/yaml/web.yaml", yaml.safe_dump_all(web(ns, release, pod_state)))
        return self.repo.push(f"web {release}")

    def run(self, playbook="reconcile"):
        result = run_gitops(playbook, self.inventory, self.work, extra_vars=self.extra)
        assert result.rc == 0, result.explain()
        return result

    def deployment(self, env):
        try:
            return client(self.clusters[env]).request(
                "GET", f"/apis/apps/v1/namespaces/{self.namespaces[env]}/deployments/web")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def release(self, env):
        live = self.deployment(env)
        return live and live["spec"]["template"]["metadata"]["annotations"]["release"]

    def wait_for(self, env, status):
        deadline = time.monotonic() + TIMEOUT
        while health(self.deployment(env)).status != status:
            assert time.monotonic() < deadline, f"{env} is {health(self.deployment(env))}, not {status}"
            time.sleep(0.5)


@pytest.fixture()
def story(git_server, workload_cluster, control_plane, tmp_path):
    repo = GitOpsRepo(git_server, f"promotion-{tmp_path.name}", tmp_path / "repo")
    clusters = {"dev": workload_cluster, "staging": workload_cluster, "prod": control_plane}
    suffix = tmp_path.name[-6:].lower().replace("_", "-")
    namespaces = {env: f"promo-{env}-{suffix}" for env in clusters}
    settings = {"dev": {}, "staging": {"depends_on": ["dev"]}, "prod": {"promote_from": "staging"}}
    for env, plane in clusters.items():
        repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig_text(plane))
        repo.write(f"environments/{env}/env.yml", yaml.safe_dump({"namespace": namespaces[env], **settings[env]}))
    return Story(repo, clusters, tmp_path, namespaces)


def promotion_items(result, env):
    return result.items(env, "promotion")


def run_until_promoted(story, release, attempts=4):
    """Reconcile after staging looks Healthy; prod moves in exactly the run whose staging reports Healthy.

    On a busy machine a kwok node may miss heartbeats and staging's pod turn unavailable again between
    the wait and the run: then that run must hold prod back, and the next attempt tries again.
    """
    for attempt in range(1, attempts + 1):
        story.wait_for("staging", HEALTHY)
        run = story.run()
        staging = run.report["environments"]["staging"]["health"]
        assert (story.release("prod") == release) == (staging == HEALTHY), (staging, promotion_items(run, "prod"))
        if staging == HEALTHY:
            return run
        assert promotion_items(run, "prod")[0]["reason"].startswith("waiting for staging to be Healthy"), attempt
    raise AssertionError(f"staging never reported Healthy in {attempts} runs")


def test_a_commit_reaches_prod_only_in_the_run_after_staging_is_healthy(story):
    first = story.commit("v1")
    run = story.run()
    # prod has never run anything and staging is not Healthy yet: prod deploys nothing and says why.
    assert (story.release("dev"), story.release("staging"), story.release("prod")) == ("v1", "v1", None)
    assert promotion_items(run, "prod")[0]["reason"].startswith(f"waiting for staging to be Healthy at {first[:7]}")
    run_until_promoted(story, "v1")

    second = story.commit("v2")
    run = story.run()
    assert (story.release("dev"), story.release("staging"), story.release("prod")) == ("v2", "v2", "v1")
    reason = promotion_items(run, "prod")[0]["reason"]
    assert reason.startswith(f"waiting for staging to be Healthy at {second[:7]} (staging runs {second[:7]}, ")
    assert reason.endswith(f"prod stays at {first[:7]}")
    run = run_until_promoted(story, "v2")
    assert promotion_items(run, "prod") == []

    # A commit that makes staging Degraded never reaches prod, however often the reconcile runs.
    third = story.commit("v3", pod_state="crash-loop")
    story.run()
    story.wait_for("staging", DEGRADED)
    for playbook in ("reconcile", "drift", "reconcile"):
        run = story.run(playbook)
        assert story.release("staging") == "v3" and story.release("prod") == "v2"
        assert promotion_items(run, "prod") == [{
            "revision": second, "branch": third,
            "reason": f"waiting for staging to be Healthy at {third[:7]} (staging runs {third[:7]}, Degraded); "
                      f"prod stays at {second[:7]}"}]
        # Waiting is drift from the branch: changed in check mode (drift.yml), not corrected by a reconcile.
        assert ("prod" in run.changed_hosts()) == (playbook == "drift")
