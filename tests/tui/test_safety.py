"""Safe keys and a safe run form (issue 16, "Safety"), driven with Textual's pilot.

- ``q`` quits from the lists only: never from the run form (a focused checkbox), a dialog or a terminal.
- ``ctrl+q`` quits from any screen, asking first while a shell, attach, pull or run is in progress; inside a
  shell every key is the container's (``ctrl+q``, ``ctrl+p``, docker's ``ctrl+p ctrl+q``) but ``ctrl+]``.
- The run form checks every field as it is typed, with the command line's parsers and words (env
  ``=x``, container names, ``UPPER/Case`` images, relative volumes, ports, quoting); an env value with
  spaces is one value; a run whose start fails leaves no container behind.

The key tests run on the fixed fake engine (tests/tui/fakeengine.py, no root needed); the shell and the
failed start on a real engine with busybox (the ``bench`` fixture).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input, Static

from core.models import PullProgress, PullResult
from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import Bench, wait_for
from tui.app import DockyardApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.main import MainScreen
from tui.screens.pull import PullScreen
from tui.screens.run_form import RunForm, RunFormScreen, env_items, form_argv, parse_run_argv
from tui.settings import Settings

SIZE = (80, 24)


class GatedPullEngine(FakeEngine):
    """The fake engine whose pull waits for ``release`` (a pull that is still going when the user quits)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.started = threading.Event()
        self.release = threading.Event()

    def pull(
        self,
        reference: str,
        *,
        platform: str | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> PullResult:
        self.started.set()
        self.release.wait(30)
        return super().pull(reference, platform=platform, progress=progress)


def fake_app(tmp_path: Path, engine: FakeEngine | None = None) -> DockyardApp:
    return DockyardApp(engine or FakeEngine(tmp_path), Settings(stats_interval=0))  # type: ignore[arg-type]


async def open_form(pilot: Any, app: DockyardApp) -> RunFormScreen:
    await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, RunFormScreen))
    await pilot.pause(0.1)
    assert isinstance(app.screen, RunFormScreen)
    return app.screen


def test_q_quits_from_the_list(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, what="q quit")

    asyncio.run(scenario())


def test_q_quits_from_the_detail_view(tmp_path: Path) -> None:
    from tui.screens.inspect import DetailScreen

    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, what="q quit")

    asyncio.run(scenario())


def test_q_on_a_focused_checkbox_of_the_run_form_does_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot, app)
            box = form.query_one("#detach", Checkbox)
            box.focus()
            await pilot.pause()
            await pilot.press("q")
            await pilot.pause(0.3)
            assert app.is_running and app.screen is form  # the form is still there, and so is the app
            assert box.value is True  # and q did not toggle anything either
            # a text box takes q as a letter
            form.query_one("#name", Input).focus()
            await pilot.press("q", "q")
            assert form.query_one("#name", Input).value == "qq"
            assert app.screen is form

    asyncio.run(scenario())


def test_q_on_a_dialog_does_nothing_and_ctrl_q_still_quits(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
            answers: list[bool | None] = []
            app.push_screen(ConfirmScreen("Remove web?", ["web"]), answers.append)
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("q")
            await pilot.pause(0.3)
            assert app.is_running and isinstance(app.screen, ConfirmScreen) and answers == []
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            assert answers == [False]
            # ctrl+q quits from a form: nothing is in progress, so it does not ask
            await open_form(pilot, app)
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running, what="ctrl+q quit")

    asyncio.run(scenario())


def test_quitting_asks_while_a_pull_is_in_progress(tmp_path: Path) -> None:
    engine = GatedPullEngine(tmp_path)

    async def scenario() -> None:
        app = fake_app(tmp_path, engine)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
            await pilot.press("P")
            await wait_for(pilot, lambda: isinstance(app.screen, PullScreen))
            await pilot.press(*"alpine", "enter")
            await wait_for(pilot, engine.started.is_set, what="the pull started")
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
            body = str(app.screen.query(Static)[1].content)
            assert "a pull" in body
            await pilot.press("n")  # no: the app and the pull go on
            await wait_for(pilot, lambda: isinstance(app.screen, PullScreen))
            assert app.is_running
            engine.release.set()
            await wait_for(pilot, lambda: not app.busy(), what="the pull ended")
            await pilot.press("ctrl+q")  # nothing in progress now: no question
            await wait_for(pilot, lambda: not app.is_running, what="quit")

    try:
        asyncio.run(scenario())
    finally:
        engine.release.set()


def test_quitting_during_a_pull_and_answering_yes_quits(tmp_path: Path) -> None:
    engine = GatedPullEngine(tmp_path)

    async def scenario() -> None:
        app = fake_app(tmp_path, engine)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "containers" in app.snapshot.loaded)
            await pilot.press("P")
            await wait_for(pilot, lambda: isinstance(app.screen, PullScreen))
            await pilot.press(*"alpine", "enter")
            await wait_for(pilot, engine.started.is_set, what="the pull started")
            await pilot.press("q")  # a letter of the pull form's text box, not a quit
            await pilot.pause(0.2)
            assert isinstance(app.screen, PullScreen)
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
            await pilot.press("ctrl+q")  # asked already: a second ctrl+q does not stack another question
            await pilot.pause(0.2)
            assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
            engine.release.set()  # (the pull's thread ends at once instead of at its timeout)
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, what="quit")

    try:
        asyncio.run(scenario())
    finally:
        engine.release.set()


# -- the run form's fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("env", "=x", 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x'),
        ("env", "A=1 =x", "invalid environment variable: =x"),
        (
            "name",
            "bad name!",
            "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ),
        ("name", "x", "Invalid container name (x)"),
        ("image", "UPPER/Case", "invalid reference format: repository name (Case) must be lowercase"),
        ("image", "Busybox", "must be lowercase"),
        ("volumes", "rel/path:/x", 'create rel/path: "rel/path" includes invalid characters'),
        ("volumes", "~/data:/x", "If you intended to pass a host directory, use absolute path"),
        ("volumes", "/srv:relative", "invalid volume specification: '/srv:relative'"),
        ("volumes", "/srv:/x:bogus", "invalid volume specification"),
        ("ports", "99999:80", "invalid hostPort: 99999"),
        ("ports", "abc", "invalid containerPort: abc"),
        ("command", 'sh -c "echo', "command: No closing quotation"),
        ("env", "A='open", "env: No closing quotation"),
    ],
)
def test_the_form_says_what_is_wrong_with_each_field_as_it_is_typed(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot, app)
            if field != "image":
                form.query_one("#image", Input).value = "busybox"
            box = form.query_one(f"#{field}", Input)
            box.focus()
            await pilot.press(*value)  # typed, as a person does: checked at every key
            await pilot.pause(0.1)
            error = str(form.query_one("#run-error", Static).content)
            assert error.startswith("✗ ") and message in error, error
            assert form.last_config is None
            await pilot.press("enter")  # refused: nothing is created
            await pilot.pause(0.1)
            assert not form.running and app.screen is form

    asyncio.run(scenario())


def test_a_valid_form_clears_the_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot, app)
            form.query_one("#image", Input).value = "busybox"
            name = form.query_one("#name", Input)
            name.focus()
            await pilot.press(*"bad name")
            assert "Invalid container name" in str(form.query_one("#run-error", Static).content)
            name.value = "good.name_1"
            await pilot.pause(0.1)
            assert str(form.query_one("#run-error", Static).content) == ""
            assert form.last_argv == ["run", "-d", "--name", "good.name_1", "busybox"]

    asyncio.run(scenario())


def test_an_env_value_with_spaces_is_one_value() -> None:
    assert env_items("A=two words") == ["A=two words"]
    assert env_items("A=two words B=3 C='x  y'") == ["A=two words", "B=3", "C=x  y"]
    assert env_items("HOME A=1") == ["HOME", "A=1"]  # a bare name first: docker's -e NAME
    assert env_items("=x") == ["=x"]  # kept, so that the check names it
    argv = form_argv(RunForm(image="busybox", env="GREETING=hello big world DEBUG=1"))
    assert argv == ["run", "-d", "-e", "GREETING=hello big world", "-e", "DEBUG=1", "busybox"]
    req = parse_run_argv(argv)
    assert req.config.env == ["GREETING=hello big world", "DEBUG=1"]


def test_a_relative_volume_path_is_shown_where_it_points(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    argv = form_argv(RunForm(image="busybox", volumes="./data:/data ../up:/up:ro named:/n /abs:/a"))
    assert argv[2:-1] == [
        "-v",
        f"{tmp_path}/data:/data",
        "-v",
        f"{tmp_path.parent}/up:/up:ro",
        "-v",
        "named:/n",
        "-v",
        "/abs:/a",
    ]
    mounts = parse_run_argv(argv).host_config.mounts
    assert [(m.type, m.source) for m in mounts] == [
        ("bind", f"{tmp_path}/data"),
        ("bind", f"{tmp_path.parent}/up"),
        ("volume", "named"),
        ("bind", "/abs"),
    ]


def test_the_form_shows_an_env_value_with_spaces_as_one_flag(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot, app)
            form.query_one("#image", Input).value = "busybox"
            form.query_one("#env", Input).focus()
            await pilot.press(*"MSG=two words")
            await pilot.pause(0.1)
            line = str(form.query_one("#run-cmdline", Static).content)
            assert line == "dockyard run -d -e 'MSG=two words' busybox"
            assert form.last_config is not None and form.last_config.config.env == ["MSG=two words"]

    asyncio.run(scenario())


# -- on a real engine ----------------------------------------------------------------------------------


def test_a_failed_start_from_the_form_leaves_no_container(bench: Bench) -> None:
    """`dockyard run -p TAKEN:80` leaves a Created container, as `docker run` does; the form removes the one
    it made, and says why the run failed."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot, app)
            form.query_one("#image", Input).value = "busybox"
            form.query_one("#name", Input).value = "porty"
            form.query_one("#command", Input).value = "sleep 30"
            form.query_one("#ports", Input).value = f"127.0.0.1:{port}:80"
            form.query_one("#volumes", Input).value = "/anon"
            await pilot.pause(0.1)
            assert form.last_config is not None
            form.query_one("#ports", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: not form.running, what="the run ended")
            error = str(form.query_one("#run-error", Static).content)
            assert "address already in use" in error, error
            assert app.screen is form  # the form stays, so the port can be changed
            assert bench.engine.list_containers(all=True) == []
            assert bench.engine.list_volumes() == []  # its anonymous volume went with it
            # the same with -it: the start (attached) fails in the terminal screen, which removes it too
            form.query_one("#detach", Checkbox).value = False
            form.query_one("#interactive", Checkbox).value = True
            form.query_one("#command", Input).value = "sh"
            await pilot.pause(0.1)
            assert form.last_argv is not None and "-it" in form.last_argv
            form.query_one("#name", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the attach failed")
            await wait_for(pilot, lambda: bench.engine.list_containers(all=True) == [], what="removed")
            assert bench.engine.list_volumes() == []
            # with the port fixed, the same form runs
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, RunFormScreen))
            form = app.screen
            assert isinstance(form, RunFormScreen)
            form.query_one("#image", Input).value = "busybox"
            form.query_one("#name", Input).value = "porty"
            form.query_one("#command", Input).value = "sleep 30"
            await pilot.pause(0.1)
            form.query_one("#name", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="started")
            await wait_for(pilot, lambda: bench.status("porty") == "running")

    try:
        asyncio.run(scenario())
    finally:
        taken.close()


def test_keys_in_a_shell_are_the_containers_and_quitting_asks(bench: Bench) -> None:
    from tui.screens.terminal_screen import ExecScreen
    from tui.widgets.terminal import TerminalView

    bench.run("keys", "sleep", "300")

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: any(c.name == "keys" for c in app.snapshot.containers))
            await pilot.press("e")
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecScreen) and app.screen.terminal is not None
            )
            screen = app.screen
            assert isinstance(screen, ExecScreen)
            term = screen.query_one(TerminalView)

            def shown() -> str:
                return "\n".join(term.display_lines())

            await wait_for(pilot, lambda: "#" in shown(), what="a prompt")
            # the footer offers the escape key and nothing else: every other key is the container's
            offered = {key for key, b in app.active_bindings.items() if b.enabled and b.binding.show}
            assert offered == {"ctrl+right_square_bracket"}, offered
            # ctrl+q, ctrl+p, docker's ctrl+p ctrl+q, q: all typed into the shell, none of them quits
            # (-ixon: else the pty's line discipline takes ctrl+q as XON, before any program sees it)
            await pilot.press(*"stty -ixon; cat -v", "enter")
            await pilot.pause(0.3)
            await pilot.press("ctrl+q", "ctrl+p", "ctrl+p", "ctrl+q", "q", "enter")
            await wait_for(pilot, lambda: "^Q^P^P^Qq" in shown(), what="the keys reached cat -v")
            assert app.is_running and app.screen is screen
            await pilot.press("ctrl+d")  # end cat
            await wait_for(pilot, lambda: shown().rstrip().endswith("#"), what="the prompt again")
            # the escape key gives the keys back; then ctrl+q asks, because the shell is still open
            await pilot.press("ctrl+right_square_bracket")
            await pilot.pause(0.1)
            assert not term.has_focus
            assert "Esc leaves" in str(screen.query_one("#terminal-title", Static).content)
            await pilot.press("q")  # never from a terminal screen
            await pilot.pause(0.2)
            assert app.screen is screen
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
            body = str(app.screen.query(Static)[1].content)
            assert "a shell in keys" in body
            await pilot.press("n")
            await wait_for(pilot, lambda: app.screen is screen)
            await pilot.press("enter")  # back to the terminal, which has every key again
            await wait_for(pilot, lambda: term.has_focus)
            await pilot.press(*"echo back-$((3*3))", "enter")
            await wait_for(pilot, lambda: "back-9" in shown())
            await pilot.press("ctrl+right_square_bracket", "ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, what="quit after yes")
        assert bench.status("keys") == "running"  # quitting ends the shell, not the container

    asyncio.run(scenario())


def test_the_screens_q_quits_from_are_importable_screens() -> None:
    # Q_QUITS names screens by import path (no import on a footer render): a rename must not turn q off
    import importlib

    from textual.screen import ModalScreen, Screen

    from tui.app import Q_QUITS

    for path in Q_QUITS:
        module, _, name = path.rpartition(".")
        kind = getattr(importlib.import_module(module), name)
        assert issubclass(kind, Screen) and not issubclass(kind, ModalScreen)
        assert kind not in (RunFormScreen, PullScreen)
