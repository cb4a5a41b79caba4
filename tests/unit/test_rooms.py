"""The rooms of ``core`` and the direction of their arrows (see DESIGN.md), checked on the source with ast:
every import statement counts, at module level or inside a function or an ``if TYPE_CHECKING`` block."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"


def _module(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in CORE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """The core modules ``path`` imports (``from pkg import mod`` names the module, else the package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != "core":
                out.add(name)
    return out


GRAPH = {mod: _imports(path) - {mod} for mod, path in MODULES.items()}


def _in_room(mod: str, room: str) -> bool:
    return mod == room or mod.startswith(room + ".")


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.add(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        found.append(comp)
    return found


def test_the_runtime_calls_nothing_above_it() -> None:
    above = ("core.containers", "core.network", "core.supervisor")
    calls = sorted(
        (mod, target)
        for mod, targets in GRAPH.items()
        if _in_room(mod, "core.runtime")
        for target in targets
        if any(_in_room(target, room) for room in above)
    )
    assert not calls


def test_the_supervisor_and_the_rooms_below_it_import_in_no_circle() -> None:
    rooms = ("core.runtime", "core.supervisor", "core.containers", "core.network", "core.state")
    circles = [c for c in _cycles(GRAPH) if any(_in_room(m, r) for m in c for r in rooms)]
    assert not circles


def test_the_launcher_stays_light() -> None:
    # `run` launches its shim before it has parsed its flags: the launcher imports nothing of core
    assert GRAPH["core.supervisor.launcher"] <= {"core.supervisor.shimstart"}


def test_the_check_sees_circles_and_lazy_imports() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}}
    assert _cycles(graph) == [{"a", "b", "c"}]
    assert "core.supervisor.shim" in GRAPH["core.supervisor.shimstart"]  # imported inside start()
