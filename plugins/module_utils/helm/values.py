"""A release's values: files from the repository, SOPS-encrypted files opened in memory, inline values.

Helm reads at most one values document from stdin (``--values -``), so every values file (plain and
SOPS-encrypted) and the inline values are merged here, in helm's own order and with helm's own merge rule, into
that one document. No repository path reaches helm's command line (helm splits ``--values`` at commas, and a
path is the repository's to name). The decrypted values never touch disk.
A second stdin document is made too, with a placeholder in place of each decrypted value: rendering the chart
with it tells which fields of the objects the secret values reach (helm/render.py masks them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.masking import placeholder_like
from ansible_collections.trident.gitops.plugins.module_utils.helm.paths import inside_repository
from ansible_collections.trident.gitops.plugins.module_utils.kube.yamljson import KubectlLoader


@dataclass(frozen=True)
class ReleaseValues:
    """What helm is given: values file paths (in order) and the stdin document (or ``None``)."""

    files: tuple = ()
    stdin: str = field(default=None, repr=False)
    # The stdin document with placeholders in place of the decrypted values; None without secret values.
    shadow_stdin: str = None


def merge_values(base, override):
    """Helm's merge of two values files (``mergeMaps`` in pkg/cli/values): mappings merge
    recursively, anything else in ``override`` replaces what ``base`` has (``null`` included)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def plain_values(path, label):
    """One plain values file's mapping (empty for an empty file), read as helm reads YAML values."""
    if yaml is None:
        raise TridentError(f"{label}: reading a values file needs PyYAML")
    try:
        with open(path, encoding="utf-8") as handle:
            documents = [d for d in yaml.load_all(handle, Loader=KubectlLoader) if d is not None]
    except (OSError, UnicodeDecodeError) as exc:
        raise TridentError(f"{label}: cannot read ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise TridentError(f"{label}: not valid YAML{where}") from None
    if not documents:
        return {}
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise TridentError(f"{label}: a values file must hold one mapping")
    return documents[0]


def secret_values(path, label, decrypt):
    """One SOPS values file's data, decrypted in memory with ``decrypt(content, fmt, source)``."""
    fmt = "json" if path.endswith(".json") else "yaml"
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TridentError(f"{label}: cannot read ({type(exc).__name__})") from None
    try:
        documents = decrypt(content, fmt, label)
    except TridentError as exc:
        raise TridentError(f"{label}: cannot decrypt: {exc.message}") from None
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise TridentError(f"{label}: a values file must hold one mapping")
    return documents[0]


def release_values(release, env_path, repo_path, where, decrypt=None):
    """Resolve and open a release's values; ``where`` (env file and release) prefixes every error."""
    files = tuple(inside_repository(repo_path, env_path, rel, f"{where}: values_files")
                  for rel in release.values_files)
    for path, rel in zip(files, release.values_files):
        if not os.path.isfile(path):
            raise TridentError(f"{where}: values_files: '{rel}' is not a file")
    merged = {}
    for path, rel in zip(files, release.values_files):
        data = plain_values(path, f"{where}: values_files '{rel}'")
        merged = merge_values(merged, data)
    shadow = dict(merged)
    for rel in release.secret_values_files:
        if decrypt is None:
            raise TridentError(f"{where}: secret_values_files need SOPS decryption keys")
        path = inside_repository(repo_path, env_path, rel, f"{where}: secret_values_files")
        data = secret_values(path, f"{where}: secret_values_files '{rel}'", decrypt)
        merged, shadow = merge_values(merged, data), merge_values(shadow, placeholder_like(data))
    merged, shadow = merge_values(merged, release.values), merge_values(shadow, release.values)
    stdin = json.dumps(merged, sort_keys=True, default=str) if merged else None
    shadow_stdin = json.dumps(shadow, sort_keys=True, default=str) if release.secret_values_files else None
    return ReleaseValues(files=(), stdin=stdin, shadow_stdin=shadow_stdin)
