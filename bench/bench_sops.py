"""Decrypting SOPS files: our lookup vs community.sops' lookup vs `sops -d`, 1 and 100 files.

Cases (same age-encrypted YAML files, made by the real sops, one process per case run):
- ours / anchor lookup: one ansible-playbook run whose single task calls the lookup with all the files
  (trident.gitops.sops vs community.sops.sops, which runs the sops binary once per file);
- sops -d: the sops binary once per file, from a shell-less loop;
- ours in-process: our module_utils called directly (what kube_diff and the terraform roles use),
  without Ansible's start-up.

Then Vault transit files (``sops --hc-vault-transit`` against the testbed's real Vault, tools/testbed/vault.py): ours
in-process vs ``sops -d`` per file, 1 and 100 files, and the Vault requests ours sends (one transit call per file,
one login per set of options).
"""

import functools
import os
import sys
import tempfile
from pathlib import Path

from bench.harness import REPO, compare, run_command

sys.path.insert(0, str(REPO / "tools"))

from testbed import tool  # noqa: E402  (tools/ is put on the path above)
from testbed.keys import age_identity  # noqa: E402
from testbed.sops import sops  # noqa: E402
from testbed.vault import VaultServer  # noqa: E402


def _make_files(directory, identity, count):
    files = []
    for index in range(count):
        path = Path(directory) / f"secret-{index:03d}.sops.yaml"
        body = "".join(f"key_{n}: value-{index}-{n}\n" for n in range(8)) + "nested:\n  list: [1, 2.5, true]\n"
        path.write_text(body)
        path.write_bytes(sops("--encrypt", "--age", identity.public, path.name, cwd=directory))
        files.append(str(path))
    return files


def _make_transit_files(directory, vault, count):
    uri = vault.create_transit_key("bench")
    files = []
    for index in range(count):
        path = Path(directory) / f"transit-{index:03d}.sops.yaml"
        path.write_text("".join(f"key_{n}: value-{index}-{n}\n" for n in range(8)))
        path.write_bytes(sops("--encrypt", "--hc-vault-transit", uri, path.name, cwd=directory,
                              vault=(vault.address, vault.root_token)))
        files.append(str(path))
    return files


def _transit(directory):
    """Transit files: ours in-process (one KeyOptions, so one login) vs sops -d per file."""
    from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
    from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
    from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VaultSettings

    with VaultServer(Path(directory) / "vault") as vault:
        all_files = _make_transit_files(directory, vault, 100)
        token = vault.login_approle(*vault.approle_credentials())
        env = {"VAULT_ADDR": vault.address, "VAULT_TOKEN": token}
        sops_binary = tool("sops")
        for count in (1, 100):
            files = all_files[:count]
            keys = KeyOptions(use_environment=False, vault=VaultSettings(address=vault.address, token=token))
            compare(f"decrypt {count} SOPS transit file(s)", {
                "anchor: sops -d per file": functools.partial(_each, files, lambda f: run_command(
                    [sops_binary, "-d", f], env=env)),
                "ours in-process (module_utils, no Ansible)": functools.partial(_each, files, lambda f: decrypt_file(
                    f, keys=keys)),
            }, rounds=3)
            print(f"Vault requests, ours, {count} file(s), every round (warm-up included): "
                  f"{keys.vault_client().requests} (one transit call per file, no login with a token)")


def _playbook(directory, name, lookup, files, key_file):
    path = Path(directory) / f"{name}.yml"
    options = f", age_key_file='{key_file}'" if lookup.startswith("trident") else ""
    path.write_text(f"""- hosts: localhost
  gather_facts: false
  tasks:
    - name: decrypt
      ansible.builtin.set_fact:
        decrypted: "{{{{ query('{lookup}', *files{options}) }}}}"
      no_log: true
    - name: check
      ansible.builtin.assert:
        that: decrypted | length == {len(files)}
        quiet: true
""")
    return path


def _each(files, action):
    for path in files:
        action(path)


def main():
    with tempfile.TemporaryDirectory(prefix="bench-sops-") as directory:
        identity = age_identity(Path(directory) / "age")
        all_files = _make_files(directory, identity, 100)
        env = {"SOPS_AGE_KEY_FILE": str(identity.path), "ANSIBLE_LOCALHOST_WARNING": "0",
               "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", "ANSIBLE_COLLECTIONS_PATH":
               os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")}
        sys.path.insert(0, env["ANSIBLE_COLLECTIONS_PATH"])
        from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
        from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions

        keys = KeyOptions(age_key_file=str(identity.path), use_environment=False)
        sops_binary = tool("sops")
        for count in (1, 100):
            files = all_files[:count]
            extra = ["-e", '{"files": %s}' % str(files).replace("'", '"')]

            def playbook(name, lookup, files, extra):
                book = _playbook(directory, f"{name}-{len(files)}", lookup, files, identity.path)
                return functools.partial(run_command, ["ansible-playbook", "-i", "localhost,", "-c", "local", book,
                                                       *extra], env=env)

            compare(f"decrypt {count} SOPS file(s)", {
                "ours: ansible-playbook + trident.gitops.sops": playbook("ours", "trident.gitops.sops", files, extra),
                "anchor: ansible-playbook + community.sops.sops": playbook("anchor", "community.sops.sops", files, extra),
                "anchor: sops -d per file": functools.partial(_each, files, lambda f: run_command(
                    [sops_binary, "-d", f], env=env)),
                "ours in-process (module_utils, no Ansible)": functools.partial(_each, files, lambda f: decrypt_file(
                    f, keys=keys)),
            }, rounds=3)
        _transit(directory)


if __name__ == "__main__":
    main()
