import os
import stat
import threading

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import atomic_write, private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask, mask_tree


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


def test_command_runner_redacts_secrets_from_errors():
    runner = CommandRunner(redact=["topsecret"])
    with pytest.raises(TridentError) as failure:
        runner(["sh", "-c", "echo topsecret >&2; exit 3"])
    assert "topsecret" not in failure.value.message
    assert failure.value.details["rc"] == 3
    assert runner(["sh", "-c", "echo ok"]).stdout == "ok\n"


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
