"""Helpers for the git_source integration tests: an upstream repository on the real test server, and
running the module through ansible-playbook."""

import itertools
import subprocess
from pathlib import Path

from testbed.ansible import run_playbook
from testbed.gitserver import git

_RUNS = itertools.count()


class Upstream:
    """A bare repository on the test server plus a working clone to commit, tag and push from."""

    def __init__(self, server, tmp_path, name):
        self.server = server
        self.name = name
        server.create_repo(name)
        self.work = Path(tmp_path) / f"{name}-work"
        git("clone", "--quiet", server.git_url(name), str(self.work))
        self.env = {}  # GNUPGHOME goes here for signed commits and tags

    @property
    def url(self):
        return self.server.git_url(self.name)

    def git(self, *args):
        return git(*args, cwd=self.work, env=self.env)

    def commit(self, files, message="change", sign_with=None, push=True):
        """Write ``files`` ({path: text or None to delete}), commit (signed if asked) and push."""
        for path, text in files.items():
            target = self.work / path
            if text is None:
                target.unlink()
                self.git("rm", "--quiet", "--cached", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", path)
        self.git(*signing(sign_with), "commit", "--quiet", *(["-S"] if sign_with else []), "-m", message)
        if push:
            self.push()
        return self.head()

    def head(self, ref="HEAD"):
        return self.git("rev-parse", ref)

    def push(self, force=False):
        self.git("push", "--quiet", *(["--force"] if force else []), "origin", "HEAD:main")

    def tag(self, name, annotated=True, sign_with=None):
        if sign_with:
            self.git(*signing(sign_with), "tag", "-s", name, "-m", f"release {name}")
        elif annotated:
            self.git("tag", "-a", name, "-m", f"release {name}")
        else:
            self.git("tag", name)
        self.git("push", "--quiet", "origin", f"refs/tags/{name}")


def signing(fingerprint):
    return ["-c", "gpg.program=gpg", "-c", f"user.signingkey={fingerprint}"] if fingerprint else []


def run_source(tmp_path, check=False, diff=False, verbosity=0, env=None, **params):
    """Run trident.gitops.git_source once; return its task result."""
    return run_source_logged(tmp_path, check=check, diff=diff, verbosity=verbosity, env=env, **params)[0]


def run_source_logged(tmp_path, check=False, diff=False, verbosity=0, env=None, **params):
    """Run trident.gitops.git_source once; return (task result, PlaybookResult) for checks of the output."""
    run = run_playbook(Path(tmp_path) / f"run-{next(_RUNS)}", [{"name": "source", "trident.gitops.git_source": params}],
                       check=check, diff=diff, verbosity=verbosity, env=env)
    results = run.task_results()
    assert results, f"playbook did not run: {run.stdout}\n{run.stderr}"
    return results[0], run


def snapshot(dest):
    """Everything a user could see of a checkout: HEAD and every file outside .git with its content."""
    dest = Path(dest)
    files = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*")
             if p.is_file() and ".git" not in p.relative_to(dest).parts}
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False).stdout
    return head.strip(), files


def git_files(dest):
    """Every file under dest/.git with its bytes (config, logs, reflogs, ...)."""
    return {p: p.read_bytes() for p in (Path(dest) / ".git").rglob("*") if p.is_file()}


def head_of(dest):
    return git("rev-parse", "HEAD", cwd=dest)
