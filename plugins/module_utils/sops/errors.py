"""Errors of the SOPS decryptor: messages name files, paths and key types, never a value."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common import deps
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


class SopsError(TridentError):
    """A SOPS file cannot be decrypted; the message is safe to show."""


class MissingLibrary(deps.MissingLibrary, SopsError):
    """A Python library the decryptor needs is not installed (modules report it with deps.report)."""

    def __init__(self, library):
        super().__init__(library, f"the Python library {library} is required to decrypt SOPS files")
