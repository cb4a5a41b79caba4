"""The dependency graph of a project's services (``depends_on``): start order, stop order (the reverse),
the services a set of services needs, and the ones that need it. A cycle is an error, as compose's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import InvalidArgument


class DependencyCycle(InvalidArgument):
    """``depends_on`` loops back on itself."""


def _deps(services: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    return [d for d in (services[name].get("depends_on") or {}) if d in services]


def levels(services: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Services in start order, grouped: every service of a level depends only on earlier levels (each
    level sorted by name). Dependencies on services not in ``services`` are left out (disabled, or not
    asked for with --no-deps)."""
    check_cycles(services)
    placed: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in placed:
            placed[name] = 1 + max((level(d) for d in _deps(services, name)), default=-1)
        return placed[name]

    for name in services:
        level(name)
    out: list[list[str]] = [[] for _ in range(max(placed.values(), default=-1) + 1)]
    for name, n in placed.items():
        out[n].append(name)
    return [sorted(group) for group in out]


def start_order(services: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [name for group in levels(services) for name in group]


def stop_order(services: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [name for group in reversed(levels(services)) for name in group]


def check_cycles(services: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise DependencyCycle naming the loop (compose: "dependency cycle detected: a -> b -> a")."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in _deps(services, name):
            if state.get(dep) == 1:
                loop = [*path[path.index(dep) :], dep]
                raise DependencyCycle(f"dependency cycle detected: {' -> '.join(loop)}")
            if dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(services):
        if name not in state:
            visit(name)


def with_dependencies(services: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> list[str]:
    """``names`` and everything they depend on, transitively (in no particular order, no repeats)."""
    seen: dict[str, None] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in services:
            continue
        seen[name] = None
        todo.extend(_deps(services, name))
    return list(seen)


def dependents(
    services: Mapping[str, Mapping[str, Any]], name: str, *, restart_only: bool = False
) -> list[str]:
    """The services that depend on ``name``, transitively (with ``restart_only``, only through
    ``depends_on`` entries that say ``restart: true``)."""
    out: dict[str, None] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        for other, svc in services.items():
            dep = (svc.get("depends_on") or {}).get(current)
            if dep is None and current not in (svc.get("depends_on") or {}):
                continue
            if restart_only and not (dep or {}).get("restart"):
                continue
            if other not in out and other != name:
                out[other] = None
                todo.append(other)
    return list(out)
