"""The one boundary (DESIGN.md): the faces import only the engine interface, its records and core.errors;
core never imports a face, Textual or Rich. Read from the source with ast, not grep, so an import inside a
function, a TYPE_CHECKING block or a ``from x import (a, b)`` over several lines counts the same."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FACES = ("tui", "api", "compose")  # compose is a client of the interface too
# what a face may import of core
FACE_ALLOWED = {"core.interface", "core.models", "core.errors"}
# and what one face may import besides: the API server speaks Docker's JSON through the shared mapping
FACE_EXTRA = {"api": {"core.dockerjson"}}
CORE_FORBIDDEN = ("tui", "textual", "rich", "api", "compose")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, with its line; ``from core import x`` names ``core.x``."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "core":
                out += [(node.lineno, f"core.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def face_violations(root: Path) -> list[str]:
    bad = []
    for face in FACES:
        for path in sorted((root / face).rglob("*.py")):
            for line, mod in imports_of(path):
                allowed = FACE_ALLOWED | FACE_EXTRA.get(face, set())
                if (mod == "core" or mod.startswith("core.")) and mod not in allowed:
                    bad.append(f"{path.relative_to(root)}:{line} imports {mod}")
    return bad


def core_violations(root: Path) -> list[str]:
    bad = []
    for path in sorted((root / "core").rglob("*.py")):
        for line, mod in imports_of(path):
            if mod.split(".")[0] in CORE_FORBIDDEN:
                bad.append(f"{path.relative_to(root)}:{line} imports {mod}")
    return bad


def test_faces_import_only_the_interface() -> None:
    assert face_violations(ROOT) == []


def test_core_imports_no_face() -> None:
    assert core_violations(ROOT) == []


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("tui/planted.py", "from core.runtime import protocol\n", "tui/planted.py:1 imports core.runtime"),
        ("tui/planted.py", "def f():\n    import core.engine\n", "tui/planted.py:2 imports core.engine"),
        ("tui/planted.py", "from core import config\n", "tui/planted.py:1 imports core.config"),
        ("tui/planted.py", "from core.interface import Engine\nimport core.errors\n", None),
        (
            "core/planted.py",
            "if False:\n    from textual.app import App\n",
            "core/planted.py:2 imports textual.app",
        ),
        ("core/planted.py", "from tui.output import emit\n", "core/planted.py:1 imports tui.output"),
        ("api/planted.py", "from core.engine import LocalEngine\n", "api/planted.py:1 imports core.engine"),
        ("api/planted.py", "from core.dockerjson import create_from_docker\n", None),
        (
            "tui/planted.py",
            "from core.dockerjson import parse_bind\n",
            "tui/planted.py:1 imports core.dockerjson",
        ),
        ("core/planted.py", "import api.server\n", "core/planted.py:1 imports api.server"),
    ],
)
def test_a_planted_violation_is_caught(tmp_path: Path, where: str, source: str, expected: str | None) -> None:
    for d in ("tui", "core", "api"):
        (tmp_path / d).mkdir()
    (tmp_path / where).write_text(source)
    found = face_violations(tmp_path) + core_violations(tmp_path)
    assert found == ([expected] if expected else [])
