"""What the shim and every tear-down load must not pull in pyroute2 (~100 ms, tens of MB): only the bridge
module imports it, and only inside its functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

NETWORK = Path(__file__).resolve().parents[2] / "core" / "network"


def test_only_the_bridge_module_mentions_pyroute2() -> None:
    users = []
    for path in sorted(NETWORK.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "pyroute2" for n in names):
                users.append((path.name, node.col_offset))
    assert users and all(name == "bridge.py" and col > 0 for name, col in users), users


def test_loading_every_network_module_but_bridge_loads_no_pyroute2() -> None:
    mods = sorted(p.stem for p in NETWORK.glob("*.py") if p.stem not in ("__init__", "bridge"))
    code = (
        "import sys\n"
        + "".join(f"import core.network.{m}\n" for m in mods)
        + "print('pyroute2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=NETWORK.parents[1]).stdout  # fmt: skip
    assert out.strip() == "False"
