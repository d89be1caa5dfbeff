"""Run every Molecule scenario under extensions/molecule/ (converge, idempotence, verify) in turn."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "extensions" / "molecule"


def main():
    scenarios = sorted(p.parent.name for p in SCENARIOS.glob("*/molecule.yml"))
    if not scenarios:
        print("[molecule] no scenarios under extensions/molecule yet")
        return 0
    failed = []
    for name in scenarios:
        print(f"[molecule] scenario {name}", flush=True)
        if subprocess.run(["molecule", "test", "-s", name], cwd=REPO / "extensions", check=False).returncode:
            failed.append(name)
    print(f"[molecule] {len(scenarios) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
