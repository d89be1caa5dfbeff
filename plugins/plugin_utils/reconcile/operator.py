# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The operator's settings of a reconcile: what only the operator decides, never the repository.

Which steps run, emergency pins, the signers the operator trusts per environment, where locks and copies of the
repository live and how long a run waits for a lock. They come from the reconcile role's variables (group_vars,
host_vars and extra vars of the operator's inventory and command line); the repository's env.yml never becomes a
host variable, so nothing in it can reach these (docs/security.md). :func:`operator_settings` validates them once,
with messages that name the variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.refs import is_sha
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.steps import NAMES

# The argument spec of the reconcile actions' ``operator`` option (the reconcile role fills it from its variables).
OPERATOR_SPEC = dict(
    # None: every step of the registry (a step added to it runs without touching the operator's settings).
    steps=dict(type="list", elements="str"),
    pin=dict(type="dict", default={}),
    trusted_keys=dict(type="dict", default={}),
    lock_dir=dict(type="path", default="~/.cache/trident-gitops/locks"),
    lock_timeout=dict(type="float", default=600),
    revisions_dir=dict(type="path", default="~/.cache/trident-gitops/revisions"),
    check_mode=dict(type="bool", default=False),
    # The operator's own Rego policy folders (docs/policy.md): every environment is checked against them.
    policy_dirs=dict(type="list", elements="path", default=[]),
)


@dataclass(frozen=True)
class Operator:
    steps: tuple
    pin: dict
    trusted_keys: dict
    lock_dir: str
    lock_timeout: float
    revisions_dir: str
    check_mode: bool
    policy_dirs: tuple = ()

    def pinned(self, env: str) -> str:
        return self.pin.get(env, "")

    def signers(self, env: str) -> tuple:
        """The keys the operator trusts for ``env`` (fingerprints or armored public keys)."""
        return tuple(self.trusted_keys.get(env, ()))


def operator_settings(params: dict) -> Operator:
    """The validated settings (``params`` already went through OPERATOR_SPEC)."""
    steps = list(NAMES) if params["steps"] is None else params["steps"]
    unknown = [step for step in steps if step not in NAMES]
    if unknown:
        raise TridentError(f"reconcile_steps: unknown steps {', '.join(unknown)} (known: {', '.join(NAMES)})")
    for env, revision in params["pin"].items():
        if not isinstance(revision, str) or not is_sha(revision, full=True):
            raise TridentError(f"reconcile_pin: {env}: {revision!r} is not a full commit SHA")
    for env, keys in params["trusted_keys"].items():
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise TridentError(f"reconcile_trusted_keys: {env}: a list of fingerprints or armored public keys")
    return Operator(steps=tuple(steps), pin=dict(params["pin"]), trusted_keys=dict(params["trusted_keys"]),
                    lock_dir=params["lock_dir"], lock_timeout=float(params["lock_timeout"]),
                    revisions_dir=params["revisions_dir"], check_mode=bool(params["check_mode"]),
                    policy_dirs=tuple(params.get("policy_dirs") or ()))
