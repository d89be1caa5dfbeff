"""All or nothing, including the namespaces a batch creates (issue 25), on a real kube-apiserver.

Two findings, in the repository layout the roles use (a Git checkout, files under environments/<env>/):
- the seed's literal Secret (``username: eGlhb21hZ2UK=``, not base64) in a namespace the same commit creates passed
  the preview, and the apply wrote the Namespace and the ApplySet parent before the Secret failed: the served
  schema says ``format: byte``, so the preview, the plan and the apply refuse it before anything is written;
- a Deployment whose selector does not match its template (only the server judges that) next to a good ConfigMap
  in a namespace the batch creates: the Namespace and the ConfigMap were created, then the apply failed. The plan
  (``prepare_namespaces``) and the apply now create the namespace first, dry-run everything in it, and delete it
  again; the preview (check mode, which writes nothing) reports those objects as checked by the schema only.
Every message names the file relative to the repository (which names the environment) and the object.
"""

import subprocess

import pytest
import yaml

from kube_support import config_map, deployment, get, kube_diff, namespace, unique
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.newnamespaces import ANNOTATION

SEED_SECRET_VALUE = "eGlhb21hZ2UK="  # the article's literal value: 13 characters, not base64


def checkout(tmp_path, env, objects):
    """A Git checkout holding environments/<env>/yaml/all.yaml; returns the file's path."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    manifest = repo / "environments" / env / "yaml" / "all.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    return manifest


def run(control_plane, tmp_path, manifest, ns, **params):
    return kube_diff(control_plane, tmp_path, None, src=[str(manifest)], namespace=ns,
                     applyset={"name": f"trident-{ns}", "namespace": ns}, **params)


def refused(control_plane, tmp_path, manifest, ns, **params):
    with pytest.raises(TridentError) as failure:
        run(control_plane, tmp_path, manifest, ns, **params)
    return failure.value


def nothing_written(control_plane, ns, objects=(("configmap", "settings"), ("deployment", "web"),
                                                ("secret", "db-user"))):
    for kind, name in objects:
        assert get(control_plane, kind, name, ns) is None, (kind, name)
    assert get(control_plane, "secret", f"trident-{ns}", ns) is None, "no ApplySet parent"


def seed_secret(ns):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-user", "namespace": ns},
            "type": "Opaque", "data": {"username": SEED_SECRET_VALUE}}


def test_the_seed_secret_in_a_new_namespace_is_refused_before_anything_is_written(control_plane, tmp_path):
    ns = unique("seed")
    env = ns
    manifest = checkout(tmp_path, env, [namespace(ns), config_map("settings", {"k": "v"}, namespace=ns),
                                        seed_secret(ns)])
    for mode in ({"check_mode": True}, {"prepare_namespaces": True}, {"apply": True}):
        error = refused(control_plane, tmp_path, manifest, ns, **mode)
        assert f"Secret {ns}/db-user (environments/{env}/yaml/all.yaml#2): .data.username: is not valid base64" \
               in error.message, (mode, error.message)
        assert "nothing was changed" in error.message
        assert SEED_SECRET_VALUE not in str(error.message) + str(error.details)
        # Judged by the schema before any write: not even the namespace was created for a dry-run.
        assert get(control_plane, "namespace", ns) is None, mode
        nothing_written(control_plane, ns)


def half_applied_batch(tmp_path):
    """A new namespace, a good ConfigMap in it and a Deployment only the server refuses: its selector says
    app=web, its template's labels app=other. Returns (namespace, environment, manifest)."""
    ns = unique("half")
    web = deployment("web")
    web["metadata"]["namespace"] = ns
    web["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    return ns, ns, checkout(tmp_path / ns, ns, [namespace(ns), config_map("settings", {"k": "v"}, namespace=ns), web])


def test_a_deployment_only_the_server_refuses_in_a_new_namespace(control_plane, tmp_path):
    ns, env, manifest = half_applied_batch(tmp_path)

    # The preview writes nothing: the objects in the namespace to come are checked by their schema, reported as
    # to be created and not judged by the server yet, never as in sync.
    preview = run(control_plane, tmp_path, manifest, ns, check_mode=True)
    entries = {(d["kind"], d["name"]): d for d in preview["drift"]}
    assert entries[("Namespace", ns)]["checked_by"] == "dry-run"
    for key in (("ConfigMap", "settings"), ("Deployment", "web")):
        assert entries[key]["action"] == "create" and entries[key]["checked_by"] == "schema", entries[key]
        assert entries[key]["pending"].startswith(f"namespace {ns} does not exist yet (this batch creates it)")
    assert preview["summary"]["pending"] == 2 and preview["changed"] is True
    assert preview["namespaces_created"] == []
    assert get(control_plane, "namespace", ns) is None

    # The plan before any step applies (the reconcile role's kube_diff without apply), and the apply itself:
    # the namespace is created for the dry-runs, the Deployment refused, the namespace deleted again.
    for mode in ({"prepare_namespaces": True}, {"apply": True}):
        # A namespace of its own each time: the bare control plane never finishes deleting one.
        ns, env, manifest = half_applied_batch(tmp_path)
        error = refused(control_plane, tmp_path, manifest, ns, **mode)
        assert f"Deployment.apps {ns}/web (environments/{env}/yaml/all.yaml#2): " in error.message, error.message
        assert "selector" in error.message and "does not match template" in error.message
        assert f"nothing was applied; the namespace(s) {ns}, created only to dry-run the objects in them" \
               in error.message
        assert error.details["namespaces_created"] == [ns] and "ConfigMap" not in error.message
        deleted_again(control_plane, ns)
        nothing_written(control_plane, ns)


def deleted_again(control_plane, ns):
    """The namespace created for the dry-runs is gone, or being deleted and empty (the bare control plane has
    no namespace controller to finish the deletion)."""
    found = get(control_plane, "namespace", ns)
    if found is not None:
        assert found["metadata"].get("deletionTimestamp"), found["metadata"]
        assert ANNOTATION in found["metadata"]["annotations"]


def test_an_accepted_plan_keeps_the_namespace_for_the_apply(control_plane, tmp_path):
    ns = unique("kept")
    env = ns
    web = deployment("web")
    web["metadata"]["namespace"] = ns
    manifest = checkout(tmp_path, env, [namespace(ns), config_map("settings", {"k": "v"}, namespace=ns), web])

    plan = run(control_plane, tmp_path, manifest, ns, prepare_namespaces=True)
    assert plan["namespaces_created"] == [ns] and plan["summary"]["pending"] == 0
    assert {d["checked_by"] for d in plan["drift"]} == {"dry-run"}
    assert plan["summary"]["create"] == 3
    live = get(control_plane, "namespace", ns)
    assert ANNOTATION in live["metadata"]["annotations"], "recognisably created for this run's dry-runs"
    nothing_written(control_plane, ns)

    # A plan run again sees the prepared namespace as still to be created, not as an update.
    again = run(control_plane, tmp_path, manifest, ns, check_mode=True)
    assert {(d["kind"], d["action"]) for d in again["drift"]} == {("Namespace", "create"), ("ConfigMap", "create"),
                                                                  ("Deployment", "create")}

    applied = run(control_plane, tmp_path, manifest, ns, apply=True)
    assert applied["namespaces_created"] == []
    assert ANNOTATION not in (get(control_plane, "namespace", ns)["metadata"].get("annotations") or {})
    assert get(control_plane, "deployment", "web", ns) is not None
    assert run(control_plane, tmp_path, manifest, ns, check_mode=True)["changed"] is False
