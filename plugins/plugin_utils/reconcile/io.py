# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the pipeline reads and holds on the controller: Git, copies of the repository at a revision, the layout of
an environment folder, the environment lock. pipeline.py takes this as ``io``; unit tests pass their own."""

from __future__ import annotations

import os
import time

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import hold_for, release
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import CREDENTIAL_ENV, GitAuth, git_environment
from ansible_collections.trident.gitops.plugins.module_utils.git import snapshot
from ansible_collections.trident.gitops.plugins.plugin_utils import deployed_revision

try:
    import yaml
except ImportError:  # reported when a file is read
    yaml = None


def git_runner(checkout: str) -> CommandRunner:
    """A runner whose git talks to the checkout's origin with the run's one set of credentials (TRIDENT_GIT_*)."""
    auth = GitAuth(**{field: os.environ.get(name) or None for field, name in CREDENTIAL_ENV.items()})
    origin = CommandRunner()(["git", "-C", checkout, "remote", "get-url", "origin"], check=False).stdout.strip()
    return CommandRunner(env={**os.environ, **git_environment(auth, origin, os.environ)}, masked=auth.secrets)


class ControllerIo:
    """The real thing: ``owner_pid`` is the ansible-playbook run the environment lock lives as long as."""

    def __init__(self, revisions_dir: str, owner_pid: int, on_wait=None):
        self.revisions_dir = os.path.expanduser(revisions_dir)
        self.owner_pid = owner_pid
        self.on_wait = on_wait

    @staticmethod
    def git(checkout: str):
        return deployed_revision.run_git(checkout)

    def snapshot(self, checkout: str, revision: str) -> str:
        return snapshot.materialise(git_runner(checkout), checkout, revision, self.revisions_dir)

    @staticmethod
    def describe(env_path: str, repo_path: str):
        # Imported here: layout imports the reconcile package (the environment type).
        from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import describe_environment
        return describe_environment(env_path, repo_path)

    def lock(self, path: str, timeout: float) -> int:
        return hold_for(path, self.owner_pid, timeout, what="the environment", on_wait=self.on_wait)

    @staticmethod
    def release(holder: int) -> None:
        release(holder)

    @staticmethod
    def folder_tree(checkout: str, revision: str, env_dir: str) -> str | None:
        return snapshot.folder_tree(git_runner(checkout), checkout, revision, env_dir)

    @staticmethod
    def file_at(checkout: str, revision: str, path: str) -> str | None:
        runner = git_runner(checkout)
        snapshot.ensure_commit(runner, checkout, revision)
        shown = runner(["git", "-C", checkout, "show", f"{revision}:{path}"], check=False)
        return shown.stdout if shown.rc == 0 else None

    @staticmethod
    def settings_of(text: str | None, source: str) -> dict:
        """The validated env.yml ``text`` (None: no env.yml, no settings)."""
        from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import validate_settings
        if text is None:
            return {}
        if yaml is None:
            raise TridentError("PyYAML is required to read env.yml")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise TridentError(f"{source}: not valid YAML") from None
        return validate_settings(data, source)

    @staticmethod
    def verify_signers(checkout: str, since: str | None, until: str, env_dir: str, keys: tuple) -> list:
        return snapshot.verify_folder_signers(git_runner(checkout), checkout, since, until, env_dir, keys)

    @staticmethod
    def history(checkout: str, recorded: dict, revision: str, tree: str, env_dir: str) -> dict:
        return deployed_revision.history(deployed_revision.run_git(checkout), recorded, revision, tree, env_dir)

    @staticmethod
    def now() -> float:
        return time.time()
