"""What is recorded is what was applied: a local checkout's uncommitted changes are never deployed (issue 25).

The quick start runs the playbooks in the user's own checkout (inventory ``path: .``, no fetch). There, a file
edited and not committed, a change staged and not committed, and a new file not added are reported as drift of the
source step and never applied; the environment is deployed from the committed content (a copy of the repository at
HEAD) and the ApplySet parent records HEAD and HEAD's tree, against the real API server.
"""

import subprocess

import pytest

from test_reconcile_e2e import Cluster, configmap, namespace
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops
from kube_support import unique

pytestmark = pytest.mark.slow


def git(*args, cwd):
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_uncommitted_edits_staged_changes_and_new_files_are_reported_and_never_deployed(control_plane, tmp_path):
    ns = unique("committed")
    repo = tmp_path / "repo"
    manifests = repo / "environments" / "local" / "yaml"
    manifests.mkdir(parents=True)
    (repo / "environments" / "local" / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
    (repo / "environments" / "local" / "env.yml").write_text(f"namespace: {ns}\n")
    (manifests / "ns.yaml").write_text(namespace(ns))
    (manifests / "settings.yaml").write_text(configmap("settings", ns, "committed"))
    (manifests / "other.yaml").write_text(configmap("other", ns, "committed"))
    (repo / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "committed", cwd=repo)
    head, tree = git("rev-parse", "HEAD", cwd=repo), git("rev-parse", "HEAD:environments/local", cwd=repo)
    cluster = Cluster(control_plane)

    def run(playbook):
        result = run_gitops(playbook, repo / "gitops.environments.yml", tmp_path, extra_vars=isolated_vars(tmp_path))
        assert result.rc == 0, result.explain()
        return result

    run("reconcile")
    (manifests / "settings.yaml").write_text(configmap("settings", ns, "edited-not-committed"))
    (manifests / "other.yaml").write_text(configmap("other", ns, "staged-not-committed"))
    git("add", "environments/local/yaml/other.yaml", cwd=repo)
    (manifests / "new.yaml").write_text(configmap("new", ns, "untracked"))
    uncommitted = ["environments/local/yaml/new.yaml", "environments/local/yaml/other.yaml",
                   "environments/local/yaml/settings.yaml"]

    for playbook in ("drift", "reconcile"):
        result = run(playbook)
        report = result.report["environments"]["local"]
        source = report["steps"]["source"]
        assert source["status"] == "changed" and source["stats"]["uncommitted"] == uncommitted, playbook
        assert report["steps"]["kubernetes"]["status"] == "ok", f"{playbook}: the committed content is in sync"
        assert report["verdict"] == "drift" and report["revision"] == head, playbook
        markdown = (result.report_dir / "drift-report.md").read_text()
        assert "not committed: not deployed" in markdown and "`environments/local/yaml/new.yaml`" in markdown
        assert (result.report_dir / "verdict").read_text() == "drift\n"

    assert cluster.get(f"/api/v1/namespaces/{ns}/configmaps/settings")["data"] == {"mode": "committed"}
    assert cluster.get(f"/api/v1/namespaces/{ns}/configmaps/other")["data"] == {"mode": "committed"}
    names = [item["metadata"]["name"] for item in cluster.get(f"/api/v1/namespaces/{ns}/configmaps")["items"]]
    assert "new" not in names
    parent = cluster.get(f"/api/v1/namespaces/{ns}/secrets/trident-local")["metadata"]["annotations"]
    assert (parent["trident.gitops/revision"], parent["trident.gitops/tree"]) == (head, tree)
    assert git("status", "--porcelain", cwd=repo), "the user's edits are still there: the reconcile never touches them"

    # Once committed, the same content is deployed and recorded.
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "now committed", cwd=repo)
    applied = run("reconcile")
    assert applied.report["environments"]["local"]["verdict"] == "corrected"
    assert cluster.get(f"/api/v1/namespaces/{ns}/configmaps/settings")["data"] == {"mode": "edited-not-committed"}
    assert cluster.get(f"/api/v1/namespaces/{ns}/configmaps/new")["data"] == {"mode": "untracked"}
    parent = cluster.get(f"/api/v1/namespaces/{ns}/secrets/trident-local")["metadata"]["annotations"]
    assert parent["trident.gitops/revision"] == git("rev-parse", "HEAD", cwd=repo)
