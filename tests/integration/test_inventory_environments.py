"""The environments inventory plugin through real ansible-inventory / ansible-playbook and a real git server."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from testbed.gitserver import git

APP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  k: v\n"
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"
REPO_FILES = {
    # Terraform + kustomize manifests + SOPS secrets + an encrypted kubeconfig, with settings.
    "environments/prod-eu/env.yml": yaml.safe_dump({
        "tags": ["prod", "eu"], "namespace": "shop", "prune": True, "terraform_binary": "tofu",
        "terraform_vars": {"replicas": 3}, "vars": {"kubernetes_wait": True}}),
    "environments/prod-eu/main.tf": 'resource "terraform_data" "marker" {\n  input = "prod"\n}\n',
    "environments/prod-eu/kubeconfig.sops.yaml": "apiVersion: ENC[AES256_GCM,data:x]\nsops:\n  mac: ENC[x]\n",
    "environments/prod-eu/manifests/kustomization.yaml": "resources:\n  - app.yaml\n",
    "environments/prod-eu/manifests/app.yaml": APP,
    "environments/prod-eu/secrets/db.sops.yaml": "password: ENC[AES256_GCM,data:x]\n",
    # Manifests only.
    "environments/staging/env.yml": yaml.safe_dump({"tags": ["preprod"]}),
    "environments/staging/manifests/app.yaml": APP,
    # The seed's k3s layout: the kubeconfig sits inside yaml/.
    "environments/k3s/yaml/app.yaml": APP,
    "environments/k3s/yaml/kubeconfig.yaml": KUBECONFIG,
    "environments/.template/yaml/app.yaml": APP,
}


def push_repo(git_server, tmp_path, name, files, branch="main"):
    git_server.create_repo(name)
    work = tmp_path / f"{name}-work"
    git("clone", git_server.git_url(name), str(work))
    git("checkout", "-B", branch, cwd=work)
    for path, content in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(content)
    git("add", "-A", cwd=work)
    git("commit", "-m", f"environments on {branch}", cwd=work)
    git("push", "origin", f"HEAD:{branch}", cwd=work)
    return work, git("rev-parse", "HEAD", cwd=work)


@pytest.fixture(scope="module")
def gitops_repo(git_server, tmp_path_factory):
    return push_repo(git_server, tmp_path_factory.mktemp("gitops"), "gitops", REPO_FILES)


def plain(data):
    """ansible-inventory (2.19+) serialises strings that must not be templated as {"__ansible_unsafe": s}."""
    if isinstance(data, dict):
        if list(data) == ["__ansible_unsafe"]:
            return data["__ansible_unsafe"]
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data


def inventory(config_path, *extra, env=None, check=True):
    run_env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "ANSIBLE_INVENTORY_ENABLED":
               "trident.gitops.environments", "ANSIBLE_NOCOLOR": "1", **(env or {})}
    proc = subprocess.run(["ansible-inventory", "-i", str(config_path), "--list", *extra], env=run_env,
                          capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
        # With -v, version and config lines come first; the JSON document starts at a line's first "{".
        return plain(json.loads(proc.stdout[re.search(r"^\{", proc.stdout, re.M).start():]))
    return proc


def write_config(config_file, **options):
    config_file.write_text(yaml.safe_dump({"plugin": "trident.gitops.environments", **options}))
    return config_file


def test_local_checkout_yields_one_host_per_environment_with_layout_vars(gitops_repo):
    work, _head = gitops_repo
    data = inventory(write_config(work / "local.environments.yml", path="."))
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["k3s", "prod-eu", "staging"], "hidden folders are not environments"
    assert sorted(data["environments"]["hosts"]) == ["k3s", "prod-eu", "staging"]
    assert data["prod"]["hosts"] == ["prod-eu"] and data["eu"]["hosts"] == ["prod-eu"]
    assert data["preprod"]["hosts"] == ["staging"]

    prod = hostvars["prod-eu"]
    assert prod["ansible_connection"] == "local"
    assert prod["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    env = prod["trident_environment"]
    assert sorted(prod) == ["ansible_connection", "ansible_pipelining", "ansible_python_interpreter",
                            "trident_environment"], "the repository's data is one variable, nothing else"
    assert env["dir"] == "environments/prod-eu"
    assert env["repository"] == {"path": str(work.resolve())}, "a local checkout names no remote"
    assert env["steps"] == ["source", "secrets", "terraform", "kubernetes"]
    assert env["kubeconfig"] == "kubeconfig.sops.yaml" and env["kubeconfig_encrypted"]
    assert (env["manifests_dir"], env["manifests_kind"]) == ("manifests", "kustomize")
    assert env["terraform_files"] == ["main.tf"]
    assert env["secrets"] == [{"path": "secrets/db.sops.yaml", "name": "db", "format": "yaml"}]
    assert (env["settings"]["namespace"], env["settings"]["prune"]) == ("shop", True)
    assert env["settings"]["terraform_binary"] == "tofu" and env["settings"]["terraform_vars"] == {"replicas": 3}
    assert env["settings"]["vars"] == {"kubernetes_wait": True}, "env.yml vars never become host variables"

    seed = hostvars["k3s"]["trident_environment"]
    assert seed["kubeconfig"] == "yaml/kubeconfig.yaml"
    assert seed["manifest_files"] == ["yaml/app.yaml"]
    assert seed["steps"] == ["source", "kubernetes"]
    assert "namespace" not in seed["settings"]


def test_constructed_options_and_host_prefix(gitops_repo, tmp_path):
    work, _head = gitops_repo
    config = write_config(tmp_path / "c.environments.yaml", path=str(work), host_prefix="shop-", group="gitops",
                          keyed_groups=[{"key": "trident_environment.manifests_kind", "prefix": "kind"}],
                          groups={"with_terraform": "'terraform' in trident_environment.steps"},
                          compose={"env_label": "trident_environment.name | upper"})
    data = inventory(config)
    assert sorted(data["gitops"]["hosts"]) == ["shop-k3s", "shop-prod-eu", "shop-staging"]
    assert data["with_terraform"]["hosts"] == ["shop-prod-eu"]
    assert data["kind_kustomize"]["hosts"] == ["shop-prod-eu"]
    assert sorted(data["kind_files"]["hosts"]) == ["shop-k3s", "shop-staging"]
    assert data["_meta"]["hostvars"]["shop-k3s"]["env_label"] == "K3S"


def test_fetch_over_git_protocol_by_branch_and_by_commit(git_server, gitops_repo, tmp_path):
    _work, head = gitops_repo
    cache = tmp_path / "cache"
    for version in ("main", head):
        config = write_config(tmp_path / "remote.environments.yml", repo=git_server.git_url("gitops"),
                              version=version, cache_dir=str(cache))
        hostvars = inventory(config)["_meta"]["hostvars"]
        assert sorted(hostvars) == ["k3s", "prod-eu", "staging"]
        repository = hostvars["staging"]["trident_environment"]["repository"]
        assert repository["commit"] == head
        assert repository["version"] == version
        assert repository["url"] == git_server.git_url("gitops")
        assert repository["path"].startswith(str(cache))


def test_fetch_over_http_never_shows_or_stores_the_password(git_server, gitops_repo, tmp_path):
    cache = tmp_path / "cache"
    url = git_server.http_url("gitops", with_credentials=True)
    data = inventory(write_config(tmp_path / "http.environments.yml", repo=url, version="main",
                                  cache_dir=str(cache)), "-vvvv")
    assert data["_meta"]["hostvars"]["k3s"]["trident_environment"]["repository"]["url"] == git_server.http_url("gitops")
    stored = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    assert git_server.password.encode() not in stored, "the token must not land in the cache (.git/config)"

    wrong = write_config(tmp_path / "bad.environments.yml", repo=url, version="no-such-branch",
                         cache_dir=str(cache))
    proc = inventory(wrong, "-vvvv", check=False)
    assert proc.returncode != 0
    assert "cannot fetch no-such-branch of " + git_server.http_url("gitops") in proc.stderr
    assert git_server.password not in proc.stderr + proc.stdout


def test_failed_fetch_keeps_the_previous_checkout(git_server, tmp_path):
    _work, head = push_repo(git_server, tmp_path, "moving", {"environments/one/yaml/a.yaml": APP})
    cache = tmp_path / "cache"
    config = write_config(tmp_path / "m.environments.yml", repo=git_server.git_url("moving"), version="main",
                          cache_dir=str(cache))
    assert inventory(config)["_meta"]["hostvars"]["one"]["trident_environment"]["repository"]["commit"] == head
    (git_server.root / "moving.git").rename(git_server.root / "moved.git")
    try:
        proc = inventory(config, check=False)
        assert proc.returncode != 0 and "cannot fetch main of" in proc.stderr
        checkouts = [p for p in cache.iterdir() if p.is_dir()]
        assert len(checkouts) == 1 and (checkouts[0] / "environments" / "one" / "yaml" / "a.yaml").exists()
    finally:
        (git_server.root / "moved.git").rename(git_server.root / "moving.git")


def test_invalid_env_yml_makes_a_failing_host_naming_the_file_and_key(tmp_path):
    for name in ("broken", "fine"):
        (tmp_path / "environments" / name).mkdir(parents=True)
    (tmp_path / "environments" / "broken" / "env.yml").write_text("prune: sometimes\n")
    proc = inventory(write_config(tmp_path / "x.environments.yml", path="."), check=False)
    message = "environment broken: environments/broken/env.yml: key 'prune' must be a boolean, got str"
    assert message in proc.stderr
    hostvars = plain(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert hostvars["broken"]["trident_environment"]["error"] == message
    assert hostvars["fine"]["trident_environment"]["error"] is None


def test_a_tag_named_like_an_environment_is_refused(tmp_path):
    for name, tags in (("web", []), ("db", ["web"])):
        (tmp_path / "environments" / name).mkdir(parents=True)
        (tmp_path / "environments" / name / "env.yml").write_text(yaml.safe_dump({"tags": tags}))
    proc = inventory(write_config(tmp_path / "x.environments.yml", path="."), check=False)
    assert proc.returncode != 0 and "environment db: tag 'web' is also a host name" in proc.stderr


def test_path_and_repo_are_exclusive(tmp_path):
    proc = inventory(write_config(tmp_path / "x.environments.yml", path=".", repo="git://x/y.git"), check=False)
    assert proc.returncode != 0 and "set exactly one of 'path'" in proc.stderr


def test_playbook_runs_each_environment_locally_with_the_controller_python(gitops_repo, tmp_path):
    work, _head = gitops_repo
    config = write_config(tmp_path / "run.environments.yml", path=str(work))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "probe", "hosts": "environments", "gather_facts": False,
                                         "tasks": [{"name": "where", "changed_when": False,
                                                    "ansible.builtin.command": "{{ ansible_python_interpreter }} -c "
                                                                               "'import sys; print(sys.executable)'"}]}]))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}
    proc = subprocess.run(["ansible-playbook", "-i", str(config), str(playbook)], env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    hosts = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
    assert sorted(hosts) == ["k3s", "prod-eu", "staging"]
    for result in hosts.values():  # pytest and ansible-playbook run in the same virtualenv
        assert os.path.realpath(result["stdout"]) == os.path.realpath(sys.executable)


@pytest.mark.parametrize("given", ["options", "environment"])
def test_one_set_of_git_credentials_serves_the_inventory_and_the_source_role(git_server, gitops_repo, tmp_path, given):
    """Credentials given once (inventory options, or TRIDENT_GIT_*) reach the source role's fetch too."""
    _work, head = gitops_repo
    credentials = {"username": git_server.username, "password": git_server.password}
    options = credentials if given == "options" else {}
    config = write_config(tmp_path / "creds.environments.yml", repo=git_server.http_url("gitops"), version="main",
                          cache_dir=str(tmp_path / "cache"), **options)
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
           "ANSIBLE_INVENTORY_ENABLED": "trident.gitops.environments"}
    for name in ("TRIDENT_GIT_USERNAME", "TRIDENT_GIT_PASSWORD", "TRIDENT_GIT_TOKEN"):
        env.pop(name, None)
    if given == "environment":
        env.update(TRIDENT_GIT_USERNAME=git_server.username, TRIDENT_GIT_PASSWORD=git_server.password)
    extra = {"reconcile_steps": ["source"], "source_dest": str(tmp_path / "checkout"),
             "reconcile_lock_dir": str(tmp_path / "locks")}
    proc = subprocess.run(["ansible-playbook", "-i", str(config), "trident.gitops.reconcile", "-e", json.dumps(extra)],
                          env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert git("rev-parse", "HEAD", cwd=tmp_path / "checkout") == head
    assert git_server.password not in proc.stdout + proc.stderr
