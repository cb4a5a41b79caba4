"""The small dialogs of the Networks and Volumes panes (and of a container's remove, custom commands and
published ports): a menu of choices, the create forms, the links of published ports.

Each is a modal that answers with ``dismiss``: the pane that asked (through ``EnginePane.Ask``, which the
app answers with :data:`tui.app.DIALOGS`) gets the choice, the form's values, or None when cancelled.
Keys: Up/Down and Enter choose (or the choice's digit), Esc cancels; forms check every field as it is
typed and Enter creates only when all are valid."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

# docker's rule for volume names (daemon/names: RestrictedNamePattern), which dockyard uses for networks
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

DIALOG_CSS = """
.form-dialog { width: 72; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
    background: $surface; padding: 0 1; }
.form-dialog.danger { border: thick $error; }
.form-title { text-style: bold; padding: 0 0 1 0; }
.form-row { height: 1; margin-bottom: 1; }
.form-label { width: 10; }
.form-row Input { width: 1fr; }
.form-error { color: $error; height: auto; }
.form-hint { color: $text-muted; height: auto; }
.menu-body { height: auto; max-height: 10; overflow-y: auto; padding-bottom: 1; }
#menu { height: auto; max-height: 12; }
"""


class MenuScreen(ModalScreen[Any]):
    """Choose one of ``choices`` ((value, label), the first highlighted): Enter or its digit picks it."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", id="menu.cancel"),
        Binding("y", "pick_highlighted", "Yes: the highlighted choice", show=False, id="menu.yes"),
        *(Binding(str(i), f"pick({i - 1})", show=False, id=f"menu.pick{i}") for i in range(1, 10)),
    ]

    def __init__(
        self,
        title: str,
        choices: list[tuple[str, str]],
        body: list[str] | None = None,
        *,
        danger: bool = False,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = choices
        self.body = body or []
        self.danger = danger  # a destructive choice: drawn like ConfirmScreen (a red border)

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-dialog danger" if self.danger else "form-dialog"):
            yield Static(self.title_text, classes="form-title", markup=False)
            if self.body:
                yield Static("\n".join(self.body), classes="menu-body", markup=False)
            options = [
                Option(f"{i}  {label}" if i < 10 else f"   {label}", id=str(i - 1))
                for i, (_, label) in enumerate(self.choices, 1)
            ]
            yield OptionList(*options, id="menu")
            yield Static("Enter, y or a digit chooses; Esc or n cancels.", classes="form-hint")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        menu.highlighted = 0
        menu.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(int(event.option.id or 0))

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.choices):
            self.dismiss(self.choices[index][0])

    def action_pick_highlighted(self) -> None:
        """``y``, as in every yes/no question (ConfirmScreen): the highlighted choice, the first at first."""
        self.action_pick(self.query_one(OptionList).highlighted or 0)

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_labels(text: str) -> dict[str, str]:
    """``k=v k2=v2`` (shell-like words); ValueError says which word is wrong."""
    import shlex

    labels: dict[str, str] = {}
    for word in shlex.split(text):
        key, eq, value = word.partition("=")
        if not key:
            raise ValueError(f"label {word!r} has no key")
        labels[key] = value if eq else ""
    return labels


class _FormScreen(ModalScreen[Any]):
    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Create", id="form.submit"),
    ]
    TITLE_TEXT = ""
    HINT = "Enter creates, Esc cancels."

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def fields(self) -> ComposeResult:
        raise NotImplementedError(f"{type(self).__name__} must say which fields it has")

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-dialog"):
            yield Static(self.TITLE_TEXT, classes="form-title")
            yield from self.fields()
            yield Static("", id="form-error", classes="form-error")
            yield Static(self.HINT, classes="form-hint")

    def _row(self, label: str, widget: Input) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget

    def on_mount(self) -> None:
        self.query(Input).first().focus()
        self._check()

    def value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def problems(self) -> list[str]:
        """What is wrong with the fields as they are (each subclass: its fields)."""
        raise NotImplementedError(f"{type(self).__name__} must say how its fields are checked")

    def answer(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must say what it answers")

    def _check(self) -> list[str]:
        problems = self.problems()
        self.query_one("#form-error", Static).update("\n".join(problems))
        return problems

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self._check()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        if not self._check():
            self.dismiss(self.answer())

    def action_cancel(self) -> None:
        self.dismiss(None)


class NetworkCreateScreen(_FormScreen):
    """``docker network create [--subnet CIDR] [--gateway IP] [--internal] [--label k=v] NAME``."""

    TITLE_TEXT = "Create a network (docker network create)"

    def fields(self) -> ComposeResult:
        yield from self._row("Name", Input(placeholder="backend", id="name", compact=True))
        yield from self._row(
            "Subnet", Input(placeholder="(picked by the engine)  10.90.0.0/24", id="subnet", compact=True)
        )
        yield from self._row(
            "Gateway", Input(placeholder="(the subnet's first address)", id="gateway", compact=True)
        )
        yield from self._row("Labels", Input(placeholder="team=web tier=db", id="labels", compact=True))
        yield Checkbox("internal (no outside access)", False, id="internal", compact=True)

    def problems(self) -> list[str]:
        out = []
        name, subnet, gateway = self.value("name"), self.value("subnet"), self.value("gateway")
        if not name:
            out.append("Name: required")
        elif not NAME_RE.match(name):
            out.append(f"Name: {name!r} must be letters, digits, '_', '.' or '-' (not first), 2 or more")
        net = None
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=True)
            except ValueError as err:
                out.append(f"Subnet: {err}")
        if gateway:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError as err:
                out.append(f"Gateway: {err}")
            else:
                if not subnet:
                    out.append("Gateway: needs a subnet")
                elif net is not None and gw not in net:
                    out.append(f"Gateway: {gw} is not in {net}")
        try:
            parse_labels(self.value("labels"))
        except ValueError as err:
            out.append(f"Labels: {err}")
        return out

    def answer(self) -> dict[str, Any]:
        return {
            "name": self.value("name"),
            "subnet": self.value("subnet"),
            "gateway": self.value("gateway"),
            "internal": self.query_one("#internal", Checkbox).value,
            "labels": parse_labels(self.value("labels")),
        }


class VolumeCreateScreen(_FormScreen):
    """``docker volume create [--label k=v] [NAME]`` (no name: an anonymous volume)."""

    TITLE_TEXT = "Create a volume (docker volume create)"

    def fields(self) -> ComposeResult:
        yield from self._row("Name", Input(placeholder="(anonymous)  data", id="name", compact=True))
        yield from self._row("Labels", Input(placeholder="team=web", id="labels", compact=True))

    def problems(self) -> list[str]:
        out = []
        name = self.value("name")
        if name and not NAME_RE.match(name):
            out.append(f"Name: {name!r} must be letters, digits, '_', '.' or '-' (not first), 2 or more")
        try:
            parse_labels(self.value("labels"))
        except ValueError as err:
            out.append(f"Labels: {err}")
        return out

    def answer(self) -> dict[str, Any]:
        return {"name": self.value("name"), "labels": parse_labels(self.value("labels"))}


class LinksScreen(ModalScreen[None]):
    """A container's published ports as links (OSC 8: click them in the terminal, over SSH too); the first
    is on the clipboard already (OSC 52). Enter or a digit copies one; Esc closes."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [
        Binding("escape,q,w", "close", "Close", id="links.close"),
        *(Binding(str(i), f"copy({i - 1})", show=False, id=f"links.copy{i}") for i in range(1, 10)),
    ]

    def __init__(self, title: str, urls: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.urls = urls

    def compose(self) -> ComposeResult:
        from rich.text import Text

        from tui.widgets.links import link_text

        with Vertical(classes="form-dialog"):
            yield Static(self.title_text, classes="form-title", markup=False)
            for i, (label, url) in enumerate(self.urls, 1):
                line = Text(f"{i}  ")
                line.append_text(link_text(url))
                line.append(f"   {label}", style="dim")
                yield Static(line, classes="link-line")
            yield Static("A digit copies that URL, Esc closes.", classes="form-hint")

    def action_copy(self, index: int) -> None:
        if 0 <= index < len(self.urls):
            self.app.copy_to_clipboard(self.urls[index][1])
            self.notify(f"Copied {self.urls[index][1]}", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)


def network_view(info: dict[str, Any]) -> dict[str, Any]:
    """A network's inspect document as the detail view shows it: its ``Containers`` keyed by the
    container's name (with its id inside, as ``Id``) rather than by a 64-hex id nobody can read."""
    containers = info.get("Containers")
    if not isinstance(containers, dict) or not containers:
        return info
    named: dict[str, Any] = {}
    for cid, entry in containers.items():
        entry = dict(entry) if isinstance(entry, dict) else {"Value": entry}
        name = str(entry.get("Name") or cid[:12])
        named[name] = {"Id": cid, **{k: v for k, v in entry.items() if k != "Name"}}
    return {**info, "Containers": dict(sorted(named.items()))}
