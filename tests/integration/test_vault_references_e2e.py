"""Secrets referenced from a real Vault (KV v2), reconciled end to end with the collection's playbooks.

Environment ``vaulted``: ``secrets/app.vault.yaml`` names two KV secrets (one pinned to a version); Terraform writes
the latest one into a file and the same references become a Kubernetes Secret. Rotating the value in Vault is drift
(masked) and is applied; a new version of the pinned secret is not. A wrong token, a missing path or key and an
unreachable Vault fail the environment before anything is applied, naming the environment and the reference,
with no token and no value in any output.
"""

import base64
import json
import secrets

import pytest
import yaml

from test_reconcile_e2e import Cluster, assert_ok, changed_steps, namespace
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory

TF = """
variable "greeting" {
  type = string
}
variable "motd_path" {
  type = string
}
variable "pinned" {
  type      = string
  sensitive = true
}
resource "local_file" "motd" {
  filename = var.motd_path
  content  = "${var.greeting} from vault"
}
"""

FIRST = "v4ult-greeting-" + secrets.token_hex(4)
ROTATED = "r0tated-greeting-" + secrets.token_hex(4)
PINNED = "p1nned-value-" + secrets.token_hex(4)
PINNED_NEW = "p1nned-newer-" + secrets.token_hex(4)
VALUES = (FIRST, ROTATED, PINNED, PINNED_NEW)

# The tests build on one another's state (converged, rotated): one worker, in order.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vault_references")]


@pytest.fixture(scope="module")
def vaulted(tmp_path_factory, control_plane, git_server, vault_server):
    work = tmp_path_factory.mktemp("vault-e2e")
    base = f"apps/{secrets.token_hex(4)}"
    vault_server.kv_put(f"{base}/greet", {"greeting": FIRST})
    vault_server.kv_put(f"{base}/pinned", {"value": PINNED})
    repo = GitOpsRepo(git_server, f"vault-{secrets.token_hex(3)}", work / "clone")
    motd = work / "outside" / "motd.txt"
    motd.parent.mkdir()
    repo.write("environments/vaulted/env.yml", json.dumps({
        "namespace": "vaulted", "terraform_binary": "terraform", "terraform_vars": {"motd_path": str(motd)},
        # A new value replaces the local_file (its content forces a new resource).
        "allow_destroy": True,
        "vars": {"kubernetes_secrets": [{"name": "app-secret", "from": "app"}]}}))
    repo.write("environments/vaulted/main.tf", TF)
    repo.write("environments/vaulted/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/vaulted/manifests/namespace.yaml", namespace("vaulted"))
    repo.write("environments/vaulted/secrets/app.vault.yaml", yaml.safe_dump({
        "greeting": {"path": f"{base}/greet", "key": "greeting"},
        "pinned": {"path": f"{base}/pinned", "key": "value", "version": 1}}))
    repo.push("vaulted environment")
    inventory = write_inventory(work / "inventory", repo.url, work / "inventory-cache")
    token = vault_server.login_approle(*vault_server.approle_credentials())
    operator = {"terraform_sandbox_write_paths": [str(motd.parent)]}

    def run(playbook, args=(), env=None, **extra):
        environment = {"VAULT_ADDR": vault_server.address, "VAULT_TOKEN": token, **(env or {})}
        return run_gitops(playbook, inventory, work, extra_vars={**isolated_vars(work), **operator, **extra},
                          env=environment, args=args)

    return {"run": run, "motd": motd, "base": base, "token": token, "repo": repo, "work": work,
            "cluster": Cluster(control_plane)}


def _secret(cluster):
    data = cluster.get("/api/v1/namespaces/vaulted/secrets/app-secret")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _output(result):
    return result.stdout + result.stderr + "".join(
        p.read_text(errors="replace") for p in result.report_dir.iterdir() if p.is_file())


def _no_secret_in(result, *secret_texts):
    text = _output(result)
    for value in secret_texts:
        assert value not in text


def test_references_reach_terraform_and_a_secret_and_rotation_is_drift(vaulted, vault_server):
    run, motd, cluster, base = vaulted["run"], vaulted["motd"], vaulted["cluster"], vaulted["base"]
    first = run("reconcile", args=("-vvvv",))
    assert_ok(first)
    _no_secret_in(first, vaulted["token"], *VALUES)
    assert motd.read_text() == f"{FIRST} from vault"
    assert _secret(cluster) == {"greeting": FIRST, "pinned": PINNED}
    assert_ok(clean := run("drift"))
    assert clean.drifted() == []

    # A new version of the pinned secret is not drift.
    vault_server.kv_put(f"{base}/pinned", {"value": PINNED_NEW})
    pinned = run("drift")
    assert_ok(pinned)
    assert pinned.drifted() == [], pinned.explain()

    # A new value of the followed one is: shown changed, masked, then applied.
    vault_server.kv_put(f"{base}/greet", {"greeting": ROTATED})
    drift = run("drift", args=("-vvvv",))
    assert_ok(drift)
    assert drift.drifted() == ["vaulted"]
    assert changed_steps(drift, "vaulted") == ["kubernetes", "terraform"]
    assert [i["address"] for i in drift.items("vaulted", "terraform")] == ["local_file.motd"]
    assert [(i["kind"], i["name"], i["action"]) for i in drift.items("vaulted", "kubernetes")] == [
        ("Secret", "app-secret", "update")]
    _no_secret_in(drift, vaulted["token"], *VALUES)
    assert motd.read_text() == f"{FIRST} from vault", "check mode changed nothing"
    fix = run("reconcile")
    assert_ok(fix)
    assert motd.read_text() == f"{ROTATED} from vault"
    assert _secret(cluster) == {"greeting": ROTATED, "pinned": PINNED}
    assert run("drift").drifted() == []


@pytest.mark.parametrize("case", ["wrong-token", "missing-path", "missing-key", "unreachable"])
def test_failures_stop_before_anything_is_applied(vaulted, vault_server, case):
    run, motd, repo, base = vaulted["run"], vaulted["motd"], vaulted["repo"], vaulted["base"]
    before = motd.read_text() if motd.exists() else None
    env, bad = {}, None
    wrong = "hvs.wrong-" + secrets.token_hex(8)
    if case == "wrong-token":
        env = {"VAULT_TOKEN": wrong}
    elif case == "unreachable":
        env = {"VAULT_ADDR": "http://127.0.0.1:9"}
    else:
        bad = {"path": f"{base}/absent", "key": "greeting"} if case == "missing-path" else \
            {"path": f"{base}/greet", "key": "absent"}
    references = {"greeting": {"path": f"{base}/greet", "key": "greeting"}, "other": bad} if bad else None
    if references:
        repo.write("environments/vaulted/secrets/app.vault.yaml", yaml.safe_dump(references))
        repo.push(f"vaulted: {case}")
        vault_server.kv_put(f"{base}/greet", {"greeting": FIRST + case})  # would be drift, if anything ran
    try:
        result = run("reconcile", env=env)
        assert result.rc != 0
        failures = result.failures()
        assert failures and all(host == "vaulted" for host, _name, _msg in failures), result.explain()
        message = " ".join(str(msg) for _host, _name, msg in failures)
        assert "secrets/app.vault.yaml" in message and ("other" if bad else "greeting") in message, message
        # The drift report names the secrets step as the one that failed (not the source step).
        steps = result.report["environments"]["vaulted"]["steps"]
        assert steps["secrets"]["status"] == "failed", steps
        assert steps["source"]["status"] != "failed" and steps["terraform"]["status"] == "not_checked", steps
        _no_secret_in(result, vaulted["token"], wrong, FIRST + case, *VALUES)
        assert (motd.read_text() if motd.exists() else None) == before, "nothing applied"
    finally:
        if references:
            repo.write("environments/vaulted/secrets/app.vault.yaml", yaml.safe_dump({
                "greeting": {"path": f"{base}/greet", "key": "greeting"},
                "pinned": {"path": f"{base}/pinned", "key": "value", "version": 1}}))
            repo.push("vaulted: restored")
