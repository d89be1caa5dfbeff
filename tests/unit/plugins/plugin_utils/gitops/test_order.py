import pytest
import yaml

from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import (
    BrokenEnvironment, Environment, describe_repository)
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.order import MAX_WAVES, assign_waves


def repository(tmp_path, settings):
    for name, data in settings.items():
        folder = tmp_path / "environments" / name
        folder.mkdir(parents=True)
        if data:
            (folder / "env.yml").write_text(yaml.safe_dump(data))
    return {env.name: env for env in describe_repository(tmp_path)}


def test_dependencies_come_first_and_independent_environments_share_a_wave(tmp_path):
    envs = repository(tmp_path, {"dev": None, "staging": {"depends_on": ["dev"]}, "prod": {"promote_from": "staging"},
                                 "qa": {"depends_on": ["dev"]}, "tools": None})
    assert {name: env.wave for name, env in envs.items()} == {"dev": 0, "tools": 0, "staging": 1, "qa": 1, "prod": 2}
    assert envs["prod"].variables()["trident_env_depends_on"] == ["staging"]
    assert envs["prod"].variables()["trident_env_promote_from"] == "staging"
    assert envs["staging"].variables()["trident_env_wave"] == 1


def test_wave_is_the_longest_chain_below(tmp_path):
    envs = repository(tmp_path, {"a": None, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["a", "b"]}})
    assert (envs["a"].wave, envs["b"].wave, envs["c"].wave) == (0, 1, 2)


@pytest.mark.parametrize("settings, broken, message", [
    ({"a": {"depends_on": ["a"]}}, {"a"}, "environments/a/env.yml: key 'depends_on': environment a depends on itself"),
    ({"a": {"promote_from": "nope"}}, {"a"},
     "environments/a/env.yml: key 'promote_from': environment a depends on 'nope', which is not an environment of "
     "this repository (known: a)"),
    ({"a": {"depends_on": [3]}}, {"a"}, "environments/a/env.yml: key 'depends_on': 3 is not an environment name"),
    ({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}, "c": None}, {"a", "b"},
     "environments/a/env.yml: key 'depends_on': environment a is in a dependency cycle: a -> b -> a"),
])
def test_unorderable_environments_fail_alone_naming_env_and_file(tmp_path, settings, broken, message):
    envs = repository(tmp_path, settings)
    assert {name for name, env in envs.items() if isinstance(env, BrokenEnvironment)} == broken
    assert envs["a"].error == f"environment a: {message}"
    assert all(isinstance(env, Environment) for name, env in envs.items() if name not in broken)


def test_a_dependent_of_a_broken_environment_still_waits_for_it(tmp_path):
    envs = repository(tmp_path, {"a": {"depends_on": ["a"]}, "b": {"depends_on": ["a"]}})
    assert isinstance(envs["a"], BrokenEnvironment) and envs["b"].wave == 1


def test_chains_deeper_than_the_playbooks_waves_are_refused():
    graph = {f"e{n}": [f"e{n - 1}"] if n else [] for n in range(MAX_WAVES + 1)}
    waves, errors = assign_waves(graph, {name: f"environments/{name}/env.yml" for name in graph})
    assert waves == {f"e{n}": n for n in range(MAX_WAVES)}
    assert errors == {f"e{MAX_WAVES}": f"environments/e{MAX_WAVES}/env.yml: key 'depends_on': environment "
                                       f"e{MAX_WAVES} waits for a chain of {MAX_WAVES} environments; a run orders "
                                       f"at most {MAX_WAVES} waves (chains of {MAX_WAVES - 1})"}
