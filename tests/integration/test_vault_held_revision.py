"""A held revision reads the Vault references of its own commit (issue 27: "a held revision and a check run use the
same references"), against a real Vault, apiserver and Terraform.

``prod`` promotes from ``staging`` (docs/promotion.md). Both converge at commit C1, where prod's
``secrets/app.vault.yaml`` names ``<base>/old`` and pins ``<base>/pinned`` at version 1. Commit C2 moves the
reference to ``<base>/new`` and the pin to version 2, and changes staging. ``--limit prod`` then holds prod at C1
(staging, read from its cluster, still runs C1): the check run and the reconcile of the held revision read C1's
references (``old``, version 1), never C2's, so a rotation of ``old`` is drift and is applied, and the values of
C2's references appear nowhere. Once staging runs C2 Healthy, prod moves to C2 and reads C2's references.

The second story drops the references in C2 (the branch has no secrets step, the held revision has one): the held
revision still plans its own secrets step and reads C1's references.
"""

import base64
import json
import secrets

import pytest
import yaml

from test_reconcile_e2e import Cluster, assert_ok, changed_steps, configmap, namespace
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

OLD = "held-old-" + secrets.token_hex(4)
OLD_ROTATED = "held-old-rotated-" + secrets.token_hex(4)
NEW = "head-new-" + secrets.token_hex(4)
PINNED_1 = "pinned-one-" + secrets.token_hex(4)
PINNED_2 = "pinned-two-" + secrets.token_hex(4)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vault_held")]


def _references(base, greeting_path, version):
    return yaml.safe_dump({"greeting": {"path": f"{base}/{greeting_path}", "key": "greeting"},
                           "pinned": {"path": f"{base}/pinned", "key": "value", "version": version}})


@pytest.fixture(params=["terraform"])
def held(request, tmp_path, control_plane, git_server, vault_server):
    suffix = secrets.token_hex(3)
    base = f"held/{suffix}"
    vault_server.kv_put(f"{base}/old", {"greeting": OLD})
    vault_server.kv_put(f"{base}/new", {"greeting": NEW})
    vault_server.kv_put(f"{base}/pinned", {"value": PINNED_1})
    vault_server.kv_put(f"{base}/pinned", {"value": PINNED_2})
    names = {"staging": f"vh-staging-{suffix}", "prod": f"vh-prod-{suffix}"}
    repo = GitOpsRepo(git_server, f"vault-held-{suffix}", tmp_path / "clone")
    motd = tmp_path / "outside" / "motd.txt"
    motd.parent.mkdir()
    repo.write("environments/staging/env.yml", json.dumps({"namespace": names["staging"]}))
    repo.write("environments/staging/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/staging/manifests/ns.yaml", namespace(names["staging"]))
    repo.write("environments/staging/manifests/cm.yaml", configmap("release", names["staging"], "c1"))
    terraform = request.param == "terraform"
    repo.write("environments/prod/env.yml", json.dumps({
        "namespace": names["prod"], "promote_from": "staging",
        **({"terraform_binary": "terraform", "terraform_vars": {"motd_path": str(motd)}, "allow_destroy": True}
           if terraform else {}),
        "vars": {"kubernetes_secrets": [{"name": "app-secret", "from": "app"}]}}))
    if terraform:
        repo.write("environments/prod/main.tf", TF)
    repo.write("environments/prod/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/prod/manifests/ns.yaml", namespace(names["prod"]))
    repo.write("environments/prod/secrets/app.vault.yaml", _references(base, "old", 1))
    extra_vars = {**isolated_vars(tmp_path)}
    if terraform:
        extra_vars["terraform_sandbox_write_paths"] = [str(motd.parent)]
    first = repo.push("C1: prod reads held/old and pinned version 1")
    inventory = write_inventory(tmp_path / "inventory", repo.url, tmp_path / "inventory-cache")

    def run(playbook, *args):
        # A fresh token per run, as a scheduler's job gets one (the role's tokens live 10 minutes).
        token = vault_server.login_approle(*vault_server.approle_credentials())
        result = run_gitops(playbook, inventory, tmp_path, env={"VAULT_ADDR": vault_server.address,
                                                                "VAULT_TOKEN": token},
                            extra_vars=extra_vars,
                            args=args)
        assert_ok(result)
        text = result.stdout + result.stderr + "".join(
            p.read_text(errors="replace") for p in result.report_dir.iterdir() if p.is_file())
        for value in (token, OLD, OLD_ROTATED, NEW, PINNED_1, PINNED_2):
            assert value not in text
        return result

    def secret():
        data = Cluster(control_plane).get(f"/api/v1/namespaces/{names['prod']}/secrets/app-secret")["data"]
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    return {"repo": repo, "run": run, "motd": motd, "base": base, "first": first, "secret": secret, "names": names}


def test_a_held_revision_and_its_check_run_read_the_held_commits_references(held, vault_server):
    run, repo, motd, base, secret = held["run"], held["repo"], held["motd"], held["base"], held["secret"]
    run("reconcile")
    assert motd.read_text() == f"{OLD} from vault"
    assert secret() == {"greeting": OLD, "pinned": PINNED_1}

    # C2: prod's references move (another path, another pinned version); staging changes too.
    repo.write("environments/prod/secrets/app.vault.yaml", _references(base, "new", 2))
    repo.write("environments/staging/manifests/cm.yaml", configmap("release", held["names"]["staging"], "c2"))
    second = repo.push("C2: prod reads held/new and pinned version 2")

    # prod alone: staging still runs C1, so prod is held there, and C1's references are the ones read.
    check = run("drift", "--limit", "prod")
    assert check.drifted() == ["prod"], check.explain()
    # Drift: the held promotion and the source (prod runs C1, the branch is at C2); not the references.
    assert changed_steps(check, "prod") == ["promotion", "source"], check.report["environments"]["prod"]["steps"]
    item = check.items("prod", "promotion")[0]
    assert (item["revision"], item["branch"]) == (held["first"], second)

    # A new value at C1's path is drift of the held revision (check run), and the held reconcile applies it.
    vault_server.kv_put(f"{base}/old", {"greeting": OLD_ROTATED})
    check = run("drift", "--limit", "prod")
    assert changed_steps(check, "prod") == ["kubernetes", "promotion", "source", "terraform"]
    assert [i["address"] for i in check.items("prod", "terraform")] == ["local_file.motd"]
    assert [(i["kind"], i["name"], i["action"]) for i in check.items("prod", "kubernetes")] == [
        ("Secret", "app-secret", "update")]
    assert motd.read_text() == f"{OLD} from vault", "check mode changed nothing"
    fix = run("reconcile", "--limit", "prod")
    assert fix.items("prod", "promotion")[0]["revision"] == held["first"]
    assert motd.read_text() == f"{OLD_ROTATED} from vault"
    assert secret() == {"greeting": OLD_ROTATED, "pinned": PINNED_1}
    again = run("drift", "--limit", "prod")
    assert changed_steps(again, "prod") == ["promotion", "source"]

    # Both together: staging moves to C2 and is Healthy, prod follows in the same run and reads C2's references.
    moved = run("reconcile")
    assert moved.items("prod", "promotion") == []
    assert motd.read_text() == f"{NEW} from vault"
    assert secret() == {"greeting": NEW, "pinned": PINNED_2}
    assert run("drift").drifted() == []


@pytest.mark.parametrize("held", ["kubernetes"], indirect=True)
def test_a_held_revision_reads_its_references_when_the_branch_has_none(held, vault_server):
    run, repo, base, secret, names = held["run"], held["repo"], held["base"], held["secret"], held["names"]
    run("reconcile")
    assert secret() == {"greeting": OLD, "pinned": PINNED_1}

    # C2: prod has no references any more (and no Secret from them); staging changes.
    (repo.path / "environments/prod/secrets/app.vault.yaml").unlink()
    repo.write("environments/prod/env.yml", json.dumps({"namespace": names["prod"], "promote_from": "staging"}))
    repo.write("environments/staging/manifests/cm.yaml", configmap("release", names["staging"], "c2"))
    repo.push("C2: prod without references")

    check = run("drift", "--limit", "prod")
    assert changed_steps(check, "prod") == ["promotion", "source"], check.report["environments"]["prod"]["steps"]
    assert check.report["environments"]["prod"]["steps"]["secrets"]["status"] == "ok"
    vault_server.kv_put(f"{base}/old", {"greeting": OLD_ROTATED})
    check = run("drift", "--limit", "prod")
    assert changed_steps(check, "prod") == ["kubernetes", "promotion", "source"]
    run("reconcile", "--limit", "prod")
    assert secret() == {"greeting": OLD_ROTATED, "pinned": PINNED_1}
