"""`python -m bench [NAME ...]`: run every bench/bench_*.py (or the named ones) in one process."""

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv):
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if not names:
        print("no benchmarks yet")
        return 0
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"\n# bench_{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
