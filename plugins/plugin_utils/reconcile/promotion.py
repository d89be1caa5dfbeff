# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which revision an environment deploys, and who must have signed the commits that lead there (docs/promotion.md).

The checkout's revision, unless the operator pins the environment (``reconcile_pin``, an emergency) or env.yml's
``promote_from`` names an environment that does not run that revision Healthy yet: then it stays at the revision it
runs (its record), and before its first deploy it deploys nothing. The signers an environment requires are the
operator's keys for it and the env.yml ``trusted_keys`` of the revision it runs now: a commit cannot loosen them
unless a key trusted before it signed it (the first deploy: the keys of the commit deployed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


@dataclass(frozen=True)
class Decision:
    """``deploy``: the revision to deploy (None: nothing, waiting for a first promotion); ``held``: why it is not the
    checkout's revision ('' when it is)."""

    deploy: str | None
    held: str = ""


def short(revision: str | None, empty: str = "nothing") -> str:
    return (revision or "")[:7] or empty


def decide(name: str, branch: str | None, recorded: dict | None, promote_from: str | None, upstream: dict | None,
           pinned: str = "") -> Decision:
    """The revision ``name`` deploys. ``branch`` is the checkout's revision, ``recorded`` what the environment runs
    (its record), ``upstream`` the ``reconcile_state`` of the environment it promotes from (None when that one is
    not in this run), ``pinned`` the operator's pin."""
    if (promote_from or pinned) and not branch:
        raise TridentError("promote_from and reconcile_pin need the commit of the checkout, and the checkout is "
                           "not a Git checkout")
    ran = (recorded or {}).get("revision")
    if pinned:
        held = f"pinned to {pinned} by reconcile_pin; the branch is at {branch}" if pinned != branch else ""
        return Decision(pinned, held)
    if not promote_from:
        return Decision(branch)
    upstream = upstream or {}
    if ran == branch or (upstream.get("revision") == branch and upstream.get("health") == "Healthy"):
        return Decision(branch)
    held = (f"waiting for {promote_from} to be Healthy at {short(branch)} ({promote_from} runs "
            f"{short(upstream.get('revision'))}, {upstream.get('health') or 'not in this run'}); {name} stays at "
            f"{short(ran, 'nothing deployed')}")
    return Decision(ran, held)


def required_signers(operator_keys: tuple, keys_now: list | None, keys_deployed: list) -> tuple:
    """The keys a change must be signed by: the operator's, and the environment's own as it trusts them now (the
    env.yml of the revision it runs; ``keys_now`` None when it runs nothing yet, then the deployed commit's own)."""
    own = keys_deployed if keys_now is None else keys_now
    return tuple(dict.fromkeys([*operator_keys, *own]))
