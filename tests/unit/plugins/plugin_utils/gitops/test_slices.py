"""The slices of a run (inventory options slice/slice_count): generated dependency graphs against an independent
oracle (connected components by breadth-first search), and the properties every slice relies on: each environment in
exactly one slice, linked environments together, slices within one group's size of each other, the same answer
whatever order the environments are listed in."""

import random
from collections import deque

import pytest

from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.slices import assign_slices, linked_groups


def components(graph):
    """Oracle: the connected components of the undirected graph, by breadth-first search."""
    neighbours = {name: set() for name in graph}
    for name, wanted in graph.items():
        for other in wanted:
            if other in graph:
                neighbours[name].add(other)
                neighbours[other].add(name)
    seen, found = set(), []
    for start in sorted(graph):
        if start in seen:
            continue
        queue, component = deque([start]), []
        seen.add(start)
        while queue:
            name = queue.popleft()
            component.append(name)
            for other in neighbours[name] - seen:
                seen.add(other)
                queue.append(other)
        found.append(sorted(component))
    return sorted(found)


def generated(seed):
    rng = random.Random(seed)
    names = [f"env{n:03d}" for n in range(rng.randint(1, 60))]
    graph = {}
    for index, name in enumerate(names):
        earlier = names[:index]
        # Mostly independent environments, some chains (promote_from, depends_on) and a few unknown names.
        wanted = rng.sample(earlier, min(len(earlier), rng.choice([0, 0, 0, 1, 1, 2])))
        if rng.random() < 0.05:
            wanted.append("not-an-environment")
        graph[name] = wanted
    return graph


@pytest.mark.parametrize("seed", range(200))
def test_generated_graphs_slice_into_whole_linked_groups_of_even_size(seed):
    graph = generated(seed)
    count = random.Random(seed).randint(1, 7)
    assigned = assign_slices(graph, count)
    assert sorted(assigned) == sorted(graph)
    assert set(assigned.values()) <= set(range(1, count + 1))
    groups = components(graph)
    assert linked_groups(graph) == groups
    for group in groups:
        assert len({assigned[name] for name in group}) == 1, group
    sizes = [list(assigned.values()).count(number) for number in range(1, count + 1)]
    assert max(sizes) - min(sizes) <= max(len(group) for group in groups)
    # Every slice computes the same answer whatever order it listed the environments in.
    items = list(graph.items())
    random.Random(seed + 1).shuffle(items)
    shuffled = {name: list(reversed(wanted)) for name, wanted in items}
    assert assign_slices(shuffled, count) == assigned


def test_a_promotion_chain_stays_in_one_slice_and_the_rest_fill_the_others():
    graph = {"dev": [], "staging": ["dev"], "prod": ["staging"], "a": [], "b": [], "c": [], "d": []}
    assert assign_slices(graph, 3) == {"dev": 1, "staging": 1, "prod": 1, "a": 2, "b": 3, "c": 2, "d": 3}
    assert set(assign_slices(graph, 1).values()) == {1}


def test_more_slices_than_groups_leaves_slices_empty():
    assert assign_slices({"a": [], "b": ["a"]}, 3) == {"a": 1, "b": 1}


def test_a_slice_count_below_one_is_refused():
    with pytest.raises(ValueError, match="slice_count must be at least 1, got 0"):
        assign_slices({"a": []}, 0)
