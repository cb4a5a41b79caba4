""":class:`RemoteEngine`: :class:`core.interface.Engine` over the Docker Engine API. Requests and answers
are Docker's JSON, mapped to and from the records by :mod:`core.dockerjson` (the one mapping, both ways);
streams (logs, events, stats, pull progress, attach, exec) become the interface's stream objects, so a face
cannot tell this engine from the local one. What the API has no route for raises
:class:`core.remote.client.UnsupportedByEngine` naming the method and the engine."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

from core import dockerjson
from core.errors import ContainerNotFound, DockyardError, ImageNotFound, InvalidArgument, RegistryError
from core.interface import (
    STDERR,
    STDOUT,
    DuplexStream,
    Engine,
    EventStream,
    LogStream,
    ProgressStream,
    StatsStream,
)
from core.models import (
    ContainerStats,
    ContainerSummary,
    ContainerUpdate,
    Event,
    HistoryEntry,
    ImageSummary,
    LogLine,
    NetworkSummary,
    PortBinding,
    PullProgress,
    PullResult,
    RemovedImage,
    Volume,
)
from core.remote.client import ApiClient, StreamedResponse, quote, unsupported
from core.remote.endpoint import Endpoint
from core.remote.frames import FrameDecoder

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a remote command)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from core.interface import Filters, JSONDocument, PreparedStart, Progress
    from core.models import (
        BuildEvent,
        BuildOptions,
        BuildResult,
        ContainerCreate,
        ExecConfig,
        PushResult,
    )
    from core.remote.hijack import HijackedStream


def _filters(filters: Filters | None) -> dict[str, list[str]] | None:
    if not filters:
        return None
    return {k: list(v) for k, v in filters.items()}


def _stamp(t: float | None) -> str | None:
    return None if t is None else f"{t:.9f}"


class RemoteEngine(Engine):
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.api = ApiClient(endpoint)
        self._just_created: JSONDocument | None = None  # the inspect document of the last create

    def __repr__(self) -> str:
        return f"RemoteEngine({self.endpoint.url})"

    def close(self) -> None:
        self.api.close()

    def _unsupported(self, method: str, why: str = "") -> DockyardError:
        return unsupported(method, self.endpoint, why)

    # ------------------------------------------------------------------------------ containers
    def create_container(
        self, request: ContainerCreate, *, progress: Progress | None = None
    ) -> ContainerSummary:
        if request.pull == "always":
            self.pull(request.config.image, platform=request.platform or None, progress=progress)
        body = dockerjson.create_to_docker(request)
        # as the docker CLI: stdin closes with the attached client's, and "-e NAME" takes the client's value
        body["StdinOnce"] = request.config.open_stdin and request.config.attach_stdin
        body["Env"] = [
            e if "=" in e else f"{e}={os.environ[e]}"
            for e in body.get("Env") or []
            if "=" in e or e in os.environ
        ]
        params = dockerjson.create_query(request)
        try:
            doc = self.api.json("POST", "/containers/create", params=params, body=body)
        except ImageNotFound:
            if request.pull != "missing":
                raise
            self.pull(request.config.image, platform=request.platform or None, progress=progress)
            doc = self.api.json("POST", "/containers/create", params=params, body=body)
        created = self.inspect_container(str(doc["Id"]))
        self._just_created = created  # for start_attached, which would ask for it again at once
        return dockerjson.container_summary_from_inspect(created)

    def start_container(self, name: str, *, prepared: PreparedStart | None = None) -> None:
        if prepared is not None:
            prepared.cancel()
        self.api.request("POST", f"/containers/{name}/start", ok=(304,))

    def _attach(
        self,
        cid: str,
        *,
        stdin: bool,
        tty: bool,
        start: bool,
        tty_size: tuple[int, int] | None,
        auto_remove: bool = False,
    ) -> HijackedStream:
        from core.remote.hijack import HijackedStream, hijack  # the streams: not on a listing's path

        params = {"stream": "1", "stdin": "1" if stdin else "0", "stdout": "1", "stderr": "1"}
        sock = hijack(
            self.endpoint, self.api.open_socket, self.api.path(f"/containers/{cid}/attach"), params, None
        )
        # `run --rm`: wait until it is removed, as the docker CLI does (dockerd removes it after the exit,
        # and an `rmi` of its image right after the run must not find it still there)
        waiter = _Waiter(self.api, cid, "removed" if auto_remove else "next-exit")
        try:
            waiter.begin()
            if start:
                self.api.request("POST", f"/containers/{cid}/start", ok=(304,))
        except BaseException:
            waiter.cancel()
            with contextlib.suppress(OSError):
                sock.close()
            raise
        stream = HijackedStream(
            sock,
            tty=tty,
            resize=lambda rows, cols: self.resize_container(cid, rows, cols),
            kill=lambda signum: self.kill_container(cid, signum),
            exit_code=waiter.result,
            stdin=stdin,
        )
        if tty and tty_size:
            stream.resize(*tty_size)
        return stream

    def start_attached(
        self,
        name: str,
        *,
        stdin: bool = False,
        tty_size: tuple[int, int] | None = None,
        prepared: PreparedStart | None = None,
    ) -> DuplexStream:
        if prepared is not None:
            prepared.cancel()
        doc, self._just_created = self._just_created, None
        if doc is None or name not in (doc.get("Id"), doc.get("Name", "").lstrip("/")):
            doc = self.inspect_container(name)
        # (just created, it may have been started since by another client: the start then answers 304)
        running = bool((doc.get("State") or {}).get("Running"))
        tty = bool((doc.get("Config") or {}).get("Tty"))
        auto_remove = bool((doc.get("HostConfig") or {}).get("AutoRemove"))
        return self._attach(
            str(doc["Id"]),
            stdin=stdin,
            tty=tty,
            start=not running,
            tty_size=tty_size,
            auto_remove=auto_remove,
        )

    def attach_container(self, name: str, *, stdin: bool = False) -> DuplexStream:
        doc = self.inspect_container(name)
        tty = bool((doc.get("Config") or {}).get("Tty"))
        return self._attach(str(doc["Id"]), stdin=stdin, tty=tty, start=False, tty_size=None)

    def resize_container(self, name: str, rows: int, cols: int) -> None:
        self.api.request("POST", f"/containers/{name}/resize", params={"h": rows, "w": cols})

    def list_containers(self, *, all: bool = False, filters: Filters | None = None) -> list[ContainerSummary]:
        docs = self.api.json("GET", "/containers/json", params={"all": all, "filters": _filters(filters)})
        now = time.time()
        return [dockerjson.container_summary_from_docker(d, now) for d in docs or []]

    def container(self, name: str) -> ContainerSummary:
        return dockerjson.container_summary_from_inspect(self.inspect_container(name))

    def inspect_container(self, name: str, *, size: bool = False) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", f"/containers/{name}/json", params={"size": size or None})
        return doc

    def _after(self, before: ContainerSummary) -> ContainerSummary:
        """The container's summary now, or (removed meanwhile, ``--rm``) the one from before."""
        try:
            return self.container(before.id)
        except ContainerNotFound:
            return before

    def stop_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        before = self.container(name)
        params = {"t": int(timeout)} if timeout is not None else None
        self.api.request("POST", f"/containers/{before.id}/stop", params=params, ok=(304,), timeout=None)
        return self._after(before)

    def kill_container(self, name: str, signal: int | str = "SIGKILL") -> ContainerSummary:
        before = self.container(name)
        sig = signal if isinstance(signal, str) else _signal_name(signal)
        self.api.request("POST", f"/containers/{before.id}/kill", params={"signal": sig})
        return self._after(before)

    def restart_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        params = {"t": int(timeout)} if timeout is not None else None
        self.api.request("POST", f"/containers/{name}/restart", params=params, timeout=None)
        return self.container(name)

    def pause_container(self, name: str) -> None:
        self.api.request("POST", f"/containers/{name}/pause")

    def unpause_container(self, name: str) -> None:
        self.api.request("POST", f"/containers/{name}/unpause")

    def rename_container(self, name: str, new_name: str) -> None:
        self.api.request("POST", f"/containers/{name}/rename", params={"name": new_name})

    def wait_container(self, name: str) -> int:
        doc = self.api.json("POST", f"/containers/{name}/wait", timeout=None)
        return int(doc.get("StatusCode", 0))

    def remove_container(self, name: str, *, force: bool = False, volumes: bool = False) -> ContainerSummary:
        before = self.container(name)
        self.api.request("DELETE", f"/containers/{before.id}", params={"force": force, "v": volumes})
        return before

    def update_container(self, name: str, update: ContainerUpdate) -> list[str]:
        body: dict[str, Any] = {}
        if update.memory is not None:
            body["Memory"] = update.memory
        if update.memory_swap is not None:
            body["MemorySwap"] = update.memory_swap
        if update.nano_cpus is not None:
            body["NanoCpus"] = update.nano_cpus
        if update.pids_limit is not None:
            body["PidsLimit"] = update.pids_limit
        if update.restart_policy is not None:
            body["RestartPolicy"] = {
                "Name": update.restart_policy.name,
                "MaximumRetryCount": update.restart_policy.maximum_retry_count,
            }
        doc = self.api.json("POST", f"/containers/{name}/update", body=body)
        return [str(w) for w in (doc or {}).get("Warnings") or []]

    def container_changes(self, name: str) -> list[JSONDocument]:
        return list(self.api.json("GET", f"/containers/{name}/changes") or [])

    def prune_containers(self, *, filters: Filters | None = None) -> tuple[list[str], int]:
        doc = self.api.json("POST", "/containers/prune", params={"filters": _filters(filters)}, timeout=None)
        return [str(i) for i in doc.get("ContainersDeleted") or []], int(doc.get("SpaceReclaimed") or 0)

    def container_top(self, name: str, ps_args: str = "") -> tuple[list[str], list[list[str]]]:
        doc = self.api.json("GET", f"/containers/{name}/top", params={"ps_args": ps_args or None})
        return [str(t) for t in doc.get("Titles") or []], [
            [str(c) for c in p] for p in doc.get("Processes") or []
        ]

    def container_stats(self, name: str) -> ContainerStats:
        doc = self.api.json("GET", f"/containers/{name}/stats", params={"stream": False}, timeout=None)
        return dockerjson.stats_from_docker(doc, name)

    def stats_stream(self, name: str, *, interval: float = 1.0) -> StatsStream:
        r = self.api.stream("GET", f"/containers/{name}/stats", params={"stream": True})
        return _RemoteStats(r, name)

    def container_logs(
        self,
        name: str,
        *,
        follow: bool = False,
        since: float | None = None,
        until: float | None = None,
        tail: int | None = None,
        timestamps: bool = True,
    ) -> LogStream:
        doc = self.inspect_container(name)
        tty = bool((doc.get("Config") or {}).get("Tty"))
        params = {
            "stdout": True,
            "stderr": True,
            "timestamps": timestamps,
            "follow": follow,
            "since": _stamp(since),
            "until": _stamp(until),
            "tail": "all" if tail is None else tail,
        }
        r = self.api.stream("GET", f"/containers/{doc['Id']}/logs", params=params)
        return _RemoteLogs(r, tty, timestamps)

    def container_ports(self, name: str) -> list[PortBinding]:
        return self.container(name).ports

    def export_container(self, name: str, out: BinaryIO) -> None:
        _copy_to(self.api.stream("GET", f"/containers/{name}/export"), out)

    def archive_from_container(self, name: str, src: str, sink: BinaryIO) -> None:
        _copy_to(self.api.stream("GET", f"/containers/{name}/archive", params={"path": src}), sink)

    def extract_to_container(self, name: str, dest: str, source: BinaryIO, *, archive: bool = False) -> None:
        self.api.request(
            "PUT",
            f"/containers/{name}/archive",
            params={"path": dest, "copyUIDGID": archive or None},
            content=iter(lambda: source.read(1 << 16), b""),
            headers={"Content-Type": "application/x-tar"},
            timeout=None,
        )

    def _path_stat(self, name: str, path: str) -> dict[str, Any] | None:
        """``HEAD /containers/{id}/archive``: the path's stat (docker's X-Docker-Container-Path-Stat), or
        None when it does not exist."""
        import base64
        import json

        from core.errors import NotFound

        try:
            r = self.api.request("HEAD", f"/containers/{name}/archive", params={"path": path})
        except NotFound as err:
            if "container" in str(err).lower() and "no such container" in str(err).lower():
                raise
            return None
        header = r.headers.get("X-Docker-Container-Path-Stat", "")
        doc: dict[str, Any] = json.loads(base64.b64decode(header)) if header else {}
        return doc

    def copy_from_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        """``cp CONTAINER:SRC DEST`` with docker's rules for what DEST means, through the archive endpoint."""
        from pathlib import Path

        from core.containers.copy import _merge
        from core.errors import InvalidArgument, NotFound
        from core.storage import tarsafe

        stat = self._path_stat(name, src.removesuffix("/.") or "/")
        if stat is None:
            raise NotFound(f"Could not find the file {src} in container {name}")
        is_dir = bool(int(stat.get("mode") or 0) & (1 << 31))  # Go's os.ModeDir
        dest_path = Path(dest)
        contents_only = src.endswith("/.")
        base = os.path.basename(src.rstrip("/").removesuffix("/.")) or "root"
        rename: str | None
        if dest_path.is_dir():
            target_dir, rename = dest_path, (None if contents_only else base)
        else:
            if dest.endswith("/") and not is_dir:
                raise InvalidArgument(f"destination directory {dest} does not exist")
            if not dest_path.parent.is_dir():
                raise InvalidArgument(f"destination directory {dest_path.parent} does not exist")
            if contents_only or is_dir:
                dest_path.mkdir()
                target_dir, rename, contents_only = dest_path, None, True
            else:
                target_dir, rename = dest_path.parent, dest_path.name
        fetch = src.removesuffix("/.") or "/"
        staging = target_dir / f".dockyard-cp-{os.getpid()}"
        staging.mkdir(mode=0o700)
        try:
            r = self.api.stream("GET", f"/containers/{name}/archive", params={"path": fetch})
            with _ChunkReader(r.chunks()) as stream:
                tarsafe.extract(stream, staging, preserve_owner=archive)  # type: ignore[arg-type]
            top = staging / (stat.get("name") or base)
            if contents_only and top.is_dir():
                for entry in sorted(os.listdir(top)):
                    _merge(top / entry, target_dir / entry)
            else:
                for entry in sorted(os.listdir(staging)):
                    _merge(staging / entry, target_dir / (rename or entry))
        finally:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)

    def copy_to_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        """``cp SRC CONTAINER:DEST``: a tar of SRC, named as docker's rules want, to the archive endpoint."""
        import io
        import tarfile
        from pathlib import Path

        from core.errors import InvalidArgument, NotFound

        src_path = Path(src.removesuffix("/."))
        if not os.path.lexists(src_path):
            raise NotFound(f"could not find the file {src} on the host")
        if not dest.startswith("/"):
            dest = "/" + dest
        stat = self._path_stat(name, dest)
        contents_only = src.endswith("/.")
        if stat is not None and int(stat.get("mode") or 0) & (1 << 31):
            dest_dir, arcname = dest, src_path.name or "root"
        else:
            if dest.endswith("/"):
                raise InvalidArgument(f"destination directory {dest} does not exist in the container")
            dest_dir, arcname = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
            contents_only = False  # SRC/. onto a missing DEST: DEST is made with SRC's contents
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            if contents_only:
                for entry in sorted(os.listdir(src_path)):
                    tf.add(str(src_path / entry), arcname=entry)
            else:
                tf.add(str(src_path), arcname=arcname)
        buf.seek(0)
        self.extract_to_container(name, dest_dir, buf, archive=archive)

    def commit(
        self,
        container: str,
        reference: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> ImageSummary:
        repo, tag = _split_reference(reference) if reference else (None, None)
        params = {
            "container": container,
            "repo": repo,
            "tag": tag,
            "comment": message or None,
            "author": author or None,
            "pause": pause,
            "changes": "\n".join(changes) if changes else None,
        }
        doc = self.api.json("POST", "/commit", params=params, body={}, timeout=None)
        return self.image(str(doc["Id"]))

    # ----------------------------------------------------------------------------------- exec
    def create_exec(self, container: str, config: ExecConfig) -> str:
        body: dict[str, Any] = {
            "Cmd": list(config.cmd),
            "Env": list(config.env) or None,
            "Tty": config.tty,
            "AttachStdin": config.attach_stdin and not config.detach,
            "AttachStdout": not config.detach,
            "AttachStderr": not config.detach,
            "Privileged": config.privileged,
        }
        if config.user is not None:
            body["User"] = config.user
        if config.working_dir is not None:
            body["WorkingDir"] = config.working_dir
        if config.console_size is not None:
            body["ConsoleSize"] = list(config.console_size)
        doc = self.api.json("POST", f"/containers/{container}/exec", body=body)
        exec_id = str(doc["Id"])
        if config.detach:
            self._detached_execs.add(exec_id)
        return exec_id

    @property
    def _detached_execs(self) -> set[str]:
        if not hasattr(self, "_detached"):
            self._detached: set[str] = set()
        return self._detached

    def start_exec(self, exec_id: str) -> DuplexStream:
        info = self.inspect_exec(exec_id)
        tty = bool((info.get("ProcessConfig") or {}).get("tty"))
        detach = exec_id in self._detached_execs or not (info.get("OpenStdout") or info.get("OpenStderr"))
        stdin = bool(info.get("OpenStdin"))
        if detach:
            self.api.request("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": tty})
            return _Ended(tty)
        from core.remote.hijack import HijackedStream, hijack

        sock = hijack(
            self.endpoint,
            self.api.open_socket,
            self.api.path(f"/exec/{exec_id}/start"),
            {},
            {"Detach": False, "Tty": tty},
        )

        def kill(signum: int) -> None:
            raise self._unsupported(
                "kill of an exec session", "the Docker Engine API has no endpoint to signal an exec's process"
            )

        return HijackedStream(
            sock,
            tty=tty,
            resize=lambda rows, cols: self.api.request(
                "POST", f"/exec/{exec_id}/resize", params={"h": rows, "w": cols}
            ),
            kill=kill,
            exit_code=lambda: self._exec_exit(exec_id),
            stdin=stdin,
        )

    def _exec_exit(self, exec_id: str) -> tuple[int | None, str]:
        deadline = time.monotonic() + 5
        while True:
            info = self.inspect_exec(exec_id)
            if not info.get("Running") or time.monotonic() > deadline:
                code = info.get("ExitCode")
                return (int(code) if code is not None else None), ""
            time.sleep(0.02)

    def inspect_exec(self, exec_id: str) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", f"/exec/{exec_id}/json")
        return doc

    # --------------------------------------------------------------------------------- images
    def pull(
        self, reference: str, *, platform: str | None = None, progress: Progress | None = None
    ) -> PullResult:
        stream = self.pull_stream(reference, platform=platform)
        with stream:
            for msg in stream:
                if progress is not None:
                    progress(_progress_from_docker(msg))
        result: PullResult = stream.result
        return result

    def pull_stream(self, reference: str, *, platform: str | None = None) -> ProgressStream:
        from core.interface import parse_reference

        ref = parse_reference(reference)
        name = str(ref)
        repo, tag = _split_reference(name)
        params = {"fromImage": repo, "tag": tag, "platform": platform or None}
        r = self.api.stream("POST", "/images/create", params=params, headers=self._registry_auth(ref))

        def finish(messages: list[JSONDocument]) -> PullResult:
            digest = ""
            new = False
            for m in messages:
                status = str(m.get("status") or "")
                if status.startswith("Digest: "):
                    digest = status[len("Digest: ") :]
                if status.startswith("Status: Downloaded newer image") or status == "Pull complete":
                    new = True
            return PullResult(reference=name, digest=digest, image=self.image(name), new=new)

        return _RemoteProgress(r, finish)

    def _registry_auth(self, ref: Any) -> dict[str, str]:
        """``X-Registry-Auth`` for ``ref``'s registry, as the docker CLI sends it: the login this client's
        docker config holds for it (``auths`` or a credential helper), base64url JSON; none: no header."""
        from pathlib import Path

        from core.images import credentials
        from core.remote.contexts import config_dir

        creds = credentials.lookup(Path(config_dir(), "config.json"), ref.credential_key)
        if creds is None:
            return {}
        doc: dict[str, str] = {"serveraddress": ref.credential_key}
        if creds.identity_token:
            doc["identitytoken"] = creds.identity_token
        else:
            doc.update(username=creds.username, password=creds.password)
        return {"X-Registry-Auth": _b64url_json(doc)}

    def push(
        self, reference: str, *, progress: Progress | None = None, chunk_size: int | None = None
    ) -> PushResult:
        """``POST /images/{name}/push`` with this client's login for the registry (``X-Registry-Auth``);
        ``chunk_size`` is the engine's own choice over the API."""
        from core.interface import parse_reference
        from core.models import PushResult

        ref = parse_reference(reference)
        repo, tag = _split_reference(str(ref))
        headers = self._registry_auth(ref) or {"X-Registry-Auth": _b64url_json({})}
        r = self.api.stream("POST", f"/images/{repo}/push", params={"tag": tag}, headers=headers)
        digest, size = "", 0
        with contextlib.closing(r):
            for msg in r.json_messages():
                if not isinstance(msg, dict):
                    continue
                _raise_stream_error(msg)
                aux = msg.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest, size = str(aux["Digest"]), int(aux.get("Size") or 0)
                    continue
                if progress is not None and (msg.get("id") or msg.get("status")):
                    progress(_progress_from_docker(msg))
        if not digest:
            raise RegistryError(f"the engine at {self.endpoint.url} ended the push of {ref} without a digest")
        return PushResult(str(ref), digest, size)

    def list_images(self, *, all: bool = False, filters: Filters | None = None) -> list[ImageSummary]:
        docs = self.api.json("GET", "/images/json", params={"all": all, "filters": _filters(filters)})
        return [dockerjson.image_summary_from_docker(d) for d in docs or []]

    def image(self, name: str) -> ImageSummary:
        doc = self.inspect_image(name)
        return dockerjson.image_summary_from_docker(doc)

    def inspect_image(self, name: str) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", f"/images/{name}/json")
        return doc

    def history(self, name: str) -> list[HistoryEntry]:
        return [
            dockerjson.history_from_docker(d) for d in self.api.json("GET", f"/images/{name}/history") or []
        ]

    def tag_image(self, source: str, target: str) -> None:
        repo, tag = _split_reference(target)
        self.api.request("POST", f"/images/{source}/tag", params={"repo": repo, "tag": tag})

    def remove_image(self, name: str, *, force: bool = False) -> RemovedImage:
        docs = self.api.json("DELETE", f"/images/{name}", params={"force": force})
        return _removed(docs or [])

    def prune_images(self, *, all: bool = False, filters: Filters | None = None) -> tuple[RemovedImage, int]:
        f = _filters(filters) or {}
        if all:
            f["dangling"] = ["false"]
        doc = self.api.json("POST", "/images/prune", params={"filters": f or None}, timeout=None)
        return _removed(doc.get("ImagesDeleted") or []), int(doc.get("SpaceReclaimed") or 0)

    def save_images(self, names: list[str], out: BinaryIO) -> None:
        query = "&".join(f"names={quote(n)}" for n in names)
        _copy_to(self.api.stream("GET", f"/images/get?{query}"), out)

    def load_images(self, src: BinaryIO, *, progress: Progress | None = None) -> list[str]:
        r = self.api.stream(
            "POST",
            "/images/load",
            params={"quiet": progress is None},
            content=iter(lambda: src.read(1 << 16), b""),
            headers={"Content-Type": "application/x-tar"},
        )
        loaded: list[str] = []
        for msg in r.json_messages():
            _raise_stream_error(msg)
            text = str(msg.get("stream") or msg.get("status") or "").strip()
            for prefix in ("Loaded image: ", "Loaded image ID: "):
                if text.startswith(prefix):
                    loaded.append(text[len(prefix) :])
            if progress is not None and msg.get("id"):
                progress(_progress_from_docker(msg))
        return loaded

    def import_image(
        self,
        src: BinaryIO,
        reference: str | None = None,
        *,
        message: str = "",
        changes: list[str] | None = None,
        platform: str | None = None,
        source_name: str = "-",
    ) -> ImageSummary:
        repo, tag = _split_reference(reference) if reference else (None, None)
        params = {
            "fromSrc": "-",
            "repo": repo,
            "tag": tag,
            "message": message or None,
            "changes": changes or None,
            "platform": platform or None,
        }
        if changes:
            params.pop("changes")
        path = "/images/create"
        if changes:
            path += "?" + "&".join(f"changes={quote(c, '/')}" for c in changes)
        r = self.api.stream("POST", path, params=params, content=iter(lambda: src.read(1 << 16), b""))
        image_id = ""
        for msg in r.json_messages():
            _raise_stream_error(msg)
            if msg.get("status"):
                image_id = str(msg["status"]).strip()
        return self.image(image_id)

    def build(
        self, options: BuildOptions, *, progress: Callable[[BuildEvent], None] | None = None
    ) -> BuildResult:
        """``POST /build`` (the classic builder's API, as ``DOCKER_BUILDKIT=0 docker build``): the context
        sent as a tar (without what .dockerignore leaves out), its stream read back as build events."""
        from core.errors import BuildError
        from core.models import BuildEvent, BuildResult

        body, dockerfile = _context_tar(options)
        params = {
            "dockerfile": dockerfile,
            "buildargs": options.build_args or None,
            "labels": options.labels or None,
            "target": options.target or None,
            "nocache": options.no_cache or None,
            "pull": options.pull or None,
            "networkmode": options.network if options.network != "default" else None,
            "platform": options.platform or None,
            "rm": True,
        }
        pairs = [*(_params_of(params) or []), *[("t", t) for t in options.tags]]
        t0 = time.monotonic()
        r = self.api.stream(
            "POST",
            "/build",
            params=pairs,  # type: ignore[arg-type]
            content=body,
            headers={"Content-Type": "application/x-tar"},
        )
        step = steps = cached = 0
        started = t0
        image_id = ""
        output: list[str] = []
        warnings: list[str] = []

        def emit(ev: BuildEvent) -> None:
            if progress is not None:
                progress(ev)

        for msg in r.json_messages():
            if not isinstance(msg, dict):
                continue
            if msg.get("error") or msg.get("errorDetail"):
                text = str(msg.get("error") or (msg.get("errorDetail") or {}).get("message") or "")
                raise BuildError(text, output[-20:])
            aux = msg.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
            for line in str(msg.get("stream") or "").splitlines():
                if line.startswith("Step ") and " : " in line:
                    if step:
                        emit(BuildEvent("done", step, seconds=time.monotonic() - started))
                    step, steps, started = step + 1, steps + 1, time.monotonic()
                    output = []
                    emit(BuildEvent("step", step, text=line.split(" : ", 1)[1]))
                elif line.strip() == "---> Using cache":
                    cached += 1
                    emit(BuildEvent("cached", step))
                elif line.startswith((" ---> ", "Removing intermediate container", "Successfully ")):
                    continue
                elif line.startswith(("[Warning]", "WARNING")):
                    warnings.append(line)
                    emit(BuildEvent("warning", step, text=line))
                elif line.strip():
                    output.append(line)
                    emit(BuildEvent("output", step, text=line, stream="stdout"))
        if step:
            emit(BuildEvent("done", step, seconds=time.monotonic() - started))
        if not image_id:
            raise BuildError("the engine's build ended without an image", output[-20:])
        return BuildResult(image_id, list(options.tags), steps, cached, time.monotonic() - t0, warnings)

    def login(self, server: str, username: str, password: str) -> str:
        """As ``docker login -H``: the engine checks the credentials with the registry (``POST /auth``),
        then this client stores them in its own docker config, where pull and push find them."""
        from pathlib import Path

        from core.engine import _server_reference
        from core.images import credentials
        from core.remote.contexts import config_dir

        ref = _server_reference(server)
        address = server or "https://index.docker.io/v1/"
        self.api.json(
            "POST", "/auth", body={"username": username, "password": password, "serveraddress": address}
        )
        credentials.store(Path(config_dir(), "config.json"), ref.credential_key, username, password)
        return ref.credential_key

    def logout(self, server: str) -> bool:
        """As ``docker logout``: the login is forgotten by this client (the engine keeps none of it)."""
        from pathlib import Path

        from core.engine import _server_reference
        from core.images import credentials
        from core.remote.contexts import config_dir

        return credentials.erase(Path(config_dir(), "config.json"), _server_reference(server).credential_key)

    # ------------------------------------------------------------------------------- networks
    def create_network(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> NetworkSummary:
        config: dict[str, str] = {}
        if subnet:
            config["Subnet"] = subnet
        if gateway:
            config["Gateway"] = gateway
        body = {
            "Name": name,
            "Driver": driver,
            "Internal": internal,
            "Labels": labels or {},
            "Options": options or {},
            "IPAM": {"Driver": "default", "Config": [config] if config else []},
            "CheckDuplicate": True,
        }
        doc = self.api.json("POST", "/networks/create", body=body)
        return dockerjson.network_summary_from_docker(self.inspect_network(str(doc["Id"])))

    def list_networks(self, *, filters: Filters | None = None) -> list[NetworkSummary]:
        docs = self.api.json("GET", "/networks", params={"filters": _filters(filters)})
        return [dockerjson.network_summary_from_docker(d) for d in docs or []]

    def inspect_network(self, name: str) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", f"/networks/{name}")
        return doc

    def remove_network(self, name: str) -> None:
        self.api.request("DELETE", f"/networks/{name}")

    def prune_networks(self, *, filters: Filters | None = None) -> list[str]:
        doc = self.api.json("POST", "/networks/prune", params={"filters": _filters(filters)})
        return [str(n) for n in doc.get("NetworksDeleted") or []]

    def connect_network(
        self, network: str, container: str, *, aliases: list[str] | None = None, ip: str | None = None
    ) -> None:
        endpoint: dict[str, Any] = {}
        if aliases:
            endpoint["Aliases"] = list(aliases)
        if ip:
            endpoint["IPAMConfig"] = {"IPv4Address": ip}
        self.api.request(
            "POST", f"/networks/{network}/connect", body={"Container": container, "EndpointConfig": endpoint}
        )

    def disconnect_network(self, network: str, container: str, *, force: bool = False) -> None:
        self.api.request(
            "POST", f"/networks/{network}/disconnect", body={"Container": container, "Force": force}
        )

    # -------------------------------------------------------------------------------- volumes
    def create_volume(
        self,
        name: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Volume:
        body = {"Name": name or "", "Driver": "local", "Labels": labels or {}, "DriverOpts": options or {}}
        return dockerjson.volume_from_docker(self.api.json("POST", "/volumes/create", body=body))

    def list_volumes(self, *, filters: Filters | None = None) -> list[Volume]:
        doc = self.api.json("GET", "/volumes", params={"filters": _filters(filters)})
        return sorted(
            (dockerjson.volume_from_docker(v) for v in (doc or {}).get("Volumes") or []), key=lambda v: v.name
        )

    def inspect_volume(self, name: str) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", f"/volumes/{name}")
        return doc

    def volume_size(self, name: str) -> int:
        doc = self.api.json("GET", "/system/df", params={"type": "volume"}, timeout=None)
        for v in doc.get("Volumes") or []:
            if v.get("Name") == name:
                return max(0, int((v.get("UsageData") or {}).get("Size") or 0))
        self.inspect_volume(name)  # raises VolumeNotFound
        return 0

    def volume_users(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for d in self.api.json("GET", "/containers/json", params={"all": True}) or []:
            cname = str((d.get("Names") or ["/"])[0]).lstrip("/")
            for m in d.get("Mounts") or []:
                if m.get("Type") == "volume" and m.get("Name"):
                    users.setdefault(str(m["Name"]), []).append(cname)
        return users

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        self.api.request("DELETE", f"/volumes/{name}", params={"force": force})

    def prune_volumes(self, *, all: bool = False, filters: Filters | None = None) -> tuple[list[str], int]:
        from core.remote.client import _vtuple

        f = _filters(filters) or {}
        if all and _vtuple(self.api.version) >= (1, 42):
            f["all"] = ["true"]
        doc = self.api.json("POST", "/volumes/prune", params={"filters": f or None}, timeout=None)
        return [str(v) for v in doc.get("VolumesDeleted") or []], int(doc.get("SpaceReclaimed") or 0)

    # --------------------------------------------------------------------------------- system
    def info(self) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", "/info")
        return doc

    def version(self) -> JSONDocument:
        doc: JSONDocument = self.api.json("GET", "/version")
        return doc

    def disk_usage(self) -> list[JSONDocument]:
        doc = self.api.json("GET", "/system/df", timeout=None)
        images = doc.get("Images") or []
        containers = doc.get("Containers") or []
        volumes = doc.get("Volumes") or []
        used_images = [i for i in images if int(i.get("Containers") or 0) > 0]
        images_size = int(doc.get("LayersSize") or 0)
        used_size = sum(int(i.get("Size") or 0) - max(0, int(i.get("SharedSize") or 0)) for i in used_images)
        running = [c for c in containers if c.get("State") in ("running", "paused", "restarting")]

        def vsize(v: JSONDocument) -> int:
            return max(0, int((v.get("UsageData") or {}).get("Size") or 0))

        def vrefs(v: JSONDocument) -> int:
            return int((v.get("UsageData") or {}).get("RefCount") or 0)

        def row(kind: str, total: int, active: int, size: int, reclaimable: int) -> JSONDocument:
            return {
                "Type": kind,
                "TotalCount": total,
                "Active": active,
                "Size": size,
                "Reclaimable": reclaimable,
            }

        return [
            row("Images", len(images), len(used_images), images_size, max(0, images_size - used_size)),
            row(
                "Containers",
                len(containers),
                len(running),
                sum(int(c.get("SizeRw") or 0) for c in containers),
                sum(int(c.get("SizeRw") or 0) for c in containers if c not in running),
            ),
            row(
                "Local Volumes",
                len(volumes),
                sum(1 for v in volumes if vrefs(v) > 0),
                sum(vsize(v) for v in volumes),
                sum(vsize(v) for v in volumes if vrefs(v) == 0),
            ),
        ]

    def reset(self) -> None:
        raise self._unsupported(
            "reset (system reset)", "it removes an engine's host state, only on its own host"
        )

    def events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        filters: dict[str, list[str]] | None = None,
        follow: bool = True,
    ) -> EventStream:
        if not follow and until is None:
            until = time.time()
        params = {"since": _stamp(since), "until": _stamp(until), "filters": filters or None}
        return _RemoteEvents(self.api.stream("GET", "/events", params=params))


# ================================================================================ helpers ====


def _b64url_json(doc: dict[str, str]) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _signal_name(signum: int) -> str:
    try:
        import signal  # only here: ~0.6 ms of every remote command

        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _split_reference(text: str) -> tuple[str, str | None]:
    """``repo[:tag]`` as the Engine API takes it apart (``repo``/``tag`` query parameters); a digest stays
    in the repo part."""
    if "@" in text:
        return text, None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, None


def _removed(docs: list[JSONDocument]) -> RemovedImage:
    out = RemovedImage()
    for d in docs:
        if d.get("Untagged"):
            out.untagged.append(str(d["Untagged"]))
        if d.get("Deleted"):
            out.deleted.append(str(d["Deleted"]))
            if not out.images:
                out.images.append(str(d["Deleted"]))
    return out


def _raise_stream_error(msg: JSONDocument) -> None:
    if msg.get("error") or msg.get("errorDetail"):
        text = str(msg.get("error") or (msg.get("errorDetail") or {}).get("message") or "")
        low = text.lower()
        if "manifest unknown" in low or "not found" in low or "does not exist" in low:
            from core.errors import ManifestUnknown

            raise ManifestUnknown(text)
        if "unauthorized" in low or "denied" in low:
            from core.errors import AuthenticationError

            raise AuthenticationError(text)
        raise RegistryError(text) if "registry" in low or "pull" in low else DockyardError(text)


def _progress_from_docker(msg: JSONDocument) -> PullProgress:
    detail = msg.get("progressDetail") or {}
    layer = str(msg.get("id") or "")
    status = str(msg.get("status") or "")
    if not layer:
        return PullProgress(layer="", status=status)
    return PullProgress(
        layer=layer,
        status=status,
        current=int(detail.get("current") or 0),
        total=int(detail.get("total") or 0),
        message=str(msg.get("progress") or ""),
    )


def _copy_to(r: StreamedResponse, out: BinaryIO) -> None:
    for chunk in r.chunks():
        out.write(chunk)


class _Waiter:
    """``POST /containers/{id}/wait?condition=next-exit`` (or ``removed``), asked before the start (as the
    docker CLI does, so an exit is never missed) and read in a thread: the attach stream's exit code."""

    def __init__(self, api: ApiClient, cid: str, condition: str = "next-exit") -> None:
        import threading  # not at import: a listing starts no thread (~0.8 ms)

        self.api = api
        self.cid = cid
        self.condition = condition
        self._response: StreamedResponse | None = None
        self._done = threading.Event()
        self._code: int | None = None
        self._error = ""

    def begin(self) -> None:
        self._response = self.api.stream(
            "POST", f"/containers/{self.cid}/wait", params={"condition": self.condition}
        )
        import threading

        threading.Thread(target=self._read, name="remote-wait", daemon=True).start()

    def _read(self) -> None:
        try:
            assert self._response is not None
            for doc in self._response.json_messages():
                self._code = int(doc.get("StatusCode", 0))
                self._error = str((doc.get("Error") or {}).get("Message") or "")
                break
        except DockyardError as err:
            self._error = str(err)
        except Exception:
            pass
        finally:
            self._done.set()

    def result(self) -> tuple[int | None, str]:
        self._done.wait(30)
        code, error = self._code, self._error
        self.cancel()
        # the process's own exit (an Error here is the engine's, about waiting, not a start failure)
        return code, "" if code is not None else error

    def cancel(self) -> None:
        if self._response is not None:
            self._response.close()


class _Ended(DuplexStream):
    """A detached exec: started, nothing to read."""

    def __init__(self, tty: bool) -> None:
        import os

        self.tty = tty
        self._r, self._w = os.pipe()
        os.close(self._w)

    def fileno(self) -> int:
        return self._r

    def read(self) -> list[tuple[int, bytes]] | None:
        return None

    def write(self, data: bytes) -> None:
        return None

    @property
    def input_backlog(self) -> int:
        return 0

    def close_stdin(self) -> None:
        return None

    def resize(self, rows: int, cols: int) -> None:
        return None

    def kill(self, signum: int) -> None:
        raise InvalidArgument("a detached exec has no session to signal")

    def detach(self) -> None:
        self.close()

    def close(self) -> None:
        import os

        if self._r >= 0:
            os.close(self._r)
            self._r = -1


_STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr"}


class _RemoteLogs(LogStream):
    """``GET /containers/{id}/logs``: Docker's frames (raw bytes with a terminal) as lines, each led by its
    time when they were asked for with ``timestamps``."""

    def __init__(self, r: StreamedResponse, tty: bool, timestamps: bool = True) -> None:
        self._r = r
        self._tty = tty
        self._timestamps = timestamps
        self._line = _log_line if timestamps else _untimed_line

    def output(self) -> Iterator[tuple[str, bytes]]:
        if self._timestamps:  # each line led by its time, which the text leaves out
            yield from super().output()
            return
        frames = FrameDecoder()
        for chunk in self._r.chunks():
            if self._tty:
                yield "stdout", chunk
            else:
                for kind, data in frames.feed(chunk):
                    yield _STREAM_NAMES[kind], data

    def __iter__(self) -> Iterator[LogLine]:
        partial = {"stdout": b"", "stderr": b""}
        frames = FrameDecoder()
        for chunk in self._r.chunks():
            if self._tty:
                pieces = [("stdout", chunk)]
            else:
                pieces = [(_STREAM_NAMES[kind], data) for kind, data in frames.feed(chunk)]
            for stream, data in pieces:
                data = partial[stream] + data
                lines = data.split(b"\n")
                partial[stream] = lines.pop()
                for line in lines:
                    yield self._line(stream, line + b"\n")
        for stream, rest in partial.items():
            if rest:
                yield self._line(stream, rest)

    def close(self) -> None:
        self._r.close()


def _log_line(stream: str, raw: bytes) -> LogLine:
    text = raw.decode("utf-8", "replace")
    stamp, sep, rest = text.partition(" ")
    if sep and stamp[:4].isdigit() and "T" in stamp:
        return LogLine(stream, stamp, rest, {})  # every field given: the record's quick way in
    return LogLine(stream, "", text, {})


def _untimed_line(stream: str, raw: bytes) -> LogLine:
    """A line asked for without its time: all of it is the text, whatever it starts with."""
    return LogLine(stream, "", raw.decode("utf-8", "replace"), {})


class _RemoteEvents(EventStream):
    def __init__(self, r: StreamedResponse) -> None:
        self._r = r

    def __iter__(self) -> Iterator[Event]:
        for doc in self._r.json_messages():
            if isinstance(doc, dict):
                yield dockerjson.event_from_docker(doc)

    def close(self) -> None:
        self._r.close()


class _RemoteStats(StatsStream):
    def __init__(self, r: StreamedResponse, name: str) -> None:
        self._r = r
        self._name = name

    def __iter__(self) -> Iterator[ContainerStats]:
        for doc in self._r.json_messages():
            if isinstance(doc, dict):
                yield dockerjson.stats_from_docker(doc, self._name)

    def close(self) -> None:
        self._r.close()


class _RemoteProgress(ProgressStream):
    """Docker's progress messages as they come; an ``error`` message raises, as the local pull's failure."""

    def __init__(self, r: StreamedResponse, finish: Callable[[list[JSONDocument]], Any]) -> None:
        self._r = r
        self._finish = finish

    def __iter__(self) -> Iterator[JSONDocument]:
        seen: list[JSONDocument] = []
        for msg in self._r.json_messages():
            if not isinstance(msg, dict):
                continue
            _raise_stream_error(msg)
            seen.append({"status": msg.get("status")})
            yield msg
        self.result = self._finish(seen)

    def close(self) -> None:
        self._r.close()


class _ChunkReader:
    """A file-like ``read`` over an iterator of byte chunks (a streamed tar for the safe extractor)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def __enter__(self) -> _ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._chunks:  # drain, so the connection ends cleanly
            pass


def _params_of(params: dict[str, Any]) -> list[tuple[str, str]] | None:
    from core.remote.client import _params

    return _params(params)


def _context_tar(options: BuildOptions) -> tuple[bytes, str]:
    """The build context as the docker CLI sends it: a tar of the context folder without what its
    .dockerignore excludes (the Dockerfile and .dockerignore always go), a Dockerfile from elsewhere (or
    from stdin) added under a name of its own; and the Dockerfile's name in the tar."""
    import io
    import tarfile
    import uuid

    from core.build.ignore import IgnoreMatcher

    if options.context_archive is not None and options.dockerfile_text is None:
        return options.context_archive, str(options.dockerfile or "Dockerfile")
    buf = io.BytesIO()
    dockerfile = "Dockerfile"
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        root = options.context
        extra: tuple[str, bytes] | None = None
        if options.dockerfile_text is not None:
            dockerfile = f".dockerfile.{uuid.uuid4().hex[:20]}"
            extra = (dockerfile, options.dockerfile_text.encode("utf-8", "surrogateescape"))
        elif options.dockerfile is not None and root is not None:
            path = options.dockerfile if options.dockerfile.is_absolute() else root / options.dockerfile
            try:
                dockerfile = str(path.resolve().relative_to(root.resolve()))
            except ValueError:
                dockerfile = f".dockerfile.{uuid.uuid4().hex[:20]}"
                extra = (dockerfile, path.read_bytes())
        if root is not None:
            ignore_file = root / ".dockerignore"
            matcher = IgnoreMatcher.from_text(ignore_file.read_text()) if ignore_file.is_file() else None

            def kept(rel: str) -> bool:
                return not (matcher and matcher.matches(rel)) or rel in (dockerfile, ".dockerignore")

            for dirpath, dirnames, filenames in os.walk(root):
                rel_dir = os.path.relpath(dirpath, root)
                dirnames.sort()
                for d in list(dirnames):
                    rel = d if rel_dir == "." else f"{rel_dir}/{d}"
                    if kept(rel):
                        tf.add(os.path.join(dirpath, d), arcname=rel, recursive=False)
                    if os.path.islink(os.path.join(dirpath, d)):
                        dirnames.remove(d)
                for f in sorted(filenames):
                    rel = f if rel_dir == "." else f"{rel_dir}/{f}"
                    if kept(rel):
                        tf.add(os.path.join(dirpath, f), arcname=rel, recursive=False)
        if extra is not None:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(extra[1]))
    return buf.getvalue(), dockerfile
