"""In which order the environments of one run reconcile (env.yml ``depends_on`` and ``promote_from``).

An environment reconciles after the ones it depends on; environments that do not depend on each other
reconcile side by side (Ansible forks). The order is a wave number per environment: wave 0 has no
dependency, wave n depends on something in wave n-1 at most. A cycle, a dependency on itself or on an
environment the repository does not have is an error naming the environment and its env.yml; so is waiting,
directly or not, for an environment that cannot be ordered. Each fails that environment only (the inventory
makes it a failing host). :func:`run_batches` is the one place a run's order comes from: the playbooks run one
batch after the other (the play's ``serial``), as many as the run needs, the environments of a batch in parallel.
"""

from __future__ import annotations


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

    ``graph`` maps every environment that could be read to the ones it waits for (already checked to be known
    names); ``sources`` names each environment's env.yml for messages. An environment in a cycle is an error, and so
    is one that waits, directly or not, for an environment that is not in ``graph`` (it could not be read) or is an
    error: it would build on something that cannot run.
    """
    errors = {}
    for name in graph:
        cycle = _find_cycle(name, graph)
        if cycle:
            errors[name] = (f"{sources[name]}: key 'depends_on': environment {name} is in a dependency cycle: "
                            f"{' -> '.join(cycle)}")
    _blocked(graph, sources, errors)
    acyclic = {name: list(wanted) for name, wanted in graph.items() if name not in errors}
    depths = {}
    return {name: _depth(name, acyclic, depths) for name in acyclic}, errors


def _blocked(graph: dict, sources: dict, errors: dict) -> None:
    """Every environment that waits, directly or not, for one that cannot be ordered cannot be ordered either."""
    changed = True
    while changed:
        changed = False
        for name, wanted in graph.items():
            if name in errors:
                continue
            broken = [other for other in wanted if other in errors or other not in graph]
            if broken:
                errors[name] = (f"{sources[name]}: key 'depends_on': environment {name} waits for "
                                f"{', '.join(broken)}, which cannot be ordered; nothing of {name} is changed")
                changed = True


def run_batches(hosts: list, graph: dict) -> list:
    """The batches of one run, in order: ``hosts`` (the environments in the run) by wave, where waves count only
    dependencies that are in the run too (one outside it ran before, or not at all). ``graph`` maps environments to
    the ones they wait for; the inventory already refused cycles."""
    wanted = set(hosts)
    inside = {name: [other for other in graph.get(name, ()) if other in wanted and other != name] for name in hosts}
    depths = {}
    waves = {name: _depth(name, inside, depths) for name in hosts}
    return [[name for name in hosts if waves[name] == wave] for wave in sorted(set(waves.values()))]
