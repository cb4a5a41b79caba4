"""The workbench in a browser (``dockyard workbench --web``), tested with a real headless browser: Debian's
chromium driven by Selenium through Debian's chromedriver, against the real ``dockyard`` command serving a
real engine with a container made through the command line beforehand.

What the browser shows is read two ways: the terminal stream the page received over its websocket (from the
browser's own network log, CDP ``Network.webSocketFrameReceived``) is replayed into a pyte screen, and the
pixels xterm.js painted on its canvas are checked cell by cell against that screen (a cell with a character
has ink, a blank cell has none), so the text is what the page drew, not only what it was sent.

``DOCKYARD_WEB_SCREENSHOT=screenshots/web.png`` saves the containers view the browser showed there (README).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from tests.e2e.apiserver import free_port, make_certs
from tests.testbed import Testbed

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


# ------------------------------------------------------------------------------------------------ processes


def _parents() -> dict[int, int]:
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(stat.parent.name)] = int(fields[1])
    return out


def descendants(pid: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class WebServer:
    """``dockyard --root R workbench --web ARGS...``, its stdout read up to the printed URL."""

    def __init__(self, config: Config, *args: str, prefix: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "DOCKYARD_RUN": str(config.run), "DOCKYARD_TUI_CONFIG": str(config.root / "no")}
        self.proc = subprocess.Popen(
            [*prefix, DOCKYARD, "--root", str(config.root), "workbench", "--web", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a signal for it reaches it alone
        )
        self.out = b""
        self.err = b""

    def read_url(self, timeout: float = 15.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\nCtrl+C" not in self.out:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no URL printed; stdout so far: {self.out!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the server ended: {self.out!r} {self.stop()[1]!r}")
            self.out += chunk
        urls = [w for w in self.out.decode().split() if w.startswith(("http://", "https://"))]
        assert len(urls) == 1, self.out
        return urls[0]

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        """Signal it by PID (Ctrl+C by default), wait; (exit status, all it printed)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
        self.out += out
        self.err += err
        return self.proc.returncode, (self.out + self.err).decode()


def _dockyard(config: Config, *args: str) -> str:
    env = {**os.environ, "DOCKYARD_RUN": str(config.run)}
    out = subprocess.run(
        [DOCKYARD, "--root", str(config.root), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _get(url: str, **kwargs: Any) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10, **kwargs) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _websocket_status(port: int, path: str, origin: str | None = None) -> int:
    """The status a websocket handshake to ``path`` gets (101: accepted; the connection is then closed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    if origin:
        headers["Origin"] = origin
    try:
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- the browser


class Browser:
    """Headless chromium under chromedriver, with its network log on (the websocket's frames). Every
    process it started is ended by PID on close, chromedriver's descendants and anything else that names
    this browser's private profile directory."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="dockyard-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",  # root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--no-first-run",
            "--window-size=1100,700",
            # nothing but loopback: the page must not need the internet (its font stylesheet is refused
            # by the server's Content-Security-Policy anyway)
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={self.profile}",
        ):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.service = Service(CHROMEDRIVER)
        self.driver = webdriver.Chrome(options=opts, service=self.service)
        self.screen: Any = None
        self._stream: Any = None
        self.sent: list[Any] = []
        self.sockets = 0

    def open(self, url: str) -> None:
        self.driver.get(url)

    def body_text(self) -> str:
        return str(self.driver.execute_script("return document.body ? document.body.innerText : ''"))

    def pump(self) -> None:
        """Take the websocket frames logged since the last call: what the page sent, and the terminal
        output it received, replayed into a pyte screen of the size the page asked for."""
        import pyte

        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            method, params = msg["method"], msg["params"]
            if method == "Network.webSocketCreated":
                self.sockets += 1
            elif method == "Network.webSocketFrameSent":
                sent = json.loads(params["response"]["payloadData"])
                self.sent.append(sent)
                if sent[0] == "resize":
                    cols, rows = sent[1]["width"], sent[1]["height"]
                    if self.screen is None:
                        self.screen = pyte.Screen(cols, rows)
                        self._stream = pyte.ByteStream(self.screen)
                    else:
                        self.screen.resize(rows, cols)
            elif method == "Network.webSocketFrameReceived":
                frame = params["response"]
                if frame["opcode"] == 2 and self._stream is not None:  # binary: the terminal's output
                    self._stream.feed(base64.b64decode(frame["payloadData"]))

    def text(self) -> str:
        return "\n".join(self.screen.display) if self.screen is not None else ""

    def wait(self, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the terminal showed:\n{self.text()}")

    def ink(self) -> list[str]:
        """Per terminal cell, whether xterm.js painted a glyph there ('#') or only background ('.'): a cell
        of the canvas' text layer with two or more pixels unlike its most common colour has ink."""
        assert self.screen is not None
        rows: list[str] = self.driver.execute_script(
            """
            const [cols, rows] = arguments;
            const c = document.querySelector('canvas.xterm-text-layer');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const cw = c.width / cols, ch = c.height / rows, out = [];
            for (let r = 0; r < rows; r++) {
              let line = '';
              for (let k = 0; k < cols; k++) {
                const counts = new Map(), px = [];
                for (let y = Math.floor(r * ch) + 1; y < Math.floor((r + 1) * ch) - 1; y++)
                  for (let x = Math.floor(k * cw) + 1; x < Math.floor((k + 1) * cw) - 1; x++) {
                    const i = (y * c.width + x) * 4;
                    const v = (d[i] << 24 | d[i+1] << 16 | d[i+2] << 8 | d[i+3]) >>> 0;
                    px.push(v); counts.set(v, (counts.get(v) || 0) + 1);
                  }
                let common = 0, best = -1;
                for (const [v, n] of counts) if (n > best) { best = n; common = v; }
                line += px.length - best >= 2 ? '#' : '.';
              }
              out.push(line);
            }
            return out;
            """,
            self.screen.columns,
            self.screen.lines,
        )
        return rows

    def painted(self, needle: str) -> bool:
        """The terminal holds ``needle`` and the page painted the terminal as it is: ink in exactly the
        cells that hold a character, over the whole screen (allowing three cells of anti-aliasing noise)."""
        if self.screen is None or needle not in self.text():
            return False
        want = ["".join("." if ch == " " else "#" for ch in row) for row in self.screen.display]
        got = self.ink()
        return sum(a != b for w, g in zip(want, got, strict=True) for a, b in zip(w, g, strict=True)) <= 3

    def press(self, keys: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(keys)

    def close(self) -> None:
        process = getattr(self.service, "process", None)
        pids = descendants(process.pid) | {process.pid} if process is not None else set()
        try:
            self.driver.quit()
        except Exception:
            pass
        pids |= {p for p in _parents() if self.profile in _cmdline(p)}
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for p in pids:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.profile, ignore_errors=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def browser() -> Iterator[Browser]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is not installed (scripts/test installs Debian's chromium, chromium-driver)")
    pytest.importorskip("selenium")
    b = Browser()
    try:
        yield b
    finally:
        b.close()


# -------------------------------------------------------------------------------------------------- tests


def test_the_browser_gets_the_app_only_with_the_token_and_keys_reach_it(
    engine_config: Config, testbed: Testbed, browser: Browser
) -> None:
    ref = testbed.ref("busybox:latest")
    _dockyard(engine_config, "run", "-d", "--network", "none", "--name", "webbox", ref, "sleep", "600")
    port = free_port()
    server = WebServer(engine_config, "--bind", f"127.0.0.1:{port}")
    app_pids: set[int] = set()
    try:
        url = server.read_url()
        token = url.rstrip("/").rsplit("/", 1)[1]
        assert url == f"http://127.0.0.1:{port}/{token}/" and len(token) >= 32
        wrong = ("A" if token[0] != "A" else "B") + token[1:]

        # without the token, or with a wrong one: 403, for the page, its files and its websocket alike
        for path in ("/", f"/{wrong}/", f"/{wrong}/static/js/textual.js", "/static/js/textual.js", "/ws"):
            status, body = _get(f"http://127.0.0.1:{port}{path}")
            assert status == 403, path
            assert token not in body
        assert _websocket_status(port, f"/{wrong}/ws") == 403
        assert _websocket_status(port, f"/{token}/ws", origin="http://evil.example") == 403
        status, page = _get(url)
        assert status == 200 and f"/{token}/ws" in page
        assert _get(url.rstrip("/")) == (status, page)  # /TOKEN redirects to /TOKEN/

        # the browser: no token, a wrong token -> refused, no websocket, no app process started
        for bad in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/{wrong}/"):
            browser.open(bad)
            assert "403 Forbidden" in browser.body_text()
            time.sleep(0.5)
            browser.pump()
            assert browser.sockets == 0
            assert descendants(server.proc.pid) == set(), "an app started without the token"

        # with the token: the page connects and the terminal shows the containers list
        browser.open(url)
        browser.wait(lambda: "webbox" in browser.text() and "Up " in browser.text(), "the containers list")
        assert browser.sockets == 1
        assert "1 Containers" in browser.text()
        app_pids = descendants(server.proc.pid)
        assert len(app_pids) >= 1
        assert any("tui.cli" in _cmdline(p) for p in app_pids)
        # what the page painted is that text: the row of the container, cell by cell
        browser.wait(lambda: browser.painted("webbox"), "xterm.js to paint the container's row")

        browser.press("")  # focus the terminal: the app shows its key bar
        browser.wait(lambda: "Quit" in browser.text(), "the key bar")
        time.sleep(0.5)
        shot = browser.driver.get_screenshot_as_png()
        if target := os.environ.get("DOCKYARD_WEB_SCREENSHOT"):
            Path(target).write_bytes(shot)

        # a key press reaches the app: 2 switches to the Images pane
        browser.press("2")
        browser.wait(lambda: "REPOSITORY:TAG" in browser.text(), "the Images pane after pressing 2")
        assert ["stdin", "2"] in browser.sent
        assert "webbox" not in browser.text()
        browser.wait(lambda: browser.painted("REPOSITORY:TAG"), "xterm.js to paint the Images pane")
        assert browser.driver.get_screenshot_as_png() != shot

        # Ctrl+C at the server with the session open: the server and its app process end
        app_pids |= descendants(server.proc.pid)
        code, printed = server.stop(signal.SIGINT)
        assert code == 0, printed
        assert printed.count(token) == 1, "the token is printed once, at the start"
        assert not [p for p in app_pids if alive(p)], "an app process outlived the server"
        browser.wait(
            lambda: "-closed" in str(browser.driver.execute_script("return document.body.className")),
            "the page to see its session end",
        )
    finally:
        server.stop(signal.SIGKILL)
        for p in app_pids | descendants(server.proc.pid):
            if alive(p):
                os.kill(p, signal.SIGKILL)


def test_https_with_the_token(engine_config: Config, tmp_path: Path) -> None:
    import ssl

    make_certs(tmp_path)
    port = free_port()
    cert, key = str(tmp_path / "server.pem"), str(tmp_path / "server-key.pem")
    server = WebServer(engine_config, "--bind", f"127.0.0.1:{port}", "--tlscert", cert, "--tlskey", key)
    try:
        url = server.read_url()
        token = url.rstrip("/").rsplit("/", 1)[1]
        assert url == f"https://127.0.0.1:{port}/{token}/"
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        status, page = _get(url, context=ctx)
        assert status == 200 and f"wss://127.0.0.1:{port}/{token}/ws" in page
        assert _get(f"https://127.0.0.1:{port}/", context=ctx)[0] == 403
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # no plain http on a TLS port
            urllib.request.urlopen(f"http://127.0.0.1:{port}/{token}/", timeout=5)
        code, _ = server.stop(signal.SIGTERM)
        assert code == 0
    finally:
        server.stop(signal.SIGKILL)


# the server in a network namespace of its own (nothing in it but its own loopback, down), so that a
# wildcard bind exposes nothing on the machine's interfaces
PRIVATE_NETNS = ("unshare", "--net")


def test_a_non_loopback_bind_needs_tls_or_the_opt_in(engine_config: Config, tmp_path: Path) -> None:
    refused = WebServer(engine_config, "--bind", "0.0.0.0:8000", prefix=PRIVATE_NETNS)
    refused.proc.wait(timeout=20)
    code, printed = refused.stop()
    assert code == 125
    assert printed.startswith("Error: refusing to serve the workbench on 0.0.0.0 (not a loopback address)")
    assert "--insecure-bind" in printed and "://" not in printed

    opted = WebServer(engine_config, "--bind", "0.0.0.0:8000", "--insecure-bind", prefix=PRIVATE_NETNS)
    try:
        url = opted.read_url()
        assert url.startswith("http://") and url.split("/")[2].endswith(":8000")
        code, printed = opted.stop(signal.SIGINT)
        assert code == 0
        assert "WARNING: serving the workbench over plain http on 0.0.0.0" in printed
    finally:
        opted.stop(signal.SIGKILL)

    make_certs(tmp_path)
    tls = WebServer(engine_config, "--bind", "0.0.0.0:8443", "--tlscert", str(tmp_path / "server.pem"),
                    "--tlskey", str(tmp_path / "server-key.pem"), prefix=PRIVATE_NETNS)  # fmt: skip
    try:
        assert tls.read_url().startswith("https://")
        code, printed = tls.stop(signal.SIGINT)
        assert code == 0 and "WARNING" not in printed
    finally:
        tls.stop(signal.SIGKILL)


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--bind", "127.0.0.1:99999"], 125, "invalid --bind '127.0.0.1:99999'"),
        (["--bind", "::1:8000"], 125, "invalid --bind '::1:8000': write an IPv6 address in brackets"),
        (["--tlscert", "/nonexistent.pem"], 125, "--tlscert and --tlskey go together"),
        (["--tlscert", "/none.pem", "--tlskey", "/none.pem"], 1, "cannot load the TLS certificate and key"),
    ],
)
def test_bad_web_flags_are_one_line_errors(
    engine_config: Config, args: list[str], status: int, message: str
) -> None:
    env = {**os.environ, "DOCKYARD_RUN": str(engine_config.run)}
    out = subprocess.run(
        [DOCKYARD, "--root", str(engine_config.root), "workbench", "--web", *args],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == status
    assert out.stderr.startswith(f"Error: {message}") and out.stderr.count("\n") == 1
    assert out.stdout == ""


def test_web_flags_without_web_and_the_workbench_path_stays_light() -> None:
    # --bind without --web is a usage error, found before textual-serve or aiohttp are imported
    code = (
        "import sys\nfrom tui.cli import main\nrc = main(['workbench', '--bind', '127.0.0.1:1'])\n"
        "import tui.app\n"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'textual_serve', 'jinja2')"
        " or m == 'tui.web'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "125 []", out.stderr
    assert out.stderr == "Error: --bind is a --web option\n"
