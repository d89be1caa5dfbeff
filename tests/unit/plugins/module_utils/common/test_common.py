import os
import stat
import threading

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write, private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import (
    ANY, MASKED_ARGUMENT, Item, has_placeholder, is_mask, mask, mask_fields, mask_placeholders, mask_text,
    mask_tree, masked_arguments, placeholder, placeholder_like, text_secrets)


def test_atomic_write_reports_change_only_when_content_differs(tmp_path):
    target = tmp_path / "out"
    assert atomic_write(str(target), b"one") is True
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert atomic_write(str(target), b"one") is False
    assert atomic_write(str(target), b"two") is True
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary file may be left behind"


def test_atomic_write_fixes_a_loose_mode_without_rewriting(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"x")
    target.chmod(0o644)
    assert atomic_write(str(target), b"x") is False
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_private_tempdir_is_private_and_always_removed(tmp_path):
    with pytest.raises(RuntimeError):
        with private_tempdir() as path:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
            raise RuntimeError("boom")
    assert not os.path.exists(path)


def test_mask_hides_value_but_shows_change():
    assert mask("hunter2") == mask("hunter2")
    assert mask("hunter2") != mask("hunter3")
    assert "hunter2" not in mask("hunter2")
    assert mask_tree({"a": ["x", 1], "b": None}) == {"a": [mask("x"), mask(1)], "b": None}


def test_command_runner_masks_long_secrets_in_errors_and_leaves_short_ones_alone():
    runner = CommandRunner(masked=["topsecret-1", "app"])
    with pytest.raises(TridentError) as failure:
        runner(["sh", "-c", "echo topsecret-1 apps/v1 >&2; exit 3"])
    assert "topsecret-1" not in failure.value.message and "<masked:" in failure.value.message
    assert "apps/v1" in failure.value.message, "a short value is never searched for in text (********s/v1)"
    assert failure.value.details["rc"] == 3
    assert runner(["sh", "-c", "echo ok"]).stdout == "ok\n"


def test_text_secrets_are_the_long_values_and_their_quoted_forms():
    found = text_secrets({"a": 'pa"ss-word', "b": [12345678, {"c": "x"}], "d": True, "e": None, "f": "", "g": "app"})
    assert found == ['pa\\"ss-word', 'pa"ss-word', "12345678"]
    assert mask_text('url=pa"ss-word and apps/v1', found) == "url=" + mask('pa"ss-word') + " and apps/v1"


def test_masked_arguments_mask_no_log_options_whole_suboptions_included():
    spec = {"token": {"no_log": True}, "name": {}, "empty": {"no_log": True},
            "repos": {"type": "list", "options": {"url": {}, "password": {"no_log": True}}},
            "helm": {"type": "dict", "options": {"password": {"no_log": True}}}}
    params = {"token": "app", "name": "apps/v1", "empty": None,
              "repos": [{"url": "https://x", "password": "p"}], "helm": {"password": "q"}}
    assert masked_arguments(spec, params) == {
        "token": MASKED_ARGUMENT, "name": "apps/v1", "empty": None,
        "repos": [{"url": "https://x", "password": MASKED_ARGUMENT}], "helm": {"password": MASKED_ARGUMENT}}


def test_fields_are_masked_whole_and_nothing_else_changes():
    obj = {"a": {"b": "app", "c": "apps/v1"}, "l": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]}
    shown = mask_fields(obj, [("a", "b"), ("l", Item([("name", "y")]), "v"), ("missing", ANY)])
    assert shown == {"a": {"b": mask("app"), "c": "apps/v1"}, "l": [{"name": "x", "v": 1}, {"name": "y", "v": mask(2)}]}
    assert is_mask(shown["a"]["b"]) and not is_mask("apps/v1") and obj["a"]["b"] == "app"
    # An outer mask covers the inner one whole, whatever the order.
    assert mask_fields(obj, [("a", "b"), ("a",)]) == {"a": mask(obj["a"]), "l": obj["l"]}


def test_placeholders_are_fresh_typed_and_found_again():
    first, second = placeholder(), placeholder()
    assert first != second and has_placeholder({"k": [f"x-{first}"]}) and not has_placeholder({"k": "app"})
    assert placeholder_like({"s": "v", "n": 3, "b": True, "z": None, "l": ["a"]}, lambda: "P") == \
        {"s": "P", "n": 2, "b": True, "z": None, "l": ["P"]}
    assert mask_placeholders(f"bad value {first}: apps/v1") == "bad value <masked>: apps/v1"


def test_missing_executable_is_a_clear_error():
    with pytest.raises(TridentError, match="executable not found: no-such-binary"):
        CommandRunner()(["no-such-binary"])


def test_file_lock_excludes_a_second_holder(tmp_path):
    lock_path = str(tmp_path / "env.lock")
    with file_lock(lock_path):
        errors = []

        def contender():
            try:
                with file_lock(lock_path, timeout=0.3, what="env"):
                    pass
            except TridentError as exc:
                errors.append(exc.message)

        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert errors and "another run is in progress" in errors[0]
    with file_lock(lock_path, timeout=0.3):
        pass
