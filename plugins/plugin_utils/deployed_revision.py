# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What an environment's folder is at a Git revision, and what changed in it since the deployed one.

Source drift is "the tree of the environment's folder differs from the tree recorded when it was last
deployed" (docs/reconcile.md), so a commit that touches only another environment is no drift. These
functions read the controller's checkout with ``git`` (given as ``git(args) -> (rc, stdout)`` so tests can
inject one); the lookup trident.gitops.deployed_revision is their one user.
"""

from __future__ import annotations

import subprocess

MAX_COMMITS = 100


def run_git(checkout):
    """A ``git`` runner in ``checkout``: ``(rc, stdout)``, stderr dropped (a missing object is an answer)."""
    def git(args):
        done = subprocess.run(["git", "-C", checkout, *args], capture_output=True, text=True, check=False)
        return done.returncode, done.stdout
    return git


def folder_tree(git, revision, env_dir):
    """``(commit, tree of env_dir at it)``, or ``(None, None)`` when the checkout is no Git repository."""
    rc, out = git(["rev-parse", "--verify", "--quiet", f"{revision or 'HEAD'}^{{commit}}"])
    if rc != 0 or not out.strip():
        return None, None
    commit = out.strip()
    rc, out = git(["rev-parse", "--verify", "--quiet", f"{commit}:{env_dir.strip('/')}" if env_dir else
                   f"{commit}^{{tree}}"])
    return commit, (out.strip() or None) if rc == 0 else None


def history(git, recorded, commit, tree, env_dir):
    """Commits (sha, subject) touching ``env_dir`` from the recorded revision to ``commit``, and its changed
    files. ``history`` says whether the recorded commit was in the checkout (a shallow clone may lack it):
    without it the files still come from the recorded tree when that object is present."""
    found = {"commits": [], "changed_files": [], "history": "unavailable"}
    if not recorded or not commit:
        return found
    pathspec = ["--", env_dir] if env_dir else []
    if _has(git, f"{recorded['revision']}^{{commit}}"):
        rc, out = git(["log", f"--max-count={MAX_COMMITS}", "--format=%H%x09%s",
                       f"{recorded['revision']}..{commit}", *pathspec])
        found["commits"] = [dict(zip(("sha", "subject"), line.split("\t", 1))) for line in out.splitlines()
                            if "\t" in line] if rc == 0 else []
        found["history"] = "complete"
    if tree and _has(git, f"{recorded['tree']}^{{tree}}"):
        rc, out = git(["diff", "--name-only", "--no-renames", recorded["tree"], tree])
        prefix = env_dir.strip("/") + "/" if env_dir else ""
        found["changed_files"] = [prefix + path for path in out.splitlines() if path] if rc == 0 else []
    return found


def _has(git, name):
    return git(["cat-file", "-e", name])[0] == 0
