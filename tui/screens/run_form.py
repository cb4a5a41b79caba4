"""The run form: image, name, command, ports, env, volumes, network, restart policy, -d, -it, --rm.

The form does not build a ContainerCreate itself: it writes the ``dockyard run`` argument list, shows it as a
command line, and parses it with the CLI's own parser (``tui.commands.containers`` + ``tui.runflags``),
so the workbench and the command line cannot disagree about what a form means. Every change is checked
at once, with the checks the engine makes at create (core.interface.check_request) and the image
reference as a pull reads it, in their words. Enter in any field runs.

A run whose start fails (a port in use) leaves a Created container after ``dockyard run``, as after
``docker run``; the form removes the container it made (:func:`discard_created`), so a failed attempt
leaves nothing to clean up.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static

from core.errors import InvalidArgument
from tui.failure import one_line

if TYPE_CHECKING:
    from core.interface import Engine
    from core.models import ContainerCreate, PullProgress
    from tui.app import DockyardApp

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


@dataclass
class RunForm:
    image: str = ""
    name: str = ""
    command: str = ""  # shell words
    ports: str = ""  # specs separated by spaces or commas: "8080:80 127.0.0.1::53/udp"
    env: str = ""  # shell words: K=V 'B=two words'
    volumes: str = ""  # shell words: data:/data /host:/ctr:ro
    network: str = "default"
    restart: str = "no"
    detach: bool = True
    interactive: bool = False  # -i and -t together, as people type them: -it
    remove: bool = False  # --rm


def _words(text: str, what: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as err:
        raise InvalidArgument(f"{what}: {err}") from None


_ENV_START = re.compile(r"[^\s=]*=")  # a word that begins a new variable: KEY=..., or "=x" (an error to show)


def env_items(text: str) -> list[str]:
    """The Env field's variables, one ``-e`` each: ``A=two words B=3`` is ``A=two words`` and ``B=3`` (a word
    without ``=`` continues the value before it, so a value with spaces stays one value; quote it to keep
    its spacing exactly), and a word without ``=`` before any variable is a bare ``KEY`` (docker's ``-e KEY``
    copies it from the environment)."""
    items: list[str] = []
    for word in _words(text, "env"):
        if items and not _ENV_START.match(word):
            items[-1] += " " + word
        else:
            items.append(word)
    return items


def absolute_source(spec: str) -> str:
    """``-v ./data:/x`` with the path the command line would take it for (the workbench's current
    directory), so the form's command line shows where a relative path really points."""
    source, sep, rest = spec.partition(":")
    if sep and (source in (".", "..") or source.startswith(("./", "../"))):
        import os

        return f"{os.path.abspath(source)}:{rest}"
    return spec


_IMAGE_ID = re.compile(r"(sha256:)?[a-f0-9]{64}")


def check_image(text: str) -> None:
    """The image as the command line's pull would read it (``UPPER/Case`` refused in docker's words); an
    image id is taken as it is."""
    from core.interface import parse_reference

    if not _IMAGE_ID.fullmatch(text):
        parse_reference(text)


def form_argv(form: RunForm) -> list[str]:
    """The ``dockyard run`` arguments (without the program name) that this form stands for."""
    argv = ["run"]
    if form.detach:
        argv.append("-d")
    if form.interactive:
        argv.append("-it")
    if form.remove:
        argv.append("--rm")
    if form.name.strip():
        argv += ["--name", form.name.strip()]
    for spec in filter(None, re.split(r"[\s,]+", form.ports.strip())):
        argv += ["-p", spec]
    for item in env_items(form.env):
        argv += ["-e", item]
    for item in _words(form.volumes, "volumes"):
        argv += ["-v", absolute_source(item)]
    network = form.network.strip() or "default"
    if network != "default":
        argv += ["--network", network]
    if form.restart and form.restart != "no":
        argv += ["--restart", form.restart]
    image = form.image.strip()
    if not image:
        raise InvalidArgument("an image is required")
    if image.startswith("-"):
        raise InvalidArgument(f"invalid image name {image!r}")
    argv.append(image)
    argv += _words(form.command, "command")
    return argv


def command_line(argv: list[str]) -> str:
    return "dockyard " + shlex.join(argv)


def parse_run_argv(argv: list[str]) -> ContainerCreate:
    """The request exactly as ``dockyard <argv>`` builds it (the CLI's parser, then tui.runflags), checked
    as the engine checks it at create, so the form shows what is wrong while it is typed."""
    from core.interface import check_request
    from tui.cli import build_parser
    from tui.runflags import run_config

    parser = build_parser(["run"])
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit:
        lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("Error:")]
        message = lines[0].removeprefix("Error:").strip() if lines else "invalid arguments"
        raise InvalidArgument(message) from None
    req = run_config(args)
    check_image(req.config.image)
    check_request(req)
    return req


def discard_created(engine: Engine, cid: str) -> str:
    """Remove a container the form created whose start failed (with the volumes it made for itself); ""
    or, if even that failed, what to tell the user about the container that is left."""
    try:
        engine.remove_container(cid, force=True, volumes=True)
    except Exception as err:
        return f" (and the created container {cid[:12]} could not be removed: {one_line(err)})"
    return ""


class RunFormScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="run.close"),
        Binding("ctrl+s", "submit", "Run", id="run.submit"),
    ]

    def __init__(self, image: str = "") -> None:
        super().__init__(classes="run-screen")
        self.initial_image = image
        self.running = False
        self.last_argv: list[str] | None = None
        self.last_config: ContainerCreate | None = None

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("Run a container", id="run-title")
        with VerticalScroll(id="run-fields"):
            yield from self._field(
                "Image", Input(self.initial_image, placeholder="busybox:latest", id="image", compact=True)
            )
            yield from self._field("Name", Input(placeholder="(generated)", id="name", compact=True))
            yield from self._field(
                "Command", Input(placeholder="(the image's)  e.g. sleep 3600", id="command", compact=True)
            )
            yield from self._field(
                "Ports", Input(placeholder="8080:80 127.0.0.1::53/udp", id="ports", compact=True)
            )
            yield from self._field(
                "Env", Input(placeholder="KEY=value 'NAME=two words'", id="env", compact=True)
            )
            yield from self._field(
                "Volumes", Input(placeholder="data:/data /srv:/srv:ro", id="volumes", compact=True)
            )
            yield from self._field("Network", self._network_input())
            yield from self._field(
                "Restart",
                Select(
                    [(p, p) for p in RESTART_POLICIES],
                    value="no",
                    allow_blank=False,
                    id="restart",
                    compact=True,
                ),
            )
            with Horizontal(classes="run-flags"):
                yield Checkbox("detached (-d)", True, id="detach", compact=True)
                yield Checkbox("interactive tty (-it)", False, id="interactive", compact=True)
                yield Checkbox("remove on exit (--rm)", False, id="remove", compact=True)
        yield Static("", id="run-cmdline", markup=False)
        yield Static("", id="run-error", markup=False)
        with Horizontal(id="run-buttons"):
            yield Button("Run", variant="primary", id="run", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    @staticmethod
    def _field(label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="run-field"):
            yield Label(label, classes="run-label")
            yield widget

    def _network_input(self) -> Any:
        nets = self.dapp.snapshot.networks
        if nets:
            names = ["default", *[n.name for n in nets]]
            names += [n for n in ("host", "none") if n not in names]
            uniq = list(dict.fromkeys(names))
            return Select(
                [(n, n) for n in uniq], value="default", allow_blank=False, id="network", compact=True
            )
        return Input(
            "default", placeholder="default, none, host or a network name", id="network", compact=True
        )

    def on_mount(self) -> None:
        self.query_one("#image" if not self.initial_image else "#name", Input).focus()
        self._update()

    # ------------------------------------------------------------------ form

    def form(self) -> RunForm:
        def text(wid: str) -> str:
            w = self.query_one(f"#{wid}")
            value = w.value  # type: ignore[attr-defined]
            return "" if value is None or value is Select.BLANK else str(value)

        def flag(wid: str) -> bool:
            return bool(self.query_one(f"#{wid}", Checkbox).value)

        return RunForm(
            image=text("image"),
            name=text("name"),
            command=text("command"),
            ports=text("ports"),
            env=text("env"),
            volumes=text("volumes"),
            network=text("network") or "default",
            restart=text("restart") or "no",
            detach=flag("detach"),
            interactive=flag("interactive"),
            remove=flag("remove"),
        )

    def _update(self) -> ContainerCreate | None:
        """Recompute the command line and check it with the real parser; returns the config if valid."""
        cmdline = self.query_one("#run-cmdline", Static)
        error = self.query_one("#run-error", Static)
        try:
            argv = form_argv(self.form())
            cmdline.update(command_line(argv))
            config = parse_run_argv(argv)
        except InvalidArgument as err:
            if not self.form().image.strip():
                cmdline.update("dockyard run IMAGE")
            error.update(f"✗ {err}")
            self.last_argv, self.last_config = None, None
            return None
        error.update("")
        self.last_argv, self.last_config = argv, config
        return config

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._update()

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.running:
            return
        config = self._update()
        if config is None:
            self.notify("Fix the form first", severity="error", timeout=3)
            return
        self.running = True
        self.query_one("#run-error", Static).update("Creating…")
        self._run(config)

    def _pull_progress(self, p: PullProgress) -> None:
        if p.layer:
            text = f"Pulling {p.layer}: {p.status}"
            if p.total and p.status == "Downloading":
                text += f" {100 * p.current // max(p.total, 1)}%"
        else:
            text = f"{p.status} {p.message}".strip()
        self.app.call_from_thread(self.query_one("#run-error", Static).update, text)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run(self, config: ContainerCreate) -> None:
        engine = self.dapp.engine
        try:
            created = engine.create_container(config, progress=self._pull_progress)
        except Exception as err:
            self.app.call_from_thread(self._failed, one_line(err))
            return
        detach = not config.config.attach_stdout
        if not detach and (config.config.tty or config.config.open_stdin):
            self.app.call_from_thread(self._attach_new, created.id, created.name)
            return
        try:
            engine.start_container(created.id)
        except Exception as err:
            # `docker run` leaves the Created container behind when its start fails (a port that is taken);
            # the form does not: it made the container and nobody asked for it to stay
            message = one_line(err)
            message += discard_created(engine, created.id)
            self.app.call_from_thread(self._failed, message)
            return
        self.app.call_from_thread(self._started, created.id, created.name, config)

    def _failed(self, message: str) -> None:
        self.running = False
        self.query_one("#run-error", Static).update(f"✗ {message}")
        self.notify(message, severity="error", timeout=8)

    def _started(self, cid: str, name: str, config: ContainerCreate) -> None:
        self.running = False
        self.notify(f"Started {name} ({cid[:12]})", timeout=4)
        self.dapp.schedule_refresh("containers", "images", "volumes")
        self.dismiss(None)
        if config.config.attach_stdout:  # not -d
            # attached without a tty: what `dockyard run` would print is the container's output
            from tui.screens.main import MainScreen

            for screen in self.app.screen_stack:
                if isinstance(screen, MainScreen):
                    screen.show_logs(cid, name)

    def _attach_new(self, cid: str, name: str) -> None:
        self.running = False
        self.dapp.schedule_refresh("containers", "images", "volumes")
        self.dismiss(None)
        from tui.screens.shell import open_attach

        open_attach(self.dapp, cid, name, start=True)
