"""A kubeconfig's inline client certificate and key, and those an allowed exec plugin prints, never touch the
disk, so a SIGKILL leaves no credential.

A real child process builds the client from such a kubeconfig with TMPDIR pointed at a test folder;
the SSL context's load_cert_chain is wrapped to report the paths it was given and then block, and the
child is SIGKILLed right there, while the credential is loaded.
"""

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap

import pytest
import yaml

from testbed.pki import CertificateAuthority
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect

CHILD = textwrap.dedent("""
    import os, ssl, sys, time
    from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect

    loaded = ssl.SSLContext.load_cert_chain

    def load_then_block(self, certfile, keyfile=None, password=None):
        loaded(self, certfile, keyfile, password)
        print(certfile, keyfile, flush=True)
        time.sleep(600)

    ssl.SSLContext.load_cert_chain = load_then_block
    connect(ConnectionSettings(kubeconfig=sys.argv[1], exec_commands=tuple(sys.argv[2:])))
""")


def inline_kubeconfig():
    authority = CertificateAuthority()
    cert, key = authority.issue("reconciler", organization="system:masters", client=True)
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                                     "certificate-authority-data": base64.b64encode(
                                                         authority.cert_pem).decode()}}],
              "users": [{"name": "u", "user": {"client-certificate-data": base64.b64encode(cert).decode(),
                                               "client-key-data": base64.b64encode(key).decode()}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    return yaml.safe_dump(config), key


def exec_kubeconfig():
    """A kubeconfig whose exec plugin prints a client certificate and key (an ExecCredential), CA inline; and the
    plugin's command line."""
    authority = CertificateAuthority()
    cert, key = authority.issue("reconciler", organization="system:masters", client=True)
    status = {"clientCertificateData": cert.decode(), "clientKeyData": key.decode()}
    plugin = ("import json; print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
              f"'kind': 'ExecCredential', 'status': {json.dumps(status)}}}))")
    argv = [sys.executable, "-c", plugin]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                                                     "certificate-authority-data": base64.b64encode(
                                                         authority.cert_pem).decode()}}],
              "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                        "command": argv[0], "args": argv[1:]}}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    return yaml.safe_dump(config), shlex.join(argv)


@pytest.mark.parametrize("made", [lambda: (inline_kubeconfig()[0], ""), exec_kubeconfig],
                         ids=["inline", "exec-plugin"])
def test_certificates_and_keys_leave_nothing_on_disk_after_sigkill(tmp_path, made):
    text, allowed = made()
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(text)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(kubeconfig)] + ([allowed] if allowed else []),
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        paths = child.stdout.readline().split()
        during = list(tmpdir.iterdir())
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert [p.split("/")[:4] for p in paths] == [["", "proc", "self", "fd"]] * 2, paths
    assert during == [] and list(tmpdir.iterdir()) == [], "no temporary file or folder, during or after the SIGKILL"


def test_the_memory_files_are_closed_once_the_client_is_built(tmp_path):
    text, _key = inline_kubeconfig()
    before = set(os.listdir("/proc/self/fd"))
    client = connect(ConnectionSettings(kubeconfig=text))
    assert client is not None
    leaked = [fd for fd in set(os.listdir("/proc/self/fd")) - before
              if "memfd:trident-kube-credential" in os.readlink(f"/proc/self/fd/{fd}")]
    assert leaked == []
