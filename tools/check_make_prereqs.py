"""Fail when a make target would run something before the things it needs are installed.

CI runs on the developer's machine with whatever cache it left, so a target that forgot a
prerequisite (``unit`` without ``tools``, say) passes there and fails on a fresh machine. This asks
make itself: ``make -n <target>`` with an empty ``TRIDENT_CACHE`` prints every recipe in the order
make would run it, so the virtualenv and the toolchain install must appear before the first line
that runs a test, a playbook, the demo or a benchmark.

Usage: ``python3 tools/check_make_prereqs.py [--makefile PATH] [TARGET ...]`` (default: every
target in the Makefile's help that runs something). Only the standard library: runs before the venv.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A recipe line that runs project code: what the prerequisites must come before.
RUNS = re.compile(r"(/pytest\b|run_molecule\.py|-m testbed\.|-m bench\b|ansible-playbook|ansible-rulebook)")
# What must precede it: the pinned virtualenv, then the pinned tools, then the collection path.
NEEDS = {
    "virtualenv": re.compile(r"-m venv "),
    "tools": re.compile(r"tools/toolchain\.py install"),
    "collection": re.compile(r"ansible_collections/trident/gitops"),
}
_TARGET = re.compile(r"^([a-z][a-z0-9-]*):.*## ", re.M)


def documented_targets(makefile):
    return _TARGET.findall(Path(makefile).read_text())


def dry_run(makefile, target, cache):
    """The recipe lines ``make -n target`` prints on a machine with an empty cache."""
    proc = subprocess.run(["make", "-n", "-f", str(makefile), target, f"TRIDENT_CACHE={cache}"],
                          cwd=Path(makefile).parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"make -n {target} failed: {proc.stderr.strip()}")
    return proc.stdout.splitlines()


def missing_prerequisites(lines):
    """Names of NEEDS that do not appear before the first line that runs project code ([] if none runs)."""
    first_run = next((index for index, line in enumerate(lines) if RUNS.search(line)), None)
    if first_run is None:
        return []
    before = lines[:first_run]
    return [name for name, pattern in NEEDS.items() if not any(pattern.search(line) for line in before)]


def check(makefile, targets):
    """A message per target that lacks a prerequisite."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="trident-empty-cache-") as cache:
        for target in targets:
            missing = missing_prerequisites(dry_run(makefile, target, cache))
            if missing:
                problems.append(f"make {target}: runs before installing {', '.join(missing)} "
                                f"(add the missing prerequisite targets to its rule)")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--makefile", default=str(ROOT / "Makefile"))
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args(argv)
    targets = args.targets or [t for t in documented_targets(args.makefile) if t not in ("test", "clean-cache")]
    problems = check(args.makefile, targets)
    for problem in problems:
        print(f"[prereqs] {problem}", file=sys.stderr)
    if not problems:
        print(f"[prereqs] every target installs what it runs first: {', '.join(targets)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
