"""Inspect output as a foldable tree, coloured like JSON (keys, strings, numbers, booleans, null).

Space or Enter folds a node, ``e``/``c`` expand or collapse everything. Colours are named ANSI ones so
16-colour terminals keep the distinctions."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

KEY = "bold blue"
STYLES = {str: "green", bool: "magenta", int: "cyan", float: "cyan", type(None): "dim"}
OPEN_DEPTH = 1  # top-level sections start open


def _scalar(value: Any) -> Text:
    return Text(json.dumps(value, ensure_ascii=False), style=STYLES.get(type(value), ""))


def _label(key: str | None, value: Any) -> Text:
    text = Text()
    if key is not None:
        text.append(json.dumps(key, ensure_ascii=False) if not key.isidentifier() else key, style=KEY)
        text.append(": ")
    if isinstance(value, dict):
        text.append("{…}" if value else "{}", style="dim")
        if value:
            text.append(f" {len(value)} keys", style="dim italic")
    elif isinstance(value, list):
        text.append("[…]" if value else "[]", style="dim")
        if value:
            text.append(f" {len(value)} items", style="dim italic")
    else:
        text.append_text(_scalar(value))
    return text


class JsonTree(Tree[Any]):
    BINDINGS = [
        Binding("e", "expand_all", "Expand all", id="json.expand_all"),
        Binding("c", "collapse_all", "Collapse all", id="json.collapse_all"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, data: Any = None, *, id: str | None = None) -> None:
        super().__init__(Text("inspect", style="bold"), id=id)
        self.show_root = False
        self.guide_depth = 2
        if data is not None:
            self.load(data)

    def load(self, data: Any) -> None:
        self.clear()
        self.root.data = data
        self._add(self.root, data, 0)
        self.root.expand()

    def _add(self, node: TreeNode[Any], value: Any, depth: int) -> None:
        items: list[tuple[str | None, Any]]
        if isinstance(value, dict):
            items = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(None, v) for v in value]
        else:
            return
        for key, child in items:
            label = _label(key, child)
            if isinstance(child, dict | list) and child:
                sub = node.add(label, data=child, expand=depth < OPEN_DEPTH)
                self._add(sub, child, depth + 1)
            else:
                node.add_leaf(label, data=child)

    def action_expand_all(self) -> None:
        self.root.expand_all()

    def action_collapse_all(self) -> None:
        for child in self.root.children:
            child.collapse_all()
