"""``dockyard serve`` (alias ``dockyard system service``): the Engine API on dockerd's ``-H`` addresses.

``unix:///run/dockyard/docker.sock`` by default (mode 0660, group ``docker`` if it exists, else root's; or
``--group``); ``tcp://HOST:PORT`` on a loopback address, or anywhere with mutual TLS (``--tlsverify
--tlscacert --tlscert --tlskey``, as dockerd); ``fd://`` (and ``fd://N``) takes the sockets systemd passes
(``LISTEN_FDS``). Several ``-H`` at once. The server holds no container: stopping or killing it stops none.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import ipaddress
import os
import signal
import socket
import socketserver
import ssl
import stat
import sys
import threading
from typing import TYPE_CHECKING, Any

from api.http import Handler
from core.errors import InvalidArgument

if TYPE_CHECKING:
    from api.app import App

DEFAULT_HOST = "unix:///run/dockyard/docker.sock"
SD_LISTEN_FDS_START = 3


class Server(socketserver.ThreadingMixIn, socketserver.BaseServer):
    """A thread per connection over a socket that is already listening (bound here or handed by systemd)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sock: socket.socket, app: App, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(sock.getsockname(), Handler)
        self.socket = sock
        self.app = app
        self.tls = tls
        self.address = ""

    def fileno(self) -> int:
        return self.socket.fileno()

    def get_request(self) -> tuple[Any, Any]:
        conn, addr = self.socket.accept()
        return conn, addr or ("unix", 0)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # in the connection's own thread: a slow TLS handshake holds up no one else
        if self.tls is not None:
            try:
                request.settimeout(30)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (OSError, ssl.SSLError) as err:
                if self.app.verbose:
                    sys.stderr.write(f"api: TLS handshake with {client_address} failed: {err}\n")
                request.close()
                return
        try:
            super().finish_request(request, client_address)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                request.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        self.close_request(request)

    def close_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.close()

    def server_close(self) -> None:
        self.socket.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.app.verbose:
            super().handle_error(request, client_address)


# ---------------------------------------------------------------------------------------------- addresses


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not (args.tlsverify or args.tls):
        return None
    for flag in ("tlscert", "tlskey"):
        if not getattr(args, flag):
            raise InvalidArgument(f"--{flag} is needed with --tls/--tlsverify")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(args.tlscert, args.tlskey)
        if args.tlsverify:
            if not args.tlscacert:
                raise InvalidArgument("--tlscacert is needed with --tlsverify")
            ctx.load_verify_locations(args.tlscacert)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as err:
        raise InvalidArgument(f"cannot load the TLS files: {err}") from None
    return ctx


def listen(address: str, args: argparse.Namespace, tls: ssl.SSLContext | None) -> list[socket.socket]:
    """The listening sockets one ``-H`` stands for."""
    if address.startswith("unix://"):
        return [_listen_unix(address.removeprefix("unix://"), args.group)]
    if address.startswith("tcp://"):
        hostport = address.removeprefix("tcp://").rstrip("/")
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgument(f"invalid -H {address!r}: expected tcp://HOST:PORT")
        host = host.strip("[]")
        if not _is_loopback(host) and not (tls is not None and args.tlsverify):
            raise InvalidArgument(
                f"refusing to listen on {address} without mutual TLS: anyone who reaches it could run "
                "containers as root; use --tlsverify --tlscacert --tlscert --tlskey, or a loopback address"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", int(port)))
        except OSError as err:
            sock.close()
            raise InvalidArgument(f"cannot listen on {address}: {err.strerror}") from None
        sock.listen(128)
        return [sock]
    if address.startswith("fd://"):
        return _systemd_sockets(address.removeprefix("fd://"))
    raise InvalidArgument(f"invalid -H {address!r}: expected unix://PATH, tcp://HOST:PORT or fd://")


def _listen_unix(path: str, group: str | None) -> socket.socket:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid unix socket path {path!r}: it must be absolute")
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise InvalidArgument(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # left by a server that is gone
        else:
            raise InvalidArgument(f"{path} is in use by another server")
        finally:
            probe.close()
    gid = 0
    name = group if group is not None else "docker"
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        if group is not None:
            if not group.isdigit():
                raise InvalidArgument(f"no such group: {group}") from None
            gid = int(group)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never reachable by others between bind and chmod
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chown(path, 0 if os.geteuid() == 0 else -1, gid if os.geteuid() == 0 else -1)
    os.chmod(path, 0o660)
    sock.listen(128)
    return sock


def _systemd_sockets(which: str) -> list[socket.socket]:
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
        pid = int(os.environ.get("LISTEN_PID", "0"))
    except ValueError:
        count, pid = 0, 0
    if count <= 0 or (pid and pid != os.getpid()):
        raise InvalidArgument(
            "fd:// needs the sockets systemd passes (LISTEN_FDS): start through dockyard.socket"
        )
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count))
    if which:
        if not which.isdigit() or int(which) not in fds:
            raise InvalidArgument(f"fd://{which} is not among the sockets systemd passed ({fds})")
        fds = [int(which)]
    out = []
    for fd in fds:
        os.set_inheritable(fd, False)
        out.append(socket.socket(fileno=fd))
    for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)
    return out


# ------------------------------------------------------------------------------------------------ command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dockyard serve",
        description="Serve Docker's Engine API (docker CLI, docker-py, docker-compose) over this engine.",
    )
    p.add_argument("--root", help="engine state directory (default $DOCKYARD_ROOT or /var/lib/dockyard)")
    p.add_argument("--debug", "-D", action="store_true", help="log requests and internal errors")
    p.add_argument(
        "-H",
        "--host",
        action="append",
        dest="hosts",
        metavar="ADDRESS",
        help=f"unix://PATH, tcp://HOST:PORT or fd:// (several allowed; default {DEFAULT_HOST})",
    )
    p.add_argument("--group", "-G", help="group of the unix socket (default: docker if it exists, else root)")
    p.add_argument("--tls", action="store_true", help="serve TLS (implied by --tlsverify)")
    p.add_argument("--tlsverify", action="store_true", help="serve TLS and require client certificates")
    p.add_argument("--tlscacert", help="CA that signs the client certificates")
    p.add_argument("--tlscert", help="the server's certificate")
    p.add_argument("--tlskey", help="the server's key")
    p.add_argument("-t", "--time", type=float, default=0, help=argparse.SUPPRESS)  # podman's; 0: forever
    return p


def main(argv: list[str]) -> int:
    """``dockyard [--root R] serve|system service [options]``."""
    args_in = list(argv)
    root = None
    if args_in and args_in[0] == "--root":  # the global flag, before the verb
        root = args_in[1] if len(args_in) > 1 else None
        args_in = args_in[2:]
    while args_in and args_in[0] in ("-D", "--debug"):
        args_in = args_in[1:]
    if args_in[:2] == ["system", "service"]:
        args_in = args_in[2:]
    elif args_in[:1] == ["serve"]:
        args_in = args_in[1:]
    # podman's `system service [URI]`: a positional address
    positional = [
        a
        for i, a in enumerate(args_in)
        if "://" in a and not a.startswith("-") and (i == 0 or args_in[i - 1] not in ("-H", "--host"))
    ]
    args_in = [a for a in args_in if a not in positional]
    args = build_parser().parse_args(args_in)
    if args.root is None:
        args.root = root
    hosts = (args.hosts or []) + positional or [DEFAULT_HOST]
    from core.errors import DockyardError

    try:
        return serve(args, hosts)
    except DockyardError as err:
        sys.stderr.write(f"Error: {err}\n")
        return err.exit_code


def serve(args: argparse.Namespace, hosts: list[str], *, ready: threading.Event | None = None) -> int:
    from api.app import App
    from core.interface import local_engine

    tls = tls_context(args)
    sockets: list[tuple[str, socket.socket]] = []
    try:
        for address in hosts:
            sockets += [(address, s) for s in listen(address, args, tls)]
    except BaseException:
        for _, s in sockets:
            s.close()
        raise
    app = App(local_engine(args.root), verbose=args.debug)
    servers = []
    for address, sock in sockets:
        server = Server(sock, app, tls if address.startswith("tcp://") else None)
        server.address = address
        servers.append(server)
    done = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # dockerd reloads its settings on it: none to reload here
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 3600}, name=f"api {s.address}")
        for s in servers
    ]
    for t in threads:
        t.daemon = True
        t.start()
    sys.stderr.write("API listening on " + ", ".join(s.address for s in servers) + "\n")
    sys.stderr.flush()
    if ready is not None:
        ready.set()
    try:
        while not done.wait(args.time or 3600):
            if args.time:
                break
    finally:
        for srv in servers:
            # no serve_forever shutdown(): it would wait out poll_interval; the threads are daemons
            srv.server_close()
            if srv.address.startswith("unix://"):
                with contextlib.suppress(OSError):
                    os.unlink(srv.address.removeprefix("unix://"))
    return 0
