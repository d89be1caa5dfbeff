"""Loading desired documents from files, directories, globs and inline definitions."""

import json

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.kube.loader import SOPS_HINT, load_desired


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_files_directories_globs_json_and_lists(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.yaml").write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n"
                                             "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n")
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "a" / "b" / "three.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                                 "items": [cm("three"), cm("four")]}))
    (tmp_path / "a" / "notes.txt").write_text("ignored")
    (tmp_path / "a" / ".hidden.yaml").write_text("not: loaded")
    (tmp_path / "g1.yml").write_text(json.dumps(cm("five")))
    loaded = load_desired(src=[str(tmp_path / "a"), str(tmp_path / "g*.yml")],
                          definition=[cm("six")])
    assert loaded.problems == []
    # A directory's files (sorted) come before its subdirectories'.
    assert [d.obj["metadata"]["name"] for d in loaded.documents] == ["one", "two", "three", "four", "five", "six"]
    assert loaded.documents[0].source.endswith("one.yaml#0")
    assert loaded.documents[2].source.endswith("three.json.items[0]")


def test_every_problem_is_reported(tmp_path):
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "scalar.yaml").write_text("- just\n- a list\n")
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    loaded = load_desired(src=[str(tmp_path), str(tmp_path / "missing.yaml"), str(tmp_path / "*.nothing")],
                          definition={"apiVersion": "v1", "kind": "Secret", "sops": {"mac": "x"}})
    text = "\n".join(loaded.problems)
    assert "bad.json: invalid JSON" in text and "bad.yaml: invalid YAML" in text
    assert "scalar.yaml: a manifest must be a mapping" in text
    assert "kustomization.yaml: a kustomization" in text
    assert "missing.yaml: no such file" in text and "matches no file" in text
    assert f"definition[0]: {SOPS_HINT}" in text
    assert len(loaded.problems) == 7


def test_yaml_errors_do_not_quote_the_document(tmp_path):
    (tmp_path / "s.yaml").write_text("stringData:\n  password: hunter2-secret\n  bad: [\n")
    loaded = load_desired(src=[str(tmp_path / "s.yaml")])
    assert loaded.problems and "hunter2-secret" not in loaded.problems[0]


def test_sops_files_go_through_the_decrypt_hook_as_text(tmp_path):
    encrypted = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "ENC[...]"},
                 "sops": {"mac": "ENC[...]", "version": "3.9.0"}}
    (tmp_path / "secret.sops.yaml").write_text("# comment kept for the MAC\n" + json.dumps(encrypted))
    seen = []

    def decrypt(content, fmt, source):
        seen.append((content.splitlines()[0] if fmt == "yaml" else json.loads(content)["kind"], fmt, source))
        return [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}]

    loaded = load_desired(src=[str(tmp_path)], definition=[encrypted], decrypt=decrypt)
    assert loaded.problems == []
    assert seen == [("# comment kept for the MAC", "yaml", str(tmp_path / "secret.sops.yaml")),
                    ("Secret", "json", "definition[0]")]
    assert [d.obj["data"] for d in loaded.documents] == [{"k": "dg=="}, {"k": "dg=="}]


def test_kustomize_is_built_with_kubectl(tmp_path):
    (tmp_path / "cm.yaml").write_text(json.dumps(cm("base")))
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: p-\n")
    loaded = load_desired(kustomize=str(tmp_path), runner=CommandRunner())
    assert loaded.problems == [] and loaded.documents[0].obj["metadata"]["name"] == "p-base"
    failed = load_desired(kustomize=str(tmp_path / "nope"), runner=CommandRunner())
    assert "kustomize directory not found" in failed.problems[0]


def test_only_kubeconfig_credentials_are_secret():
    from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (
        kubeconfig_secret_values, module_secret_values)

    config = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
              "users": [{"name": "admin", "user": {"token": "tok-123456", "exec": {"env": [{"name": "A",
                                                                                           "value": "env-secret"}]}}}]}
    assert sorted(kubeconfig_secret_values(config)) == ["A", "env-secret", "tok-123456"]
    assert kubeconfig_secret_values("/path/to/kubeconfig.yaml") == [], "a path is not a secret"
    text = "apiVersion: v1\nusers:\n- name: admin\n  user: {token: tok-123456}\n"
    assert kubeconfig_secret_values(text) == [text, "tok-123456"]
    spec = {"kubeconfig": {"no_log": True}, "api_key": {"no_log": True}, "namespace": {}}
    values = module_secret_values(spec, {"kubeconfig": config, "api_key": "key-987654", "namespace": "default"})
    assert "key-987654" in values and "tok-123456" in values
    assert "v1" not in values and "Config" not in values and "default" not in values


def test_no_log_suboptions_are_secret_too():
    """helm.repositories[].password: a no_log suboption inside a list of dicts inside a dict."""
    from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import HELM_OPTION
    from ansible_collections.trident.gitops.plugins.module_utils.kube.client import module_secret_values

    helm = {"repo_path": "/repo", "repositories": [{"url": "https://charts.example", "username": "bot",
                                                    "password": "chart-pass-1"},
                                                   {"url": "oci://registry.example", "password": "oci-pass-2"}]}
    values = module_secret_values({"helm": HELM_OPTION, "namespace": {}}, {"helm": helm, "namespace": "default"})
    assert sorted(values) == ["chart-pass-1", "oci-pass-2"]
    assert module_secret_values({"helm": HELM_OPTION}, {"helm": None}) == []


def test_yaml_values_json_cannot_carry_become_what_kubectl_sends(tmp_path):
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dates\n  labels: {day: 2024-05-01}\ndata:\n"
        "  release-date: 2024-05-01\n  stamp: 2001-12-14t21:59:43.10-05:00\n  1: one\n  2.50: two\n"
        "  text: !!binary aGVsbG8=\n")
    loaded = load_desired(src=[str(tmp_path / "cm.yaml")])
    assert loaded.problems == []
    obj = loaded.documents[0].obj
    assert obj["data"] == {"release-date": "2024-05-01", "stamp": "2001-12-14t21:59:43.10-05:00", "1": "one",
                           "2.5": "two", "text": "hello"}
    assert obj["metadata"]["labels"] == {"day": "2024-05-01"}
    json.dumps(obj)  # what used to fail with "Object of type date is not JSON serializable"


def test_yaml_values_without_a_json_form_name_file_and_path(tmp_path):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                                       "data:\n  ratio: .nan\n  blob: !!binary /w==\n  ~: null-key\n")
    problems = load_desired(src=[str(tmp_path / "bad.yaml")]).problems
    text = "\n".join(problems)
    assert f"{tmp_path / 'bad.yaml'}: .data.ratio: nan has no JSON form" in text
    assert ".data.blob: a !!binary value that is not UTF-8 text" in text
    assert ".data: a NoneType map key (None) has no JSON form; quote it" in text
    assert len(problems) == 3, problems
