"""The destroy guard's decision, its two wordings (check mode, apply) and the record of unfinished creates."""

from ansible_collections.trident.gitops.plugins.module_utils.terraform import guard
from ansible_collections.trident.gitops.plugins.module_utils.terraform.plan import Plan, ResourceChange

MOTD = ResourceChange("local_file.motd", ("delete", "create"), reason="replace_because_cannot_update",
                      replace_paths=(("content",),))
OLD = ResourceChange("local_file.old", ("delete",), reason="delete_because_no_resource_config")
SLOW = ResourceChange("terraform_data.slow", ("delete", "create"), reason="replace_because_tainted")
NEW = ResourceChange("terraform_data.new", ("create",))
UPDATED = ResourceChange("terraform_data.app", ("update",))
PLAN = Plan(resource_changes=(NEW, MOTD, UPDATED, OLD, SLOW))


def test_every_delete_and_replace_is_refused_without_allow_destroy():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=())
    assert verdict.refuses and verdict.refused == ("local_file.motd", "local_file.old", "terraform_data.slow")
    assert verdict.unfinished == ()
    assert guard.judge(PLAN, allow_destroy=True, unfinished=()).refused == ()
    assert not guard.judge(Plan(resource_changes=(NEW, UPDATED)), allow_destroy=False, unfinished=()).refuses


def test_an_unfinished_create_of_this_module_is_replaced_and_nothing_else_is():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=("terraform_data.slow", "local_file.motd"))
    # local_file.motd was recorded too, but it is replaced because an argument changed, not because it is tainted.
    assert verdict.refused == ("local_file.motd", "local_file.old")
    assert verdict.unfinished == ("terraform_data.slow",)
    tainted_elsewhere = guard.judge(PLAN, allow_destroy=False, unfinished=("terraform_data.other",))
    assert "terraform_data.slow" in tainted_elsewhere.refused
    allowed = guard.judge(PLAN, allow_destroy=True, unfinished=("terraform_data.slow",))
    assert allowed.refused == () and allowed.unfinished == ("terraform_data.slow",)


def test_check_mode_says_what_would_be_refused_in_one_line():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=("terraform_data.slow",))
    assert guard.would_refuse(PLAN, verdict) == \
        "would be refused: replace local_file.motd, delete local_file.old (allow_destroy)"


def test_the_apply_refusal_names_each_action_and_reason():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=())
    message = guard.refusal(PLAN, verdict, "tofu", "/state")
    assert message.startswith("refusing to apply a plan that deletes or replaces 3 resource(s): ")
    assert "replace local_file.motd (delete/create: action_reason replace_because_cannot_update, a changed " \
           "argument forces a new resource)" in message
    assert "delete local_file.old (delete: action_reason delete_because_no_resource_config" in message
    assert "'tofu untaint terraform_data.slow'" in message and "/state" in message
    assert message.endswith("nothing was applied (set allow_destroy: true to allow it: allow_destroy: true in the "
                            "environment's env.yml, or the operator's variable terraform_allow_destroy)")


def test_the_apply_refusal_names_the_env_yml_of_its_folder():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=())
    message = guard.refusal(PLAN, verdict, "tofu", "/state", "environments/prod")
    assert message.endswith("(set allow_destroy: true to allow it: allow_destroy: true in environments/prod/env.yml, "
                            "or the operator's variable terraform_allow_destroy)")


def test_changes_are_marked_with_the_verdict():
    verdict = guard.judge(PLAN, allow_destroy=False, unfinished=("terraform_data.slow",))
    marked = {change.address: change.to_dict(verdict) for change in PLAN.resource_changes}
    assert marked["local_file.motd"] == {"address": "local_file.motd", "action": "replace",
                                         "actions": ["delete", "create"],
                                         "action_reason": "replace_because_cannot_update",
                                         "replace_paths": [["content"]], "refused": True}
    assert marked["terraform_data.slow"]["unfinished_create"] is True and "refused" not in marked["terraform_data.slow"]
    assert marked["terraform_data.new"] == {"address": "terraform_data.new", "action": "create", "actions": ["create"]}
    assert marked["terraform_data.app"]["action"] == "update"


def test_creates_include_the_create_of_a_replace():
    assert guard.creates(PLAN) == ("terraform_data.new", "local_file.motd", "terraform_data.slow")


def test_unfinished_creates_are_recorded_per_workspace(tmp_path):
    state_dir = str(tmp_path)
    assert guard.read_unfinished(state_dir, "default") == ()
    guard.write_unfinished(state_dir, "default", ["b", "a", "b"])
    guard.write_unfinished(state_dir, "qa", ["c"])
    assert guard.read_unfinished(state_dir, "default") == ("a", "b")
    assert (tmp_path / guard.UNFINISHED_FILE).stat().st_mode & 0o777 == 0o600
    guard.write_unfinished(state_dir, "default", [])
    assert guard.read_unfinished(state_dir, "default") == () and guard.read_unfinished(state_dir, "qa") == ("c",)
    guard.write_unfinished(state_dir, "qa", [])
    assert not (tmp_path / guard.UNFINISHED_FILE).exists()
    (tmp_path / guard.UNFINISHED_FILE).write_text('{"default": "not a list"}')
    assert guard.read_unfinished(state_dir, "default") == ()
