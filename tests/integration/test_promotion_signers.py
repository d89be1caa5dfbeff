"""env.yml trusted_keys through the reconcile playbook (issue 18, docs/promotion.md): prod takes changes
to its folder only when every commit that changes it is signed by an ops key; the others go on."""

import base64

import pytest
import yaml

from kube_support import client
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.gitserver import git
from testbed.sops import sops
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError

pytestmark = pytest.mark.slow


def config_map(ns, value):
    return yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": ns},
                                "data": {"value": value}}])


class SignedRepo(GitOpsRepo):
    def __init__(self, server, name, workdir, gnupg_home):
        super().__init__(server, name, workdir)
        self.gpg_env = {"GNUPGHOME": str(gnupg_home.path)}

    def signed_push(self, message, key):
        git("add", "--all", cwd=self.path)
        git("-c", "gpg.program=gpg", "-c", f"user.signingkey={key.fingerprint}", "commit", "--quiet", "-S", "-m",
            message, cwd=self.path, env=self.gpg_env)
        git("push", "--quiet", "origin", "main", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)


def failed(run):
    """{host: message of its failed task}."""
    return {host: " ".join(str(r.get("msg", "")) for r in run.task_results(host) if r.get("failed"))
            for host, counts in run.stats.items() if counts.get("failures")}


def test_a_change_to_prod_signed_by_a_non_ops_key_is_refused_and_prod_stays(
        git_server, control_plane, gnupg_home, tmp_path):
    ops, developer = gnupg_home.keys[0], gnupg_home.keys[1]
    repo = SignedRepo(git_server, f"signers-{tmp_path.name}", tmp_path / "repo", gnupg_home)
    suffix = tmp_path.name[-6:].lower().replace("_", "-")
    namespaces = {env: f"signers-{env}-{suffix}" for env in ("dev", "prod")}
    for env, ns in namespaces.items():
        repo.write(f"environments/{env}/kubeconfig.yaml", kubeconfig_text(control_plane))
        settings = {"namespace": ns, **({"trusted_keys": [gnupg_home.export_public(ops.fingerprint)]}
                                        if env == "prod" else {})}
        repo.write(f"environments/{env}/env.yml", yaml.safe_dump(settings))
        repo.write(f"environments/{env}/yaml/app.yaml", config_map(ns, "v1"))
    first = repo.signed_push("v1 by ops", ops)
    inventory = write_inventory(tmp_path / "inventory", repo.url, tmp_path / "inventory-cache")
    extra = {**isolated_vars(tmp_path)}
    kube = client(control_plane)

    def value(env):
        try:
            return kube.request("GET", f"/api/v1/namespaces/{namespaces[env]}/configmaps/app")["data"]["value"]
        except ApiError as exc:
            assert exc.status == 404
            return None

    run = run_gitops("reconcile", inventory, tmp_path, extra_vars=extra)
    assert run.rc == 0, run.explain()
    assert (value("dev"), value("prod")) == ("v1", "v1")

    for env, ns in namespaces.items():
        repo.write(f"environments/{env}/yaml/app.yaml", config_map(ns, "v2"))
    second = repo.signed_push("v2 by a developer", developer)
    repo.write("README.md", "ops signs the tip; the developer's commit is still in prod's range\n")
    repo.signed_push("docs by ops", ops)
    for playbook in ("drift", "reconcile"):
        run = run_gitops(playbook, inventory, tmp_path, extra_vars=extra)
        assert run.rc != 0 and list(failed(run)) == ["prod"], run.explain()
        message = failed(run)["prod"]
        # GnuPG knows only prod's keys in the private home it checks with: another key is an unknown one.
        assert message.startswith("environment prod: environments/prod/env.yml: trusted_keys: "), message
        assert (f"refusing commit {second} (it changes environments/prod): it is signed by a key that is not in "
                "trusted_keys") in message
        assert run.report["environments"]["prod"]["steps"]["promotion"]["status"] == "failed"
        assert (value("dev"), value("prod")) == (("v1", "v1") if playbook == "drift" else ("v2", "v1"))
    assert first != second and developer.fingerprint not in message

    # Reverting prod's folder (signed by anyone) leaves nothing to sign for: prod runs on, unchanged.
    repo.write("environments/prod/yaml/app.yaml", config_map(namespaces["prod"], "v1"))
    repo.signed_push("revert prod", developer)
    run = run_gitops("reconcile", inventory, tmp_path, extra_vars=extra)
    assert run.rc == 0, run.explain()
    assert (value("dev"), value("prod")) == ("v2", "v1")


def test_a_pin_holds_an_environment_at_a_commit_and_is_drift_until_removed(
        git_server, control_plane, age_key, tmp_path):
    repo = GitOpsRepo(git_server, f"pin-{tmp_path.name}", tmp_path / "repo")
    ns = f"pin-{tmp_path.name[-6:].lower().replace('_', '-')}"
    repo.write("environments/web/kubeconfig.yaml", kubeconfig_text(control_plane))
    # A Secret from a SOPS file: the pinned revision is planned again (decrypt, Secret objects) before it applies.
    repo.write("environments/web/env.yml", yaml.safe_dump(
        {"namespace": ns, "vars": {"kubernetes_secrets": [{"name": "app", "from": "app"}]}}))

    def commit(release):
        repo.write("environments/web/yaml/app.yaml", config_map(ns, release))
        secret = repo.write("environments/web/secrets/app.sops.yaml", f"release: {release}\n")
        secret.write_bytes(sops("--encrypt", "--age", age_key.public, "--input-type", "yaml", "--output-type", "yaml",
                                str(secret)))
        return repo.push(release)

    good, bad = commit("v1"), commit("v2")
    inventory = write_inventory(tmp_path / "inventory", repo.url, tmp_path / "inventory-cache")
    extra = {**isolated_vars(tmp_path)}
    kube = client(control_plane)

    def run(playbook, pin=None):
        result = run_gitops(playbook, inventory, tmp_path, env={"SOPS_AGE_KEY_FILE": str(age_key.path)},
                            extra_vars={**extra, **({"reconcile_pin": pin} if pin else {})})
        assert result.rc == 0, result.explain()
        return result

    def value():
        config = kube.request("GET", f"/api/v1/namespaces/{ns}/configmaps/app")["data"]["value"]
        secret = base64.b64decode(kube.request("GET", f"/api/v1/namespaces/{ns}/secrets/app")["data"]["release"])
        assert secret.decode() == config, (config, secret)
        return config

    assert run("reconcile").changed_hosts() == ["web"] and value() == "v2"
    pinned = run("reconcile", {"web": good})
    assert value() == "v1" and pinned.items("web", "promotion") == [
        {"revision": good, "branch": bad, "reason": f"pinned to {good} by reconcile_pin; the branch is at {bad}"}]
    # While pinned, the environment is drift from the branch in check mode, and a reconcile keeps it pinned.
    assert run("drift", {"web": good}).changed_hosts() == ["web"]
    assert run("reconcile", {"web": good}).changed_hosts() == [] and value() == "v1"
    unpinned = run("reconcile")
    assert value() == "v2" and unpinned.items("web", "promotion") == []
