"""Pure functions that turn a remote's ref advertisement and a requested ``version`` into a target."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

_HEX = re.compile(r"^[0-9a-f]{4,40}$")

BRANCH = "branch"
TAG = "tag"
COMMIT = "commit"


@dataclass(frozen=True)
class Advertisement:
    """What ``git ls-remote --symref`` said: ref name -> object id, and where HEAD points."""

    refs: Dict[str, str]
    head_ref: Optional[str] = None


@dataclass(frozen=True)
class Target:
    """A resolved ``version``.

    ``sha`` is the commit (None for a short SHA no ref tip starts with: it is resolved after a full
    fetch); ``tag_object`` is the annotated tag's object id (None for lightweight tags and non-tags).
    """

    kind: str
    name: str
    sha: Optional[str]
    ref: Optional[str] = None
    tag_object: Optional[str] = None

    @property
    def refspec(self):
        """What to fetch: the ref into a local ref of the same meaning, or the bare commit id."""
        if self.kind == BRANCH:
            return f"+{self.ref}:refs/remotes/origin/{self.name}"
        if self.kind == TAG:
            return f"+{self.ref}:{self.ref}"
        return self.sha


def parse_ls_remote(output):
    """Parse ``git ls-remote --symref`` output."""
    refs = {}
    head_ref = None
    for line in output.splitlines():
        if not line.strip():
            continue
        left, name = (line.split("\t", 1) + [""])[:2]
        if left.startswith("ref: ") and name == "HEAD":
            head_ref = left[len("ref: "):].strip()
        else:
            refs[name.strip()] = left.strip()
    return Advertisement(refs, head_ref)


def is_sha(text, full=False):
    """True if ``text`` can be a (full) hexadecimal object id."""
    return bool(_HEX.match(text)) and (not full or len(text) == 40)


def resolve(advertisement, version, repo):
    """Resolve ``version`` (None for the remote HEAD, a branch, a tag, or a full/short SHA)."""
    refs = advertisement.refs
    if version is None:
        if not advertisement.head_ref or advertisement.head_ref not in refs:
            raise TridentError(f"{repo} does not advertise a default branch (HEAD); set version")
        version = advertisement.head_ref[len("refs/heads/"):]
    name = version[len("refs/heads/"):] if version.startswith("refs/heads/") else version
    if f"refs/heads/{name}" in refs:
        return Target(BRANCH, name, refs[f"refs/heads/{name}"], ref=f"refs/heads/{name}")
    name = version[len("refs/tags/"):] if version.startswith("refs/tags/") else version
    tag_ref = f"refs/tags/{name}"
    if tag_ref in refs:
        peeled = refs.get(tag_ref + "^{}")
        return Target(TAG, name, peeled or refs[tag_ref], ref=tag_ref,
                      tag_object=refs[tag_ref] if peeled else None)
    lowered = version.lower()
    if is_sha(lowered):
        if is_sha(lowered, full=True):
            return Target(COMMIT, lowered, lowered)
        # Annotated tags advertise the tag object and, as ``<ref>^{}``, the commit: keep commits only.
        tips = {sha for ref, sha in refs.items() if sha.startswith(lowered) and ref + "^{}" not in refs}
        if len(tips) > 1:
            raise TridentError(f"short SHA {version} is ambiguous in {repo}; give more digits")
        return Target(COMMIT, lowered, tips.pop() if tips else None)
    raise TridentError(f"unknown ref '{version}' in {repo}: no branch, tag or commit of that name "
                       "(a deleted branch or a typo?)")


def server_refused_sha(stderr):
    """True if a fetch of a bare commit id failed because the server does not serve unadvertised objects."""
    text = stderr.lower()
    return "unadvertised object" in text or "not our ref" in text
