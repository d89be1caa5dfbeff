"""Optional Python libraries, reported one way (the shape of community.crypto's ``_cryptography_dep.py``).

A module_utils file imports a library in ``try``/``except ImportError`` and keeps the traceback
(``<NAME>_IMPORT_ERROR = traceback.format_exc()``, None when it imported), so importing the file never fails;
a module calls :func:`require` for each library before it does anything. Code that needs a library on some
paths only (the SOPS decryptor's PGP keys) raises :class:`MissingLibrary` there; the module reports it with
:func:`report`, the same message and traceback.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


class MissingLibrary(TridentError):
    """A Python library a code path needs is not installed."""

    def __init__(self, library, message=None):
        super().__init__(message or f"the Python library {library} is required", library=library)
        self.library = library


def require(module, library, import_error):
    """Fail ``module`` with ``missing_required_lib`` when ``library`` could not be imported (``import_error``
    is the import's traceback, None when it imported)."""
    if import_error:
        module.fail_json(msg=missing_required_lib(library), exception=import_error)


def report(module, exc):
    """Fail ``module`` for a :class:`MissingLibrary` raised on the way."""
    module.fail_json(msg=missing_required_lib(exc.library), exception=traceback.format_exc())
