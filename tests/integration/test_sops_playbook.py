"""The module and the lookup through real ansible-playbook: results, files, check/diff, and no leak at -vvvv."""

import os
import re
import stat

import yaml

from sops_helpers import encrypt

from testbed.ansible import run_playbook

SECRET = "pl41n-S3cret-Value"
SECRET2 = "an0ther-S3cret"


def _output(result):
    return result.stdout + result.stderr


def test_module_dest_check_diff_and_no_leak(tmp_path, age_key):
    src = encrypt(tmp_path, "app.sops.yaml", f"password: {SECRET}\nport: 5432\n", "--age", age_key.public)
    dest = tmp_path / "out" / "app.yaml"
    dest.parent.mkdir()
    task = {"name": "decrypt", "trident.gitops.sops_decrypt": {
        "path": str(src), "dest": str(dest), "age_key_file": str(age_key.path), "use_environment": False}}

    check = run_playbook(tmp_path / "check", [task], check=True, diff=True, verbosity=4)
    assert check.rc == 0, _output(check)
    assert check.task_results()[0]["changed"] is True
    assert not dest.exists(), "check mode must not write"
    assert SECRET not in _output(check)
    assert "<masked:" in _output(check)
    assert "trident.gitops.sops_decrypt: running in the worker, no module process" in _output(check)

    first = run_playbook(tmp_path / "first", [task], diff=True, verbosity=4)
    assert first.rc == 0, _output(first)
    assert first.task_results()[0]["changed"] is True
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert yaml.safe_load(dest.read_text()) == {"password": SECRET, "port": 5432}
    assert SECRET not in _output(first)
    assert [p.name for p in dest.parent.iterdir()] == ["app.yaml"], "no temporary file left behind"

    again = run_playbook(tmp_path / "again", [task], verbosity=4)
    assert again.task_results()[0]["changed"] is False

    encrypt(tmp_path, "app.sops.yaml", f"password: {SECRET2}\nport: 5432\n", "--age", age_key.public)
    changed = run_playbook(tmp_path / "changed", [task], check=True, diff=True, verbosity=4)
    result = changed.task_results()[0]
    assert result["changed"] is True
    assert result["diff"]["before"] != result["diff"]["after"], "a changed secret shows as changed"
    assert "password: <masked:" in result["diff"]["after"]
    assert SECRET not in _output(changed) and SECRET2 not in _output(changed)
    assert yaml.safe_load(dest.read_text())["password"] == SECRET, "check mode kept the old file"


def test_module_data_and_lookup_with_no_log(tmp_path, age_key, gnupg_home):
    src = encrypt(tmp_path, "db.sops.json", f'{{"db": {{"password": "{SECRET}", "user": "app"}}}}',
                  "--pgp", gnupg_home.keys[1].fingerprint, gnupghome=gnupg_home.path)
    armored = gnupg_home.export_secret(gnupg_home.keys[1].fingerprint)
    tasks = [
        {"name": "module returns data", "trident.gitops.sops_decrypt": {
            "path": str(src), "pgp_private_keys": ["{{ pgp_key }}"], "use_environment": False},
         "register": "decrypted", "no_log": True},
        {"name": "module extract", "trident.gitops.sops_decrypt": {
            "content": "{{ lookup('ansible.builtin.file', '%s') }}" % src, "input_type": "json",
            "extract": '["db"]["password"]', "gnupg_home": str(gnupg_home.path)},
         "register": "extracted", "no_log": True},
        {"name": "lookup", "ansible.builtin.set_fact": {
            "from_lookup": "{{ lookup('trident.gitops.sops', '%s', gnupg_home='%s') }}" % (src, gnupg_home.path),
            "one_value": "{{ lookup('trident.gitops.sops', '%s', gnupg_home='%s', extract=['db', 'password']) }}"
                         % (src, gnupg_home.path)},
         "no_log": True},
        {"name": "check", "ansible.builtin.assert": {"quiet": True, "that": [
            "decrypted.data.db.password == expected", "extracted.data == expected", "extracted.content == expected",
            "from_lookup.db.password == expected", "from_lookup.db.user == 'app'", "one_value == expected"]},
         "no_log": True},
    ]
    result = run_playbook(tmp_path / "play", tasks, verbosity=4,
                          extra_vars={"expected": SECRET, "pgp_key": armored})
    assert result.rc == 0, _output(result)[-3000:]
    assert all(not r.get("failed") for r in result.task_results())
    # The armored private key itself comes in as an extra var; the decrypted secret must not leak.
    assert SECRET not in _output(result)


def test_lookup_error_is_clear_and_safe(tmp_path, age_key):
    src = encrypt(tmp_path, "s.sops.yaml", f"password: {SECRET}\n", "--age", age_key.public)
    src.write_text(re.sub(r"lastmodified: .*", "lastmodified: 'yesterday'", src.read_text()))
    tasks = [{"name": "lookup", "ansible.builtin.debug": {
        "msg": "{{ lookup('trident.gitops.sops', '%s', age_key_file='%s') }}" % (src, age_key.path)}}]
    result = run_playbook(tmp_path / "play", tasks, verbosity=4)
    assert result.rc != 0
    assert "lastmodified is not an RFC 3339 time" in _output(result)
    assert SECRET not in _output(result)
