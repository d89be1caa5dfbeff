"""In which order the environments of one run reconcile (env.yml ``depends_on`` and ``promote_from``).

An environment reconciles after the ones it depends on; environments that do not depend on each other
reconcile side by side (Ansible forks). The order is a wave number per environment: wave 0 has no
dependency, wave n depends on something in wave n-1 at most. The playbooks run one play per wave, a
bounded number of plays (MAX_WAVES), so a chain deeper than that is an error, like a cycle, a dependency
on itself or on an environment the repository does not have. Every error names the environment and
its env.yml; it fails that environment only (the inventory makes it a failing host).
"""

from __future__ import annotations

# The playbooks reconcile.yml and drift.yml hold one play per wave: keep them in step with this.
MAX_WAVES = 5


def dependencies(settings: dict) -> list:
    """The environments this one waits for: ``depends_on`` and the ``promote_from`` source (a gate implies order)."""
    wanted = list(settings.get("depends_on", []))
    source = settings.get("promote_from")
    if source and source not in wanted:
        wanted.append(source)
    return wanted


def check_dependencies(name: str, settings: dict, known: set, source: str) -> None | str:
    """The first problem with one environment's own settings (self, unknown environment, not a name), or None."""
    for key, wanted in (("depends_on", settings.get("depends_on", [])), ("promote_from", [settings.get("promote_from")])):
        for other in wanted:
            if other is None and key == "promote_from":
                continue
            if not isinstance(other, str):
                return f"{source}: key '{key}': {other!r} is not an environment name"
            if other == name:
                return f"{source}: key '{key}': environment {name} depends on itself"
            if other not in known:
                return (f"{source}: key '{key}': environment {name} depends on '{other}', which is not an "
                        f"environment of this repository (known: {', '.join(sorted(known))})")
    return None


def _find_cycle(start: str, graph: dict) -> list | None:
    """A path start -> ... -> start through ``graph``, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for other in graph.get(node, ()):
            if other == start:
                return path + [start]
            if other not in seen:
                seen.add(other)
                stack.append((other, path + [other]))
    return None


def _depth(name: str, graph: dict, depths: dict) -> int:
    """Longest dependency chain below ``name`` (graph is acyclic here)."""
    if name not in depths:
        depths[name] = 1 + max((_depth(other, graph, depths) for other in graph.get(name, ())), default=-1)
    return depths[name]


def assign_waves(graph: dict, sources: dict) -> tuple[dict, dict]:
    """Wave per environment and an error per environment that cannot be ordered.

    ``graph`` maps every environment to the ones it waits for (already checked to be known names);
    ``sources`` names each environment's env.yml for messages. An environment in a cycle is an error;
    one that waits for an erroneous environment keeps its place after it and fails there (its dependency
    did not reconcile).
    """
    errors = {}
    for name in graph:
        cycle = _find_cycle(name, graph)
        if cycle:
            errors[name] = (f"{sources[name]}: key 'depends_on': environment {name} is in a dependency cycle: "
                            f"{' -> '.join(cycle)}")
    acyclic = {name: [other for other in wanted if other not in errors] for name, wanted in graph.items()}
    depths = {}
    waves = {name: _depth(name, acyclic, depths) for name in graph if name not in errors}
    for name, wave in waves.items():
        if wave >= MAX_WAVES:
            errors[name] = (f"{sources[name]}: key 'depends_on': environment {name} waits for a chain of {wave} "
                            f"environments; a run orders at most {MAX_WAVES} waves (chains of {MAX_WAVES - 1})")
    return {name: wave for name, wave in waves.items() if name not in errors}, errors
