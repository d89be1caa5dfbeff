"""The fields of a Kubernetes object that hold secret values are masked whole in every version of it that is
shown (desired, live, dry-run result): before and after, found by identity in keyed lists, and a Secret's
values always; a SOPS manifest's encrypted fields are those masked."""

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import ANY, Item, is_mask, mask
from ansible_collections.trident.gitops.plugins.module_utils.kube import compare
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import encrypted_paths
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import (field_paths, masked,
                                                                                  masked_fields, with_placeholders)
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import Item as PlanItem
from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import _decide


def deployment(env, args):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": env, "args": args}]}}}}


DESIRED = deployment([{"name": "MODE", "value": "fast"}, {"name": "DB_URL", "value": "postgres://app:new@db"}],
                     ["--verbose", "--password=new"])
# Live keeps the old secret, in another order, with the list of arguments in another order too.
LIVE = deployment([{"name": "DB_URL", "value": "postgres://app:old@db"}, {"name": "MODE", "value": "fast"}],
                  ["--password=old", "--verbose"])
CONCRETE = [("spec", "template", "spec", "containers", 0, "env", 1, "value"),
            ("spec", "template", "spec", "containers", 0, "args", 1)]


def test_paths_name_keyed_list_items_by_identity_and_other_lists_whole():
    paths = field_paths(DESIRED, CONCRETE)
    container = Item([("name", "web")])
    assert set(paths) == {("spec", "template", "spec", "containers", container, "env", Item([("name", "DB_URL")]),
                           "value"),
                          ("spec", "template", "spec", "containers", container, "args", ANY)}


def test_the_old_and_the_new_value_are_masked_wherever_they_stand():
    paths = field_paths(DESIRED, CONCRETE)
    for version, secret in ((DESIRED, "new"), (LIVE, "old")):
        shown = masked(version, paths)
        text = repr(shown)
        assert secret not in text and "fast" in text and "apps/v1" in text
        container = shown["spec"]["template"]["spec"]["containers"][0]
        assert {e["name"]: is_mask(e["value"]) for e in container["env"]} == {"MODE": False, "DB_URL": True}
        assert all(is_mask(arg) for arg in container["args"]), "an unkeyed list may be reordered: all masked"
    assert DESIRED["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == "postgres://app:new@db", \
        "masking copies"


def test_a_rotated_field_shows_as_changed_without_either_value():
    from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import key_of
    item = PlanItem(key=key_of(DESIRED), resource=None, desired=DESIRED, live=LIVE, masked=field_paths(DESIRED, CONCRETE))
    item.after = DESIRED
    _decide(item, [])
    assert item.action == "update"
    assert "spec.template.spec.containers[name=web].env[name=DB_URL].value" in item.fields
    text = repr(item.changes)
    assert "old" not in text and "new" not in text
    by_path = {path: (before, after) for path, before, after in item.changes}
    before, after = by_path["spec.template.spec.containers[name=web].env[name=DB_URL].value"]
    assert is_mask(before) and is_mask(after) and before != after


def test_a_secrets_values_are_always_masked_and_its_keys_shown():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "data": {"password": "YXBw"}, "stringData": {"user": "app"}}
    assert set(masked_fields(secret)) == {("data", ANY), ("stringData", ANY)}
    shown = masked(secret)
    assert shown["data"] == {"password": mask("YXBw")} and shown["stringData"] == {"user": mask("app")}
    assert shown["apiVersion"] == "v1", "no rewriting of unrelated text"
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"}, "data": {"user": "app"}}
    assert masked(config_map) == config_map, "a ConfigMap's fields are masked only where a secret reaches them"


def test_placeholders_stand_in_for_the_masked_values_only():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "YXBw"}}
    stand_in = with_placeholders(secret)
    assert stand_in["data"]["password"] != "YXBw" and stand_in["metadata"] == {"name": "db"}
    import base64
    assert base64.b64decode(stand_in["data"]["password"]).decode().startswith("trdntmask"), "still base64"
    shadow = with_placeholders(DESIRED, field_paths(DESIRED, CONCRETE))
    env = shadow["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "MODE", "value": "fast"} and env[1]["value"].startswith("trdntmask")


def test_the_encrypted_fields_of_a_sops_manifest_are_the_masked_ones():
    encrypted = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                  "data": {"url": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]", "mode": "fast"},
                  "sops": {"mac": "ENC[...]"}}]
    decrypted = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                  "data": {"url": "postgres://app", "mode": "fast"}}]
    assert encrypted_paths(encrypted, decrypted) == [(("data", "url"),)]
    everything = encrypted_paths(encrypted + encrypted, decrypted)
    assert set(everything[0]) >= {("data", "url"), ("data", "mode"), ("apiVersion",)}, \
        "documents that do not pair up: every value is masked"


def test_compare_names_keyed_items_as_masks_find_them():
    before, after = masked(LIVE, field_paths(DESIRED, CONCRETE)), masked(DESIRED, field_paths(DESIRED, CONCRETE))
    paths = compare.changed_paths(before, after)
    assert "spec.template.spec.containers[name=web].env[name=DB_URL].value" in paths


class Refusing:
    """An API server that refuses any body quoting ``refused`` (as a validation message quotes the value), and any
    body with a ``bad`` label whatever its value."""

    def __init__(self, refused):
        self.refused = refused
        self.bodies = []

    def request(self, method, path, query=None, body=None, content_type=None):
        from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ApiError
        self.bodies.append(body)
        text = repr(body)
        if self.refused in text:
            raise ApiError(422, f'ConfigMap "db" is invalid: data.url: Invalid value: "{self.refused}"', "Invalid",
                           ["data.url"])
        if "bad" in (body.get("metadata") or {}).get("labels", {}):
            value = body["metadata"]["labels"]["bad"]
            raise ApiError(422, f'ConfigMap "db" is invalid: metadata.labels: Invalid value: "{value}"', "Invalid",
                           ["metadata.labels"])
        return body


def planned(client, obj, paths):
    from ansible_collections.trident.gitops.plugins.module_utils.kube.discovery import Resource
    from ansible_collections.trident.gitops.plugins.module_utils.kube.engine import Options
    from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import key_of
    from ansible_collections.trident.gitops.plugins.module_utils.kube.planner import Batch, dry_run, judge_locally
    item = PlanItem(key_of(obj), Resource("", "v1", "ConfigMap", "configmaps", True), obj, None, source="cm.yaml",
                    masked=field_paths(obj, paths))
    options = Options()
    problems = judge_locally([item], options, Batch(frozenset(), {}))  # no schema: the name only
    return problems[0] if problems else dry_run(client, item, options)


def test_a_refusal_that_may_quote_a_secret_is_told_from_placeholders():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db", "namespace": "apps"},
           "data": {"url": "postgres://app:v1@db", "mode": "fast"}}
    # Refused because of the secret value itself: the message is not shown, the status and fields are.
    problem = planned(Refusing("postgres://app:v1@db"), obj, [("data", "url")])
    assert "v1@db" not in problem and "refused with 422 Invalid (fields: data.url)" in problem
    assert "ConfigMap apps/db (cm.yaml)" in problem, "the object is named whole: no text rewritten around 'app'"
    # Refused for a field no secret reaches: the server's own message, from the object with placeholders.
    bad = {**obj, "metadata": {**obj["metadata"], "labels": {"bad": "not ok!"}}}
    client = Refusing("never")
    problem = planned(client, bad, [("data", "url")])
    assert 'metadata.labels: Invalid value: "not ok!"' in problem and "v1@db" not in problem
    assert [body["data"]["url"] for body in client.bodies][0] == "postgres://app:v1@db"
    assert client.bodies[1]["data"]["url"].startswith("trdntmask") and client.bodies[1]["data"]["mode"] == "fast"
    # Without masked fields the message is shown as the server gave it.
    assert 'Invalid value: "not ok!"' in planned(Refusing("never"), bad, [])
