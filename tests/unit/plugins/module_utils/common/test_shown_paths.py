"""Repository paths in messages are shown relative to the repository, whoever wrote the message."""

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.shown_paths import ShownPaths

ROOT = "/home/ci/.cache/trident-gitops/checkouts/0f0f"


def test_paths_under_a_root_become_relative_and_the_root_itself_a_dot():
    shown = ShownPaths([ROOT])
    assert shown.text(f"{ROOT}/environments/web/env.yml: helm release 'app'") == \
        "environments/web/env.yml: helm release 'app'"
    # helm's and kustomize's own wording, quoted or not
    assert shown.text(f"Error: failed to parse {ROOT}/environments/web/broken.yaml: error converting YAML") \
        == "Error: failed to parse environments/web/broken.yaml: error converting YAML"
    assert shown.text(f"accumulating resources from '{ROOT}/environments/web/missing.yaml'") \
        == "accumulating resources from 'environments/web/missing.yaml'"
    assert shown.text(f"kustomize {ROOT}") == "kustomize ."
    assert shown.text(f"({ROOT})") == "(.)"


def test_a_longer_name_sharing_the_prefix_and_the_file_system_root_are_left_alone():
    shown = ShownPaths([ROOT, "/"])
    assert shown.text(f"{ROOT}-old/x.yaml and /etc/hosts") == f"{ROOT}-old/x.yaml and /etc/hosts"


def test_the_real_path_of_a_root_is_rewritten_too(tmp_path):
    real = tmp_path / "real"
    (real / "environments").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    shown = ShownPaths([str(link)])
    assert shown.text(f"{os.path.realpath(real)}/environments/a.yaml {link}/b.yaml") == "environments/a.yaml b.yaml"


def test_nested_roots_name_files_from_the_outer_one():
    shown = ShownPaths([f"{ROOT}/environments/web", ROOT])
    assert shown.text(f"{ROOT}/environments/web/env.yml") == "environments/web/env.yml"


def test_errors_and_nested_values_are_rewritten():
    shown = ShownPaths([ROOT])
    error = shown.error(TridentError(f"{ROOT}/a.yaml: bad", problems=[f"{ROOT}/a.yaml: bad"], applied=("x",)))
    assert error.message == "a.yaml: bad" and error.details == {"problems": ["a.yaml: bad"], "applied": ("x",)}
    assert shown.value({"skipped": [f"{ROOT}/b.yaml"], "n": 3}) == {"skipped": ["b.yaml"], "n": 3}
