"""Small helpers shared by the test bed's builder, registries and fixtures.

Only the standard library here: ``build.py`` also runs as a script for ``bench/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# binary -> Debian package that provides it (scripts/test installs them as TEST_APT)
REQUIRED_TOOLS = {
    "docker-registry": "docker-registry",
    "skopeo": "skopeo",
    "umoci": "umoci",
    "busybox": "busybox-static",
    "htpasswd": "apache2-utils",
    "tar": "tar",
}
# the static build matters: the image is FROM scratch, a dynamically linked busybox would not run in it
STATIC_BUSYBOX = Path("/bin/busybox")

# A clean environment for the tools: no proxies (everything is on loopback), no user auth files that
# skopeo would otherwise read and send.
_TOOL_ENV_DROP = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class TestbedError(RuntimeError):
    """The test bed could not be built or started; the message says which tool failed and why."""

    __test__ = False


def unavailable_reason() -> str | None:
    """Why the test bed cannot run on this machine, or None when it can."""
    if os.geteuid() != 0:
        return "the registry test bed needs root (umoci keeps file ownership; run scripts/test as root)"
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None})
    if not _is_static(STATIC_BUSYBOX):
        missing.append("busybox-static")
    import importlib.util

    if importlib.util.find_spec("cryptography") is None:
        return "the token server needs the `cryptography` package: pip install -e '.[test]'"
    if missing:
        return (
            f"test bed tools missing: apt-get install {' '.join(sorted(set(missing)))} (or run scripts/test)"
        )
    return None


def _is_static(path: Path) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP program header (no dynamic loader)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return False
            (phoff,) = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    pt_interp = 3
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != pt_interp for i in range(phnum))


def _unescape(field: str) -> str:
    # /proc mount tables write space, tab, newline and backslash as \ooo octal escapes
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def tool_env(auth_file: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _TOOL_ENV_DROP}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if auth_file is not None:
        # skopeo reads credentials from here (and ~/.docker/config.json); point it at our own file
        env["REGISTRY_AUTH_FILE"] = str(auth_file)
    return env


def run(
    cmd: Sequence[str | os.PathLike[str]], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run a tool, return its stdout; on failure raise TestbedError carrying the command and its stderr."""
    args = [os.fspath(c) for c in cmd]
    proc = subprocess.run(
        args, capture_output=True, text=True, env=env or tool_env(), cwd=cwd, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        tail = " | ".join(err[-5:])
        raise TestbedError(f"{' '.join(args)} failed with exit code {proc.returncode}: {tail}")
    return proc.stdout


def _fs_options(path: Path) -> tuple[str, set[str]] | None:
    """(fstype, mount options) of the mount holding ``path``, from /proc/self/mounts."""
    best: tuple[str, str, set[str]] | None = None
    target = str(path.resolve())
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        mnt = _unescape(fields[1])
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and (
            best is None or len(mnt) >= len(best[0])
        ):
            best = (mnt, fields[2], set(fields[3].split(",")))
    return (best[1], best[2]) if best else None


def scratch_parent() -> Path:
    """Where per-session scratch goes: $DOCKYARD_TEST_TMPDIR, else /dev/shm when it is a plain tmpfs.

    tmpfs because the root disk here is ext4 with ``discard`` and many small files are slow on it; only
    when it is not ``noexec``/``nosuid``, which would change what containers on it may do.
    """
    override = os.environ.get("DOCKYARD_TEST_TMPDIR")
    if override:
        return Path(override)
    shm = Path("/dev/shm")
    info = _fs_options(shm) if shm.is_dir() else None
    if info and info[0] == "tmpfs" and not ({"noexec", "nosuid", "ro"} & info[1]) and os.access(shm, os.W_OK):
        st = os.statvfs(shm)
        if st.f_bavail * st.f_frsize > 1 << 30:
            return shm
    return Path(tempfile.gettempdir())


def make_scratch_dir(prefix: str) -> Path:
    """A new private dir ``<scratch parent>/<prefix><our pid>-<random>``; first removes the dirs with the
    same prefix whose owner process is gone (a session killed by SIGTERM/SIGKILL cannot clean up)."""
    parent = scratch_parent()
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"{prefix}*"):
        pid = stale.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _pid_running(int(pid)):
            remove_scratch(stale)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def _pid_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def detach_mounts_under(path: Path) -> None:
    """Lazily unmount everything mounted at or below ``path`` (deepest first) so removal stays inside it.

    A test that fails half way may leave an overlay or bind mount in its root; removing the tree without
    this would walk into whatever is mounted there.
    """
    import ctypes

    root = str(path.resolve())
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    targets = []
    for line in lines:
        mnt = _unescape(line.split()[4])
        if mnt == root or mnt.startswith(root + "/"):
            targets.append(mnt)
    if not targets:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    mnt_detach = 2
    for mnt in sorted(targets, key=len, reverse=True):
        libc.umount2(mnt.encode(), mnt_detach)


def shims_under(path: Path) -> list[int]:
    """Pids of the shims (``dockyard-shim ROOT``: see core.supervisor.shimstart) whose root lies in
    ``path``."""
    from core.supervisor.shimstart import SHIM_NAME

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0] == SHIM_NAME.encode() and len(argv) > 1:
            root = Path(os.fsdecode(argv[1]))
            if root == path or path in root.parents:
                found.append(int(entry))
    return found


def stop_shims_under(path: Path, timeout: float = 5.0) -> None:
    """Let the shims of containers under ``path`` finish (a --rm container's shim cleans up after it has
    reported the exit), then kill any still there: otherwise they write into a tree being deleted."""
    deadline = time.monotonic() + timeout
    while (pids := shims_under(path)) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def remove_scratch(path: Path) -> None:
    """Unmount then delete a scratch tree (tolerates read-only dirs and whiteout devices)."""
    from core.state.records import remove_tree

    detach_mounts_under(path)
    for _ in range(3):
        try:
            remove_tree(path)
            return
        except OSError:
            # EBUSY right after a lazy unmount: give the kernel a moment
            time.sleep(0.05)
    remove_tree(path)
