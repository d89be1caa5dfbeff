"""The seed's literal Secret through the real playbooks (issue 25): refused before any step applies.

An environment in the seed's layout (Terraform, a kubeconfig, manifests with the environment's Namespace and a
Secret ``username: eGlhb21hZ2UK=``, which is not base64) whose commit creates that namespace. Before, the drift
preview passed (rc 0) and the reconcile applied the Terraform, the Namespace and the ApplySet parent before the
Secret failed. Now the served schema (``format: byte``) refuses it in the preview and in the reconcile's
Kubernetes plan, before Terraform applies: nothing is written anywhere, and the message names the file relative
to the repository (environments/<env>/...) and the object.
"""

import json

import pytest

from kube_support import get, unique
from test_reconcile_e2e import namespace
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory

pytestmark = pytest.mark.slow

TF = """
resource "terraform_data" "a" {
  input = "one"
}
"""
SECRET = """---
apiVersion: v1
kind: Secret
metadata:
  name: db-user
  namespace: {ns}
type: Opaque
data:
  username: eGlhb21hZ2UK=
"""


def test_the_seed_secret_is_refused_before_terraform_or_anything_else_applies(tmp_path, control_plane, git_server):
    ns = unique("seedns")
    repo = GitOpsRepo(git_server, unique("seed-secret"), tmp_path / "clone")
    repo.write("environments/seedenv/env.yml", json.dumps({"namespace": ns, "terraform_binary": "terraform"}))
    repo.write("environments/seedenv/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/seedenv/main.tf", TF)
    repo.write("environments/seedenv/manifests/all.yaml", namespace(ns) + SECRET.format(ns=ns))
    repo.push("seedenv: a namespace and the article's Secret")
    inventory = write_inventory(tmp_path / "inventory", repo.url, tmp_path / "inventory-cache")

    def run(playbook):
        return run_gitops(playbook, inventory, tmp_path, extra_vars=isolated_vars(tmp_path))

    expected = (f"Secret {ns}/db-user (environments/seedenv/manifests/all.yaml#1): .data.username: is not valid "
                "base64")
    for playbook, task in (("drift", "trident.gitops.kubernetes : Validate and dry-run the manifests"),
                           ("reconcile", "trident.gitops.kubernetes : Validate and dry-run the manifests")):
        result = run(playbook)
        assert result.rc != 0, result.explain()
        [(host, failed_task, msg)] = result.failures()
        assert (host, failed_task) == ("seedenv", task), result.explain()
        assert expected in msg and "eGlhb21hZ2UK=" not in result.stdout + result.stderr
        assert not (tmp_path / "terraform-state" / "seedenv" / "terraform.tfstate").exists() or \
            json.loads((tmp_path / "terraform-state" / "seedenv" / "terraform.tfstate").read_text())["resources"] == []
        assert get(control_plane, "namespace", ns) is None, f"{playbook}: the namespace was written"
        assert get(control_plane, "secret", "trident-seedenv", ns) is None, "no ApplySet parent"
