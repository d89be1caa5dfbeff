"""Promotion across runs and controllers (issue 29): prod's gate reads staging's record and health from staging's
ApplySet parent, so ``promote_from`` works with ``--limit prod`` from a second controller (its own HOME, cache,
checkout copies and locks) that never ran staging. Real API server, real git, real ansible-playbook."""

import subprocess

import pytest
import yaml

from kube_support import client, unique
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
from testbed.gitops import isolated_vars, kubeconfig_text, run_gitops


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def story(tmp_path, control_plane):
    suffix = unique("p")[2:]
    names = {"staging": f"stg-{suffix}", "prod": f"prd-{suffix}"}
    repo = tmp_path / "repo"
    for env, name in names.items():
        folder = repo / "environments" / name
        (folder / "yaml").mkdir(parents=True)
        (folder / "kubeconfig.yaml").write_text(kubeconfig_text(control_plane))
        settings = {"namespace": "default", **({"promote_from": names["staging"]} if env == "prod" else {})}
        (folder / "env.yml").write_text(yaml.safe_dump(settings))
    (repo / "gitops.environments.yml").write_text("plugin: trident.gitops.environments\npath: .\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    return {"repo": repo, "names": names, "root": tmp_path, "plane": control_plane}


def commit(story, label, staging_extra=()):
    for env, name in story["names"].items():
        objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
                    "data": {"release": label}}, *(staging_extra if env == "staging" else ())]
        (story["repo"] / "environments" / name / "yaml" / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    git(story["repo"], "add", "-A")
    git(story["repo"], "commit", "-q", "-m", label)
    return git(story["repo"], "rev-parse", "HEAD")


def run(story, controller, env):
    work = story["root"] / controller
    (work / "home").mkdir(parents=True, exist_ok=True)
    result = run_gitops("reconcile", story["repo"] / "gitops.environments.yml", work,
                        extra_vars=isolated_vars(work), env={"HOME": str(work / "home")},
                        args=("--limit", story["names"][env]))
    assert result.rc == 0, result.explain()
    return result


def release(story, env):
    name = story["names"][env]
    try:
        return client(story["plane"]).request("GET", f"/api/v1/namespaces/default/configmaps/{name}")["data"]["release"]
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def held(result, story):
    return result.items(story["names"]["prod"], "promotion")


def test_prod_with_limit_on_another_controller_follows_staging_once_healthy(story):
    staging, prod = story["names"]["staging"], story["names"]["prod"]
    first = commit(story, "v1")
    # Controller B first: staging runs nothing yet, so prod deploys nothing and says why.
    early = run(story, "b", "prod")
    assert release(story, "prod") is None
    assert held(early, story)[0]["reason"] == (f"waiting for {staging} to be Healthy at {first[:7]} ({staging} runs "
                                               f"nothing, Missing); {prod} stays at nothing deployed")
    # Controller A reconciles staging alone; B, which never ran staging, promotes prod from staging's record.
    run(story, "a", "staging")
    assert release(story, "staging") == "v1"
    promoted = run(story, "b", "prod")
    assert release(story, "prod") == "v1"
    assert held(promoted, story) == []
    assert promoted.report["environments"][prod]["revision"] == first

    # A new commit: staging has not run it, so prod stays where it is (staging's record says v1).
    second = commit(story, "v2")
    waiting = run(story, "b", "prod")
    assert release(story, "prod") == "v1"
    assert held(waiting, story)[0]["reason"] == (f"waiting for {staging} to be Healthy at {second[:7]} ({staging} runs "
                                                 f"{first[:7]}, Healthy); {prod} stays at {first[:7]}")

    # staging runs a commit that is not Healthy (a Deployment no controller rolls out on this API server): prod waits.
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": staging, "namespace": "default"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": staging}},
                           "template": {"metadata": {"labels": {"app": staging}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    third = commit(story, "v3", [deployment])
    run(story, "a", "staging")
    assert release(story, "staging") == "v3"
    stuck = run(story, "b", "prod")
    assert release(story, "prod") == "v1"
    reason = held(stuck, story)[0]["reason"]
    assert reason.startswith(f"waiting for {staging} to be Healthy at {third[:7]} ({staging} runs {third[:7]}, ")
    assert "Healthy)" not in reason
