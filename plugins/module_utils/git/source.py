"""git_source: bring ``dest`` to exactly ``version`` of ``repo``, verified, or leave it as it was.

Order of work: resolve the remote ref (``ls-remote``), fetch into the object store only, verify
signatures, and only then move the working copy. A failed fetch or a refused signature therefore
never touches the checkout; a first clone is built in a temporary sibling directory and renamed into
place. Reads of the local repository use GitPython; commands that talk to the remote, gpg, or
change the working copy go through the injected runner (argv only, credentials in the environment).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import traceback
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import GitAuth, check_url, git_environment
from ansible_collections.trident.gitops.plugins.module_utils.git.refs import (
    BRANCH, COMMIT, TAG, parse_ls_remote, resolve, server_refused_sha)
from ansible_collections.trident.gitops.plugins.module_utils.git.signature import TrustedKeys, split_trusted_keys
from ansible_collections.trident.gitops.plugins.module_utils.git.worktree import LocalChanges, parse_porcelain

try:
    import git as gitpython
except ImportError:
    gitpython = None
    GITPYTHON_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    GITPYTHON_IMPORT_ERROR = None


@dataclass(frozen=True)
class SyncRequest:
    repo: str
    dest: str
    version: Optional[str] = None
    depth: int = 1
    submodules: bool = False
    clean: bool = True
    verify_signature: bool = False
    trusted_keys: Tuple[str, ...] = ()
    auth: GitAuth = field(default_factory=GitAuth)
    lock_timeout: float = 300.0


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    author_email: str
    date: str
    subject: str

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class SyncResult:
    changed: bool
    before: Optional[str]
    after: Optional[str]
    kind: str
    ref: Optional[str]
    changed_files: List[str] = field(default_factory=list)
    commit: Optional[CommitInfo] = None
    signer: Optional[dict] = None
    tag_signer: Optional[dict] = None
    discarded: LocalChanges = field(default_factory=LocalChanges)

    def as_dict(self):
        return {"changed": self.changed, "before": self.before, "after": self.after, "kind": self.kind,
                "ref": self.ref, "changed_files": self.changed_files,
                "commit": self.commit.as_dict() if self.commit else None, "signer": self.signer,
                "tag_signer": self.tag_signer, "discarded": self.discarded.as_dict()}

    def diff(self):
        lines = [f"changed: {path}" for path in self.changed_files]
        lines += [f"discarded (modified): {path}" for path in self.discarded.modified]
        lines += [f"discarded (untracked): {path}" for path in self.discarded.untracked]
        return {"before_header": "revision", "after_header": "revision",
                "before": f"{self.before or '(no checkout)'}\n",
                "after": f"{self.after}\n" + "".join(line + "\n" for line in lines)}


class Git:
    """git through the injected runner, with the credential/SSH environment of one repository."""

    def __init__(self, runner, env):
        self.runner = runner
        self.env = env

    def __call__(self, *args, cwd=None, check=True):
        argv = ["git", *(("-C", cwd) if cwd else ()), *args]
        return self.runner(argv, env=self.env, check=check)

    def failure(self, what, result):
        detail = result.stderr.strip() or result.stdout.strip()
        return TridentError(self.runner.mask_text(f"{what} failed: {detail}"), rc=result.rc)


def validate(request):
    """Every input check, before anything runs."""
    if not request.repo:
        raise TridentError("repo must not be empty")
    if request.repo.startswith("-"):
        raise TridentError("repo must not start with '-' (git would read it as an option)")
    check_url(request.repo)
    if request.depth < 0:
        raise TridentError("depth must be 0 (full history) or a positive number of commits")
    if request.verify_signature and not request.trusted_keys:
        raise TridentError("verify_signature needs trusted_keys (fingerprints or armored public keys)")
    split_trusted_keys(request.trusted_keys)
    dest = os.path.abspath(request.dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise TridentError(f"dest {dest} exists and is not a directory")


def normalized_repo(repo):
    """A local repository path made absolute (it is stored as the remote URL); URLs stay as they are."""
    return os.path.abspath(repo) if os.path.isdir(repo) else repo


def lock_path(dest):
    """The lock lives next to dest: inside the checkout it would be an untracked file, i.e. drift."""
    return dest.rstrip(os.sep) + ".lock"


def sync(request, runner, check_mode=False):
    """Converge ``request.dest``; in check mode only report what would change."""
    if gitpython is None:
        raise TridentError("GitPython is required", import_error=GITPYTHON_IMPORT_ERROR)
    validate(request)
    repo = normalized_repo(request.repo)
    git = Git(runner, git_environment(request.auth, repo, runner.env))
    listing = git("ls-remote", "--symref", repo, check=False)
    if listing.rc != 0:
        raise git.failure(f"listing refs of {repo}", listing)
    target = resolve(parse_ls_remote(listing.stdout), request.version, repo)
    dest = os.path.abspath(request.dest)
    if check_mode:
        return plan(request, git, target, dest)
    with file_lock(lock_path(dest), timeout=request.lock_timeout, what=dest):
        if is_checkout(dest):
            return converge(request, git, repo, target, dest, fresh=False)
        return clone(request, git, repo, target, dest)


def is_checkout(dest):
    """True for a git working copy, False for a missing or empty directory; anything else is an error."""
    if not os.path.isdir(dest) or not os.listdir(dest):
        return False
    if not os.path.exists(os.path.join(dest, ".git")):
        raise TridentError(f"dest {dest} is a non-empty directory that is not a git checkout; refusing to "
                           "replace it")
    return True


def plan(request, git, target, dest):
    """Check mode: compare the remote revision with dest without writing anything."""
    if not is_checkout(dest):
        return SyncResult(True, None, target.sha or target.name, target.kind, target.name)
    with gitpython.Repo(dest) as repo:
        before = head_sha(repo)
        changes = local_changes(git, dest)
        if changes and not request.clean:
            raise drift_error(dest, changes)
        after = target.sha or local_commit(git, dest, target.name) or target.name
        files = changed_files(repo, before, after) if has_commit(git, dest, before) and has_commit(
            git, dest, after) else []
        moved = before != after or current_branch(repo) != branch_of(target)
        return SyncResult(moved or bool(changes), before, after, target.kind, target.name, files,
                          commit_info(repo, after) if has_commit(git, dest, after) else None, discarded=changes)


def clone(request, git, repo, target, dest):
    """First checkout: build it in a sibling temp directory and rename it into place when complete."""
    parent = os.path.dirname(dest)
    prefix = f".{os.path.basename(dest)}.clone-"
    os.makedirs(parent, exist_ok=True)
    for stale in glob.glob(os.path.join(glob.escape(parent), glob.escape(prefix) + "*")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run; we hold the lock, so nobody uses it
    work = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        git("init", "--quiet", work)
        # Single branch, no tags: what a plain `git fetch` in the checkout fetches matches what we track.
        track = ["-t", target.name] if target.kind == BRANCH else []
        git("remote", "add", "--no-tags", *track, "origin", repo, cwd=work)
        result = converge(request, git, repo, target, work, fresh=True)
        if os.path.isdir(dest):
            os.rmdir(dest)  # empty (is_checkout said so); the lock keeps others out meanwhile
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result


def converge(request, git, repo_url, target, workdir, fresh):
    """Fetch, verify, then move the working copy of ``workdir`` to the target."""
    with gitpython.Repo(workdir) as repo:
        before = None if fresh else head_sha(repo)
        urls = {remote.name: remote.url for remote in repo.remotes}
        if urls.get("origin") != repo_url:  # repo changed, or someone removed the remote
            git("remote", "set-url" if "origin" in urls else "add", "origin", repo_url, cwd=workdir)
        sha = fetch(request, git, target, workdir)
        signer, tag_signer = verify(request, git, target, sha, workdir)
        changes = LocalChanges() if fresh else local_changes(git, workdir)
        if changes and not request.clean:
            raise drift_error(workdir, changes)
        modules_before = submodule_state(git, workdir) if request.submodules and not fresh else None
        moves = fresh or bool(changes) or before != sha or current_branch(repo) != branch_of(target)
        if moves:
            move(git, workdir, target, sha)
        if request.submodules:
            update_submodules(git, workdir)
        submodules_moved = request.submodules and submodule_state(git, workdir) != modules_before
        files = all_files(repo, sha) if fresh else changed_files(repo, before, sha)
        changed = moves or submodules_moved
        return SyncResult(changed, before, sha, target.kind, target.name, files, commit_info(repo, sha),
                          signer, tag_signer, changes)


def fetch(request, git, target, workdir):
    """Get the target's objects into the repository (not the working copy); return the commit SHA."""
    if target.sha and has_commit(git, workdir, target.sha) and (
            target.tag_object is None or has_commit(git, workdir, target.tag_object)):
        return target.sha  # nothing new on the remote: no round trip
    shallow = os.path.exists(os.path.join(workdir, ".git", "shallow"))
    history = ["--depth", str(request.depth)] if request.depth else (["--unshallow"] if shallow else [])
    if target.sha is not None:
        result = git("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", *history, "origin",
                     target.refspec, cwd=workdir, check=False)
        if result.rc == 0:
            # A branch that moved after ls-remote was fetched at its newer tip: that is the revision to use.
            moved = local_commit(git, workdir, target.refspec.rpartition(":")[2]) if target.kind == BRANCH else None
            return moved or target.sha
        if not (target.kind == COMMIT and server_refused_sha(result.stderr)):
            raise git.failure(f"fetching {target.kind} {target.name}", result)
    # A short SHA, or a server that will not serve a bare SHA: fetch every branch and tag, full history.
    result = git("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", *(["--unshallow"] if shallow else []),
                 "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*", cwd=workdir,
                 check=False)
    if result.rc != 0:
        raise git.failure(f"fetching all refs to find commit {target.name}", result)
    sha = local_commit(git, workdir, target.sha or target.name)
    if sha is None:
        raise TridentError(f"commit {target.name} is not in {request.repo}")
    return sha


def verify(request, git, target, sha, workdir):
    """Signers of the commit (and of the tag, for a tag); a refusal raises before anything moves."""
    if not request.verify_signature:
        return None, None
    with private_tempdir(prefix="trident-gpg-") as home:
        keys = TrustedKeys(git.runner, home, request.trusted_keys)
        tag_signer = None
        if target.kind == TAG:
            if target.tag_object is None:
                raise TridentError(f"refusing tag {target.name}: it is a lightweight tag, which cannot be signed")
            tag_signer = keys.verify(git.runner, workdir, "tag", target.tag_object, f"tag {target.name}")
        signer = keys.verify(git.runner, workdir, "commit", sha, f"commit {sha}")
    return signer.as_dict(), tag_signer.as_dict() if tag_signer else None


def move(git, workdir, target, sha):
    """Point the working copy at ``sha``, discarding local changes (force-pushed branches included)."""
    if target.kind == BRANCH:
        git("checkout", "--quiet", "--force", "-B", target.name, sha, cwd=workdir)
    else:
        git("checkout", "--quiet", "--force", "--detach", sha, cwd=workdir)
    git("clean", "-ffdxq", cwd=workdir)


def update_submodules(git, workdir):
    git("submodule", "sync", "--quiet", "--recursive", cwd=workdir)
    git("submodule", "update", "--quiet", "--init", "--recursive", "--force", cwd=workdir)
    git("submodule", "foreach", "--quiet", "--recursive", "git clean -ffdxq", cwd=workdir)


def submodule_state(git, workdir):
    return git("submodule", "status", "--recursive", cwd=workdir).stdout


def local_changes(git, workdir):
    status = git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored", cwd=workdir)
    return parse_porcelain(status.stdout)


def drift_error(dest, changes):
    return TridentError(f"{dest} has local changes and clean is false: {changes.describe()}",
                        local_changes=changes.as_dict())


def head_sha(repo):
    try:
        return repo.head.commit.hexsha
    except ValueError:  # an empty repository has no HEAD commit yet
        return None


def current_branch(repo):
    return None if repo.head.is_detached else repo.active_branch.name


def branch_of(target):
    return target.name if target.kind == BRANCH else None


def has_commit(git, workdir, sha):
    return bool(sha) and git("cat-file", "-e", f"{sha}^{{commit}}", cwd=workdir, check=False).rc == 0


def local_commit(git, workdir, name):
    """The full SHA of a commit named by a (short) SHA in the local object store, or None."""
    result = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}", cwd=workdir,
                 check=False)
    return result.stdout.strip() or None


def changed_files(repo, before, after):
    """Paths that differ between two commits (both sides of a rename)."""
    if not before or before == after:
        return []
    diffs = repo.commit(before).diff(after)
    return sorted({path for item in diffs for path in (item.a_path, item.b_path) if path})


def all_files(repo, sha):
    return sorted(item.path for item in repo.commit(sha).tree.traverse() if item.type != "tree")


def commit_info(repo, sha):
    commit = repo.commit(sha)
    return CommitInfo(commit.hexsha, commit.author.name, commit.author.email,
                      commit.authored_datetime.isoformat(), str(commit.summary))
