"""git_source over SSH against a real sshd: key_file, known-hosts policy, refusals."""

import subprocess

from git_source_support import Upstream, run_source
from testbed import tool


def test_key_file_with_known_hosts_file_clones_and_stays_in_sync(tmp_path, git_server, ssh_server):
    upstream = Upstream(git_server, tmp_path, "ssh-known")
    head = upstream.commit({"app.yaml": "replicas: 1\n"})
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(ssh_server.known_hosts_line())
    params = {"repo": ssh_server.url(git_server.root / "ssh-known.git"), "dest": str(tmp_path / "checkout"),
              "version": "main", "key_file": str(ssh_server.client_key), "known_hosts_file": str(known_hosts)}

    first = run_source(tmp_path, **params)
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True and first["after"] == head
    assert (tmp_path / "checkout" / "app.yaml").read_text() == "replicas: 1\n"
    second = run_source(tmp_path, **params)
    assert second["changed"] is False and second["after"] == head


def test_unknown_host_key_is_refused_unless_accepted(tmp_path, git_server, ssh_server):
    upstream = Upstream(git_server, tmp_path, "ssh-unknown")
    head = upstream.commit({"app.yaml": "replicas: 2\n"})
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    params = {"repo": ssh_server.url(git_server.root / "ssh-unknown.git"), "dest": str(tmp_path / "checkout"),
              "version": "main", "key_file": str(ssh_server.client_key), "known_hosts_file": str(known_hosts)}

    refused = run_source(tmp_path, **params)
    assert refused["failed"] is True and "Host key verification failed" in refused["msg"]
    assert not (tmp_path / "checkout").exists(), "a refused first clone leaves nothing behind"

    accepted = run_source(tmp_path, accept_hostkey=True, **params)
    assert accepted.get("failed") is not True, accepted.get("msg")
    assert accepted["after"] == head
    assert ssh_server.host_public_key.split()[1] in known_hosts.read_text(), "the accepted key is remembered"


def test_a_key_the_server_does_not_know_is_refused(tmp_path, git_server, ssh_server):
    Upstream(git_server, tmp_path, "ssh-wrong-key").commit({"app.yaml": "x: 1\n"})
    stranger = tmp_path / "stranger"
    subprocess.run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(ssh_server.known_hosts_line())
    refused = run_source(tmp_path, repo=ssh_server.url(git_server.root / "ssh-wrong-key.git"),
                         dest=str(tmp_path / "checkout"), key_file=str(stranger), known_hosts_file=str(known_hosts))
    assert refused["failed"] is True and "Permission denied" in refused["msg"]
    assert not (tmp_path / "checkout").exists()
