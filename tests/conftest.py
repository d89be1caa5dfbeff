"""Make ``ansible_collections.trident.gitops`` importable from this checkout for every test."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _collection_root():
    # `make collection` links this checkout as <root>/ansible_collections/trident/gitops.
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        link = Path(entry) / "ansible_collections" / "trident" / "gitops"
        if entry and link.resolve() == REPO:
            return entry
    raise RuntimeError("this checkout is not on ANSIBLE_COLLECTIONS_PATH as trident.gitops: run the tests "
                       "through make (make unit / make integration), which links it")


sys.path.insert(0, _collection_root())
