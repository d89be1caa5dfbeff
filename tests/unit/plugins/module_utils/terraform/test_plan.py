import json

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import MASK_PREFIX, mask
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import is_mask
from ansible_collections.trident.gitops.plugins.module_utils.terraform.plan import (
    UNKNOWN, Plan, PlanSummary, ResourceChange, Secrets, mask_outputs, parse_plan, render)

SECRET = "s3cr3t-value"
BASE = """
variable "password" {
  type      = string
  sensitive = true
  default   = "%s"
}
resource "terraform_data" "app" {
  input = { name = "app", password = var.password }
}
resource "terraform_data" "keep" {
  input = "unchanged"
}
resource "terraform_data" "gone" {
  input = "to be removed"
}
output "password" {
  value     = var.password
  sensitive = true
}
output "name" { value = terraform_data.app.output.name }
""" % SECRET


def test_create_plan_counts_masks_and_marks_unknowns(real_plans):
    plan = parse_plan(real_plans.plan(BASE))
    assert plan.summary == PlanSummary(add=3)
    assert plan.has_changes and plan.destructive == ()
    assert [change.to_dict() for change in plan.resource_changes] == [
        {"address": "terraform_data.app", "action": "create", "actions": ["create"]},
        {"address": "terraform_data.gone", "action": "create", "actions": ["create"]},
        {"address": "terraform_data.keep", "action": "create", "actions": ["create"]}]
    app = plan.resource_changes[0]
    assert app.after["input"]["name"] == "app"
    assert app.after["input"]["password"].startswith(MASK_PREFIX)
    assert app.after["id"] == UNKNOWN and app.before is None
    assert plan.outputs["password"].startswith(MASK_PREFIX) and plan.outputs["name"] == UNKNOWN
    assert set(plan.output_changes) == {"password", "name"}
    assert SECRET not in json.dumps([c.to_diff() for c in plan.resource_changes]) + json.dumps(plan.outputs)


def test_update_delete_and_replace_are_told_apart(real_plans):
    real_plans.apply(BASE)
    assert not parse_plan(real_plans.plan(BASE)).has_changes, "a no-op plan has no changes"

    changed = BASE.replace('"unchanged"', '"changed"')
    changed = changed[:changed.index('resource "terraform_data" "gone"')] + changed[changed.index('output "password"'):]
    changed = changed.replace('input = { name = "app"', 'triggers_replace = "v2"\n  input = { name = "app"')
    plan = parse_plan(real_plans.plan(changed))
    actions = {change.address: change.actions for change in plan.resource_changes}
    assert actions == {"terraform_data.app": ("delete", "create"), "terraform_data.keep": ("update",),
                       "terraform_data.gone": ("delete",)}
    assert plan.summary == PlanSummary(change=1, destroy=1, replace=1)
    assert sorted(change.address for change in plan.destructive) == ["terraform_data.app", "terraform_data.gone"]
    keep = next(change for change in plan.resource_changes if change.address == "terraform_data.keep")
    assert keep.to_diff()["before"]["input"] == "unchanged" and keep.to_diff()["after"]["input"] == "changed"
    gone = next(change for change in plan.resource_changes if change.address == "terraform_data.gone")
    assert gone.to_diff()["after"] == {}


def test_destroy_plan_deletes_everything(real_plans):
    real_plans.apply(BASE)
    plan = parse_plan(real_plans.plan(BASE, "-destroy"))
    assert plan.summary == PlanSummary(destroy=3) and len(plan.destructive) == 3


def test_output_only_change_is_a_change(real_plans):
    real_plans.apply(BASE)
    plan = parse_plan(real_plans.plan(BASE + 'output "extra" { value = "new" }\n'))
    assert plan.resource_changes == () and plan.output_changes == {"extra": ["create"]}
    assert plan.has_changes and plan.summary == PlanSummary()


def test_refresh_only_plan_reports_drift(real_plans, tmp_path):
    target = tmp_path / "managed.txt"
    config = ('terraform {\n  required_providers {\n    local = { source = "hashicorp/local" }\n  }\n}\n'
              f'resource "local_file" "f" {{\n  filename = "{target}"\n  content = "from git"\n}}\n')
    real_plans.apply(config)
    assert parse_plan(real_plans.plan(config, "-refresh-only")).resource_drift == ()
    target.write_text("edited by hand")
    plan = parse_plan(real_plans.plan(config, "-refresh-only"))
    assert [change.to_dict() for change in plan.resource_drift] == [
        {"address": "local_file.f", "action": "delete", "actions": ["delete"]}]
    assert plan.resource_changes == (), "a refresh-only plan changes no resource"
    assert plan.resource_drift[0].before["content"] == "from git"


def test_render_masks_nested_parts_and_keeps_the_shape():
    value = {"user": "admin", "keys": ["a", "b"], "nested": {"token": "t"}}
    rendered = render(value, {"keys": [False, True], "nested": {"token": True}}, {"later": True})
    assert rendered == {"user": "admin", "keys": ["a", mask("b")], "nested": {"token": mask("t")}, "later": UNKNOWN}
    assert render(value, True) == {"user": mask("admin"), "keys": [mask("a"), mask("b")],
                                   "nested": {"token": mask("t")}}
    assert render(None, False, True) == UNKNOWN and render(None) is None


def test_mask_outputs_masks_sensitive_and_marks_unknown():
    assert mask_outputs({"a": {"value": 1, "sensitive": False}, "b": {"value": "x", "sensitive": True},
                         "c": {"sensitive": False}}) == {"a": 1, "b": mask("x"), "c": UNKNOWN}
    assert mask_outputs(None) == {}


def test_an_empty_plan_has_no_changes():
    assert not Plan().has_changes and Plan().summary == PlanSummary()
    forget = ResourceChange("terraform_data.x", ("forget",))
    assert Plan(resource_changes=(forget,)).has_changes and not forget.destructive


def test_replace_paths_reach_the_result():
    document = {"resource_changes": [{"address": "aws_instance.web", "action_reason": "replace_because_cannot_update",
                                      "change": {"actions": ["delete", "create"], "before": {"ami": "a"},
                                                 "after": {"ami": "b"}, "replace_paths": [["ami"]]}}]}
    [change] = parse_plan(document).resource_changes
    assert change.to_dict() == {"address": "aws_instance.web", "action": "replace", "actions": ["delete", "create"],
                                "action_reason": "replace_because_cannot_update", "replace_paths": [["ami"]]}
    assert change.to_diff()["before_header"] == "aws_instance.web (replace)"


UNMARKED = """
variable "password" { type = string }
variable "region" { type = string }
locals { url = "postgres://app:${var.password}@db:5432/app" }
resource "terraform_data" "db" {
  input = { url = local.url, region = var.region }
}
resource "terraform_data" "hashed" {
  input = sha256(var.password)
}
resource "terraform_data" "plain" {
  input = "apps/v1 ${var.region}"
}
output "echo" { value = var.password }
output "url" { value = local.url }
output "digest" { value = terraform_data.hashed.input }
output "region" { value = var.region }
output "kind" { value = "apps/v1" }
"""


def test_what_a_secret_variable_reaches_is_masked_whole_without_sensitive_marks(real_plans):
    for secret in ("Rotated-S3cret", "app", "a"):
        secrets = Secrets.of({"password": secret})
        plan = parse_plan(real_plans.plan(UNMARKED, variables={"password": secret, "region": "eu"}), secrets)
        outputs = plan.outputs
        # A copy (directly or through a local) and a derived value (a hash, through a resource) are masked.
        assert all(is_mask(outputs[name]) for name in ("echo", "url", "digest")), (secret, outputs)
        assert {"echo", "url", "digest"} <= plan.masked_outputs
        changes = {change.address: change for change in plan.resource_changes}
        assert is_mask(changes["terraform_data.db"].after["input"])
        assert is_mask(changes["terraform_data.hashed"].after["input"])
        text = json.dumps([c.to_diff() for c in plan.resource_changes]) + json.dumps(outputs)
        assert f"app:{secret}@" not in text
        if len(secret) > 3:
            # What no secret reaches stays as it is: nothing is rewritten around a value.
            assert outputs["region"] == "eu" and outputs["kind"] == "apps/v1"
            assert changes["terraform_data.plain"].after["input"] == "apps/v1 eu"
            assert secret not in text


def test_a_rotated_secret_masks_the_old_value_and_the_new_one(real_plans):
    real_plans.apply(UNMARKED, variables={"password": "Old-S3cret-1", "region": "eu"})
    document = real_plans.plan(UNMARKED, variables={"password": "New-S3cret-2", "region": "eu"})
    plan = parse_plan(document, Secrets.of({"password": "New-S3cret-2"}))
    changes = {change.address: change for change in plan.resource_changes}
    db = changes["terraform_data.db"]
    assert is_mask(db.before["input"]) and is_mask(db.after["input"]) and db.before["input"] != db.after["input"]
    text = json.dumps([c.to_diff() for c in plan.resource_changes]) + json.dumps(plan.outputs)
    assert "Old-S3cret-1" not in text and "New-S3cret-2" not in text


def test_state_outputs_are_masked_by_name_and_by_value():
    outputs = {"echo": {"value": "Secret-12345", "sensitive": False}, "url": {"value": "x", "sensitive": False},
               "region": {"value": "eu", "sensitive": False}}
    shown = mask_outputs(outputs, Secrets.of({"password": "Secret-12345"}), masked={"url"})
    assert is_mask(shown["echo"]) and is_mask(shown["url"]) and shown["region"] == "eu"


def test_each_change_is_named_as_a_reader_says_it():
    named = {actions: ResourceChange("x.y", actions).action for actions in [
        ("create",), ("update",), ("delete",), ("delete", "create"), ("create", "delete"), ("read",), ("forget",)]}
    assert named == {("create",): "create", ("update",): "update", ("delete",): "delete",
                     ("delete", "create"): "replace", ("create", "delete"): "replace", ("read",): "read",
                     ("forget",): "forget"}
