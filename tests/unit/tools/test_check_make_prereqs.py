"""The make-prerequisite guard: it passes on the real Makefile and fails when a prerequisite is removed."""

import re
import shutil

import pytest

import check_make_prereqs
from check_make_prereqs import ROOT, check, missing_prerequisites


def test_every_target_of_the_makefile_installs_what_it_runs_first():
    targets = [t for t in check_make_prereqs.documented_targets(ROOT / "Makefile") if t != "clean-cache"]
    assert {"unit", "integration", "molecule", "demo", "bench"} <= set(targets)
    assert check(ROOT / "Makefile", targets) == []


@pytest.mark.parametrize("target, prerequisite", [("unit", "tools"), ("integration", "tools"),
                                                  ("molecule", "venv"), ("demo", "collection")])
def test_removing_a_prerequisite_is_reported(tmp_path, target, prerequisite):
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    for name in ("requirements.txt", "tests/requirements.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    text = (ROOT / "Makefile").read_text()
    rule = re.compile(rf"^({target}:[^#\n]*?)\b{prerequisite}\b ?", re.M)
    assert rule.search(text), f"the Makefile's {target} rule no longer names {prerequisite}"
    (tmp_path / "Makefile").write_text(rule.sub(r"\1", text, count=1))
    problems = check(tmp_path / "Makefile", [target])
    assert len(problems) == 1 and problems[0].startswith(f"make {target}:")


def test_a_target_that_runs_nothing_needs_nothing():
    assert missing_prerequisites(["echo hello", "mkdir -p x"]) == []


def test_prerequisites_after_the_first_run_do_not_count():
    lines = ["python3 -m venv /c/venv", "/c/venv/bin/pytest tests/unit", "python3 tools/toolchain.py install",
             "ln -sfn /r /c/ansible_collections/trident/gitops"]
    assert missing_prerequisites(lines) == ["tools", "collection"]
