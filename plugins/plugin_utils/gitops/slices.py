"""Which slice of a run each environment belongs to, when N controllers (or N ansible-playbook processes, N execution
nodes) share the environments of one repository: the inventory's ``slice``/``slice_count`` options (issue 29).

Every slice reads the same repository and must come to the same answer without talking to the others, so the
assignment is a pure function of the environments' names and dependencies: no hash seed, no listing order, no clock.
Environments linked by ``depends_on`` or ``promote_from`` (directly or not) stay in one slice, so their order and a
promotion in the same run hold exactly as in one run over everything. The groups so linked are dealt out largest
first to the slice holding fewest environments so far (ties: the lower slice; among groups of one size, the group
whose first name sorts first goes first), which keeps the slices within one group's size of each other.
"""

from __future__ import annotations


def linked_groups(graph: dict) -> list:
    """The environments of ``graph`` (name -> the environments it waits for) grouped so that linked environments share a
    group, each group sorted, the groups sorted by their first name. Names ``graph`` waits for but does not list are
    ignored (the inventory already made those environments errors)."""
    parent = {name: name for name in graph}

    def root(name):
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name, wanted in graph.items():
        for other in wanted:
            if other in parent:
                low, high = sorted((root(name), root(other)))
                parent[high] = low
    groups = {}
    for name in sorted(graph):
        groups.setdefault(root(name), []).append(name)
    return sorted(groups.values())


def assign_slices(graph: dict, count: int) -> dict:
    """Slice number (1 to ``count``) of every environment of ``graph``."""
    if count < 1:
        raise ValueError(f"slice_count must be at least 1, got {count}")
    sizes = [0] * count
    assigned = {}
    for group in sorted(linked_groups(graph), key=lambda names: (-len(names), names[0])):
        target = min(range(count), key=lambda index: (sizes[index], index))
        sizes[target] += len(group)
        assigned.update((name, target + 1) for name in group)
    return assigned
