"""The module's logic in-process on real sops files: output types, extract, dest semantics."""

import json
import os
import stat

import pytest
import yaml

from sops_helpers import encrypt

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.sops.service import run_decrypt


@pytest.fixture
def source(tmp_path, age_key):
    return encrypt(tmp_path, "app.yaml", "# comment\nuser: app\npassword: hunter2\nport: 5432\nnested: {a: [1, 2]}\n",
                   "--age", age_key.public)


def params(source, age_key, **extra):
    return {"path": str(source), "age_key_file": str(age_key.path), "use_environment": False, **extra}


def test_output_types_and_extract(source, age_key):
    as_json = run_decrypt(validated_request(params(source, age_key, output_type="json")))
    assert json.loads(as_json["content"]) == as_json["data"]
    assert as_json["data"]["password"] == "hunter2" and as_json["changed"] is False
    assert run_decrypt(validated_request(params(source, age_key, extract='["nested"]["a"][1]')))["content"] == "2"
    assert run_decrypt(validated_request(params(source, age_key, extract=["nested", "a"])))["data"] == [1, 2]
    nested = run_decrypt(validated_request(params(source, age_key, extract='["nested"]')))
    assert yaml.safe_load(nested["content"]) == {"a": [1, 2]}
    with pytest.raises(SopsError, match="nested data"):
        run_decrypt(validated_request(params(source, age_key, output_type="dotenv")))


def test_dest_written_once_with_mode_0600(source, age_key, tmp_path):
    dest = tmp_path / "plain.json"
    first = run_decrypt(validated_request(params(source, age_key, dest=str(dest), output_type="json")), diff=True)
    assert first["changed"] is True and "hunter2" not in json.dumps(first)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert json.loads(dest.read_text())["password"] == "hunter2"
    dest.chmod(0o644)
    second = run_decrypt(validated_request(params(source, age_key, dest=str(dest), output_type="json")))
    assert second["changed"] is False and stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert "data" not in second and "content" not in second


def test_failed_decryption_leaves_dest_intact(source, age_key, tmp_path):
    dest = tmp_path / "plain.yaml"
    dest.write_text("previous: content\n")
    source.write_text(source.read_text().replace("lastmodified:", "lastmodified: '2024-13-01T00:00:00Z'\n    was:"))
    with pytest.raises(SopsError, match="lastmodified is not an RFC 3339 time"):
        run_decrypt(validated_request(params(source, age_key, dest=str(dest))))
    assert dest.read_text() == "previous: content\n"
