"""The workbench's base classes raise ``NotImplementedError`` from the hooks each kind must fill in (they
cannot use ``abc.abstractmethod``: Textual's widget and screen classes have a metaclass of their own).
Nothing concrete may inherit one of those raising hooks: every pane, form and terminal screen the app
builds says for itself which rows it shows, how its list is filtered, which fields it has, how they are
checked, what it answers, how it hangs up."""

from __future__ import annotations

import pytest

from tui.screens import custom_command, network_forms, terminal_screen
from tui.widgets import panes

HOOKS: list[tuple[type, tuple[str, ...]]] = [
    (panes.EnginePane, ("refresh_from", "engine_filter_keys")),
    (network_forms._FormScreen, ("fields", "problems", "answer")),
    (terminal_screen._TerminalScreen, ("hang_up",)),
]


def _concrete(base: type) -> list[type]:
    out: list[type] = []
    sub: type
    for sub in base.__subclasses__():
        if not sub.__name__.startswith("_"):
            out.append(sub)
        out += _concrete(sub)
    return out


@pytest.mark.parametrize(("base", "hooks"), HOOKS, ids=[b.__name__ for b, _ in HOOKS])
def test_every_concrete_subclass_fills_in_the_hooks(base: type, hooks: tuple[str, ...]) -> None:
    subclasses = _concrete(base)
    assert subclasses, f"no subclass of {base.__name__}"
    if base is terminal_screen._TerminalScreen:  # custom_command is imported for this one
        assert custom_command.CommandTerminalScreen in subclasses
    for sub in subclasses:
        for hook in hooks:
            owner = next(k for k in sub.__mro__ if hook in k.__dict__)
            assert owner is not base, f"{sub.__name__} inherits {base.__name__}.{hook}, which raises"
