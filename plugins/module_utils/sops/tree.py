"""The decrypted tree: walking it as sops does, deciding what is encrypted, computing the MAC.

A mapping is a :class:`Branch` of ``(key, value)`` pairs where a key may be a :class:`Comment`;
a sequence is a list whose items may be comments. Order is kept: the MAC covers it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import (
    Comment, aad_for_path, decrypt_value, mac_bytes,
)
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError

# sha256("sops"): the MAC of a mac_only_encrypted file starts from these bytes, so it never
# equals the MAC of the same file without that setting.
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")


class Branch(list):
    """An ordered mapping: a list of (key, value) pairs; keys are str or Comment."""


@dataclass(frozen=True)
class Rules:
    """Which values a file has encrypted (the sops metadata fields of the same names)."""

    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: str = ""
    encrypted_regex: str = ""
    unencrypted_comment_regex: str = ""
    encrypted_comment_regex: str = ""
    mac_only_encrypted: bool = False


def _search(pattern, text):
    # Go's regexp.Match is an unanchored search, like re.search.
    return re.search(pattern, text) is not None


def should_be_encrypted(rules, path, comments_stack, is_comment):
    """sops' rule: later rules override earlier ones, exactly in sops' order."""
    encrypted = True
    if rules.unencrypted_suffix and any(key.endswith(rules.unencrypted_suffix) for key in path):
        encrypted = False
    if rules.encrypted_suffix:
        encrypted = any(key.endswith(rules.encrypted_suffix) for key in path)
    if rules.unencrypted_regex and any(_search(rules.unencrypted_regex, key) for key in path):
        encrypted = False
    if rules.encrypted_regex:
        encrypted = any(_search(rules.encrypted_regex, key) for key in path)
    if rules.unencrypted_comment_regex and any(_search(rules.unencrypted_comment_regex, c)
                                               for level in comments_stack for c in level):
        encrypted = False
    if rules.encrypted_comment_regex:
        encrypted = False
        for i, level in enumerate(comments_stack):
            for j, comment in enumerate(level):
                # The comment that carries the marker is itself left in clear text.
                if is_comment and i == len(comments_stack) - 1 and j == len(level) - 1:
                    continue
                if _search(rules.encrypted_comment_regex, comment):
                    return True
    return encrypted


def path_label(path):
    """A path for error messages: keys only, never values."""
    return "".join(f"[{key!r}]" for key in path) or "document root"


class _Walker:
    def __init__(self, key, rules, comment_paths):
        self.key = key
        self.rules = rules
        self.comment_paths = comment_paths
        self.hash = hashlib.sha512()
        if rules.mac_only_encrypted:
            self.hash.update(MAC_ONLY_ENCRYPTED_INIT)

    def leaf(self, value, path, stack):
        is_comment = isinstance(value, Comment)
        encrypted = should_be_encrypted(self.rules, path, stack, is_comment)
        if not encrypted:
            plain = value
        elif is_comment:
            plain = self.comment(value, path)
        elif isinstance(value, str):
            plain = decrypt_value(value, self.key, aad_for_path(path), where=path_label(path))
        else:
            raise SopsError(f"{path_label(path)}: value is not encrypted although the file's rules say it must be")
        if (encrypted or not self.rules.mac_only_encrypted) and not isinstance(plain, Comment):
            self.hash.update(mac_bytes(plain))
        return plain

    def comment(self, comment, path):
        if not comment.value.strip().startswith("ENC["):
            return comment  # written in clear text (e.g. the marker of encrypted_comment_regex)
        # Where a YAML comment belongs is a matter of layout; try its own container first.
        for candidate in [path] + [p for p in self.comment_paths if p != path]:
            try:
                plain = decrypt_value(comment.value.strip(), self.key, aad_for_path(candidate))
            except SopsError:
                continue
            return plain if isinstance(plain, Comment) else Comment(str(plain))
        return comment  # sops keeps a comment it cannot decrypt: it was written in clear text

    def value(self, value, path, stack):
        if isinstance(value, Branch):
            return self.branch(value, path, stack)
        if isinstance(value, list):
            return self.sequence(value, path, stack)
        if value is None:
            return None
        return self.leaf(value, path, stack)

    def branch(self, branch, path, stack):
        stack = stack + [[]]
        out = Branch()
        for key, value in branch:
            if isinstance(key, Comment):
                stack[-1].append(key.value)
                out.append((self.leaf(key, path, stack), None))
                continue
            if not isinstance(key, str):
                raise SopsError(f"{path_label(path)}: only string keys are supported")
            out.append((key, self.value(value, path + [key], stack)))
            stack[-1] = []
        return out

    def sequence(self, items, path, stack):
        stack = stack + [[]]
        out = []
        for item in items:
            if isinstance(item, Comment):
                stack[-1].append(item.value)
            out.append(self.value(item, path, stack))
            if not isinstance(item, Comment):
                stack[-1] = []
        return out


def container_paths(value, path=()):
    """Every mapping/sequence path of a tree (where a comment may belong)."""
    if isinstance(value, Branch):
        yield list(path)
        for key, child in value:
            if isinstance(key, str):
                yield from container_paths(child, path + (key,))
    elif isinstance(value, list):
        yield list(path)
        for child in value:
            yield from container_paths(child, path)


def decrypt_branches(branches, key, rules):
    """Decrypt every branch; return (decrypted branches, MAC as sops computes it: upper-case hex)."""
    comment_paths = []
    for branch in branches:
        comment_paths.extend(p for p in container_paths(branch) if p not in comment_paths)
    walker = _Walker(key, rules, comment_paths)
    out = [walker.branch(branch, [], []) for branch in branches]
    return out, walker.hash.hexdigest().upper()


def to_data(value):
    """Plain Python data (dicts, lists, scalars) without comments; bytes become text."""
    if isinstance(value, Branch):
        return {key: to_data(child) for key, child in value if not isinstance(key, Comment)}
    if isinstance(value, list):
        return [to_data(child) for child in value if not isinstance(child, Comment)]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return str(value)
    return value


def from_data(value):
    """The inverse of to_data for rendering: dicts become Branches (recursively)."""
    if isinstance(value, dict):
        return Branch((key, from_data(child)) for key, child in value.items())
    if isinstance(value, list):
        return [from_data(child) for child in value]
    return value
