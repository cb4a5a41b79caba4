"""Container routes: list, create, inspect, start/stop/kill/restart/pause/unpause/rename/update, wait,
attach (hijacked), resize, logs, top, changes, stats, export, archive, remove, prune."""

from __future__ import annotations

import base64
import contextlib
import json
import select
import socket
import tarfile
import tempfile
import threading
import time
from typing import Any

from api.app import PendingAttach
from api.filters import request_filters
from api.hijack import DEFAULT_DETACH_KEYS, buffer_until, parse_detach_keys, pump
from api.http import ApiError, ClientGone, NotModified, Request, frame
from core.dockerjson import (
    container_summary_to_docker,
    create_from_docker,
    create_to_docker,
    update_from_docker,
)
from core.errors import Conflict, ContainerNotFound, DockyardError, InvalidArgument
from core.interface import STDERR, STDOUT
from core.models import RUNNING_STATES, ContainerConfig, ContainerCreate, ContainerStats, ContainerSummary

# ------------------------------------------------------------------------------------------------- create

# Keys of the create body that dockyard reads: those core.dockerjson writes for a request (so a field the
# mapping gains is taken at once) and the other forms it reads. Any other key with a value that is not
# docker's zero value is an option dockyard does not have, refused by name rather than dropped.
_WRITTEN = create_to_docker(ContainerCreate(ContainerConfig(image="")))
_CONFIG_KEYS = {
    *_WRITTEN, "Volumes", "Healthcheck",  # (written only when set)
    # what docker's clients send that changes nothing here: StdinOnce (stdin ends with the attach that
    # gave it, as here), ArgsEscaped (Windows), OnBuild and Shell (read by a build, not by a run)
    "StdinOnce", "ArgsEscaped", "OnBuild", "Shell",
}  # fmt: skip
_HOST_KEYS = {
    *_WRITTEN["HostConfig"], "Binds", "Tmpfs",
    "ConsoleSize",  # the terminal's size at start: the CLI resizes right after
}  # fmt: skip
# zero values docker's clients send for options they were not given
_ZERO: tuple[Any, ...] = (None, "", 0, False, [], {}, [0, 0])
_HOST_DEFAULTS = {
    "MemorySwappiness": (-1,),
    "OomScoreAdj": (),
    "CgroupnsMode": ("private", "host"),  # docker's default is private on cgroup v2, host on v1
    "IpcMode": ("private", "shareable"),
    "Isolation": ("default",),
    "PidMode": (),
    "Runtime": ("runc",),
    "LogConfig": (),
    "KernelMemory": (),
    "BlkioWeight": (),
    "CpuShares": (),
    "MaskedPaths": (),
    "ReadonlyPaths": (),
    "OomKillDisable": (),
    "Links": (),
    "VolumesFrom": (),
    "DnsOptions": (),
    "DnsSearch": (),
    "GroupAdd": (),
    "Sysctls": (),
    "Cgroup": (),
    "CgroupParent": (),
    "UTSMode": (),
    "UsernsMode": (),
    "VolumeDriver": (),
    "ContainerIDFile": (),
    "DeviceCgroupRules": (),
    "DeviceRequests": (),
    "BlkioDeviceReadBps": (),
    "BlkioDeviceWriteBps": (),
    "BlkioDeviceReadIOps": (),
    "BlkioDeviceWriteIOps": (),
    "BlkioWeightDevice": (),
    "CpuPeriod": (),
    "CpuQuota": (),
    "CpuRealtimePeriod": (),
    "CpuRealtimeRuntime": (),
    "CpusetCpus": (),
    "CpusetMems": (),
    "CpuCount": (),
    "CpuPercent": (),
    "IOMaximumIOps": (),
    "IOMaximumBandwidth": (),
    "MemoryReservation": (),
    "KernelMemoryTCP": (),
    "StorageOpt": (),
    "Annotations": (),
}


def _is_zero(value: Any, defaults: tuple[Any, ...] = ()) -> bool:
    return value in _ZERO or value in defaults


def check_create_keys(body: dict[str, Any]) -> None:
    bad = [k for k, v in body.items() if k not in _CONFIG_KEYS and not _is_zero(v)]
    host = body.get("HostConfig")
    if isinstance(host, dict):
        for k, v in host.items():
            if k in _HOST_KEYS:
                continue
            if not _is_zero(v, _HOST_DEFAULTS.get(k, ())):
                bad.append(f"HostConfig.{k}")
    if bad:
        raise ApiError(400, f"dockyard does not support these container options: {', '.join(sorted(bad))}")


def create(req: Request) -> None:
    body = req.json_object(required=True)
    check_create_keys(body)
    query = {k: req.q(k) for k in ("name", "platform") if req.q(k)}
    request = create_from_docker(body, query, pull="never")
    req.app.warm_up()  # a start prepared by the time this container's comes (the first one's, nearly)
    summary = req.engine.create_container(request)
    from core.interface import create_warnings

    req.send_json({"Id": summary.id, "Warnings": create_warnings(request)}, 201)


# -------------------------------------------------------------------------------------------------- lists


def list_containers(req: Request) -> None:
    filters = request_filters(req)
    containers = req.engine.list_containers(all=req.qbool("all"), filters=filters)
    limit = req.qint("limit", -1) or -1
    if limit > 0:
        containers = containers[:limit]
    now = time.time()
    docs = [container_summary_to_docker(c, now) for c in containers]
    if req.qbool("size"):
        for d in docs:
            d.update(_sizes(req, d["Id"]))
    req.send_json(docs)


def _sizes(req: Request, cid: str) -> dict[str, int]:
    doc = req.engine.inspect_container(cid, size=True)
    return {"SizeRw": int(doc.get("SizeRw") or 0), "SizeRootFs": int(doc.get("SizeRootFs") or 0)}


def inspect(req: Request) -> None:
    req.send_json(req.engine.inspect_container(req.params["id"], size=req.qbool("size")))


# ---------------------------------------------------------------------------------------------- lifecycle


def start(req: Request) -> None:
    app = req.app
    c = req.engine.container(req.params["id"])
    if c.status in RUNNING_STATES:
        raise NotModified()
    with app.lock:
        pending = app.pending.pop(c.id, None)
    prepared = app.take_prepared()
    if pending is None:
        try:
            req.engine.start_container(c.id, prepared=prepared)
        finally:
            app.notify_started()
        req.send_empty(204)
        return
    try:
        pending.stream = req.engine.start_attached(c.id, stdin=pending.stdin, prepared=prepared)
        # held before the answer: the client's resize comes right after it
        app.hold_attached(c.id, pending.stream)
    except BaseException as err:
        pending.error = err
        raise _start_error(err) from err
    finally:
        pending.ready.set()
        app.notify_started()
    req.send_empty(204)


def _start_error(err: BaseException) -> BaseException:
    """A command that could not be run, worded so the docker CLI exits 127 or 126 as with dockerd."""
    from core.errors import CannotInvoke, CommandNotFound

    if isinstance(err, CommandNotFound) and "not found" not in str(err):
        return ApiError(400, f"{err}: executable file not found")
    if isinstance(err, CommandNotFound | CannotInvoke):
        return ApiError(400, str(err))
    return err


def _timeout(req: Request) -> float | None:
    t = req.qint("t")
    return None if t is None else float(t)


def stop(req: Request) -> None:
    c = req.engine.container(req.params["id"])
    if c.status not in RUNNING_STATES:
        raise NotModified()
    signal = req.q("signal")
    if signal:
        req.engine.kill_container(c.id, signal)
        _wait_not_running(req, c.id, _timeout(req) or 10.0)
        if req.engine.container(c.id).status not in RUNNING_STATES:
            req.send_empty(204)
            return
    req.engine.stop_container(c.id, _timeout(req))
    req.send_empty(204)


def _wait_not_running(req: Request, cid: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if req.engine.container(cid).status not in RUNNING_STATES:
                return
        except ContainerNotFound:
            return
        time.sleep(0.05)


def restart(req: Request) -> None:
    req.engine.restart_container(req.params["id"], _timeout(req))
    req.send_empty(204)


def kill(req: Request) -> None:
    req.engine.kill_container(req.params["id"], req.q("signal") or "SIGKILL")
    req.send_empty(204)


def pause(req: Request) -> None:
    req.engine.pause_container(req.params["id"])
    req.send_empty(204)


def unpause(req: Request) -> None:
    req.engine.unpause_container(req.params["id"])
    req.send_empty(204)


def rename(req: Request) -> None:
    name = req.q("name")
    if not name:
        raise ApiError(400, "rename needs a new name (?name=)")
    req.engine.rename_container(req.params["id"], name)
    req.send_empty(204)


def update(req: Request) -> None:
    warnings = req.engine.update_container(req.params["id"], update_from_docker(req.json_object()))
    req.send_json({"Warnings": warnings})


def remove(req: Request) -> None:
    if req.qbool("link"):
        raise ApiError(400, "links are not supported by dockyard")
    req.engine.remove_container(req.params["id"], force=req.qbool("force"), volumes=req.qbool("v"))
    req.send_empty(204)


def prune(req: Request) -> None:
    ids, freed = req.engine.prune_containers(filters=request_filters(req))
    req.send_json({"ContainersDeleted": ids or None, "SpaceReclaimed": freed})


# --------------------------------------------------------------------------------------------------- wait


def wait(req: Request) -> None:
    """``condition``: not-running (default), next-exit, removed. Headers go out at once (the docker CLI
    waits for them before it starts the container), the status when the condition is met."""
    condition = req.q("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise ApiError(400, f"invalid condition {condition!r}: not-running, next-exit or removed")
    engine = req.engine
    first = engine.container(req.params["id"])
    t0 = time.time()
    req.start_stream("application/json")
    gone = _Gone()
    stop_watch = req.watch_disconnect(gone.set)
    try:
        code, error = _wait_for(req, first, condition, t0, gone)
    except (DockyardError, OSError) as err:
        code, error = 125, str(err)  # in the answer's own shape: its head has gone out already
    finally:
        stop_watch()
        gone.close()
    if gone.is_set():
        return
    req.write_json({"StatusCode": code, "Error": {"Message": error} if error else None})


class _Gone(threading.Event):
    """Set when the client has gone; also a readable fd from then on, to wake a select."""

    def __init__(self) -> None:
        super().__init__()
        self.r, self._w = socket.socketpair()

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):
            self._w.send(b"x")

    def close(self) -> None:
        self.r.close()
        self._w.close()


def _wait_exit(req: Request, cid: str, gone: _Gone) -> int | None:
    """Block until the running container exits (its code), or the client goes (None). Listens on an
    attach session (output dropped) rather than polling, so the exit is seen at once."""
    try:
        stream = req.engine.attach_container(cid)
    except (Conflict, ContainerNotFound, OSError):
        return None  # not running any more (its supervisor may be gone already)
    try:
        while not gone.is_set():
            ready, _, _ = select.select([stream.fileno(), gone.r], [], [])
            if gone.r in ready:
                return None
            if stream.read() is None:
                return stream.exit_code
        return None
    finally:
        stream.close()


def _wait_for(
    req: Request, first: ContainerSummary, condition: str, t0: float, gone: _Gone
) -> tuple[int, str]:
    engine = req.engine
    cid = first.id
    code = first.exit_code or 0
    last = first
    started = first.status in RUNNING_STATES or condition == "not-running"
    exited = condition == "not-running" and first.status not in RUNNING_STATES
    while not gone.is_set():
        try:
            cur = engine.container(cid)
        except ContainerNotFound:
            if not exited:
                code = _exit_from_events(req, cid, t0, code)
            return code, ""
        if not started:
            # next-exit/removed of a container not running yet: its start shows as a new StartedAt (or it
            # is running already), even when it has exited since we looked
            started = cur.status in RUNNING_STATES or cur.started_at != first.started_at
        if started and not exited:
            if cur.status in RUNNING_STATES:
                waited = _wait_exit(req, cid, gone)
                if gone.is_set():
                    break
                # the shim records the exit a moment after it tells its clients
                for _ in range(100):
                    try:
                        if engine.container(cid).status not in RUNNING_STATES:
                            break
                    except ContainerNotFound:
                        break
                    time.sleep(0.005)
                try:
                    cur = engine.container(cid)
                    if cur.status in RUNNING_STATES:
                        if waited is None:
                            continue  # its supervisor could not be reached: look again
                        code = waited  # it ended, and its restart policy started it again
                    else:
                        code = cur.exit_code if cur.exit_code is not None else (waited or 0)
                except ContainerNotFound:
                    # removed as it ended (--rm): its die event has the code
                    code = _exit_from_events(req, cid, t0, waited or 0)
                    return code, ""
            else:
                code = cur.exit_code or 0
            exited = True
            if condition != "removed":
                return code, ""
        last = cur
        if exited and condition != "removed":
            return last.exit_code or 0, ""
        if not started:
            with req.app.started:  # woken by a start through this server; by the clock for others
                req.app.started.wait(0.05)
        else:
            gone.wait(0.01)  # an auto-removal takes a moment after the exit
    return code, ""


def _exit_from_events(req: Request, cid: str, t0: float, default: int) -> int:
    """A container removed before its exit was seen (``--rm``): its die event has the code."""
    code = default
    with req.engine.events(
        since=t0 - 1, filters={"container": [cid], "event": ["die"]}, follow=False
    ) as stream:
        for ev in stream:
            with contextlib.suppress(ValueError):
                code = int(ev.attributes.get("exitCode", code))
    return code


# ------------------------------------------------------------------------------------------------- attach


def _tty(req: Request, cid: str) -> bool:
    doc = req.engine.inspect_container(cid)
    return bool((doc.get("Config") or {}).get("Tty"))


def attach(req: Request) -> None:
    engine = req.engine
    app = req.app
    c = engine.container(req.params["id"])
    stdin = req.qbool("stdin")
    stdout = req.qbool("stdout", not req.has("stdout") and not req.has("stderr"))
    stderr = req.qbool("stderr", not req.has("stdout") and not req.has("stderr"))
    keys = parse_detach_keys(req.q("detachKeys") or DEFAULT_DETACH_KEYS)
    if req.has("logs") and req.qbool("logs") and not req.qbool("stream"):
        _attach_logs_only(req, c, stdout, stderr)
        return
    tty = _tty(req, c.id)
    content = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    if c.status in RUNNING_STATES:
        stream = engine.attach_container(c.id, stdin=stdin)
        sock, early = req.hijack(content)
        eof = False
    else:
        pending = PendingAttach(stdin)
        with app.lock:
            if c.id in app.pending:
                raise ApiError(409, f"container {c.name} already has a client waiting for its start")
            app.pending[c.id] = pending

        def elsewhere() -> bool:
            """Started by another client or face (not through this server's start): attach to it."""
            with app.lock:
                if app.pending.get(c.id) is not pending:
                    return False  # a start here has it
            try:
                return engine.container(c.id).status in RUNNING_STATES
            except ContainerNotFound:
                return True

        try:
            sock, first = req.hijack(content)
            early, eof, gone = buffer_until(sock, pending.ready, first, elsewhere)
        finally:
            with app.lock:
                mine = app.pending.get(c.id) is pending
                if mine:
                    del app.pending[c.id]
        if not mine:
            pending.ready.wait()  # a start here took it: its stream comes
        elif not gone:
            try:
                pending.stream = engine.attach_container(c.id, stdin=stdin)
                app.hold_attached(c.id, pending.stream)
            except (DockyardError, OSError):
                pending.stream = None  # it has ended (or gone) already
        if pending.stream is None:
            with contextlib.suppress(OSError):
                sock.close()
            return
        stream = pending.stream
        if gone:
            app.release_attached(c.id, stream)
            stream.detach()
            sock.close()
            return
    if c.status in RUNNING_STATES:
        app.hold_attached(c.id, stream)
    try:
        pump(
            sock,
            stream,
            stdin=stdin,
            early=early,
            input_eof=eof,
            detach_keys=keys,
            stdout=stdout,
            stderr=stderr,
        )
    finally:
        app.release_attached(c.id, stream)
        stream.close()


def _attach_logs_only(req: Request, c: ContainerSummary, stdout: bool, stderr: bool) -> None:
    tty = _tty(req, c.id)
    content = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    sock, _ = req.hijack(content)
    try:
        with req.engine.container_logs(c.id) as stream:
            for line in stream:
                sid = STDOUT if line.stream == "stdout" else STDERR
                if (sid == STDOUT and not stdout) or (sid == STDERR and not stderr):
                    continue
                data = line.text.encode()
                sock.sendall(data if tty else frame(sid, data))
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def resize(req: Request) -> None:
    h, w = req.qint("h", 0) or 0, req.qint("w", 0) or 0
    if h <= 0 or w <= 0:
        raise ApiError(400, "resize needs a height and width above 0 (?h=&w=)")
    c = req.engine.container(req.params["id"])
    if c.status not in RUNNING_STATES:
        raise ApiError(409, f"container {c.name} is not running")
    stream = req.app.attached_stream(c.id)
    if stream is not None:
        stream.resize(h, w)
    else:
        req.engine.resize_container(c.id, h, w)
    req.send_empty(200)


# ------------------------------------------------------------------------------------------------- output


def logs(req: Request) -> None:
    engine = req.engine
    cid = req.params["id"]
    stdout, stderr = req.qbool("stdout"), req.qbool("stderr")
    if not (stdout or stderr):
        raise ApiError(400, "you must choose at least one stream (stdout=1 or stderr=1)")
    tail_text = req.q("tail") or "all"
    tail: int | None = None
    if tail_text != "all":
        try:
            tail = max(0, int(tail_text))
        except ValueError:
            raise ApiError(400, f"invalid tail {tail_text!r}: a number or all") from None
    since = req.qfloat("since") or None
    until = req.qfloat("until") or None
    follow = req.qbool("follow")
    timestamps = req.qbool("timestamps")
    tty = _tty(req, cid)
    stream = engine.container_logs(cid, follow=follow, since=since, until=until, tail=tail)
    req.start_stream(
        "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    )
    stop = req.watch_disconnect(stream.close) if follow else None
    out = bytearray()
    try:
        for line in stream:
            sid = STDOUT if line.stream == "stdout" else STDERR
            if (sid == STDOUT and not stdout) or (sid == STDERR and not stderr):
                continue
            data = line.text.encode("utf-8", "surrogateescape")
            if timestamps:
                data = line.time.encode() + b" " + data
            out += data if tty else frame(sid, data)
            if len(out) >= 65536 or follow:
                req.write(bytes(out))
                out.clear()
        if out:
            req.write(bytes(out))
    except ClientGone:
        pass
    finally:
        if stop is not None:
            stop()
        stream.close()


def top(req: Request) -> None:
    titles, procs = req.engine.container_top(req.params["id"])
    req.send_json({"Titles": titles, "Processes": procs})


def changes(req: Request) -> None:
    req.send_json(req.engine.container_changes(req.params["id"]) or None)


def _cpu_stats(s: ContainerStats, at_ns: int) -> dict[str, Any]:
    """``cpu_stats`` of a sample taken at ``at_ns`` (wall clock). ``total_usage`` is the container's CPU time;
    the system counter is the wall clock times the CPUs, so docker's formula (cpu delta / system delta x
    CPUs x 100) is CPU time over wall time: 100% is one core busy, as the engine counts."""
    import os

    cpus = os.cpu_count() or 1
    return {
        "cpu_usage": {"total_usage": s.cpu_usage_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "system_cpu_usage": at_ns * cpus,
        "online_cpus": cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _stamp(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _stats_doc(
    s: ContainerStats, name: str, at_ns: int, pre: tuple[ContainerStats, int] | None
) -> dict[str, Any]:
    """Docker's stats document: this sample, and the one before it as ``precpu_stats`` (zeros for none)."""
    zero = {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0, "online_cpus": 0}
    return {
        "read": _stamp(at_ns),
        "preread": _stamp(pre[1]) if pre else "0001-01-01T00:00:00Z",
        "id": s.id,
        "name": f"/{name}",
        "num_procs": 0,
        "pids_stats": {"current": s.pids},
        "cpu_stats": _cpu_stats(s, at_ns),
        "precpu_stats": _cpu_stats(*pre) if pre else zero,
        "memory_stats": {"usage": s.memory_usage, "limit": s.memory_limit, "stats": {}},
        "blkio_stats": _blkio_stats(s),
        **_networks(s),
        "storage_stats": {},
    }


def _blkio_stats(s: ContainerStats) -> dict[str, Any]:
    """The cgroup's bytes read and written. The engine counts them over every device, so the entries name
    no device (major/minor 0); docker's CLI adds the entries up by op anyway."""
    keys = (
        "io_service_bytes_recursive",
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    )
    doc: dict[str, Any] = dict.fromkeys(keys)
    if s.block_read or s.block_write:
        doc["io_service_bytes_recursive"] = [
            {"major": 0, "minor": 0, "op": "read", "value": s.block_read},
            {"major": 0, "minor": 0, "op": "write", "value": s.block_write},
        ]
    return doc


def _networks(s: ContainerStats) -> dict[str, Any]:
    """``networks``: the engine counts the bytes of the container's own interfaces together (lo aside), so
    they go under its first one; docker's CLI adds the interfaces up for NET I/O anyway. No traffic counted
    (``--network none``, or none yet): docker's document without the key."""
    if not (s.net_rx or s.net_tx):
        return {}
    counters = {"rx_bytes": s.net_rx, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0}
    counters |= {"tx_bytes": s.net_tx, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0}
    return {"networks": {"eth0": counters}}


def stats(req: Request) -> None:
    engine = req.engine
    c = engine.container(req.params["id"])
    stream_it = req.qbool("stream", True)
    if not stream_it:
        if c.status not in RUNNING_STATES:
            req.send_json(_stopped_stats(c))
            return
        # two samples, so precpu_stats has the first (one-shot=1: one sample, as docker)
        pre = None if req.qbool("one-shot") else (engine.container_stats(c.id), time.time_ns())
        sample = engine.container_stats(c.id)
        req.send_json(_stats_doc(sample, c.name, time.time_ns(), pre))
        return
    req.start_stream("application/json")
    if c.status not in RUNNING_STATES:
        # docker streams one empty sample for a stopped container and ends
        with contextlib.suppress(ClientGone):
            req.write_json(_stopped_stats(c))
        return
    stream = engine.stats_stream(c.id, interval=1.0)
    stop = req.watch_disconnect(stream.close)
    prev: tuple[ContainerStats, int] | None = None
    try:
        for sample in stream:
            now = time.time_ns()
            req.write_json(_stats_doc(sample, c.name, now, prev))
            prev = (sample, now)
    except ClientGone:
        pass
    finally:
        stop()
        stream.close()


def _stopped_stats(c: ContainerSummary) -> dict[str, Any]:
    zero = {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0, "online_cpus": 0}
    return {
        "read": "0001-01-01T00:00:00Z",
        "preread": "0001-01-01T00:00:00Z",
        "id": c.id,
        "name": f"/{c.name}",
        "pids_stats": {},
        "cpu_stats": zero,
        "precpu_stats": zero,
        "memory_stats": {},
        "blkio_stats": {},
        "networks": {},
    }


class _Out:
    """A writable file over the response (what ``export``/``archive`` write a tar into)."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) >= 1 << 16:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self.req.write(bytes(self.buf))
            self.buf.clear()


def export(req: Request) -> None:
    c = req.engine.container(req.params["id"])
    req.start_stream("application/x-tar")
    out = _Out(req)
    with contextlib.suppress(ClientGone):
        req.engine.export_container(c.id, out)
        out.flush()


# ------------------------------------------------------------------------------------------------ archive

_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27


def _path_stat(tar_file: Any) -> dict[str, Any]:
    """``X-Docker-Container-Path-Stat`` from the archive's first member (Go's FileMode bits)."""
    tar_file.seek(0)
    with tarfile.open(fileobj=tar_file, mode="r|") as tf:
        member = tf.next()
    tar_file.seek(0)
    if member is None:
        raise ApiError(500, "the container's archive was empty")
    mode = member.mode & 0o7777
    if member.isdir():
        mode |= _GO_DIR
    elif member.issym():
        mode |= _GO_SYMLINK
    mtime = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(member.mtime))
    return {
        "name": member.name.rstrip("/").rsplit("/", 1)[-1],
        "size": member.size,
        "mode": mode,
        "mtime": mtime,
        "linkTarget": member.linkname if member.issym() else "",
    }


def _archive_path(req: Request) -> str:
    path = req.q("path")
    if not path:
        raise ApiError(400, "the archive path is missing (?path=)")
    return path


def _spooled(req: Request, cid: str, path: str) -> Any:
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 - handed to the caller
    try:
        req.engine.archive_from_container(cid, path, spool)
    except BaseException:
        spool.close()
        raise
    return spool


def archive_head(req: Request) -> None:
    c = req.engine.container(req.params["id"])
    with _spooled(req, c.id, _archive_path(req)) as spool:
        stat = _path_stat(spool)
    encoded = base64.b64encode(json.dumps(stat).encode()).decode()
    req.send_empty(200, {"X-Docker-Container-Path-Stat": encoded, "Content-Type": "application/x-tar"})


def archive_get(req: Request) -> None:
    c = req.engine.container(req.params["id"])
    with _spooled(req, c.id, _archive_path(req)) as spool:
        stat = _path_stat(spool)
        encoded = base64.b64encode(json.dumps(stat).encode()).decode()
        req.start_stream("application/x-tar", headers={"X-Docker-Container-Path-Stat": encoded})
        with contextlib.suppress(ClientGone):
            while chunk := spool.read(1 << 16):
                req.write(chunk)


def archive_put(req: Request) -> None:
    c = req.engine.container(req.params["id"])
    path = _archive_path(req)
    try:
        req.engine.extract_to_container(c.id, path, req.body)
    except DockyardError:
        req.handler.close_connection = True
        raise
    except (tarfile.TarError, EOFError) as err:
        req.handler.close_connection = True
        raise InvalidArgument(f"the uploaded archive is malformed: {err}") from None
    req.send_empty(200)


ROUTES = [
    ("GET", "/containers/json", list_containers),
    ("POST", "/containers/create", create),
    ("POST", "/containers/prune", prune),
    ("GET", "/containers/{id}/json", inspect),
    ("POST", "/containers/{id}/start", start),
    ("POST", "/containers/{id}/stop", stop),
    ("POST", "/containers/{id}/restart", restart),
    ("POST", "/containers/{id}/kill", kill),
    ("POST", "/containers/{id}/pause", pause),
    ("POST", "/containers/{id}/unpause", unpause),
    ("POST", "/containers/{id}/rename", rename),
    ("POST", "/containers/{id}/update", update),
    ("POST", "/containers/{id}/wait", wait),
    ("POST", "/containers/{id}/attach", attach),
    ("POST", "/containers/{id}/resize", resize),
    ("GET", "/containers/{id}/logs", logs),
    ("GET", "/containers/{id}/top", top),
    ("GET", "/containers/{id}/changes", changes),
    ("GET", "/containers/{id}/stats", stats),
    ("GET", "/containers/{id}/export", export),
    ("HEAD", "/containers/{id}/archive", archive_head),
    ("GET", "/containers/{id}/archive", archive_get),
    ("PUT", "/containers/{id}/archive", archive_put),
    ("DELETE", "/containers/{id}", remove),
]
