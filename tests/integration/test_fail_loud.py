"""Bad input through real ansible-playbook (docs/failures.md): every case fails loud, names the environment,
file and problem, exits non-zero, changes nothing, and never shows a byte of a file outside the repository.

One repository holds one good environment and one broken environment per case, so a single run proves
that a bad environment fails as its own host and does not hide the good one; each case is a test that
asserts its own message on that shared run. Whole-repository failures (fetch, signature, no environment)
are one run each.
"""

import configparser
import os
import subprocess

import pytest
import yaml

from kube_support import get
from testbed.ansible import run_playbook
from testbed.gitops import GitOpsRepo, isolated_vars, kubeconfig_text, run_gitops, write_inventory
from testbed.gitserver import git

# In every file outside the repository: it must never appear in any output, report or cluster object.
OUTSIDE = "controller-private-content-7f3a"
WRONG_TOKEN = "wrong-token-5d1c9e"
# The settings of the example ansible.cfg that make an unreadable inventory fail the run.
STRICT_INVENTORY = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1"}


def configmap(name):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})


def outside_files(root, kubeconfig):
    """What a malicious merge request would like to read on the controller."""
    (root / "yaml").mkdir(parents=True)
    (root / "stolen.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "failloud-stolen", "namespace": "default"}, "data": {"secret": OUTSIDE}}))
    (root / "yaml" / "cm.yaml").write_text(configmap("failloud-outside") + f"# {OUTSIDE}\n")
    (root / "kubeconfig.yaml").write_text(kubeconfig + f"# {OUTSIDE}\n")
    (root / "vars.tfvars").write_text(f'secret = "{OUTSIDE}"\n')
    (root / "main.tf").write_text(f"# {OUTSIDE}\n")


# env -> (files, symlinks {path: target under the outside folder}, the message its host fails with)
CASES = {
    "bad-yaml": ({"env.yml": "prune: [unclosed\n"}, {},
                 "environment bad-yaml: environments/bad-yaml/env.yml: not valid YAML: expected ',' or ']'"),
    "unknown-key": ({"env.yml": "replicas: 3\n"}, {},
                    "environment unknown-key: environments/unknown-key/env.yml: unknown key 'replicas' (known keys:"),
    "wrong-type": ({"env.yml": "prune: sometimes\n"}, {},
                   "environments/wrong-type/env.yml: key 'prune' must be a boolean, got str"),
    "missing-kubeconfig": ({"env.yml": "kubeconfig: clusters/nope.yaml\n"}, {},
                           "environments/missing-kubeconfig/env.yml: key 'kubeconfig': 'clusters/nope.yaml' does not "
                           "exist"),
    "missing-var-file": ({"env.yml": "terraform_var_files: [prod.tfvars]\n", "main.tf": "\n"}, {},
                         "environments/missing-var-file/env.yml: key 'terraform_var_files': 'prod.tfvars' does not "
                         "exist"),
    "two-kubeconfigs": ({"yaml/kubeconfig.yaml": "{}\n"}, {},
                        "more than one kubeconfig: kubeconfig.yaml, yaml/kubeconfig.yaml"),
    "link-folder": (None, {"": "."}, "environment link-folder: environments/link-folder is a symlink that leads "
                                     "outside the repository"),
    "link-manifest": ({}, {"yaml/stolen.yaml": "stolen.yaml"},
                      "environments/link-manifest/yaml/stolen.yaml is a symlink that leads outside the repository"),
    "link-manifest-dir": ({}, {"yaml/more": "yaml"},
                          "environments/link-manifest-dir/yaml/more is a symlink that leads outside the repository"),
    "link-secret": ({}, {"secrets/db.sops.yaml": "stolen.yaml"},
                    "environments/link-secret/secrets/db.sops.yaml is a symlink that leads outside the repository"),
    "link-kubeconfig": ({"kubeconfig.yaml": None}, {"kubeconfig.yaml": "kubeconfig.yaml"},
                        "environments/link-kubeconfig/kubeconfig.yaml is a symlink that leads outside the repository"),
    "link-terraform": ({}, {"main.tf": "main.tf"},
                       "environments/link-terraform/main.tf is a symlink that leads outside the repository"),
    "link-env-yml": ({}, {"env.yml": "stolen.yaml"},
                     "environments/link-env-yml/env.yml is a symlink that leads outside the repository"),
    "link-kustomize-resource": ({"yaml/kustomization.yaml": "resources: [cm.yaml, stolen.yaml]\n"},
                                {"yaml/stolen.yaml": "stolen.yaml"},
                                "environments/link-kustomize-resource/yaml/stolen.yaml is a symlink that leads outside "
                                "the repository"),
    "dotdot-var-file": ({"env.yml": "terraform_var_files: [../../../outside/vars.tfvars]\n", "main.tf": "\n"}, {},
                        "environments/dotdot-var-file/env.yml: key 'terraform_var_files': "),
    "dotdot-manifests": ({"env.yml": "manifests: ../../../outside/yaml\n"}, {},
                         "environments/dotdot-manifests/env.yml: key 'manifests': "),
    "dotdot-kubeconfig": ({"env.yml": "kubeconfig: ../../../outside/kubeconfig.yaml\n"}, {},
                          "environments/dotdot-kubeconfig/env.yml: key 'kubeconfig': "),
    # Met by kube_diff, not the inventory: it reads the kustomization before kustomize runs (remote references).
    "dotdot-kustomize": ({"yaml/kustomization.yaml": "resources: [cm.yaml, ../../../../outside/stolen.yaml]\n"}, {},
                         "outside/stolen.yaml' leads outside the repository"),
    # Met by kube_diff: the API server's 401, with the server and who we tried to be.
    "bad-token": ({"kubeconfig.yaml": "WRONG"}, {},
                  "rejected the credentials of user 'reconciler' of context 'trident-test' (a bearer token) "
                  "(401 Unauthorized)"),
}
DOTDOT = "leads outside the repository (through '..' or an absolute path); nothing outside the checkout is read"


def build_env(env, files, links, outside, kubeconfig):
    if files is None:
        env.symlink_to(outside, target_is_directory=True)
        return
    defaults = {"kubeconfig.yaml": kubeconfig, "yaml/cm.yaml": configmap(f"failloud-{env.name}")}
    for relative, text in {**defaults, **files}.items():
        if text is None:
            continue
        path = env / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kubeconfig.replace(kubeconfig_token(kubeconfig), WRONG_TOKEN) if text == "WRONG" else text)
    for relative, target in links.items():
        (env / relative).parent.mkdir(parents=True, exist_ok=True)
        (env / relative).symlink_to(outside / target)


def kubeconfig_token(text):
    return yaml.safe_load(text)["users"][0]["user"]["token"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, control_plane):
    work = tmp_path_factory.mktemp("failloud")
    kubeconfig = kubeconfig_text(control_plane)
    outside = work / "outside"
    outside_files(outside, kubeconfig)
    repo = work / "repo"
    good = repo / "environments" / "good"
    build_env(good, {}, {}, outside, kubeconfig)
    for name, (files, links, _message) in CASES.items():
        build_env(repo / "environments" / name, files, links, outside, kubeconfig)
    # A Git checkout, as git_source and AWX make: the modules confine paths to it too.
    git("init", "--quiet", cwd=repo)
    (repo / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    result = run_gitops("reconcile", repo / "gitops.environments.yml", work, extra_vars=isolated_vars(work),
                        env=STRICT_INVENTORY)
    return {"result": result, "plane": control_plane, "work": work}


def failure(result, host):
    """The message of the task that failed ``host``."""
    for play in result.data["plays"]:
        for task in play["tasks"]:
            outcome = task["hosts"].get(host)
            if outcome and outcome.get("failed"):
                return outcome.get("msg", "")
    return None


def test_the_run_fails_and_the_good_environment_is_reconciled(corpus):
    result = corpus["result"]
    assert result.rc != 0
    assert result.stats["good"]["failures"] == 0 and result.stats["good"]["changed"] > 0, result.explain()
    assert get(corpus["plane"], "configmap", "failloud-good", "default") is not None
    assert sorted(host for host, counts in result.stats.items() if counts["failures"]) == sorted(CASES)


@pytest.mark.parametrize("env", sorted(CASES))
def test_each_bad_environment_fails_alone_with_its_message(corpus, env):
    result = corpus["result"]
    message = failure(result, env)
    assert message is not None, f"{env} did not fail"
    assert CASES[env][2] in message
    if env.startswith("dotdot-"):
        assert DOTDOT in message
    steps = result.report["environments"][env]["steps"]
    assert "failed" in {step["status"] for step in steps.values()}, "the drift report lists it as failed"
    assert get(corpus["plane"], "configmap", f"failloud-{env}", "default") is None, "nothing was applied"


def test_nothing_outside_the_repository_appears_anywhere(corpus):
    result = corpus["result"]
    reports = "".join(path.read_text() for path in result.report_dir.iterdir())
    for text in (result.stdout, result.stderr, reports):
        assert OUTSIDE not in text and WRONG_TOKEN not in text
    for name in ("failloud-stolen", "failloud-outside"):
        assert get(corpus["plane"], "configmap", name, "default") is None


@pytest.fixture(scope="module")
def upstream(git_server, tmp_path_factory, control_plane):
    work = tmp_path_factory.mktemp("failloud-repo")
    repo = GitOpsRepo(git_server, "failloud", work / "clone")
    repo.write("environments/only/kubeconfig.yaml", kubeconfig_text(control_plane))
    repo.write("environments/only/yaml/cm.yaml", configmap("failloud-only"))
    head = repo.push("one environment")
    return {"repo": repo, "head": head, "work": work, "plane": control_plane}


def run_repo(upstream, tmp_path, **options):
    inventory = write_inventory(tmp_path, options.pop("repo", upstream["repo"].url), tmp_path / "cache",
                                version=options.pop("version", "main"))
    if options:
        config = yaml.safe_load(inventory.read_text())
        inventory.write_text(yaml.safe_dump({**config, **options}))
    return run_gitops("reconcile", inventory, tmp_path, extra_vars=isolated_vars(tmp_path), env=STRICT_INVENTORY)


@pytest.mark.parametrize("case", ["unknown-version", "server-down", "unsigned"])
def test_a_repository_that_cannot_be_fetched_fails_the_whole_run(upstream, tmp_path, gnupg_home, case):
    url = upstream["repo"].url
    options = {"unknown-version": {"version": "no-such-branch"},
               "server-down": {"repo": "git://127.0.0.1:9/failloud"},
               "unsigned": {"verify_signature": True,
                            "trusted_keys": [gnupg_home.export_public(gnupg_home.fingerprints()[0])]}}[case]
    expected = {"unknown-version": f"cannot fetch no-such-branch of {url}",
                "server-down": "cannot fetch main of git://127.0.0.1:9/failloud",
                "unsigned": f"cannot fetch main of {url}: refusing"}[case]
    result = run_repo(upstream, tmp_path, **options)
    assert result.rc != 0
    assert expected in result.stderr
    assert "Completely failed to parse inventory source" in result.stderr
    assert get_checkout_head(tmp_path) is None, "nothing was checked out"
    assert get(upstream["plane"], "configmap", "failloud-only", "default") is None


def get_checkout_head(work):
    checkout = work / "checkout"
    if not (checkout / ".git").exists():
        return None
    return git("rev-parse", "HEAD", cwd=checkout)


def test_no_environment_found_fails_naming_the_searched_path(tmp_path):
    (tmp_path / "repo" / "environments").mkdir(parents=True)
    inventory = tmp_path / "repo" / "gitops.environments.yml"
    inventory.write_text("plugin: trident.gitops.environments\npath: .\n")
    strict = run_gitops("reconcile", inventory, tmp_path, extra_vars=isolated_vars(tmp_path), env=STRICT_INVENTORY)
    assert strict.rc != 0
    assert f"{tmp_path / 'repo' / 'environments'}: no environment folder found" in strict.stderr
    # Without the strict inventory settings Ansible only warns; the playbook itself still fails.
    lenient = run_gitops("reconcile", inventory, tmp_path, extra_vars=isolated_vars(tmp_path),
                         env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "0", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "0"})
    assert lenient.rc != 0
    assert f"No environment host matches 'all' in the inventory {inventory}" in failure(lenient, "localhost")


@pytest.mark.parametrize("playbook", ["drift", "reconcile"])
def test_no_inventory_at_all_names_the_command_and_the_ansible_cfg_line(tmp_path, playbook):
    """A new user's first run outside the repository's folder (no ansible.cfg, no -i): the message says what to run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") or k == "ANSIBLE_COLLECTIONS_PATH"}
    proc = subprocess.run(["ansible-playbook", f"trident.gitops.{playbook}"], cwd=tmp_path,
                          env={**env, "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True,
                          check=False)
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2
    assert "No environment host matches 'all' in the inventory /etc/ansible/hosts" in output
    assert f"ansible-playbook -i gitops.environments.yml trident.gitops.{playbook}" in output
    assert '"[defaults] inventory = gitops.environments.yml"' in output


def test_the_example_ansible_cfg_fails_on_inventory_errors_and_pipelines():
    config = configparser.ConfigParser()
    config.read(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "gitops-repo", "ansible.cfg"))
    assert config.getboolean("inventory", "unparsed_is_failed")
    assert config.getboolean("inventory", "any_unparsed_is_failed")
    assert config.getboolean("connection", "pipelining")


def test_modules_refuse_links_out_of_the_checkout_they_read(tmp_path, control_plane):
    """The checkout a run reconciles may be newer than the one the inventory read: the modules check too."""
    outside = tmp_path / "outside"
    outside_files(outside, kubeconfig_text(control_plane))
    checkout = tmp_path / "checkout"
    (checkout / "env").mkdir(parents=True)
    git("init", "--quiet", cwd=checkout)
    (checkout / "env" / "main.tf").write_text('variable "secret" {\n  default = "x"\n}\n')
    for name, target in (("stolen.yaml", "stolen.yaml"), ("kubeconfig.yaml", "kubeconfig.yaml"),
                         ("vars.tfvars", "vars.tfvars")):
        (checkout / "env" / name).symlink_to(outside / target)
    good_kubeconfig = checkout / "good-kubeconfig.yaml"
    good_kubeconfig.write_text(kubeconfig_text(control_plane))
    common = {"ignore_errors": True}
    tasks = [
        {"name": "manifest", "trident.gitops.kube_diff": {"src": [str(checkout / "env" / "stolen.yaml")],
                                                          "kubeconfig": str(good_kubeconfig),
                                                          "repository_root": str(checkout)}, **common},
        {"name": "kubeconfig", "trident.gitops.kube_diff": {
            "definition": yaml.safe_load(configmap("failloud-module")),
            "kubeconfig": str(checkout / "env" / "kubeconfig.yaml"), "repository_root": str(checkout)}, **common},
        {"name": "var file", "trident.gitops.terraform_apply": {
            "project_path": str(checkout / "env"), "binary": "terraform", "state_dir": str(tmp_path / "state"),
            "variables_files": [str(checkout / "env" / "vars.tfvars")]}, **common}]
    play = run_playbook(tmp_path / "play", tasks)
    results = {result["name"]: result for result in play.task_results()}
    for name, link in (("manifest", "env/stolen.yaml"), ("kubeconfig", "env/kubeconfig.yaml"),
                       ("var file", "env/vars.tfvars")):
        assert results[name].get("failed") is True, results[name]
        assert f"{link} is a symlink that leads outside the repository" in results[name]["msg"]
    assert OUTSIDE not in play.stdout + play.stderr
    assert get(control_plane, "configmap", "failloud-stolen", "default") is None
    assert get(control_plane, "configmap", "failloud-module", "default") is None
