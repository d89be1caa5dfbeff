# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The environment: what the repository says about one environment folder, as one typed value.

The inventory describes each folder (gitops/layout.py) into an :class:`Environment` and hands it to the roles as
one host variable, ``trident_environment`` (:meth:`Environment.as_variable`); the pipeline reads it back with
:func:`from_variable`. Everything in it is repository data: it says what and how to deploy (the layout, the
validated env.yml settings, the order), never where from or with what (controller paths, programs, gates), which
only the operator sets (operator.py). An environment the inventory could not read is a :class:`BrokenEnvironment`:
the same variable with ``error`` set, so the run fails that environment alone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.order import dependencies
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import NAMES, present_steps

# The host variable the inventory sets and the roles read.
VARIABLE = "trident_environment"
# What an environment folder may be called: it becomes an inventory host name, a host pattern (the rulebook's
# trident_hosts) and a file name (locks, state dirs). Anything else is refused before it reaches Ansible.
ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ENV_FILE = "env.yml"
# Settings that shape the layout or the order: they are fields of the environment, not passed-through settings.
LAYOUT_SETTINGS = ("tags", "kubeconfig", "manifests", "depends_on")


@dataclass(frozen=True)
class SecretFile:
    """A SOPS file of the environment's ``secrets/`` folder (path relative to the environment folder)."""

    path: str
    name: str
    format: str


@dataclass(frozen=True)
class Environment:
    """One environment folder. Paths are relative to ``path`` (the folder), POSIX style."""

    name: str
    path: str
    repo_path: str
    settings: dict = field(default_factory=dict)
    kubeconfig: str | None = None
    kubeconfig_encrypted: bool = False
    terraform_files: tuple = ()
    manifests_dir: str | None = None
    manifests_kind: str | None = None
    manifest_files: tuple = ()
    secrets: tuple = ()
    # The repository's policy folders this environment is checked against (relative to the repository).
    policy_dirs: tuple = ()
    warnings: tuple = ()
    wave: int = 0  # the batch of the run this environment reconciles in (gitops/order.py)
    error: str | None = None

    @property
    def relpath(self):
        return os.path.relpath(self.path, self.repo_path).replace(os.sep, "/")

    @property
    def tags(self):
        return list(self.settings.get("tags", []))

    @property
    def depends_on(self):
        """The environments this one waits for: ``depends_on`` and the ``promote_from`` source (a gate implies order)."""
        return dependencies(self.settings)

    @property
    def steps(self):
        """The steps this environment has content for, in pipeline order (the registry decides)."""
        return present_steps({"name": self.name, "secrets": self.secrets, "kubeconfig_encrypted": self.kubeconfig_encrypted,
                              "terraform_files": self.terraform_files, "manifests_kind": self.manifests_kind,
                              "settings": self.settings, "policy_dirs": self.policy_dirs})

    def as_variable(self, source: dict | None = None) -> dict:
        """The ``trident_environment`` host variable. ``source`` says where the inventory read the repository
        (``url``, ``version``, ``commit`` when it fetched it): the inventory's options, not repository data."""
        return as_data({
            "name": self.name,
            "dir": self.relpath,
            "repository": {"path": self.repo_path, **(source or {})},
            "error": self.error,
            "steps": self.steps,
            "tags": self.tags,
            "depends_on": self.depends_on,
            "wave": self.wave,
            "kubeconfig": self.kubeconfig,
            "kubeconfig_encrypted": self.kubeconfig_encrypted,
            "terraform_files": list(self.terraform_files),
            "manifests_dir": self.manifests_dir,
            "manifests_kind": self.manifests_kind,
            "manifest_files": list(self.manifest_files),
            "secrets": [{"path": s.path, "name": s.name, "format": s.format} for s in self.secrets],
            "policy_dirs": list(self.policy_dirs),
            "settings": {key: value for key, value in self.settings.items() if key not in LAYOUT_SETTINGS},
        })


@dataclass(frozen=True)
class BrokenEnvironment:
    """An environment folder that cannot be described; it becomes a host that fails with ``error``."""

    name: str
    relpath: str
    error: str
    repo_path: str = ""

    @property
    def wave(self):
        return 0

    def as_variable(self, source: dict | None = None) -> dict:
        return as_data({"name": self.name, "dir": self.relpath, "repository": {"path": self.repo_path, **(source or {})},
                        "error": self.error, "steps": ["source"], "tags": [], "depends_on": [], "wave": 0,
                        "kubeconfig": None, "kubeconfig_encrypted": False, "terraform_files": [], "manifests_dir": None,
                        "manifests_kind": None, "manifest_files": [], "secrets": [], "policy_dirs": [], "settings": {}})


def as_data(value):
    """A copy of ``value`` in which every string is a plain ``str``: whatever trust Ansible gave a string it came
    from (the inventory's options, e.g. a branch name in ``version``, are loaded from a file Ansible trusts as a
    template) is dropped, so no part of the environment is ever templated (docs/security.md)."""
    if isinstance(value, dict):
        return {as_data(key): as_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_data(item) for item in value]
    if isinstance(value, str):
        return str(value)  # a tagged string's str() is an untagged copy
    return value


_FIELDS = {"name": str, "dir": str, "repository": dict, "steps": list, "settings": dict, "secrets": list,
           "depends_on": list, "wave": int}


def from_variable(value: object) -> dict:
    """``trident_environment`` checked for the shape :meth:`Environment.as_variable` gives it (a role given
    something else fails here, naming the key), as a plain dict."""
    if not isinstance(value, dict):
        raise TridentError(f"{VARIABLE} must be the mapping the trident.gitops.environments inventory sets, "
                           f"got {type(value).__name__}")
    for key, kind in _FIELDS.items():
        if not isinstance(value.get(key), kind):
            raise TridentError(f"{VARIABLE}.{key} must be a {kind.__name__}: is the host from the "
                               "trident.gitops.environments inventory?")
    unknown = sorted(set(value["steps"]) - set(NAMES))
    if unknown:
        raise TridentError(f"{VARIABLE}.steps: unknown steps {', '.join(map(str, unknown))}")
    return dict(value)


def env_path(environment: dict, checkout: str) -> str:
    """The environment's folder in ``checkout`` (a checkout of the repository, or a copy of it at a revision)."""
    return os.path.join(checkout, environment["dir"])
