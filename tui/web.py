"""The workbench in a browser: ``dockyard workbench --web [--bind HOST:PORT]``.

textual-serve serves a page with xterm.js and a websocket; each browser session gets its own workbench
process (this same ``dockyard``, with the same engine flags), which speaks Textual's web driver protocol on
its stdin/stdout. textual-serve has no access control, so this module puts one in front of it:

- a random token (``secrets.token_urlsafe(24)``, 192 bits) is the first segment of every path: the page
  (``/TOKEN/``), its websocket (``/TOKEN/ws``) and its static files. Every other request, and one with a
  wrong token (compared with ``hmac.compare_digest``), gets 403 before any handler runs, so no app process
  is started for it. The full URL is printed once, on stdout, and never logged (no access log).
- the server listens on loopback unless told otherwise; a non-loopback address needs TLS (``--tlscert`` and
  ``--tlskey``: https and wss) or the explicit ``--insecure-bind`` (a warning says what that exposes).
- a websocket whose ``Origin`` is not this server's own is refused (cross-site websocket hijacking); pages
  carry a Content-Security-Policy that keeps them to this origin (the page textual-serve ships would fetch
  a font stylesheet from Google otherwise) and ``Referrer-Policy: no-referrer``.
- Ctrl+C (or SIGTERM) asks every session's app to quit, waits a little, then ends what is left by process
  group; each app process also gets SIGTERM if the server dies (``PR_SET_PDEATHSIG``).

aiohttp and textual-serve are imported only here, and this module only for ``--web``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.errors import BadFlagValue, DockyardError

if TYPE_CHECKING:
    import argparse

    from aiohttp import web

DEFAULT_BIND = "127.0.0.1:8000"
# how long a session's app has to quit when asked, and then after SIGTERM, before it is killed
QUIT_GRACE = 3.0
TERM_GRACE = 2.0
# the app process: this dockyard's command line with no verb, i.e. the workbench (argv follows)
_APP_BOOT = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``HOST`` (port 8000) → (host, port). Port 0 picks a free one."""
    host, port = text, "8000"
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] not in ("", ":"):
            raise BadFlagValue(f"invalid --bind {text!r}: expected HOST:PORT or [IPV6]:PORT")
        host, port = text[1:end], text[end + 2 :] or "8000"
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif ":" in text:
        raise BadFlagValue(f"invalid --bind {text!r}: write an IPv6 address in brackets, [::1]:8000")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadFlagValue(f"invalid --bind {text!r}: expected HOST:PORT with a port from 0 to 65535")
    return host, int(port)


def resolve(host: str) -> str:
    """The address ``host`` stands for (a name is looked up; the first address is used)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as err:
        raise DockyardError(f"invalid --bind: cannot resolve {host!r}: {err}") from None
    return str(infos[0][4][0])


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise BadFlagValue("--tlscert and --tlskey go together: the certificate and its private key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise DockyardError(f"cannot load the TLS certificate and key ({cert}, {key}): {why}") from None
    return ctx


def listen(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.create_server((address, port), family=family, backlog=64)
    except OSError as err:
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        raise DockyardError(
            f"cannot listen on {shown}: {err.strerror or err}; choose another address with --bind"
        ) from None


def public_url(host: str, address: str, port: int, tls: bool, token: str) -> str:
    """What a browser opens: the name given to --bind (or this machine's name for a wildcard address)."""
    shown = host
    if ipaddress.ip_address(address).is_unspecified:
        shown = socket.gethostname()
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}/{token}/"


def serve(args: argparse.Namespace) -> int:
    """``dockyard [GLOBALS] workbench --web ...``: serve until Ctrl+C or SIGTERM."""
    host, port = parse_bind(args.bind or DEFAULT_BIND)
    address = resolve(host)
    tls = tls_context(args.web_tlscert, args.web_tlskey)
    if not is_loopback(address) and tls is None:
        if not args.insecure_bind:
            raise BadFlagValue(
                f"refusing to serve the workbench on {host} (not a loopback address) without TLS: anyone "
                "who reaches it and sees the address can run containers as root; give --tlscert and "
                "--tlskey, or --insecure-bind to serve plain http anyway"
            )
        sys.stderr.write(
            f"WARNING: serving the workbench over plain http on {host}: the access token and every key "
            "typed travel unencrypted, and whoever has the address controls the engine\n"
        )
    sock = listen(address, port)
    token = secrets.token_urlsafe(24)
    command = [sys.executable, "-c", _APP_BOOT, *args.engine_argv]
    server = TokenServer(command, token, tls)
    url = public_url(host, address, sock.getsockname()[1], tls is not None, token)
    try:
        asyncio.run(server.run(sock, url))
    finally:
        sock.close()
    return 0


def _parent_death_signal() -> Callable[[], None]:
    """What the app process runs before exec: SIGTERM to it when the server goes, however it goes. The
    libc function is looked up here, in the server, so that the forked child imports and locks nothing."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def set_it() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return set_it


def _session_class() -> Any:
    """A subclass of textual-serve's AppService (imported only when a server is made)."""
    from textual_serve.app_service import AppService

    die_with_parent = _parent_death_signal()

    class Session(AppService):
        """One browser session's app process: started without a shell, in a process group of its own
        (Ctrl+C at the server's terminal reaches the server, which then stops the apps in order)."""

        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            super().__init__(" ".join(argv), **kwargs)
            self.argv = argv

        async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
            env = self._build_environment(width=width, height=height)
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            self._process = process
            assert process.stdin is not None
            self._stdin = process.stdin
            return process

        async def end(self) -> None:
            """Ask the app to quit (textual-serve's stop: a quit packet, then its output read to the end);
            SIGTERM its process group if it is still there after QUIT_GRACE, SIGKILL after TERM_GRACE more.
            Safe to call more than once."""
            process = self._process
            if process is None:
                return
            if process.returncode is None:
                try:
                    await asyncio.wait_for(self.stop(), QUIT_GRACE)
                except (TimeoutError, OSError, RuntimeError):
                    pass

            async def exited(within: float) -> bool:
                try:
                    await asyncio.wait_for(process.wait(), within)
                    return True
                except TimeoutError:
                    return False

            for sig, within in ((None, 0.5), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, TERM_GRACE)):
                if sig is not None:
                    try:
                        os.killpg(process.pid, sig)
                    except ProcessLookupError:
                        pass
                if await exited(within):
                    break
            if self._task is not None and not self._task.done():
                self._task.cancel()

    return Session


class TokenServer:
    """textual-serve's server with every route behind the token (see the module's docstring)."""

    def __init__(self, argv: list[str], token: str, tls: ssl.SSLContext | None) -> None:
        from textual_serve.server import Server

        self.argv = argv
        self.token = token
        self.tls = tls
        self.sessions: set[Any] = set()
        self._session_cls = _session_class()
        # textual-serve's Server gives the static and template folders and its download manager
        self._base = Server(" ".join(argv), title="dockyard")
        self._stopping = False

    # -------------------------------------------------------------------------------------------- app

    def make_app(self) -> web.Application:
        import aiohttp_jinja2
        import jinja2
        from aiohttp import web

        app = web.Application(middlewares=[self._make_guard()])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self._base.templates_path))
        prefix = f"/{self.token}"
        app.add_routes(
            [
                web.get(prefix, self._to_index),
                web.get(f"{prefix}/", self._index, name="index"),
                web.get(f"{prefix}/ws", self._websocket, name="websocket"),
                web.static(f"{prefix}/static", self._base.statics_path, name="static"),
            ]
        )
        return app

    def _token_ok(self, path: str) -> bool:
        given = path[1:].split("/", 1)[0] if path.startswith("/") else ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _make_guard(self) -> Callable[..., Awaitable[Any]]:
        from aiohttp import hdrs, web

        @web.middleware
        async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
            if not self._token_ok(request.path):
                return web.Response(
                    status=403,
                    text="403 Forbidden: open the address with the access token that "
                    "'dockyard workbench --web' printed when it started\n",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
                )
            if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
                origin = request.headers.get(hdrs.ORIGIN)
                own = f"{'https' if self.tls else 'http'}://{request.host}"
                if origin is not None and origin != own:
                    return web.Response(status=403, text="403 Forbidden: cross-origin websocket\n")
            response = await handler(request)
            if isinstance(response, web.StreamResponse) and not response.prepared:
                response.headers["Cache-Control"] = "no-store"
                response.headers["Referrer-Policy"] = "no-referrer"
                response.headers["X-Content-Type-Options"] = "nosniff"
                response.headers["Content-Security-Policy"] = _CSP
            return response

        return guard

    async def _to_index(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        raise web.HTTPFound(f"/{self.token}/")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        import aiohttp_jinja2

        scheme = "https" if self.tls else "http"
        origin = f"{scheme}://{request.host}"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        context = {
            "font_size": max(6, min(font_size, 48)),
            "app_websocket_url": f"{'wss' if self.tls else 'ws'}://{request.host}/{self.token}/ws",
            "config": {"static": {"url": f"{origin}/{self.token}/static/"}},
            "application": {"name": "dockyard"},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        if self._stopping:
            raise web.HTTPServiceUnavailable(text="the server is stopping\n")
        websocket = web.WebSocketResponse(heartbeat=15)

        def size(name: str, default: int) -> int:
            try:
                return max(10, min(int(request.query.get(name, default)), 1000))
            except ValueError:
                return default

        await websocket.prepare(request)
        session = self._session_cls(
            self.argv,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self._base.download_manager,
        )
        self.sessions.add(session)
        try:
            await session.start(size("width", 80), size("height", 24))
            await self._base._process_messages(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception as err:  # a malformed message from the page: end this session, say why
            sys.stderr.write(f"a browser session ended on an error: {err!r}\n")
        finally:
            self.sessions.discard(session)
            await session.end()
            await websocket.close()
        return websocket

    # ------------------------------------------------------------------------------------------- run

    async def run(self, sock: socket.socket, url: str) -> None:
        from aiohttp import web

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, sock, ssl_context=self.tls, shutdown_timeout=QUIT_GRACE + TERM_GRACE)
        try:
            await site.start()
            # the one place the token is shown
            print(
                "The workbench is served at this address (it holds the access token; it is shown only "
                f"now):\n\n    {url}\n\nCtrl+C stops the server and every session.",
                flush=True,
            )
            await stop.wait()
            sys.stderr.write("\nstopping: ending every session\n")
        finally:
            self._stopping = True
            await self.end_sessions()
            await runner.cleanup()
            await self.end_sessions()  # any that began while the server was closing

    async def end_sessions(self) -> None:
        if self.sessions:
            await asyncio.gather(*(s.end() for s in list(self.sessions)), return_exceptions=True)
