"""`python -m bench [NAME ...]`: run every bench/bench_*.py (or the named ones) in one process.
`python -m bench NAME --option value ...`: options after one name go to that benchmark (``main(argv)``)."""

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv):
    first_option = next((index for index, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    argv, options = argv[:first_option], argv[first_option:]
    if options and len(argv) != 1:
        print("options go to one benchmark: python -m bench NAME --option value ...")
        return 2
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if not names:
        print("no benchmarks yet")
        return 0
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"\n# bench_{name}")
        if options:
            module.main(options)
        else:
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
