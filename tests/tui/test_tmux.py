"""The workbench as a person uses it: the real ``dockyard`` command in a tmux pane, driven with send-keys and
read back with capture-pane. Open, pull busybox, run it detached from the form, follow its logs, exec a
shell and run ``echo`` in it, leave the shell, stop and remove the container, quit."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


class Tmux:
    """One private tmux server (its own socket name), one session (100x30 unless ``size``) running
    ``command``."""

    def __init__(self, command: str, env: dict[str, str], size: tuple[int, int] = (100, 30)) -> None:
        self.sock = f"dockyard-test-{os.getpid()}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        width, height = (str(n) for n in size)
        self._tmux("new-session", "-d", "-s", "wb", "-x", width, "-y", height, f"env {exports} {command}")

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise AssertionError(f"tmux {args[0]}: {out.stderr.strip()}")
        return out.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "wb")

    # a pause after each burst, as a person's typing has: a terminal read that carries a text and a Tab
    # together reaches Textual as one chunk, and the Tab in it is not taken as a key
    GAP = 0.25

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "wb", *keys)
        time.sleep(self.GAP)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "wb", "-l", text)
        time.sleep(self.GAP)

    def wait(self, cond: Callable[[str], bool] | str, timeout: float = 30.0, what: str = "") -> str:
        check = (lambda s: cond in s) if isinstance(cond, str) else cond
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or cond!r}; the screen was:\n{text}")

    def alive(self) -> bool:
        r = subprocess.run(["tmux", "-L", self.sock, "has-session", "-t", "wb"], capture_output=True)
        return r.returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux_env(testbed, engine_config: Config) -> Iterator[tuple[LocalEngine, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/test installs it)")
    engine = LocalEngine(engine_config)
    env = {
        "DOCKYARD_RUN": str(engine_config.run),
        "DOCKYARD_TUI_CONFIG": str(engine_config.root / "no-tui.toml"),
        "DOCKYARD_CGROUP_PARENT": os.environ.get("DOCKYARD_CGROUP_PARENT", ""),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    try:
        yield engine, testbed.ref("busybox:latest"), env
    finally:
        for c in engine.list_containers(all=True):
            try:
                engine.remove_container(c.id, force=True)
            except Exception:
                pass


COMPOSE_YAML = """
services:
  db:
    image: busybox
    command:
      - sh
      - -c
      - trap "exit 0" TERM; touch /tmp/ready; while true; do echo db-says-$$((6*7)); sleep 1; done
    healthcheck:
      test: ["CMD-SHELL", "test -e /tmp/ready"]
      interval: 300ms
      retries: 1
  web:
    image: busybox
    command:
      - sh
      - -c
      - trap "exit 0" TERM; while true; do echo web-says-$$((7*7)); sleep 1; done
    depends_on:
      db:
        condition: service_healthy
"""


def test_a_person_works_a_compose_project_at_80x24(
    tmux_env: tuple[LocalEngine, str, dict[str, str]], tmp_path: Path
) -> None:
    """``dockyard compose up -d`` in a shell, then the workbench: the project's row and its state, folding,
    the merged logs with one service hidden, stop, up, and down with its question."""
    engine, ref, env = tmux_env
    root = shlex.quote(str(engine.config.root))
    engine.pull(ref)
    engine.tag_image(ref, "busybox")
    (tmp_path / "compose.yaml").write_text(COMPOSE_YAML)
    up = subprocess.run(
        [DOCKYARD, "--root", str(engine.config.root), "compose", "-p", "cafe", "up", "-d", "--wait"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    t = Tmux(f"{DOCKYARD} --root {root}", env, size=(80, 24))
    try:
        t.wait(
            lambda s: "▾ cafe" in s and "2/2 running" in s and "├ db-1" in s and "└ web-1" in s,
            what="the project's row and its members",
        )
        t.wait("(healthy)", what="db's health in the list")
        # (whole conditions, not a first glimpse and then asserts: tmux can show a frame half drawn)
        t.wait(lambda s: "d Down" in s and "u Up" in s and "s Stop" in s, what="the project keys")

        # fold and unfold (the cursor starts on the project's row)
        t.keys("z")
        t.wait(lambda s: "▸ cafe" in s and "db-1" not in s, what="folded")
        t.keys("Enter")
        t.wait(lambda s: "▾ cafe" in s and "db-1" in s, what="unfolded")

        # the project's logs, merged; then without db
        t.keys("l")
        t.wait("Logs of cafe")
        t.wait(lambda s: "db-1   | db-says-42" in s and "web-1  | web-says-49" in s, what="merged lines")
        t.keys("1")
        t.wait(lambda s: "web-1  | web-says-49" in s and "db-says" not in s, what="the lines without db")
        t.keys("0")
        t.wait("db-says-42", what="db shown again")
        t.keys("Escape")
        t.wait("1 Containers")

        # stop the project, then up
        t.keys("s")
        t.wait("0/2 running", what="stopped")
        assert {c.status for c in engine.list_containers(all=True)} == {"exited"}
        t.keys("u")
        t.wait("2/2 running", what="up again")
        assert {c.status for c in engine.list_containers(all=True)} == {"running"}

        # down, with its question
        t.keys("d")
        t.wait("Down cafe? Stop and remove:")
        t.wait("network cafe_default")
        t.keys("y")
        t.wait("No containers", what="the project gone")
        assert engine.list_containers(all=True) == []
        assert all(n.name != "cafe_default" for n in engine.list_networks())

        t.keys("q")
        deadline = time.monotonic() + 10
        while t.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "the workbench did not quit"
    finally:
        t.close()
        if any(n.name == "cafe_default" for n in engine.list_networks()):
            subprocess.run(
                [DOCKYARD, "--root", str(engine.config.root), "compose", "-p", "cafe", "down"],
                cwd=tmp_path,
                env={**os.environ, **env},
                capture_output=True,
                timeout=60,
            )


def test_a_person_pulls_runs_follows_execs_stops_and_removes(
    tmux_env: tuple[LocalEngine, str, dict[str, str]],
) -> None:
    engine, ref, env = tmux_env
    t = Tmux(f"{DOCKYARD} --root {shlex.quote(str(engine.config.root))}", env)
    try:
        t.wait("1 Containers", what="the workbench")
        t.wait("No containers", what="the empty list")

        # pull busybox
        t.keys("P")
        t.wait("Pull an image")
        t.type(ref)
        t.keys("Enter")
        t.wait("Downloaded newer image", timeout=60)
        t.wait("Pull complete", timeout=10)  # the layer rows may paint a frame after the status line
        t.keys("Escape")
        t.wait("1 Containers")

        # run it detached from the form, which shows the command line it stands for
        t.keys("n")
        t.wait("Run a container")
        t.type(ref)
        t.keys("Tab")
        t.type("tmuxbox")
        t.keys("Tab")
        # (the trap: sh as PID 1 ignores SIGTERM, and the stop below would wait 10 s for its SIGKILL)
        t.type("sh -c 'trap exit TERM; while true; do echo tick-$((1+1)); sleep 1; done'")
        t.wait(lambda s: "dockyard run -d --name tmuxbox" in s and "tick-" in s, what="the command line")
        t.keys("Enter")
        t.wait(lambda s: "tmuxbox" in s and "Up " in s, what="the running container in the list")
        assert engine.container("tmuxbox").status == "running"

        # follow its logs
        t.keys("l")
        t.wait("Logs of tmuxbox")
        t.wait(lambda s: s.count("tick-2") >= 2, what="log lines")
        before = engine.container("tmuxbox")
        assert before.status == "running"

        # a shell in it; echo; leave
        t.keys("1")
        t.wait("1 Containers")
        t.keys("e")
        t.wait("Shell in tmuxbox")
        t.wait(lambda s: "#" in s.split("Shell in tmuxbox", 1)[1], what="a shell prompt")
        t.type("echo hello-$((6*7))")
        t.keys("Enter")
        t.wait("hello-42", what="the echo")
        t.type("exit")
        t.keys("Enter")
        t.wait(lambda s: "1 Containers" in s and "Shell in" not in s, what="back to the list")

        # stop, then remove (with its confirmation)
        t.keys("s")
        t.wait(lambda s: "Exited" in s, what="stopped")
        assert engine.container("tmuxbox").status == "exited"
        t.keys("d")
        t.wait("Remove tmuxbox?")
        t.keys("y")
        t.wait("No containers", what="removed")
        assert engine.list_containers(all=True) == []

        t.keys("q")
        deadline = time.monotonic() + 10
        while t.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "the workbench did not quit"
    finally:
        t.close()


def test_full_terminal_says_how_back_restores_the_users_screen_and_ctrl_q_is_the_shells(
    tmux_env: tuple[LocalEngine, str, dict[str, str]],
) -> None:
    """Issue 16's safety keys in a real terminal: a shell's ctrl+q is the shell's, Ctrl+] is the one escape
    key, Ctrl+T's full terminal says how to come back and leaves nothing on the user's own screen, and
    quitting with the shell still open asks first."""
    from core.models import ContainerConfig, ContainerCreate

    engine, ref, env = tmux_env
    engine.pull(ref)
    c = engine.create_container(
        ContainerCreate(ContainerConfig(image=ref, cmd=["sleep", "300"]), name="fullbox")
    )
    engine.start_container(c.id)
    root = shlex.quote(str(engine.config.root))
    script = f'echo BEFORE-MARK; {DOCKYARD} --root {root}; echo "AFTER-MARK rc=$?"; sleep 60'
    t = Tmux(f"sh -c {shlex.quote(script)}", env)
    try:
        t.wait(lambda s: "fullbox" in s and "Up " in s, what="the container in the list")
        t.keys("e")
        t.wait("Shell in fullbox")
        t.wait(lambda s: "#" in s.split("Shell in fullbox", 1)[1], what="a shell prompt")
        t.type("echo INSIDE-$((5*5))")
        t.keys("Enter")
        t.wait("INSIDE-25")

        # ctrl+q inside the shell is the shell's: cat -v shows it (-ixon: else the tty takes it as XON)
        t.type("stty -ixon; cat -v")
        t.keys("Enter")
        time.sleep(0.5)
        t.keys("C-q", "C-p", "C-q")
        t.keys("Enter")
        t.wait("^Q^P^Q", what="ctrl+q and ctrl+p reached the shell")
        assert t.alive()
        t.keys("C-d")

        # the escape key, then the full terminal: it says how to come back and shows the shell so far
        t.keys("C-]")
        t.wait("Enter back in, Esc leaves", what="the keys are the workbench's")
        t.keys("C-t")
        t.wait(
            lambda s: "Ctrl+] returns to the workbench" in s and "INSIDE-25" in s and "1 Containers" not in s,
            what="the full terminal's banner",
        )
        t.type("echo FULL-$((7*7))")
        t.keys("Enter")
        t.wait("FULL-49")
        # vi's alternate screen stays inside the full terminal; leaving it repaints the shell's screen
        t.type("vi /tmp/notes")
        t.keys("Enter")
        t.wait(lambda s: "FULL-49" not in s and "~" in s, what="vi on the screen")
        t.type(":q!")
        t.keys("Enter")
        t.wait(lambda s: "FULL-49" in s and "vi /tmp/notes" in s, what="the shell's screen repainted")
        t.keys("C-]")
        t.wait(lambda s: "Shell in fullbox" in s and "FULL-49" in s, what="back in the workbench")

        # quitting with the shell open asks; yes quits
        t.keys("C-]")
        t.keys("C-q")
        t.wait("Quit dockyard?")
        assert "a shell in fullbox" in t.screen()
        t.keys("y")
        screen = t.wait("AFTER-MARK rc=0", what="the workbench quit")
        # the user's screen is as it was: what the shell printed (in the workbench or in the full terminal)
        # is not left on it
        assert "BEFORE-MARK" in screen
        for shown in ("INSIDE-25", "FULL-49", "^Q", "vi /tmp/notes", "~"):
            assert shown not in screen, screen
        assert engine.container("fullbox").status == "running"  # quitting ended the shell, not the container
    finally:
        t.close()


def test_a_filter_typed_at_30_keys_a_second_with_backspaces_arrives_whole(
    tmux_env: tuple[LocalEngine, str, dict[str, str]],
) -> None:
    """Issue 16: typed keys are never lost or reordered. The Containers filter, typed five times at 30 keys
    a second in a real terminal, with backspaces among the letters, while the list re-filters every key."""
    from core.models import ContainerConfig, ContainerCreate

    engine, ref, env = tmux_env
    engine.pull(ref)
    for i in range(60):  # enough rows that re-filtering keeps the list busy between keys
        engine.create_container(ContainerCreate(ContainerConfig(image=ref, cmd=["true"]), name=f"web-{i}"))
    t = Tmux(f"{DOCKYARD} --root {shlex.quote(str(engine.config.root))}", env, size=(80, 24))
    # "webx<BS>-1<BS><BS>-ap<BS>pp" is "web-app", which no container's name holds
    typed = [*"webx", "BSpace", *"-1", "BSpace", "BSpace", *"-ap", "BSpace", *"pp"]
    try:
        t.wait("web-59", what="the containers")
        for attempt in range(5):
            t.keys("/")
            for key in typed:
                start = time.monotonic()
                if key == "BSpace":
                    t._tmux("send-keys", "-t", "wb", key)
                else:
                    t._tmux("send-keys", "-t", "wb", "-l", key)
                time.sleep(max(0.0, 1 / 30 - (time.monotonic() - start)))
            screen = t.wait(
                lambda s: "Nothing matches" in s, timeout=10, what=f"the filter applied (try {attempt + 1})"
            )
            time.sleep(0.3)
            screen = t.screen()
            assert "Nothing matches 'web-app'." in screen, f"try {attempt + 1}:\n{screen}"
            t.keys("Escape")
            t.wait("web-59", what="the filter cleared")
    finally:
        t.close()


def test_master_detail_at_80x24(tmux_env: tuple[LocalEngine, str, dict[str, str]]) -> None:
    """The containers list with the detail panel under it at 80x24: the panel follows the cursor (g, G, j),
    the columns that matter fit, hide-stopped, sort by key, and v hides the panel (and remembers it)."""
    from core.models import ContainerConfig, ContainerCreate, HostConfig

    engine, ref, env = tmux_env
    engine.pull(ref)
    engine.tag_image(ref, "busybox")

    def run(name: str, script: str, image: str = "busybox") -> str:
        config = ContainerConfig(image=image, cmd=["sh", "-c", script])
        c = engine.create_container(ContainerCreate(config, HostConfig(), name=name))
        engine.start_container(c.id)
        return c.id

    done = run("done", "echo done-says-bye")
    engine.wait_container(done)
    run("alpha", "echo alpha-says-hi; sleep 300", image=ref)  # the test bed's 127.0.0.1:PORT/busybox
    time.sleep(0.05)
    run("beta", "echo beta-says-hi; sleep 300")
    t = Tmux(f"{DOCKYARD} --root {shlex.quote(str(engine.config.root))}", env, size=(80, 24))
    try:
        screen = t.wait(lambda s: "alpha" in s and "beta" in s and "done" in s, what="the three listed")
        header = next(line for line in screen.splitlines() if "NAME" in line)
        assert "STATUS" in header and "IMAGE" in header and "CREATED" not in header, header
        assert "…/busybox:latest" in screen and "127.0.0.1:" not in screen.split("Logs")[0]
        # the cursor starts on the first row (newest: beta); the panel under the list follows it
        t.wait("beta-says-hi", what="beta's log in the panel")
        t.keys("G")  # the last row: done
        t.wait(lambda s: "done-says-bye" in s and "beta-says-hi" not in s, what="done's log")
        t.keys("g")
        t.wait("beta-says-hi", what="beta's log again")
        t.keys("j")
        # the whole image name, in the panel's title
        t.wait(lambda s: "alpha-says-hi" in s and "127.0.0.1:" in s, what="alpha's log")

        # hide the stopped, show them again
        t.keys("H")
        t.wait(lambda s: "Exited" not in s, what="done hidden")
        t.keys("H")
        t.wait("Exited", what="done shown again")

        # sort by the first column, then the panel off and on
        t.keys("o")
        t.wait("NAME ▲", what="sorted by name")
        t.keys("v")
        t.wait(lambda s: "alpha-says-hi" not in s, what="the panel hidden")
        assert "detail_panel = false" in Path(env["DOCKYARD_TUI_CONFIG"]).read_text()
        t.keys("v")
        t.wait("says-", what="the panel back")

        t.keys("q")
        deadline = time.monotonic() + 10
        while t.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "the workbench did not quit"
    finally:
        t.close()
