"""The pipeline's decisions (plugins/plugin_utils/reconcile/pipeline.py) without Ansible: start, gate, finish with a
fake ``io`` that records what it was asked."""

import pathlib

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile import pipeline
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import Environment, SecretFile
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.operator import (
    OPERATOR_SPEC, operator_settings)
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import REGISTRY
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.verdict import Failure

BRANCH, OLD, PIN = "b" * 40, "a" * 40, "c" * 40
TREE, OLD_TREE = "t" * 40, "o" * 40


def operator(**changes):
    params = {name: spec.get("default") for name, spec in OPERATOR_SPEC.items()}
    return operator_settings({**params, "lock_dir": "/locks", **changes})


def environment(name="prod", steps=("source", "kubernetes"), settings=None, **extra):
    return {"name": name, "dir": f"environments/{name}", "repository": {"path": "/repo", "commit": BRANCH},
            "error": None, "steps": list(steps), "tags": [], "depends_on": extra.pop("depends_on", []), "wave": 0,
            "kubeconfig": None, "kubeconfig_encrypted": False, "terraform_files": ["main.tf"] * ("terraform" in steps),
            "manifests_dir": "yaml", "manifests_kind": "files" if "kubernetes" in steps else None,
            "manifest_files": [], "secrets": [], "settings": settings or {}, **extra}


class FakeIo:
    def __init__(self, tree=TREE, dirty=(), env_yml_at=None, unsigned=False, in_git=True):
        self.tree, self.dirty, self.env_yml_at, self.unsigned = tree, list(dirty), env_yml_at or {}, unsigned
        self.in_git = in_git
        self.locks, self.snapshots, self.verified = [], [], []

    def git(self, path):
        def git(args):
            if not self.in_git:
                return 128, ""
            if args[0] == "rev-parse" and args[-1].endswith("^{commit}"):
                return 0, BRANCH + "\n"
            if args[0] == "rev-parse":
                return 0, self.tree + "\n"
            if args[0] == "status":
                return 0, "".join(f" M {f}\0" for f in self.dirty)
            raise AssertionError(args)
        return git

    def snapshot(self, checkout, revision):
        self.snapshots.append(revision)
        return f"/copies/{revision}"

    def describe(self, env_path, root):
        return Environment(name="prod", path=env_path, repo_path=root, manifests_dir="yaml", manifests_kind="files")

    def lock(self, path, timeout):
        self.locks.append(path)
        return 4242

    def folder_tree(self, checkout, revision, env_dir):
        return OLD_TREE if revision == OLD else TREE

    def file_at(self, checkout, revision, path):
        return self.env_yml_at.get(revision)

    @staticmethod
    def settings_of(text, source):
        return {"trusted_keys": text.split()} if text else {}

    def verify_signers(self, checkout, since, until, env_dir, keys):
        self.verified.append((since, until, tuple(keys)))
        if self.unsigned:
            raise TridentError(f"commit {until} is not signed by a trusted key")
        return []

    @staticmethod
    def history(checkout, recorded, revision, tree, env_dir):
        return {"commits": [{"sha": revision, "subject": "change"}], "changed_files": [f"{env_dir}/yaml/a.yaml"],
                "history": "complete"}

    @staticmethod
    def now():
        return 1000.0


FETCHED = {"repo": "https://git.example/gitops.git", "dest": "/checkout", "fetch": {"after": BRANCH,
                                                                                    "changed_files": []}}
LOCAL = {"repo": "", "local_path": "/work/repo"}


def start(env=None, io=None, exposed=None, finished=None, **operator_changes):
    return pipeline.start(env or environment(), operator(**operator_changes), exposed or FETCHED, finished or {},
                          io or FakeIo())


def kube_result(recorded=None, drift=(), **extra):
    entries = [{"kind": "ConfigMap", "name": "a", "namespace": "n", "action": action} for action in drift]
    counts = {"create": 0, "update": 0, "delete": 0, "none": 1}
    for action in drift:
        counts[action] = counts.get(action, 0) + 1
    return {"changed": bool(drift), "recorded": recorded, "drift": entries,
            "summary": {**counts, "total": sum(counts.values())}, "health": {"status": "Healthy"}, **extra}


# -- start -----------------------------------------------------------------------------------------------------------

def test_start_fails_an_environment_the_inventory_could_not_read():
    with pytest.raises(pipeline.Stop, match="environment prod: env.yml: unknown key") as stop:
        start(environment(error="environment prod: env.yml: unknown key 'x'"))
    assert stop.value.step == "source"


def test_start_stops_an_environment_whose_dependency_failed_and_takes_no_lock():
    io = FakeIo()
    with pytest.raises(pipeline.Stop, match="waits for staging, which failed in this run; nothing of prod was"):
        start(environment(depends_on=["staging", "dev"]), io, finished={"staging": False, "dev": True})
    assert io.locks == []


def test_start_plans_the_steps_the_environment_has_and_the_operator_runs():
    run = start(environment(steps=("source", "terraform", "kubernetes")), steps=["source", "kubernetes"])
    assert [s["name"] for s in run["plan"]] == ["kubernetes"]
    assert run["record_step"] == "kubernetes" and run["lock"] == {"file": "/locks/prod.lock", "holder": 4242}
    assert run["checkout"]["revision"] == BRANCH and run["checkout"]["path"] == "/checkout"


def test_start_deploys_a_local_checkout_with_uncommitted_changes_from_a_copy_of_head():
    io = FakeIo(dirty=["environments/prod/yaml/app.yaml", "environments/other/x.yaml", "README.md"])
    run = start(io=io, exposed=LOCAL)
    assert io.snapshots == [BRANCH]
    assert run["checkout"]["path"] == f"/copies/{BRANCH}" and run["checkout"]["repository"] == "/work/repo"
    assert run["checkout"]["uncommitted"] == ["environments/prod/yaml/app.yaml"]
    assert run["environment"]["repository"] == {"path": "/repo", "commit": BRANCH}, "where the inventory read it"


def test_start_uses_a_clean_local_checkout_as_it_is():
    io = FakeIo()
    run = start(io=io, exposed=LOCAL)
    assert io.snapshots == [] and run["checkout"]["path"] == "/work/repo" and run["checkout"]["uncommitted"] == []


# -- gate ------------------------------------------------------------------------------------------------------------

def gate(run, results, upstream=None, io=None, decided=None, **operator_changes):
    return pipeline.gate(run, operator(**operator_changes), results, upstream, io or FakeIo(), decided)


def test_in_sync_applies_nothing_and_is_no_source_drift():
    run = start()
    decided = gate(run, {"kubernetes_result": kube_result({"revision": BRANCH, "tree": TREE})})
    assert decided["apply"] == [] and decided["source"]["changed"] is False and decided["stop"] is None


def test_a_new_tree_is_source_drift_with_its_history_and_the_record_is_applied():
    run = start()
    decided = gate(run, {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})})
    assert decided["source"]["changed"] is True
    assert decided["source"]["account"]["commits"] == [{"sha": BRANCH, "subject": "change"}]
    assert decided["apply"] == [{"name": "kubernetes", "role": "trident.gitops.kubernetes",
                                 "record": {"revision": BRANCH, "tree": TREE}}]


def test_nothing_recorded_yet_is_source_drift():
    decided = gate(start(), {"kubernetes_result": kube_result(None, drift=("create",))})
    assert decided["source"]["changed"] is True and [s["name"] for s in decided["apply"]] == ["kubernetes"]


def test_check_mode_applies_nothing_and_reports_refusals_without_stopping():
    run = start(check_mode=True)
    refused = {"resource_changes": [{"address": "local_file.motd", "actions": ["delete", "create"]}],
               "refused": True, "refusal": "would be refused: replace local_file.motd (allow_destroy)", "plan_file": None}
    decided = gate(run | {"plan": run["plan"] + [{"name": "terraform", "role": "trident.gitops.terraform"}]},
                   {"kubernetes_result": kube_result(None, drift=("update",)), "terraform_result": refused},
                   check_mode=True)
    assert decided["apply"] == [] and decided["stop"] is None
    assert decided["refused"] == ["Terraform: would be refused: replace local_file.motd (allow_destroy) (to allow it: "
                                  "allow_destroy: true in environments/prod/env.yml, or the operator's "
                                  "variable terraform_allow_destroy: true)"]


def test_outside_check_mode_a_refusal_stops_the_environment_with_nothing_applied():
    run = start()
    run["plan"].append({"name": "terraform", "role": "trident.gitops.terraform"})
    decided = gate(run, {"kubernetes_result": kube_result(None, drift=("update",)),
                         "terraform_result": {"refused": True, "refusal": "replace terraform_data.a",
                                              "plan_file": "/s/.plan/p"}})
    assert decided["apply"] == [] and decided["stop"]["step"] == "terraform"
    assert "refusing to apply: Terraform: replace terraform_data.a (to allow it: allow_destroy: true in " \
           "environments/prod/env.yml, or the operator's variable terraform_allow_destroy: true); nothing " \
           "was applied" in decided["stop"]["message"]
    assert decided["source"]["changed"] is True, "the rest of the drift is still decided and reported"


def test_promotion_waits_for_the_upstream_environment_and_plans_the_held_revision():
    env = environment(settings={"promote_from": "staging"})
    io = FakeIo()
    run = start(env, io)
    decided = gate(run, {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})},
                   upstream={"revision": OLD, "health": "Healthy"}, io=io)
    assert decided["deploy"] == OLD and decided["replan"] == run["plan"]
    assert decided["held"] == "waiting for staging to be Healthy at bbbbbbb (staging runs aaaaaaa, Healthy); prod " \
                              "stays at aaaaaaa"
    assert decided["checkout"]["path"] == f"/copies/{OLD}" and decided["checkout"]["tree"] == OLD_TREE
    again = gate(run, {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}, io=io, decided=decided)
    assert again["apply"] == [] and again["held"] == decided["held"], "in sync at the held revision"


class HeldIo(FakeIo):
    """The held revision (OLD) names a Vault reference file the branch does not have, or the other way round."""

    def __init__(self, held_secrets):
        super().__init__()
        self.held_secrets = held_secrets

    def describe(self, env_path, root):
        secrets = (SecretFile("secrets/app.vault.yaml", "app", "vault"),) if self.held_secrets else ()
        return Environment(name="prod", path=env_path, repo_path=root, manifests_dir="yaml", manifests_kind="files",
                           settings={"promote_from": "staging"}, secrets=secrets)


@pytest.mark.parametrize("held_secrets", [True, False])
def test_a_held_revision_plans_its_own_steps_not_the_branchs(held_secrets):
    # The branch adds (or drops) secrets/app.vault.yaml; prod is held at OLD, which has (or has not) it: the held
    # plans read the held commit's references, and the report and the apply follow the held revision's steps.
    branch_steps = ("source", "kubernetes") if held_secrets else ("source", "secrets", "kubernetes")
    env = environment(steps=branch_steps, settings={"promote_from": "staging"})
    io = HeldIo(held_secrets)
    run = start(env, io)
    first = gate(run, {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})},
                 upstream={"revision": OLD, "health": "Healthy"}, io=io)
    held_plan = ["secrets", "kubernetes"] if held_secrets else ["kubernetes"]
    assert [s["name"] for s in first["replan"]] == held_plan == [s["name"] for s in first["plan"]]
    results = {"secrets_decrypted": {"results": []}, "secrets_referenced": {"results": []},
               "kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE}, drift=("update",))}
    decided = gate(run, results, io=io, decided=first)
    assert [s["name"] for s in decided["apply"]] == ["kubernetes"] and decided["plan"] == first["replan"]
    report = pipeline.finish(env, run, decided, results, None, False, 1001.0)
    assert ("secrets" in report.steps and report.steps["secrets"].status == "ok") == held_secrets
    # A failed reference of the held revision is the secrets step's failure, not the source's.
    if held_secrets:
        failure = Failure("secrets", "environments/prod/secrets/app.vault.yaml: reference db: 403", "")
        failed = pipeline.finish(env, run, first, {"secrets_decrypted": {"failed": True}}, failure, False, 1001.0)
        assert failed.steps["secrets"].status == "failed" and failed.summary()["failure"]["step"] == "secrets"


def test_promotion_follows_an_upstream_that_runs_the_revision_healthy():
    env = environment(settings={"promote_from": "staging"})
    decided = gate(start(env), {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})},
                   upstream={"revision": BRANCH, "health": "Healthy"})
    assert decided["deploy"] == BRANCH and decided["held"] == "" and decided["replan"] == []


def test_waiting_for_a_first_promotion_deploys_nothing():
    env = environment(settings={"promote_from": "staging"})
    decided = gate(start(env), {"kubernetes_result": kube_result(None, drift=("create",))}, upstream=None)
    assert decided["deploy"] is None and decided["apply"] == [] and decided["record"] is None
    assert "(staging runs nothing, not in this run); prod stays at nothing deployed" in decided["held"]


def test_an_unsigned_commit_cannot_remove_the_keys_the_environment_trusts_now():
    """Issue 24: the keys are the env.yml's of the revision the environment runs, not of the new commit."""
    env = environment(settings={})  # the new commit removed trusted_keys
    io = FakeIo(env_yml_at={OLD: "FINGERPRINT1"}, unsigned=True)
    with pytest.raises(pipeline.Stop, match="trusted_keys: commit b+ is not signed by a trusted key") as stop:
        gate(start(env, io), {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}, io=io)
    assert stop.value.step == "promotion" and io.verified == [(OLD, BRANCH, ("FINGERPRINT1",))]


def test_the_operators_signers_apply_whatever_the_repository_says():
    io = FakeIo()
    gate(start(environment(), io), {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}, io=io,
         trusted_keys={"prod": ["OPERATORKEY"]})
    assert io.verified == [(OLD, BRANCH, ("OPERATORKEY",))]


def test_no_keys_anywhere_checks_no_signature():
    io = FakeIo()
    gate(start(environment(), io), {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}, io=io)
    assert io.verified == []


def test_a_pin_deploys_the_pinned_commit():
    decided = gate(start(), {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}, pin={"prod": OLD})
    assert decided["deploy"] == OLD and decided["held"] == f"pinned to {OLD} by reconcile_pin; the branch is at {BRANCH}"


# -- finish ----------------------------------------------------------------------------------------------------------

def test_finish_in_sync():
    run = start()
    results = {"kubernetes_result": kube_result({"revision": BRANCH, "tree": TREE})}
    report = pipeline.finish(environment(), run, gate(run, results), results, None, False, 1010.0)
    assert report.verdict == "in_sync" and report.duration == 10.0
    assert report.state() == {"revision": BRANCH, "tree": TREE, "target": BRANCH, "health": "Healthy"}


def test_finish_of_a_corrected_environment_reports_the_record_written():
    run = start()
    results = {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE}, drift=("update",))}
    decided = gate(run, results)
    report = pipeline.finish(environment(), run, decided, results, None, False, 1001.0)
    assert report.verdict == "corrected" and report.drifted_steps == ["source", "kubernetes"]
    assert report.state()["revision"] == BRANCH


def test_finish_when_a_plan_failed_names_it_and_the_later_steps_are_not_checked():
    run = start(environment(steps=("source", "secrets", "kubernetes")))
    failure = pipeline.failure_of({"action": "trident.gitops.sops_decrypt", "name": "Decrypt"},
                                  {"msg": "environments/prod/secrets/db.sops.yaml: MAC mismatch"})
    report = pipeline.finish(environment(), run, None, {"secrets_decrypted": {"failed": True}}, failure, False, 1001.0)
    statuses = {name: o.status for name, o in report.steps.items()}
    assert statuses == {"source": "not_checked", "secrets": "failed", "terraform": "skipped",
                        "kubernetes": "not_checked", "policy": "skipped", "promotion": "skipped"}
    assert report.verdict == "error" and report.state()["health"] == "Unknown"
    assert report.steps["secrets"].account["message"].endswith("MAC mismatch")


def test_finish_when_start_failed():
    failure = pipeline.failure_of({"action": "trident.gitops.reconcile_start"},
                                  {"msg": "waits for staging", "trident_step": "source"})
    report = pipeline.finish(environment(steps=("source", "terraform")), None, None, {}, failure, True, 1.0)
    assert {n: o.status for n, o in report.steps.items()} == {
        "source": "failed", "secrets": "skipped", "terraform": "not_checked", "kubernetes": "skipped",
        "policy": "skipped", "promotion": "skipped"}
    assert report.summary()["failure"] == {"step": "source", "task": "", "message": "waits for staging"}


def test_a_failed_vault_reference_is_the_secrets_step():
    # What Ansible hands the rescue for the secrets role's "Fail on a Vault reference" task: a finalized task (no role,
    # no parent), ansible.builtin.fail, its own vars; the failure is the secrets step's, not the source's (issue 27).
    message = ("environments/prod/secrets/app.vault.yaml: reference db (KV apps/db key password): "
               "Vault http://127.0.0.1:8200 GET /v1/secret/data/apps/db: 403 permission denied")
    task = {"action": "ansible.builtin.fail", "_resolved_action": "ansible.builtin.fail", "finalized": True,
            "name": "Fail on a Vault reference that cannot be read",
            "vars": {"trident_step": "secrets", "secrets_unread": [{"msg": message}]}}
    failure = pipeline.failure_of(task, {"msg": message, "failed": True}, "prod")
    assert failure == Failure("secrets", message, "Fail on a Vault reference that cannot be read")
    run = start(environment(steps=("source", "secrets", "terraform")))
    report = pipeline.finish(environment(), run, None, {"secrets_decrypted": {"results": []}}, failure, False, 9.0)
    assert {n: o.status for n, o in report.steps.items()} == {
        "source": "not_checked", "secrets": "failed", "terraform": "not_checked", "kubernetes": "skipped",
        "policy": "skipped", "promotion": "skipped"}
    assert report.summary()["failure"]["step"] == "secrets"
    # vault_kv failing on its own (a playbook without the role) is the secrets step's too.
    assert pipeline.failure_of({"action": "trident.gitops.vault_kv"}, {"msg": message}).step == "secrets"


@pytest.mark.parametrize("declared", ["nonsense", ["secrets"], {"a": 1}, None])
def test_a_task_cannot_declare_a_step_the_registry_does_not_know(declared):
    task = {"action": "ansible.builtin.fail", "vars": {"trident_step": declared}}
    assert pipeline.failure_of(task, {"msg": "x"}).step == "source"


def test_every_fail_task_of_a_step_role_names_its_step():
    # ansible.builtin.fail/assert are no step module: without trident_step their failure would be the source's.
    roles = pathlib.Path(pipeline.__file__).parents[3] / "roles"
    found = 0
    for step in (s for s in REGISTRY if s.role):
        for path in sorted((roles / step.role.rpartition(".")[2] / "tasks").glob("*.yml")):
            if path.name == "main.yml":  # the role used alone, outside the pipeline
                continue
            for task in yaml.safe_load(path.read_text()) or []:
                if {"ansible.builtin.fail", "ansible.builtin.assert"} & set(task):
                    found += 1
                    assert (task.get("vars") or {}).get("trident_step") == step.name, (path, task.get("name"))
    assert found >= 1


def test_a_no_log_failure_keeps_its_secret():
    failure = pipeline.failure_of({"action": "trident.gitops.kube_diff"}, {"msg": "token=s3cr3t", "_ansible_no_log": True})
    assert failure == Failure("kubernetes", "the task failed; its output is hidden (no_log)", "")


def test_a_held_environment_is_drift_in_both_modes():
    env = environment(settings={"promote_from": "staging"})
    for check in (True, False):
        run = start(env, check_mode=check)
        results = {"kubernetes_result": kube_result({"revision": OLD, "tree": OLD_TREE})}
        first = gate(run, results, check_mode=check)
        decided = gate(run, results, decided=first, check_mode=check)
        report = pipeline.finish(env, run, decided, results, None, check, 1001.0)
        assert report.verdict == "drift" and report.steps["promotion"].status == "changed", check
        assert report.state()["revision"] == OLD


def test_a_refused_check_is_drift_not_error():
    run = start(check_mode=True)
    run["plan"].append({"name": "terraform", "role": "trident.gitops.terraform"})
    results = {"kubernetes_result": kube_result({"revision": BRANCH, "tree": TREE}),
               "terraform_result": {"refused": True, "refusal": "replace local_file.motd", "resource_changes": [
                   {"address": "local_file.motd", "actions": ["delete", "create"]}]}}
    report = pipeline.finish(environment(steps=("source", "terraform", "kubernetes")), run,
                             gate(run, results, check_mode=True), results, None, True, 1001.0)
    assert report.verdict == "drift" and report.refused == [
        "Terraform: replace local_file.motd (to allow it: allow_destroy: true in environments/prod/env.yml, or the "
        "operator's variable terraform_allow_destroy: true)"]


def test_leftover_saved_plans_of_applies_that_did_not_run_are_named():
    run = start()
    run["plan"].append({"name": "terraform", "role": "trident.gitops.terraform"})
    results = {"terraform_result": {"plan_file": "/state/.plan-saved/plan"}}
    assert pipeline.leftovers(run, {"apply": []}, results, None) == ["/state/.plan-saved"]
    assert pipeline.leftovers(run, {"apply": [{"name": "terraform"}]}, results, None) == []


def test_a_folder_outside_git_is_deployed_as_it_is_and_records_nothing():
    io = FakeIo(in_git=False)
    run = start(io=io, exposed=LOCAL)
    assert run["checkout"]["revision"] is None and run["checkout"]["path"] == "/work/repo"
    decided = gate(run, {"kubernetes_result": kube_result(None, drift=("create",))}, io=io)
    assert [s["name"] for s in decided["apply"]] == ["kubernetes"] and decided["record"] is None
    assert decided["source"]["changed"] is False


def test_a_failure_names_its_environment_once():
    bare = pipeline.failure_of({"action": "trident.gitops.kube_diff"}, {"msg": "namespace x is neither live"}, "web")
    assert bare.message == "environment web: Kubernetes: namespace x is neither live"
    named = pipeline.failure_of({"action": "trident.gitops.kube_diff"},
                                {"msg": "environments/web/env.yml: helm release 'a' failed"}, "web")
    assert named.message == "environments/web/env.yml: helm release 'a' failed"
    # A name that is only part of another word does not count as named.
    part = pipeline.failure_of({"action": "trident.gitops.kube_diff"}, {"msg": "webhook refused it"}, "web")
    assert part.message.startswith("environment web: Kubernetes: ")


# -- the policy step (issue 28) --------------------------------------------------------------------------------------

DENIED = {"refused": True, "refusal": "denied by policy: policy/limits.rego deny: Deployment web/api: no limits",
          "denials": [{"policy": "policy/limits.rego", "rule": "deny", "subject": "Deployment web/api",
                       "message": "no limits", "origin": "repository", "source": "environments/prod/yaml/a.yaml",
                       "package": "main"}],
          "warned": [{"policy": "policy/labels.rego", "rule": "warn", "subject": "Deployment web/api",
                      "message": "no app label"}]}


def test_the_policy_step_runs_after_the_plans_where_the_repository_or_the_operator_has_policies():
    assert [s["name"] for s in start(environment(steps=("source", "kubernetes", "policy")))["plan"]] == [
        "kubernetes", "policy"]
    assert [s["name"] for s in start(environment(steps=("source", "terraform")), policy_dirs=["/etc/policy"])[
        "plan"]] == ["terraform", "policy"]
    assert [s["name"] for s in start(environment(steps=("source", "terraform")))["plan"]] == ["terraform"]
    # The operator's steps decide: without policy among them, nothing of the repository's turns it on.
    assert [s["name"] for s in start(environment(steps=("source", "kubernetes", "policy")),
                                     steps=["source", "kubernetes"])["plan"]] == ["kubernetes"]


def test_a_denial_refuses_the_whole_environment_and_a_warning_does_not():
    run = start(environment(steps=("source", "terraform", "kubernetes", "policy")))
    results = {"kubernetes_result": kube_result(None, drift=("update",)),
               "terraform_result": {"plan_file": "/s/.plan/p", "resource_changes": [{"address": "a.b"}]},
               "policy_result": DENIED}
    decided = gate(run, results)
    assert decided["apply"] == [] and decided["stop"]["step"] == "policy"
    assert decided["stop"]["message"] == (
        "environment prod: refusing to apply: Policy: denied by policy: policy/limits.rego deny: Deployment web/api: "
        "no limits; nothing was applied")
    passed = gate(run, {**results, "policy_result": {**DENIED, "refused": False, "refusal": None, "denials": []}})
    assert passed["stop"] is None and [s["name"] for s in passed["apply"]] == ["terraform", "kubernetes"]


def test_a_denial_in_check_mode_is_reported_as_drift_with_the_verdicts():
    run = start(environment(steps=("source", "kubernetes", "policy")), check_mode=True)
    results = {"kubernetes_result": kube_result(None), "policy_result": DENIED}
    decided = gate(run, results, check_mode=True)
    assert decided["stop"] is None and decided["refused"] == [f"Policy: {DENIED['refusal']}"]
    report = pipeline.finish(environment(), run, decided, results, None, True, 1001.0)
    policy = report.steps["policy"]
    assert (policy.status, policy.count) == ("changed", 1)
    assert policy.account["denials"][0]["subject"] == "Deployment web/api"
    assert policy.account["warnings"][0]["message"] == "no app label"
    assert report.verdict == "drift"


@pytest.mark.parametrize("plan, recorded, drift", [
    ({"resource_changes": [], "plan_file": None}, None, False),  # no record here, the state proves sync
    ({"resource_changes": [{"address": "x.y", "actions": ["create"]}], "plan_file": "/s/p"}, None, True),
    ({"resource_changes": [], "plan_file": None}, {"revision": OLD, "tree": OLD_TREE}, True),  # a stale record
    ({"failed": True, "resource_changes": []}, None, True),
])
def test_a_terraform_only_environment_without_a_record_here_is_in_sync_when_its_plan_is_empty(plan, recorded, drift):
    run = start(environment(steps=("source", "terraform")))
    assert run["record_step"] == "terraform"
    decided = gate(run, {"terraform_result": {**plan, "recorded": recorded}})
    assert decided["source"]["changed"] is drift
    # Outside check mode the record is written (a cache of what the state proves) whenever it differs.
    assert decided["record"] == {"revision": BRANCH, "tree": TREE}


# -- what a plan wrote for an apply that does not come ----------------------------------------------------------------

PREPARED = [{"name": "web", "uid": "u1", "run": "r1", "created": True}]


def test_the_kubernetes_plan_is_the_step_whose_writes_are_taken_back_outside_check_mode():
    assert start(environment(steps=("source", "terraform", "kubernetes", "policy")))["discard"] == ["kubernetes"]
    assert start(environment(steps=("source", "terraform")))["discard"] == []
    assert start(environment(steps=("source", "kubernetes")), check_mode=True)["discard"] == []


def test_a_refusal_takes_back_the_namespaces_the_plan_created_and_an_apply_keeps_them():
    run = start(environment(steps=("source", "kubernetes", "policy")))
    results = {"kubernetes_result": kube_result(None, drift=("create",), namespaces_prepared=PREPARED),
               "policy_result": DENIED}
    refused = gate(run, results)
    assert refused["stop"] and refused["apply"] == [] and refused["discard"] == ["kubernetes"]
    passed = gate(run, {**results, "policy_result": {**DENIED, "refused": False, "refusal": None, "denials": []}})
    assert [s["name"] for s in passed["apply"]] == ["kubernetes"] and passed["discard"] == []
    # A plan that prepared nothing, or failed (kube_diff took its namespaces back itself): nothing to take back.
    assert gate(run, {**results, "kubernetes_result": kube_result(None, drift=("create",))})["discard"] == []
    failed = {**kube_result(None), "failed": True, "namespaces_prepared": PREPARED}
    assert pipeline.not_applied_writes(run, [], {"kubernetes_result": failed}) == []


def test_an_environment_waiting_for_its_first_promotion_keeps_the_namespaces_its_plan_created():
    # Taken back, they would still be Terminating when the run that promotes it plans into them.
    run = start(environment(settings={"promote_from": "staging"}))
    results = {"kubernetes_result": kube_result(None, drift=("create",), namespaces_prepared=PREPARED)}
    decided = gate(run, results, upstream=None)
    assert decided["deploy"] is None and decided["apply"] == [] and decided["discard"] == []
