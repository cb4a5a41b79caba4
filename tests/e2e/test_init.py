"""The container init on the real kernel: a busybox-static root, real namespaces, overlay, pivot_root.

Each test runs the container under a small forked "shim" (a child subreaper, as the real shim is), so the
pytest process itself never becomes a subreaper. The shim starts the container with ``init.spawn``, waits
for it (killing it after a deadline) and reports back through a pipe: the exit code, the output (files),
the start error if any, and how long the start took.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.errors import CannotInvoke, CommandNotFound, RuntimeFailure
from core.record import field_names
from core.runtime import init, linux
from core.runtime.spec import (
    ContainerSpec,
    DeviceSpec,
    MountSpec,
    ProcessSpec,
    Rlimit,
    RootfsSpec,
    UserSpec,
)
from tests.testbed.common import make_scratch_dir, remove_scratch

BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "sh",
    "cat",
    "ls",
    "id",
    "hostname",
    "mount",
    "ps",
    "sleep",
    "echo",
    "true",
    "touch",
    "mkdir",
    "grep",
    "wc",
    "head",
    "pwd",
    "stat",
    "tty",
    "stty",
    "readlink",
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not BUSYBOX.is_file(), reason="needs busybox-static (/bin/busybox)"),
]


@dataclass
class Box:
    base: Path
    lower: Path
    upper: Path
    work: Path
    rootfs: Path

    def spec(self, *args: str, **kw: Any) -> ContainerSpec:
        proc_kw = {k: kw.pop(k) for k in list(kw) if k in field_names(ProcessSpec)}
        proc_kw.setdefault("env", ["PATH=/bin"])
        spec = ContainerSpec(
            rootfs=RootfsSpec(
                lower=[str(self.lower)],
                mountpoint=str(self.rootfs),
                upper=str(self.upper),
                work=str(self.work),
            ),
            process=ProcessSpec(args=list(args), **proc_kw),
            **kw,
        )
        spec.validate()
        return spec


@pytest.fixture
def box() -> Iterator[Box]:
    base = make_scratch_dir("dockyard-init-")
    lower = base / "layer"
    (lower / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, lower / "bin" / "busybox")
    for applet in APPLETS:
        (lower / "bin" / applet).symlink_to("busybox")
    (lower / "etc").mkdir()
    (lower / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/false\n"
    )
    (lower / "etc" / "group").write_text("root:x:0:\nwheel:x:10:root\nstaff:x:50:nobody\nnogroup:x:65534:\n")
    (lower / "etc" / "motd").write_text("not executable\n")
    (lower / "mnt").mkdir()
    for d in ("upper", "work", "rootfs"):
        (base / d).mkdir()
    try:
        yield Box(base, lower, base / "upper", base / "work", base / "rootfs")
    finally:
        remove_scratch(base)


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    error: tuple[str, str] | None  # (exception class, message) when the start failed
    start_ms: float
    pid: int


def run(
    box: Box, spec: ContainerSpec, *, signal_after: tuple[float, int] | None = None, timeout: float = 20
) -> Outcome:
    """Start ``spec`` under a forked mini-shim and wait for it; see the module docstring."""
    out_path, err_path = box.base / "out", box.base / "err"
    r, w = os.pipe()
    shim = os.fork()
    if shim == 0:  # pragma: no cover - reported through the pipe
        report: dict[str, Any] = {}
        try:
            os.close(r)
            report = _mini_shim(spec, out_path, err_path, signal_after, timeout)
        except BaseException as err:
            report = {"crash": f"{type(err).__name__}: {err}"}
        finally:
            os.write(w, json.dumps(report).encode())
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(shim, 0)
    report = json.loads(data)
    assert "crash" not in report, report["crash"]
    return Outcome(
        code=report.get("code"),
        out=out_path.read_text() if out_path.exists() else "",
        err=err_path.read_text() if err_path.exists() else "",
        error=tuple(report["error"]) if report.get("error") else None,  # type: ignore[arg-type]
        start_ms=report.get("start_ms", 0.0),
        pid=report.get("pid", 0),
    )


def _mini_shim(
    spec: ContainerSpec,
    out_path: Path,
    err_path: Path,
    signal_after: tuple[float, int] | None,
    timeout: float,
) -> dict[str, Any]:
    linux.set_child_subreaper()
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    t0 = time.perf_counter()
    try:
        started = init.spawn(spec, stdio=(None, out, err))
    except (RuntimeFailure, CannotInvoke, CommandNotFound) as exc:
        return {"error": [type(exc).__name__, str(exc)]}
    start_ms = (time.perf_counter() - t0) * 1000
    deadline = time.monotonic() + timeout
    if started.console_fd is not None:  # copy the terminal's output into the out file
        os.set_blocking(started.console_fd, False)
        while time.monotonic() < deadline:
            select.select([started.console_fd], [], [], 0.2)
            try:
                chunk = os.read(started.console_fd, 65536)
            except BlockingIOError:
                continue
            except OSError:  # EIO: the last slave is closed
                break
            if not chunk:
                break
            os.write(out, chunk)
        os.close(started.console_fd)
    if signal_after is not None:
        time.sleep(signal_after[0])
        os.kill(started.pid, signal_after[1])
    while True:
        pid, status = os.waitpid(started.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(started.pid, signal.SIGKILL)
            os.waitpid(started.pid, 0)
            return {"crash": "container did not exit in time"}
        time.sleep(0.002)
    return {"code": init.tini.exit_code(status), "start_ms": start_ms, "pid": started.pid}


def host_mount_lines(needle: str) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if needle in line]


# -- basics ----------------------------------------------------------------------------------------------


def test_echo_and_exit_code(box: Box) -> None:
    res = run(box, box.spec("echo", "hi"))
    assert (res.code, res.out, res.error) == (0, "hi\n", None)
    assert run(box, box.spec("sh", "-c", "exit 3")).code == 3


def test_command_is_pid_1_with_hostname(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "echo $$; cat /proc/1/cmdline; echo; hostname", hostname="box1"))
    assert res.out.splitlines() == ["1", "sh\0-c\0echo $$; cat /proc/1/cmdline; echo; hostname\0", "box1"]


def test_mounts_show_no_host_path_and_vanish_afterwards(box: Box) -> None:
    res = run(box, box.spec("cat", "/proc/self/mountinfo"))
    assert res.code == 0, res
    mountpoints = {line.split()[4] for line in res.out.splitlines()}
    assert {"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/proc/sys"} <= mountpoints
    host_only = {"/boot", "/home", "/run", "/var", str(box.base), "/tmp"}
    assert not {m for m in mountpoints if any(m == h or m.startswith(h + "/") for h in host_only)}
    assert not any(m.startswith(str(box.base)) for m in mountpoints)
    # nothing was ever mounted in the host's namespace, and nothing remains now
    assert host_mount_lines(str(box.base)) == []


def test_no_fd_above_2_and_default_signals(box: Box) -> None:
    res = run(box, box.spec("ls", "/proc/self/fd"))
    assert {int(x) for x in res.out.split()} <= {0, 1, 2, 3}, res.out  # 3 is ls's own directory fd
    # python ignores SIGPIPE: the container must not inherit that (nor any blocked signal)
    status = run(box, box.spec("cat", "/proc/self/status")).out
    assert "SigBlk:\t0000000000000000" in status and "SigIgn:\t0000000000000000" in status, status


def test_dev_is_minimal(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "ls /dev; stat -c '%t:%T %a' /dev/null /dev/tty; ls -l /dev/ptmx"))
    names = set(res.out.split("\n")[0:20])
    for name in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd"):
        assert name in names, res.out
    assert "1:3 666" in res.out and "5:0 666" in res.out
    assert "/dev/ptmx -> pts/ptmx" in res.out


# -- isolation -------------------------------------------------------------------------------------------


def test_proc_is_masked_and_read_only(box: Box) -> None:
    script = (
        "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; "
        "echo x > /proc/sys/kernel/domainname && echo WROTE; "
        "if [ -e /proc/sysrq-trigger ]; then echo h > /proc/sysrq-trigger && echo SYSRQ; fi; true"
    )
    res = run(box, box.spec("sh", "-c", script))
    assert res.out.split()[:2] == ["0", "0"], res.out
    assert "WROTE" not in res.out and "SYSRQ" not in res.out
    assert "Read-only file system" in res.err


def test_mount_is_refused_with_default_capabilities(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "grep CapEff /proc/self/status; mount -t tmpfs x /mnt"))
    assert "CapEff:\t00000000a80425fb" in res.out  # docker's 14
    assert res.code != 0 and "mount" in res.err
    from core.runtime.seccomp import default_profile

    res = run(box, box.spec("mount", "-t", "tmpfs", "x", "/mnt", seccomp=default_profile()))
    assert res.code != 0 and ("denied" in res.err or "not permitted" in res.err), res.err


def test_new_netns_has_only_loopback_up(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"))
    lines = res.out.split()
    assert lines[0] == "lo" and int(lines[1], 16) & 1, res.out


def test_overlay_upper_gets_the_writes(box: Box) -> None:
    before = (box.lower / "etc" / "passwd").read_bytes()
    res = run(box, box.spec("sh", "-c", "echo data > /newfile; echo x:x:1:1::/:/bin/sh >> /etc/passwd"))
    assert res.code == 0, res
    assert (box.upper / "newfile").read_text() == "data\n"
    assert (box.upper / "etc" / "passwd").read_bytes().startswith(before)
    assert (box.lower / "etc" / "passwd").read_bytes() == before
    assert not (box.lower / "newfile").exists()


def test_readonly_rootfs_and_ro_bind(box: Box) -> None:
    src = box.base / "vol"
    src.mkdir()
    (src / "f").write_text("vol\n")
    spec = box.spec(
        "sh",
        "-c",
        "cat /data/f; touch /x || echo ROOT-RO; touch /data/y || echo BIND-RO; echo t >/scratch/t;"
        "cat /scratch/t",
        readonly_rootfs=True,
        mounts=[
            MountSpec("bind", "/data", str(src), ["rbind", "ro"]),
            MountSpec("tmpfs", "/scratch", "", ["nosuid", "nodev", "size=1m"]),
        ],
    )
    res = run(box, spec)
    assert res.out.split() == ["vol", "ROOT-RO", "BIND-RO", "t"], (res.out, res.err)
    assert not (src / "y").exists()


@pytest.mark.parametrize("link_kind", ["absolute", "relative"])
def test_symlink_in_image_cannot_redirect_a_mount_to_the_host(box: Box, link_kind: str) -> None:
    sentinel = box.base / "host-sentinel"  # exists on the host, not in the image
    sentinel.mkdir()
    target = str(sentinel) if link_kind == "absolute" else "../" * 12 + str(sentinel).lstrip("/")
    (box.lower / "data").symlink_to(target)
    src = box.base / "vol"
    src.mkdir()
    (src / "marker").write_text("inside\n")
    spec = box.spec("cat", "/data/sub/marker", mounts=[MountSpec("bind", "/data/sub", str(src), ["rbind"])])
    res = run(box, spec)
    assert (res.code, res.out) == (0, "inside\n"), res
    # a host-side resolution would have created host-sentinel/sub (and mounted over it)
    assert list(sentinel.iterdir()) == []
    assert host_mount_lines(str(sentinel)) == []


def test_mount_into_proc_through_a_symlink_is_refused(box: Box) -> None:
    (box.lower / "data").symlink_to("/proc/sys")
    src = box.base / "vol"
    src.mkdir()
    res = run(box, box.spec("true", mounts=[MountSpec("bind", "/data", str(src), ["rbind"])]))
    assert res.error is not None and res.error[0] == "RuntimeFailure"
    assert "/proc/sys" in res.error[1] and "not allowed" in res.error[1]


# -- errors, docker's classification ---------------------------------------------------------------------


def test_missing_command_is_127(box: Box) -> None:
    res = run(box, box.spec("nosuchcmd"))
    assert res.error == ("CommandNotFound", 'exec: "nosuchcmd": executable file not found in $PATH')
    res = run(box, box.spec("/bin/nosuch"))
    assert res.error == (
        "CommandNotFound",
        'exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory',
    )


def test_not_executable_is_126(box: Box) -> None:
    assert run(box, box.spec("/etc/motd")).error == ("CannotInvoke", 'exec: "/etc/motd": permission denied')
    assert run(box, box.spec("/bin")).error == ("CannotInvoke", 'exec: "/bin": permission denied')
    (box.lower / "bin" / "broken").write_bytes(b"\x7fELF garbage")
    (box.lower / "bin" / "broken").chmod(0o755)
    res = run(box, box.spec("broken"))
    assert res.error == ("CannotInvoke", "exec /bin/broken: exec format error")


def test_setup_error_names_the_step(box: Box) -> None:
    res = run(box, box.spec("true", mounts=[MountSpec("bind", "/data", str(box.base / "missing"), [])]))
    assert res.error is not None and res.error[0] == "RuntimeFailure"
    assert res.error[1].startswith(f"bind source {box.base / 'missing'}: no such file"), res.error


def test_rlimits(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "ulimit -n; ulimit -Hn", rlimits=[Rlimit("nofile", 512, 1024)]))
    assert res.out.split() == ["512", "1024"]
    nr_open = int(Path("/proc/sys/fs/nr_open").read_text())  # above it even CAP_SYS_RESOURCE cannot go
    res = run(box, box.spec("true", rlimits=[Rlimit("RLIMIT_NOFILE", nr_open + 1, nr_open + 1)]))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert res.error is not None and res.error[0] == "RuntimeFailure"
    assert res.error[1].startswith(
        f"cannot set ulimit nofile={nr_open + 1}:{nr_open + 1}: the hard limit here is"
    )
    assert str(hard) in res.error[1]


# -- users -----------------------------------------------------------------------------------------------


def test_users_resolved_in_the_image(box: Box) -> None:
    assert (
        run(box, box.spec("id", user=UserSpec(name=""))).out
        == "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n"  # docker's: the primary group is one of them
    )
    res = run(
        box,
        box.spec("sh", "-c", "id; echo $HOME; grep CapEff /proc/self/status", user=UserSpec(name="nobody")),
    )
    lines = res.out.splitlines()
    assert lines[0] == "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)", res
    assert lines[1] == "/home/nobody"
    assert lines[2] == "CapEff:\t0000000000000000"
    res = run(box, box.spec("id", "-u", user=UserSpec(name="1000:50", additional_gids=[7])))
    assert res.out == "1000\n"
    res = run(box, box.spec("id", user=UserSpec(uid=1000, gid=1000, additional_gids=[10])))
    assert res.out == "uid=1000 gid=1000 groups=10(wheel)\n"
    res = run(box, box.spec("id", user=UserSpec(name="ghost")))
    assert res.error == ("RuntimeFailure", "unable to find user ghost: no matching entries in passwd file")


def test_working_directory_created_and_used(box: Box) -> None:
    res = run(box, box.spec("pwd", cwd="/work/dir"))
    assert (res.code, res.out) == (0, "/work/dir\n")


# -- terminal, devices, --init ---------------------------------------------------------------------------


def test_tty_comes_from_the_container_devpts(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "tty; stty size; ls /dev/console", tty=True, tty_size=(33, 101)))
    assert res.code == 0, res
    assert res.out.replace("\r", "").split("\n")[:3] == ["/dev/pts/0", "33 101", "/dev/console"]


def test_extra_device(box: Box) -> None:
    res = run(
        box,
        box.spec(
            "stat", "-c", "%t:%T", "/dev/sub/myzero", devices=[DeviceSpec("/dev/zero", "/dev/sub/myzero")]
        ),
    )
    assert res.out == "1:5\n", res


def test_init_reaps_forwards_and_passes_the_code(box: Box) -> None:
    res = run(box, box.spec("sh", "-c", "echo $$; exit 7", init=True))
    assert (res.code, res.out) == (7, "2\n")
    # an orphan re-parented to PID 1 is reaped: no zombie is left while the command still runs
    script = "(sleep 0.05 &); sleep 0.4; ps -o stat,comm | grep -c '^Z' || true"
    res = run(box, box.spec("sh", "-c", script, init=True))
    assert res.out.strip() == "0", res
    # SIGTERM to PID 1 reaches the command; the container exits as the command did
    res = run(box, box.spec("sleep", "30", init=True), signal_after=(0.2, signal.SIGTERM))
    assert res.code == 128 + signal.SIGTERM


def test_init_pid1_shows_a_command_line_like_tini_not_ours(box: Box) -> None:
    """PID 1 is a fork of our interpreter: its argv area is rewritten so the container does not see the
    starter's command line (host paths)."""
    res = run(box, box.spec("cat", "/proc/1/cmdline", init=True))
    assert res.code == 0, res
    assert res.out.rstrip("\0") == "/sbin/docker-init\0--\0cat\0/proc/1/cmdline", repr(res.out)


def test_without_init_pid1_ignores_unhandled_sigterm(box: Box) -> None:
    # like docker without --init: sleep as PID 1 has no handler, so SIGTERM does nothing; SIGKILL works
    res = run(box, box.spec("sleep", "30"), signal_after=(0.2, signal.SIGKILL))
    assert res.code == 128 + signal.SIGKILL


# -- namespaces, sysctls, hooks --------------------------------------------------------------------------


def _ns_inode(pid: int | str, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_joins_an_existing_netns_or_the_hosts(box: Box) -> None:
    r, w = os.pipe()
    holder = os.fork()
    if holder == 0:  # pragma: no cover - a process that only holds a fresh netns
        try:
            linux.unshare(linux.CLONE_NEWNET)
            os.write(w, b"x")
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        os.read(r, 1)
        res = run(box, box.spec("readlink", "/proc/self/ns/net", netns=f"/proc/{holder}/ns/net"))
        assert res.out.strip() == _ns_inode(holder, "net")
        res = run(box, box.spec("readlink", "/proc/self/ns/net", netns="host"))
        assert res.out.strip() == _ns_inode("self", "net")
    finally:
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)
        os.close(r)
        os.close(w)


def test_sysctl_is_written_before_proc_sys_turns_read_only(box: Box) -> None:
    res = run(box, box.spec("cat", "/proc/sys/net/ipv4/ip_forward", sysctls={"net.ipv4.ip_forward": "1"}))
    assert res.out == "1\n"


def test_masking_refuses_a_dev_null_that_is_not_the_null_device(box: Box) -> None:
    fake = box.base / "fake-null"
    fake.write_text("")
    spec = box.spec("true", mounts=[MountSpec("bind", "/dev/null", str(fake), ["bind"])])
    res = run(box, spec)
    assert res.error is not None and "not the null device" in res.error[1], res


def test_init_pid1_is_not_dumpable(box: Box) -> None:
    # the python PID 1 of --init must not hand the container its interpreter (CVE-2019-5736)
    script = (
        "readlink /proc/1/exe || echo NO-EXE; readlink /proc/1/fd/0 || echo NO-FD;"
        "readlink /proc/1/root || echo NO-ROOT; readlink /proc/$$/exe"
    )
    res = run(box, box.spec("sh", "-c", script, init=True))
    lines = res.out.splitlines()
    assert lines[:3] == ["NO-EXE", "NO-FD", "NO-ROOT"], res
    assert lines[-1] == "/bin/busybox"


def test_before_start_runs_before_the_namespaces(box: Box) -> None:
    seen: list[tuple[int, str]] = []

    def hook(pid: int) -> None:
        seen.append((pid, _ns_inode(pid, "mnt")))

    out = os.open(box.base / "hook-out", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    r, w = os.pipe()
    shim = os.fork()
    if shim == 0:  # pragma: no cover
        try:
            linux.set_child_subreaper()
            started = init.spawn(box.spec("true"), stdio=(None, out, out), before_start=hook)
            code = init.wait(started.pid)
            os.write(w, json.dumps([seen, code, _ns_inode("self", "mnt")]).encode())
        finally:
            os._exit(0)
    os.close(w)
    os.close(out)
    data = os.read(r, 65536)
    os.close(r)
    os.waitpid(shim, 0)
    seen_in_shim, code, shim_mnt = json.loads(data)
    assert code == 0
    assert len(seen_in_shim) == 1 and seen_in_shim[0][1] == shim_mnt  # not yet in its own mount ns
