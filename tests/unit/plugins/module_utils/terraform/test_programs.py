"""The check for configuration constructs that run programs: every way HCL and JSON can write one is found,
and what only looks like one (in a comment, a string, a heredoc, an unrelated exec block) is not.

The forms are generated: each construct written with identifier or quoted labels, escaped label characters,
comments between tokens, one-line blocks and nested blocks, next to decoys that put the same words where they are
not code. tests/integration/test_terraform_sandbox.py checks the scanner against Terraform's own reading.
"""

import itertools
import json

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.terraform.programs import find_programs


def whats(text, name="main.tf"):
    return sorted(construct.what for construct in find_programs(text, name))


EXTERNAL = 'data "external" runs a program'
LOCAL_EXEC = 'provisioner "local-exec" runs a program'


def label_forms(word):
    """The ways to write a block label that HCL reads as ``word``."""
    escaped = "".join(f"\\u{ord(char):04x}" if index == 1 else char for index, char in enumerate(word))
    forms = [f'"{word}"', f'"{escaped}"', f'"{word[:2]}\\U{ord(word[2]):08x}{word[3:]}"']
    if word.replace("-", "").isalnum():
        forms.append(word)  # an identifier label
    return forms


GAPS = [" ", "  ", "\t", " /* gap */ ", " /* multi\nline */ "]


def data_external_forms():
    for label, gap in itertools.product(label_forms("external"), GAPS):
        yield f'data{gap}{label}{gap}"prog" {{\n  program = ["sh", "-c", "id"]\n}}\n'
        yield f'data {label} prog {{ program = ["true"] }}\n'
        yield f'check "health" {{\n  data {label} "inner" {{\n    program = ["true"]\n  }}\n}}\n'


def local_exec_forms():
    for label, gap in itertools.product(label_forms("local-exec"), GAPS):
        yield ('resource "terraform_data" "x" {\n'
               f'  provisioner{gap}{label} {{\n    command = "id"\n  }}\n}}\n')
        yield f'resource terraform_data x {{\n  provisioner {label} {{ command = "id" }}\n}}\n'
        yield ('removed {\n  from = terraform_data.gone\n  lifecycle {\n    destroy = true\n  }\n'
               f'  provisioner {label} {{\n    when    = destroy\n    command = "id"\n  }}\n}}\n')


@pytest.mark.parametrize("text", list(data_external_forms()))
def test_every_form_of_data_external_is_found(text):
    assert whats(text) == [EXTERNAL], text


@pytest.mark.parametrize("text", list(local_exec_forms()))
def test_every_form_of_local_exec_is_found(text):
    assert whats(text) == [LOCAL_EXEC], text


@pytest.mark.parametrize("text", [
    'provider "kubernetes" {\n  exec {\n    api_version = "client.authentication.k8s.io/v1"\n'
    '    command = "aws"\n  }\n}\n',
    'provider "helm" {\n  kubernetes {\n    exec {\n      command = "aws"\n    }\n  }\n}\n',
    'provider "kubernetes" {\n  dynamic "exec" {\n    for_each = [1]\n    content { command = "id" }\n  }\n}\n',
    'provider "kubernetes" {\n  exec = { command = "id" }\n}\n',
    'provider kubernetes { exec { command = "id" } }\n',
])
def test_an_exec_block_in_a_provider_is_found(text):
    (found,) = find_programs(text, "providers.tf")
    assert found.what.startswith("an exec ") and found.what.endswith("runs a program")


@pytest.mark.parametrize("kind", ["data", "resource", "ephemeral", "action"])
def test_local_command_of_the_local_provider_is_found(kind):
    assert whats(f'{kind} "local_command" "x" {{\n  command = "id"\n}}\n') == [f'{kind} "local_command" runs a program']


DECOYS = [
    '# data "external" "x" { program = ["id"] }\n',
    '// provisioner "local-exec" { command = "id" }\n',
    '/* data "external" "x" {\n  program = ["id"]\n} */\n',
    'locals {\n  a = "data \\"external\\" \\"x\\" {"\n  b = "${"provisioner \\"local-exec\\" {"}"\n}\n',
    'locals {\n  doc = <<EOT\ndata "external" "x" {\n  program = ["id"]\n}\nEOT\n}\n',
    'locals {\n  doc = <<-EOT\n    provisioner "local-exec" {\n      command = "id"\n    }\n    EOT\n}\n',
    # exec blocks that run in a pod, not on the controller
    'resource "kubernetes_pod" "p" {\n  spec {\n    container {\n      liveness_probe {\n'
    '        exec {\n          command = ["true"]\n        }\n      }\n    }\n  }\n}\n',
    'data "external_thing" "x" {}\nresource "external_x" "y" {}\n',
    'resource "terraform_data" "x" {\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n',
    'locals {\n  m = { exec = "not a provider" }\n  s = "$${literal} %%{literal}"\n}\n',
]


@pytest.mark.parametrize("text", DECOYS)
def test_what_only_looks_like_a_program_is_not_one(text):
    assert whats(text) == [], text


@pytest.mark.parametrize("decoy, construct", list(itertools.product(DECOYS, [
    next(data_external_forms()), next(local_exec_forms())])))
def test_a_construct_after_a_decoy_is_still_found(decoy, construct):
    assert len(find_programs(decoy + construct, "main.tf")) == 1


def test_the_line_of_each_construct_is_given():
    text = "\n".join(['terraform {}', '', next(local_exec_forms()), next(data_external_forms())])
    assert [(c.line, c.what) for c in find_programs(text, "env/main.tf")] == [(4, LOCAL_EXEC), (9, EXTERNAL)]
    assert find_programs(text, "env/main.tf")[0].describe() == f"env/main.tf line 4: {LOCAL_EXEC}"


@pytest.mark.parametrize("document, expected", [
    ({"data": {"external": {"x": {"program": ["id"]}}}}, [EXTERNAL]),
    ({"data": [{"external": [{"x": [{"program": ["id"]}]}]}]}, [EXTERNAL]),
    ({"resource": {"terraform_data": {"x": {"provisioner": [{"local-exec": {"command": "id"}}]}}}}, [LOCAL_EXEC]),
    ({"provider": {"kubernetes": [{"exec": [{"command": "aws"}]}]}},
     ['an exec block in provider "kubernetes" runs a program']),
    ({"//": "data external x", "locals": {"data": "external"}}, []),
    ({"resource": {"kubernetes_pod": {"p": {"spec": {"container": {"exec": {"command": ["true"]}}}}}}}, []),
])
def test_json_syntax(document, expected):
    assert whats(json.dumps(document), "main.tf.json") == expected


def test_json_duplicate_keys_are_all_read():
    text = '{"data": {"local_file": {"x": {"filename": "f"}}}, "data": {"external": {"x": {"program": ["id"]}}}}'
    assert whats(text, "main.tf.json") == [EXTERNAL]
    text = '{"data": {"external": {"x": {"program": ["id"]}}}, "data": {"local_file": {"x": {"filename": "f"}}}}'
    assert whats(text, "main.tf.json") == [EXTERNAL]


@pytest.mark.parametrize("text", [
    'data "external" "x" {\n  program = ["id"\n',               # a block never closed
    'locals {\n  a = "never closed\n}\ndata "ext\\u0065rnal" "x" {}\n',
    'resource "x" "y" {\n  a = <<EOT\nno end marker\n}\nprovisioner local-exec {}\n',
])
def test_a_file_the_scanner_cannot_follow_is_searched_word_by_word(text):
    (found,) = find_programs(text, "broken.tf")
    assert "cannot be read by the check for programs" in found.what


def test_an_unreadable_file_without_the_words_passes():
    assert find_programs('resource "x" "y" {\n  a = "never closed\n}\n', "broken.tf") == []
    assert find_programs("{not json", "broken.tf.json") == []
