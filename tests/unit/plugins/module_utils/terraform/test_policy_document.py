"""plan.policy_document: Terraform's show -json as a policy reads it, every secret value masked where it stands."""

import json

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import is_mask
from ansible_collections.trident.gitops.plugins.module_utils.terraform.plan import Secrets, parse_plan, policy_document

SECRET, SENSITIVE = "s3cr3t-from-sops-value", "marked-sensitive-value"


def document():
    resource = {"address": "terraform_data.db", "mode": "managed", "type": "terraform_data", "name": "db",
                "change": {"actions": ["create"], "before": None,
                           "after": {"input": SECRET, "triggers_replace": SENSITIVE, "plain": "visible"},
                           "after_unknown": {"id": True}, "before_sensitive": False,
                           "after_sensitive": {"triggers_replace": True}}}
    values = {"address": "terraform_data.db", "type": "terraform_data", "name": "db",
              "values": {"input": SECRET, "triggers_replace": SENSITIVE, "plain": "visible"},
              "sensitive_values": {"triggers_replace": True}}
    return {
        "format_version": "1.2", "terraform_version": "1.11.4", "future_key": {"x": SECRET},
        "variables": {"password": {"value": SECRET}, "token": {"value": SENSITIVE}, "region": {"value": "eu"}},
        "resource_changes": [resource],
        "output_changes": {"out": {"actions": ["create"], "before": None, "after": SECRET, "after_sensitive": False}},
        "planned_values": {"outputs": {"out": {"sensitive": False, "value": SECRET}},
                           "root_module": {"resources": [values]}},
        "configuration": {"root_module": {"variables": {"token": {"sensitive": True}, "password": {}},
                                          "resources": [{"address": "terraform_data.db",
                                                         "expressions": {"input": {"references": ["var.password"]}}}]}},
    }


def test_secret_and_sensitive_values_are_masked_and_the_shape_stays():
    shown = policy_document(document(), Secrets.of({"password": SECRET}))
    text = json.dumps(shown)
    assert SECRET not in text and SENSITIVE not in text
    assert "future_key" not in shown
    [change] = shown["resource_changes"]
    assert (change["type"], change["change"]["actions"], change["change"]["after"]["plain"]) == (
        "terraform_data", ["create"], "visible")
    assert is_mask(change["change"]["after"]["input"]) and is_mask(change["change"]["after"]["triggers_replace"])
    assert "id" not in change["change"]["after"], "unknown values stay absent, as in Terraform's document"
    assert shown["variables"]["region"] == {"value": "eu"}
    assert is_mask(shown["variables"]["password"]["value"]) and is_mask(shown["variables"]["token"]["value"])
    resource = shown["planned_values"]["root_module"]["resources"][0]
    assert resource["values"]["plain"] == "visible" and is_mask(resource["values"]["input"])
    assert is_mask(shown["planned_values"]["outputs"]["out"]["value"])


def test_without_secrets_only_what_terraform_marks_sensitive_is_masked():
    shown = policy_document(document())
    after = shown["resource_changes"][0]["change"]["after"]
    assert after["input"] == SECRET and is_mask(after["triggers_replace"])


def test_the_plan_and_the_policy_input_mask_the_same_attributes():
    """Both read one rule (plan._masked_attributes): reached, holding a secret, or computed anew from a secret."""
    doc = document()
    doc["resource_changes"][0]["change"] = {
        "actions": ["update"], "before": {"input": "old-value", "id": "old-id", "plain": "visible", "other": "x"},
        "after": {"input": SECRET, "plain": "visible", "other": "x"}, "after_unknown": {"id": True},
        "before_sensitive": False, "after_sensitive": False}
    secrets = Secrets.of({"password": SECRET})
    [planned] = parse_plan(doc, secrets).resource_changes
    [policy] = policy_document(doc, secrets)["resource_changes"]

    def masked(values):
        return {name for name, value in (values or {}).items() if is_mask(value)}

    assert masked(planned.before) == masked(policy["change"]["before"]) == {"input", "id"}
    assert masked(planned.after) == masked(policy["change"]["after"]) == {"input"}
