import pytest
import yaml

from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.layout import (
    BrokenEnvironment, Environment, describe_repository)
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.order import assign_waves, run_batches


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
    assert envs["prod"].as_variable()["depends_on"] == ["staging"]
    assert envs["prod"].as_variable()["settings"]["promote_from"] == "staging"
    assert envs["staging"].as_variable()["wave"] == 1


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


@pytest.mark.parametrize("settings", [
    {"a": {"depends_on": ["a"]}, "b": {"depends_on": ["a"]}, "c": {"promote_from": "b"}},  # on itself
    {"a": {"depends_on": ["z"]}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}, "z": {"depends_on": ["a"]}},
    {"a": {"depends_on": "not a list"}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}},  # unreadable
])
def test_whatever_waits_for_an_environment_that_cannot_be_ordered_cannot_be_ordered(tmp_path, settings):
    """Issue 25: a dependant of a cycle member was put in wave 0 next to it and applied; transitively, too."""
    envs = repository(tmp_path, settings)
    assert isinstance(envs["b"], BrokenEnvironment) and isinstance(envs["c"], BrokenEnvironment)
    assert "waits for" in envs["c"].error and "which cannot be ordered" in envs["c"].error
    assert envs["c"].error.startswith("environment c: environments/c/env.yml: key 'depends_on': ")


def test_chains_of_any_depth_are_ordered():
    graph = {f"e{n}": [f"e{n - 1}"] if n else [] for n in range(40)}
    waves, errors = assign_waves(graph, {name: f"environments/{name}/env.yml" for name in graph})
    assert waves == {f"e{n}": n for n in range(40)} and errors == {}


@pytest.mark.parametrize("hosts, graph, batches", [
    (["a", "b"], {"b": ["a"]}, [["a"], ["b"]]),
    (["b", "c"], {"b": ["a"], "c": ["b"]}, [["b"], ["c"]]),  # a is not in the run: b does not wait for it
    (["a", "c"], {"b": ["a"], "c": ["b"]}, [["a", "c"]]),  # c waits for b only, which is not in the run
    (["x", "y", "z"], {}, [["x", "y", "z"]]),
    (["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b", "c"]}, [["a"], ["b", "c"], ["d"]]),
])
def test_a_run_is_batched_by_the_dependencies_inside_it(hosts, graph, batches):
    assert run_batches(hosts, graph) == batches
