"""env.yml's helm_releases key: validated with the other settings, and it makes a kubernetes step."""

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import describe_environment

RELEASE = {"name": "web", "chart": {"path": "../../charts/web"}, "values": {"replicas": 2}}


def env_with(tmp_path, settings):
    env = tmp_path / "environments" / "prod"
    env.mkdir(parents=True)
    (env / "env.yml").write_text(yaml.safe_dump(settings))
    return env


def test_releases_alone_make_a_kubernetes_step_and_a_variable(tmp_path):
    env = describe_environment(env_with(tmp_path, {"namespace": "apps", "helm_releases": [RELEASE]}))
    assert env.steps == ["source", "kubernetes"]
    assert env.as_variable()["settings"]["helm_releases"] == [RELEASE]


def test_a_bad_release_fails_naming_env_yml_and_the_release(tmp_path):
    env = env_with(tmp_path, {"helm_releases": [{**RELEASE, "namespace": "apps", "chart": {"path": "c", "oci": "x"}}]})
    with pytest.raises(TridentError, match=r"env.yml: helm_releases\[0\] \(release 'web'\): 'chart' needs exactly one"):
        describe_environment(env)
    with pytest.raises(TridentError, match="'namespace' must be a namespace name"):
        describe_environment(env_with(tmp_path / "other", {"helm_releases": [RELEASE]}))
