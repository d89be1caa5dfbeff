"""Local drift of a working copy: what ``git status`` shows that Git does not have."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List


@dataclass(frozen=True)
class LocalChanges:
    """Tracked files changed locally (modified, deleted, staged) and files Git does not track."""

    modified: List[str] = field(default_factory=list)
    untracked: List[str] = field(default_factory=list)

    def __bool__(self):
        return bool(self.modified or self.untracked)

    def as_dict(self):
        return {"modified": list(self.modified), "untracked": list(self.untracked)}

    def describe(self, limit=10):
        paths = [f"modified: {p}" for p in self.modified] + [f"untracked: {p}" for p in self.untracked]
        more = f" (and {len(paths) - limit} more)" if len(paths) > limit else ""
        return ", ".join(paths[:limit]) + more


def parse_porcelain(output):
    """Parse ``git status --porcelain=v1 -z --untracked-files=all --ignored``.

    Ignored files count as untracked: the working copy must equal Git, whatever .gitignore says.
    """
    modified, untracked = [], []
    entries = output.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code in ("??", "!!"):
            untracked.append(path)
            continue
        modified.append(path)
        if "R" in code or "C" in code:
            index += 1  # -z puts a rename's or copy's source path in the next field
    return LocalChanges(sorted(modified), sorted(untracked))
