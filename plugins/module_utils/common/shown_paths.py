"""Messages name a repository's files as the repository does (``environments/web/env.yml``), never by the
controller folder that holds the checkout (``~/.cache/trident-gitops/checkouts/<digest>/environments/...``).

That folder means nothing to whoever reads the report, differs from one controller to the next and is the
operator's, not the repository's. Paths reach messages from many places (this collection's own messages, and
helm's and kustomize's error output, which name the files they were given), so the text is rewritten once, where
it leaves a module, for every repository root the run knows: a path inside a root becomes relative to it, the
root itself ``.``.
"""

from __future__ import annotations

import os
import re

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

# What may follow a path in a message: the end of the text, a separator, a quote or a closing bracket.
_END = r"(?=$|[\s'\"`,;:)\]}])"


class ShownPaths:
    """Rewrites the paths under ``roots`` (each as given and as its real path) relative to their root."""

    def __init__(self, roots):
        forms = set()
        for root in roots:
            if not root:
                continue
            for form in (os.path.abspath(root), os.path.realpath(root)):
                form = form.rstrip(os.sep)
                if form:  # never the file system's root: every path would lose its leading slash
                    forms.add(form)
        # The outermost root first: a path in a repository is named from the repository's top.
        self._patterns = [re.compile(re.escape(form) + r"(?:/+|" + _END + ")")
                          for form in sorted(forms, key=lambda form: (len(form), form))]

    def text(self, text):
        for pattern in self._patterns:
            text = pattern.sub(lambda match: "" if match.group(0).endswith("/") else ".", text)
        return text

    def value(self, value):
        """``value`` with every string in it (in lists and mappings too) rewritten."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(item) for item in value)
        return value

    def error(self, exc):
        """A :class:`TridentError` like ``exc`` whose message and details name repository paths relatively."""
        return TridentError(self.text(exc.message), **self.value(exc.details))
