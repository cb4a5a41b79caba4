"""The machinery of the differential test (tests/e2e/test_docker_diff.py): a dockerd of the test's own, the
two sides a workflow runs on, and the normalisation of what they print.

A workflow is a few shell lines; ``docker`` in them is a small wrapper on the side's PATH, so the same line
runs the docker CLI against our dockerd on one side and ``dockyard --root ROOT`` on the other (verb for
verb, the same arguments). Each line runs in its own ``bash -c``; its stdout, stderr and exit code are
kept and compared after :func:`normalise`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.testbed.common import detach_mounts_under

DOCKER_CLI_CANDIDATES = ("/usr/local/bin/docker", "/usr/bin/docker")
# the outputs the workflows expect were taken from this CLI (over dockerd 20.10, API 1.41)
DOCKER_CLI_MAJOR = 28


def find_docker_cli() -> tuple[str | None, str]:
    """(path of a docker CLI of the calibrated major version, or None; why not)."""
    seen = []
    for path in [shutil.which("docker") or "", *DOCKER_CLI_CANDIDATES]:
        if not path or not os.access(path, os.X_OK) or path in seen:
            continue
        seen.append(path)
        out = subprocess.run(
            [path, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "DOCKER_HOST": "unix:///nonexistent"},
            check=False,
        ).stdout.strip()
        major = out.split(".", 1)[0]
        if major.isdigit() and int(major) == DOCKER_CLI_MAJOR:
            return path, ""
    found = ", ".join(seen) or "none"
    return None, f"needs the docker CLI {DOCKER_CLI_MAJOR}.x (found: {found})"


# ---------------------------------------------------------------------------------------------- dockerd


@dataclass
class Dockerd:
    """A dockerd of our own: its socket, its state under ``base``, its bridge. Stopped by PID."""

    base: Path
    socket: Path
    bridge: str
    pool: str
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    cgroup_parent: str = ""  # its containers' cgroups live under this name in every hierarchy

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        # what the daemon's managed containerd and shims may have left: processes under our exec root
        for pid in _pids_mentioning(str(self.base)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        detach_mounts_under(self.base)
        _delete_links(self.bridge, self.pool)
        if self.cgroup_parent:
            remove_cgroup_tree(self.cgroup_parent)


def remove_cgroup_tree(name: str) -> None:
    """``name`` (a top-level cgroup) and what is left below it, in every mounted hierarchy (v1 and v2)."""
    root = Path("/sys/fs/cgroup")
    tops = [root / name] + [h / name for h in root.iterdir() if h.is_dir()] if root.is_dir() else []
    for top in tops:
        if not top.is_dir():
            continue
        for sub in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def _pids_mentioning(path: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if path in argv:
            found.append(int(entry))
    return found


def _delete_links(bridge: str, pool: str) -> None:
    """Our bridge and any bridge dockerd made for a network on our pool (``br-<id>``)."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=False).stdout
    net = ipaddress.IPv4Network(pool)
    for link in json.loads(out or "[]"):
        name = link.get("ifname", "")
        mine = name == bridge or any(
            a.get("family") == "inet" and ipaddress.IPv4Address(a["local"]) in net
            for a in link.get("addr_info", [])
        )
        if mine:
            subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)


def start_dockerd(
    base: Path, slot: int, timeout: float = 60.0, *, name: str = "dyd", nets: tuple[int, int] = (215, 216)
) -> Dockerd:
    """Start ``dockerd`` on ``base/docker.sock`` with state, exec root and pidfile under ``base``, on a bridge
    of its own (``<name><slot>``, 10.<nets[0]>.<slot>.1/24) with user networks from 10.<nets[1]>.<slot>.0/24
    and its containers' cgroups under ``<name><slot>`` (removed by :meth:`Dockerd.stop`; dockerd's default
    ``docker`` would stay behind); no iptables (see MACHINE-FACTS: it would set FORWARD to DROP and break
    other engines' bridges)."""
    tag = f"{name}{slot}"
    bridge, cidr, pool = tag, f"10.{nets[0]}.{slot}.1/24", f"10.{nets[1]}.{slot}.0/24"
    d = Dockerd(base, base / "docker.sock", bridge, pool, cgroup_parent=tag)
    _delete_links(bridge, pool)  # a session killed before it cleaned up
    for cmd in (
        ["ip", "link", "add", "name", bridge, "type", "bridge"],
        ["ip", "addr", "add", cidr, "dev", bridge],
        ["ip", "link", "set", bridge, "up"],
    ):
        subprocess.run(cmd, check=True, capture_output=True)
    d.log = base / "dockerd.log"
    argv = [
        "dockerd", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
        "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
        "--pidfile", str(base / "dockerd.pid"), "-H", d.host, "--bridge", bridge,
        "--default-address-pool", f"base={pool},size=28", "--log-level", "warn",
        "--containerd-namespace", tag, "--containerd-plugins-namespace", f"{tag}p", "--cgroup-parent", tag,
    ]  # fmt: skip
    with open(d.log, "wb") as log:
        d.proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            tail = " | ".join(d.log.read_text(errors="replace").strip().splitlines()[-5:])
            d.stop()
            raise RuntimeError(f"dockerd exited with {d.proc and d.proc.returncode}: {tail}")
        if d.socket.exists() and _ping(d.socket):
            return d
        time.sleep(0.05)
    d.stop()
    raise RuntimeError(f"dockerd did not answer on {d.socket} within {timeout:.0f} s (see {d.log})")


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in s.recv(200)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- sides


@dataclass
class StepResult:
    line: str
    stdout: str
    stderr: str
    code: int

    def show(self) -> str:
        return f"$ {self.line}\n[exit {self.code}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@dataclass
class Side:
    """One engine a workflow runs against: ``docker`` on its PATH is the CLI under comparison."""

    name: str  # "docker" | "dockyard"
    bindir: Path  # holds the `docker` wrapper
    env: dict[str, str]
    scratch: Path  # per-workflow work dirs go here
    cleanup: Callable[[], None]  # empties the engine but for busybox
    names: Callable[[float, float], set[str]]  # names of the containers that had events in a time range

    def run(self, lines: Sequence[str], variables: dict[str, str], timeout: float = 60.0) -> list[StepResult]:
        env = {**self.env, **variables, "PATH": f"{self.bindir}:{self.env.get('PATH', '/usr/bin:/bin')}"}
        out = []
        for line in lines:
            try:
                p = subprocess.run(
                    ["bash", "-c", line],
                    env=env,
                    cwd=variables.get("W"),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                out.append(StepResult(line, p.stdout, p.stderr, p.returncode))
            except subprocess.TimeoutExpired as e:
                out.append(StepResult(line, _text(e.stdout), _text(e.stderr) + "<timed out>\n", -999))
        return out


def _text(b: bytes | str | None) -> str:
    if b is None:
        return ""
    return b if isinstance(b, str) else b.decode(errors="replace")


def write_wrapper(bindir: Path, argv: Sequence[str]) -> None:
    bindir.mkdir(parents=True, exist_ok=True)
    quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)
    w = bindir / "docker"
    w.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n')
    w.chmod(0o755)


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


# ---------------------------------------------------------------------------------------------- normalise

_ID64 = re.compile(r"\b[0-9a-f]{64}\b")
# twelve hex digits with a digit among them (a short id may be all digits, 1 in ~280); all letters: a word
_ID12 = re.compile(r"\b(?=[0-9a-f]*[0-9])[0-9a-f]{12}\b")
_TIME_RFC3339 = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
_TIME_GO = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} [A-Z]{3,4}(?: m=[+-][\d.]+)?")
_AGO = re.compile(
    r"\b(?:Less than a second|About an? (?:second|minute|hour)|an? (?:second|minute|hour|day|week|month|year)"
    r"|\d+ (?:second|minute|hour|day|week|month|year)s?) ago\b"
)
_UP = re.compile(
    r"\bUp (?:Less than a second|About an? (?:minute|hour)|\d+ (?:second|minute|hour|day|week|month|year)s?)"
)
_EXITED = re.compile(r"\bExited \((-?\d+)\) <ago>")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")
_MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
_SIZE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:B|kB|KB|MB|GB|KiB|MiB|GiB)\b")
_HOSTPORT = re.compile(r"(?<=:)(\d{4,5})(?=->)")
_COLUMNS = re.compile(r"(?<=\S) {2,}(?=\S)")
_KEEP_IPS = {"0.0.0.0", "127.0.0.1", "255.255.255.255"}


def _ip(m: re.Match[str]) -> str:
    value = m.group(1)
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return value
    return value if value in _KEEP_IPS or value.startswith("127.") else "<ip>"


def normalise(text: str, literals: dict[str, str], names: Iterable[str] = ()) -> str:
    """Ids, generated names, times, durations, addresses, sizes, the side's own paths and ports, and the
    column padding of tables (it follows from the widths of what was normalised)."""
    for value, placeholder in sorted(literals.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", "<name>", text)
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<id>", text)
    text = _ID64.sub("<id>", text)
    text = _ID12.sub("<id>", text)
    text = _TIME_RFC3339.sub("<time>", text)
    text = _TIME_GO.sub("<time>", text)
    text = _AGO.sub("<ago>", text)
    text = _UP.sub("Up <dur>", text)
    text = _MAC.sub("<mac>", text)
    text = _IPV4.sub(_ip, text)
    text = _HOSTPORT.sub("<port>", text)
    text = _SIZE.sub("<size>", text)
    return "\n".join(_COLUMNS.sub("   ", line.rstrip(" ")) for line in text.split("\n"))


_NAME_RE = re.compile(r"\b[a-z]+_[a-z]+\b")


def looks_like_generated_names(text: str) -> bool:
    return bool(_NAME_RE.search(text))


# ---------------------------------------------------------------------------------------------- cleanup


class DockerAPI:
    """The few Engine API calls the harness itself makes to its dockerd (emptying it between workflows,
    the names a workflow generated): HTTP/1.0 over the unix socket, no client library, no process."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock

    def call(self, method: str, path: str) -> tuple[int, object]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(str(self.sock))
            s.sendall(f"{method} /v1.41{path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        text = body.decode(errors="replace").strip()
        if not text:
            return status, None
        try:
            return status, json.loads(text)
        except ValueError:
            # a stream of JSON documents, one a line (events)
            return status, [json.loads(line) for line in text.splitlines() if line.strip()]

    def empty(self, base_refs: set[str]) -> None:
        """Remove every container (with its anonymous volumes), volume, user network and image tag but the
        base ones, then the dangling images."""
        from urllib.parse import quote

        _, containers = self.call("GET", "/containers/json?all=1")
        for c in containers or []:  # type: ignore[union-attr]
            self.call("DELETE", f"/containers/{c['Id']}?force=1&v=1")
        _, vols = self.call("GET", "/volumes")
        for v in (vols or {}).get("Volumes") or []:  # type: ignore[union-attr]
            self.call("DELETE", f"/volumes/{quote(v['Name'])}?force=1")
        _, nets = self.call("GET", "/networks")
        for n in nets or []:  # type: ignore[union-attr]
            if n["Name"] not in ("bridge", "host", "none"):
                self.call("DELETE", f"/networks/{n['Id']}")
        _, images = self.call("GET", "/images/json?all=1")
        for img in images or []:  # type: ignore[union-attr]
            for tag in img.get("RepoTags") or []:
                if tag not in base_refs and tag != "<none>:<none>":
                    self.call("DELETE", f"/images/{quote(tag, safe='')}?force=1")
        self.call("POST", "/images/prune")
        _, images = self.call("GET", "/images/json")
        for img in images or []:  # type: ignore[union-attr]
            if not set(img.get("RepoTags") or []) & base_refs:
                self.call("DELETE", f"/images/{img['Id']}?force=1")

    def container_names(self, since: float, until: float) -> set[str]:
        filters = quote_json({"type": ["container"]})
        _, events = self.call("GET", f"/events?since={since:.0f}&until={until:.0f}&filters={filters}")
        if isinstance(events, dict):
            events = [events]
        return {e.get("Actor", {}).get("Attributes", {}).get("name", "") for e in events or []} - {""}  # type: ignore[union-attr]


def quote_json(value: object) -> str:
    from urllib.parse import quote

    return quote(json.dumps(value, separators=(",", ":")))
