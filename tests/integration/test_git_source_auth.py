"""git_source over smart HTTP with basic auth: credentials work and never show anywhere."""

import os
import subprocess
import threading
from pathlib import Path

import pytest
from git_source_support import Upstream, git_files, head_of, run_source, run_source_logged

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import GitAuth
from ansible_collections.trident.gitops.plugins.module_utils.git.source import SyncRequest, sync


@pytest.fixture()
def upstream(git_server, tmp_path, request):
    repo = Upstream(git_server, tmp_path, request.node.name.replace("[", "-").replace("]", ""))
    repo.commit({"README.md": "hello\n"}, "first")
    return repo


@pytest.fixture()
def storing_git_config(tmp_path):
    """A user git config whose credential helper saves every credential git hands it, in plain text."""
    store = tmp_path / "git-credentials"
    config = tmp_path / "user-gitconfig"
    config.write_text(f"[credential]\n\thelper = store --file={store}\n")
    return {"GIT_CONFIG_GLOBAL": str(config)}, store


def assert_nowhere(secret, *texts):
    for text in texts:
        assert secret not in text


def test_password_over_http_never_lands_in_config_logs_or_helpers(git_server, upstream, tmp_path,
                                                                  storing_git_config):
    env, store = storing_git_config
    # Control: plain git with this user config does persist a credential it got from a helper.
    control = subprocess.run(["git", "-c", "credential.helper=!f() { echo username=u; echo password=p; }; f",
                              "ls-remote", git_server.http_url(upstream.name)],
                             env={**os.environ, **env, "GIT_TERMINAL_PROMPT": "0"}, capture_output=True,
                             check=False)
    assert control.returncode != 0 and not store.exists()  # wrong credentials are not stored...
    subprocess.run(["git", "ls-remote", git_server.http_url(upstream.name, with_credentials=True)],
                   env={**os.environ, **env}, capture_output=True, check=True)
    assert git_server.password in store.read_text()  # ...right ones are
    store.unlink()

    dest = tmp_path / "checkout"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result, run = run_source_logged(tmp_path, verbosity=4, env={**env, "TMPDIR": str(tmpdir)},
                                    repo=git_server.http_url(upstream.name), dest=str(dest),
                                    username=git_server.username, password=git_server.password)
    assert result["changed"] is True and head_of(dest) == upstream.head()
    assert not store.exists(), "the user's credential helper must never see our credential"
    assert_nowhere(git_server.password, run.stdout, run.stderr)
    assert_nowhere(git_server.password.encode(), *git_files(dest).values())
    assert list(tmpdir.iterdir()) == [], "no temporary file left behind"

    upstream.commit({"x": "1\n"}, "second")
    updated, run = run_source_logged(tmp_path, verbosity=4, repo=git_server.http_url(upstream.name), dest=str(dest),
                                     username=git_server.username, password=git_server.password)
    assert updated["after"] == upstream.head() == head_of(dest)
    assert_nowhere(git_server.password, run.stdout, run.stderr)
    assert_nowhere(git_server.password.encode(), *git_files(dest).values())


def test_token_auth_and_failures_keep_the_token_out_of_messages(git_server, upstream, tmp_path):
    url = git_server.http_url(upstream.name)
    token = git_server.password  # the test server checks basic auth; a token is the password of a user
    denied, run = run_source_logged(tmp_path, verbosity=4, repo=url, dest=str(tmp_path / "denied"), token=token)
    assert denied["failed"] is True and "listing refs" in denied["msg"]  # user x-access-token is unknown here
    assert_nowhere(token, denied["msg"], run.stdout, run.stderr)
    assert not (tmp_path / "denied").exists()

    wrong = "not-the-" + token
    bad, run = run_source_logged(tmp_path, verbosity=4, repo=url, dest=str(tmp_path / "bad"),
                                 username=git_server.username, token=wrong)
    assert bad["failed"] is True
    assert_nowhere(wrong, bad["msg"], run.stdout, run.stderr)

    dest = tmp_path / "checkout"
    good = run_source(tmp_path, repo=url, dest=str(dest), username=git_server.username, token=token)
    assert good["changed"] is True and head_of(dest) == upstream.head()
    assert_nowhere(token.encode(), *git_files(dest).values())


def test_credentials_in_the_url_are_refused(git_server, upstream, tmp_path):
    result, run = run_source_logged(tmp_path, repo=git_server.http_url(upstream.name, with_credentials=True),
                                    dest=str(tmp_path / "checkout"))
    assert result["failed"] is True and "must not embed a password" in result["msg"]
    assert_nowhere(git_server.password, result["msg"], run.stdout, run.stderr)
    assert not (tmp_path / "checkout").exists()


def test_no_process_ever_has_the_password_in_its_arguments(git_server, upstream, tmp_path):
    seen = set()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        seen.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" "))
                    except OSError:
                        pass

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = run_source(tmp_path, repo=git_server.http_url(upstream.name), dest=str(tmp_path / "checkout"),
                            username=git_server.username, password=git_server.password)
    finally:
        stop.set()
        sampler.join()
    assert result["changed"] is True
    assert any(b"ansible-playbook" in line for line in seen), "the sampler watched the run"
    assert [line for line in seen if git_server.password.encode() in line] == []


class RecordingRunner(CommandRunner):
    """A real runner that also records what every command got."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def __call__(self, argv, cwd=None, env=None, **kwargs):
        self.calls.append((list(map(str, argv)), dict(env or {})))
        return super().__call__(argv, cwd=cwd, env=env, **kwargs)


def test_password_only_travels_in_the_environment_of_git(git_server, upstream, tmp_path):
    auth = GitAuth(username=git_server.username, password=git_server.password)
    runner = RecordingRunner(masked=auth.secrets)
    result = sync(SyncRequest(git_server.http_url(upstream.name), str(tmp_path / "checkout"), auth=auth), runner)
    assert result.changed is True
    commands = [argv[3] if argv[1] == "-C" else argv[1] for argv, _env in runner.calls]
    assert "ls-remote" in commands and "fetch" in commands
    for argv, env in runner.calls:
        assert_nowhere(git_server.password, *argv)
        holders = sorted(key for key, value in env.items() if git_server.password in value)
        assert holders in ([], ["TRIDENT_GIT_PASSWORD"])
    helper_keys = [value for _argv, env in runner.calls for key, value in env.items()
                   if key.startswith("GIT_CONFIG_KEY")]
    assert f"credential.http://127.0.0.1:{git_server.http_port}.helper" in helper_keys
