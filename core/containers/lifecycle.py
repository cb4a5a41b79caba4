"""Container lifecycle: create, start (hand the container to its shim), stop, kill, wait, remove, and the
reconciling of state when a shim has died.

No daemon: each of these runs in whichever process asked (CLI or TUI) and coordinates through the records,
the per-container lock and the shim's socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from pathlib import Path

from core.config import Config, Paths
from core.containers.initlayer import make_init_layer
from core.containers.resolve import resolve_process
from core.containers.store import ContainerRecord, ContainerState, ContainerStore
from core.errors import Conflict, ContainerNotFound, RuntimeFailure, error_for_exit_code
from core.models import RUNNING_STATES, ContainerCreate, ContainerUpdate, Mount
from core.record import replace
from core.runtime import protocol
from core.state.ids import new_id
from core.state.locks import held, remove_unheld
from core.state.records import pid_alive, remove_tree, temp_name, write_bytes, write_json
from core.storage.layers import LayerStore
from core.supervisor.launcher import ShimLauncher
from core.timestamps import now_rfc3339
from core.volumes import VolumeStore

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

    from core.network.manager import NetworkManager


START_TIMEOUT = 30.0
# how long stop/rm wait for an exited container's shim to release its network and end (see _await_release)
RELEASE_TIMEOUT = 10.0


def _hosts_file(hostname: str) -> str:
    return (
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        f"127.0.1.1\t{hostname}\n"
    )


def _resolv_conf() -> str:
    """The host's resolv.conf with loopback resolvers dropped (they mean nothing inside the container);
    docker's fallback when none is left."""
    try:
        lines = Path("/etc/resolv.conf").read_text().splitlines()
    except OSError:
        lines = []
    out, servers = [], 0
    for line in lines:
        parts = line.split()
        if parts and parts[0] == "nameserver" and len(parts) > 1:
            if parts[1].startswith("127.") or parts[1] == "::1":
                continue
            servers += 1
        out.append(line)
    if not servers:
        out += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(out) + "\n"


class Lifecycle:
    def __init__(
        self,
        paths: Paths,
        store: ContainerStore,
        layers: LayerStore,
        volumes: VolumeStore,
        *,
        cgroup_parent: str = "dockyard",
        config: Config | None = None,
    ) -> None:
        self.paths = paths
        self.cgroup_parent = cgroup_parent
        # networks: the bridge/subnet/nft settings (core.network.manager)
        self.config = config or Config(root=paths.root, run=paths.run)
        self.store = store
        self.layers = layers
        self.volumes = volumes

    # ----------------------------------------------------------------- create

    def create(
        self,
        req: ContainerCreate,
        image_name: str,
        image_id: str,
        image_config: dict[str, Any],
        chain_ids: list[str],
    ) -> ContainerRecord:
        """A new container for ``req`` (checked by core.containers.validate.check_create) on its image."""
        cid = new_id()
        process = resolve_process(req, image_config, cid)
        # anonymous volumes (image VOLUMEs, `-v /path`) get their names now, so `rm -v` can find them
        mounts = list(req.host_config.mounts)
        self._check_references(req)
        targets = {m.target.rstrip("/") for m in mounts}
        from core.containers.runtime_spec import volumes_from

        for m in volumes_from(self.store, req.host_config.volumes_from):
            if m.target.rstrip("/") not in targets:  # the container's own mounts win
                mounts.append(m)
                targets.add(m.target.rstrip("/"))
        for path in process.pop("image_volumes"):
            if path.rstrip("/") not in targets:
                mounts.append(Mount("volume", path))
        anonymous: list[str] = []
        for i, m in enumerate(mounts):
            if m.type == "volume" and not m.source:
                mounts[i] = replace(m, source=new_id())
                anonymous.append(mounts[i].source)
        run = replace(req, host_config=replace(req.host_config, mounts=mounts))
        # networks: refuse an unknown network, --ip/--network-alias without a user network, bad -p/--dns
        if run.host_config.network_mode not in ("host", "none"):
            self.networks().check_run(run, process.get("exposed_ports") or [])
        self.paths.containers.mkdir(parents=True, exist_ok=True)
        self._sweep_hidden()
        final = self.paths.container(cid)
        tmp = temp_name(final)
        made: list[str] = []
        try:
            # inside the try: on a full disk these fail too, and the half-made directory must not stay
            os.makedirs(tmp / "upper", mode=0o755)
            os.makedirs(tmp / "work", mode=0o700)
            os.makedirs(tmp / "rootfs", mode=0o755)
            make_init_layer(tmp / "init")
            hostname = process["hostname"]
            write_bytes(tmp / "hostname", (hostname + "\n").encode())
            write_bytes(tmp / "hosts", _hosts_file(hostname).encode())
            h = run.host_config
            if h.dns or h.dns_search or h.dns_options:
                from core.network import names

                resolv = names.resolv_content(h.dns, names.host_resolv_conf(), h.dns_search, h.dns_options)
            else:
                resolv = _resolv_conf()
            write_bytes(tmp / "resolv.conf", resolv.encode())
            with self.store.lock():
                name = self.store.check_new_name(run.name) if run.name else self.store.generate_name(cid)
                # docker makes a container's volumes at its create: `volume ls`/`rm`/`dangling` see them
                made += self._make_volumes(mounts, anonymous)
                rec = ContainerRecord(
                    id=cid,
                    name=name,
                    created=now_rfc3339(),
                    image=image_name,
                    image_id=image_id,
                    layers=chain_ids,
                    run=run,
                    process=process,
                    state=ContainerState(),
                    anonymous_volumes=anonymous,
                )
                write_json(tmp / "config.json", rec.config_json())
                write_json(tmp / "state.json", rec.state.to_json())
                os.rename(tmp, final)
        except BaseException:
            remove_tree(tmp)
            for vname in made:
                with contextlib.suppress(Exception):
                    self.volumes.remove(vname, in_use_by=[])
            raise
        for vname in made:  # docker's order: the volumes' create, then the container's
            with contextlib.suppress(Exception):
                import core.events as events

                events.emit(self.paths, "volume", "create", vname, {"driver": "local"})
        self._event("create", rec)
        return rec

    def _make_volumes(self, mounts: list[Mount], anonymous: list[str]) -> list[str]:
        """Create the volumes ``mounts`` name that do not exist yet; returns the new ones' names."""
        made: list[str] = []
        try:
            for m in mounts:
                if m.type == "volume" and m.source:
                    vol, new = self.volumes.create(m.source, anonymous=m.source in anonymous)
                    if new:
                        made.append(vol.name)
        except BaseException:
            for vname in made:
                with contextlib.suppress(Exception):
                    self.volumes.remove(vname, in_use_by=[])
            raise
        return made

    def _check_references(self, req: ContainerCreate) -> None:
        """The containers ``--pid``/``--ipc container:NAME`` and ``--link`` name exist (docker's errors)."""
        from core.containers.validate import container_ref

        h = req.host_config
        for mode in (h.pid_mode, h.ipc_mode):
            if container_ref(mode):
                self.store.resolve(container_ref(mode))
        for link in h.links:
            name = link.partition(":")[0]
            try:
                self.store.resolve(name)
            except ContainerNotFound as err:
                raise ContainerNotFound(f"could not get container for {name}: {err}") from None

    # ------------------------------------------------------------ reconcile

    def shim_alive(self, cid: str) -> bool:
        return held(self.paths.locks, f"shim-{cid}")

    def reconcile(self, rec: ContainerRecord) -> ContainerRecord:
        """If the record says running but its shim is gone, make the record true again: kill what is left
        of the container, free what the start made, and mark it exited.

        Reads (``ps``, ``inspect``, ``logs``) come through here too, so the writing is best effort: when
        the record cannot be written (disk full), the record returned still tells the truth, and the next
        command that comes by tries again (every step is safe to repeat)."""
        if rec.state.status not in RUNNING_STATES or self.shim_alive(rec.id):
            return rec
        with self.store.container_lock(rec.id):
            fresh = self.store.load(rec.id)
            if fresh is None or fresh.state.status not in RUNNING_STATES or self.shim_alive(rec.id):
                return fresh or rec
            self._kill_leftovers(fresh)
            from core.supervisor.container_process import cleanup_after_shim

            st = fresh.state
            st.status = "exited"
            st.exit_code = st.exit_code or 137
            st.error = "the container's supervisor (shim) died; the container was stopped"
            st.pid = 0
            st.finished_at = now_rfc3339()
            try:
                cleanup_after_shim(self.paths, fresh.id)
                st.network, st.ports = {}, []  # networks: cleanup_after_shim released them
                self.store.save_state(fresh.id, st)
            except OSError as err:
                reason = err.strerror or str(err)
                st.error += f" (not recorded yet: {reason[:1].lower() + reason[1:]})"
                return fresh
            self._event("die", fresh, exitCode=str(st.exit_code))
            return fresh

    def _kill_leftovers(self, rec: ContainerRecord) -> None:
        try:
            from core.runtime import cgroups

            cg = cgroups.Cgroup.open(rec.id, parent=self.cgroup_parent_of(rec))
        except Exception:
            cg = None
        if cg is not None:
            with contextlib.suppress(Exception):
                cg.kill_all(signal.SIGKILL)
            with contextlib.suppress(Exception):
                cg.destroy()
        if rec.state.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(rec.state.pid, signal.SIGKILL)

    def cgroup_parent_of(self, rec: ContainerRecord) -> str:
        """Where the container's cgroup lives: its ``--cgroup-parent``, else the engine's."""
        return rec.run.host_config.cgroup_parent.strip("/") or self.cgroup_parent

    def get(self, name_or_id: str, *, shared: bool = False) -> ContainerRecord:
        """The container, made true first (:meth:`reconcile`). ``shared``: a record to read and never change
        (see :meth:`ContainerStore.snapshot`), for reports and checks that change nothing."""
        rec = self.reconcile(self.store.resolve(name_or_id, shared=shared))
        if self._auto_remove_stopped(rec):
            raise ContainerNotFound(f"No such container: {name_or_id}")
        return rec

    def all(self, *, observed: bool = False) -> list[ContainerRecord]:
        """Every container; with ``observed``, as :meth:`observed` reports them (what ``ps`` shows): those
        records are to read, never to change (see :meth:`ContainerStore.snapshot`)."""
        self._sweep_hidden(locks=True)
        records = self.store.snapshots() if observed else self.store.records()
        recs = [r for r in map(self.reconcile, records) if not self._auto_remove_stopped(r)]
        return [self.observed(r) for r in recs] if observed else recs

    def observed(self, rec: ContainerRecord) -> ContainerRecord:
        """What a reader is told: a record that says running while its shim lives but its process is gone
        (the shim is waiting to write the exit down: a full disk) is reported exited, with the code the shim
        has; nothing is written, the shim records it once there is room. Any other record as it is. Only for
        reports (``ps``, ``inspect``): what acts on a container goes by the record and its shim."""
        st = rec.state
        if st.status != "running" or not st.pid or pid_alive(st.pid):
            return rec
        try:
            answer = protocol.request(self.sock(rec.id), {"op": "status"}, timeout=2)
        except (OSError, ConnectionError, ValueError):
            return rec
        if not answer.get("ok") or answer.get("running") is not False:
            return rec
        code = answer.get("exit_code")
        state = replace(
            st,
            status="exited",
            pid=0,
            exit_code=code if isinstance(code, int) else st.exit_code,
            finished_at=st.finished_at or now_rfc3339(),
            error=st.error or "the exit is not recorded yet: its supervisor is waiting to write it down",
        )
        return replace(rec, state=state)

    def _auto_remove_stopped(self, rec: ContainerRecord) -> bool:
        """A ``--rm`` container that is stopped with no shim left (its shim died, or could not remove it):
        remove it, as its shim would have. True when it is gone."""
        if not rec.run.host_config.auto_remove or rec.state.status not in ("exited", "dead"):
            return False
        if self.shim_alive(rec.id):
            return False  # its shim is still finishing (it removes the container itself)
        with contextlib.suppress(ContainerNotFound):
            self._remove_stopped(rec, volumes=True)
        return True

    def _sweep_hidden(self, *, locks: bool = False) -> None:
        """Finish what killed removers left out of sight (core.containers.remove.sweep_hidden); with
        ``locks``, also the lock files of containers that are gone. One listdir when there is nothing."""
        from core.containers.remove import has_hidden, sweep_hidden, sweep_lock_files

        if has_hidden(self.paths):
            sweep_hidden(self.paths, self.cgroup_parent)
        if locks:
            sweep_lock_files(self.paths)

    # ------------------------------------------------------------------ start

    def start(
        self, name_or_id: str, *, attach: bool = False, launcher: ShimLauncher | None = None
    ) -> StartHandle:
        """Hand the container to a new shim. With ``attach`` the shim waits (up to 10 s) for one attach
        client before it runs the command, so not a byte of output is missed; the caller connects with
        :meth:`StartHandle.connect` and then reads the result."""
        try:
            handle = self._start_locked(name_or_id, attach, launcher)
        except BaseException:
            if launcher is not None:
                launcher.cancel()
            # a --rm container that could not be started goes, as docker's does: nothing will ever remove
            # it otherwise (a shim that took it over removes it itself)
            with contextlib.suppress(Exception):
                rec = self.store.resolve(name_or_id)
                h = rec.run.host_config
                if h.auto_remove and rec.state.status not in RUNNING_STATES and not self.shim_alive(rec.id):
                    self._remove_stopped(rec, volumes=True)
            raise
        # outside the lock: the shim takes it to record the start
        if not attach:
            handle.result()
        return handle

    def _start_locked(self, name_or_id: str, attach: bool, launcher: ShimLauncher | None) -> StartHandle:
        rec = self.get(name_or_id)
        with self.store.container_lock(rec.id):
            rec = self.store.load(rec.id) or rec
            if rec.state.status in RUNNING_STATES:
                if launcher is not None:
                    launcher.cancel()
                if rec.state.status == "paused":
                    raise Conflict(f"cannot start a paused container {rec.name}: try unpause instead")
                return StartHandle(self, rec, None, already_running=True)
            from core.containers.runtime_spec import build_runtime

            # a shim that just reported the exit may still be releasing what the last start mounted (a
            # shareable /dev/shm, volumes with driver options): the new start must come after it
            deadline = time.monotonic() + 10
            while self.shim_alive(rec.id) and time.monotonic() < deadline:
                time.sleep(0.005)
            # networks: a bridge network's namespace, address and hosts files are made here, its links by a
            # helper process that runs while the shim is ordered; the shim waits for it (core.network)
            plan = (
                self.networks().prepare_start(self._with_links(rec))
                if rec.run.host_config.network_mode not in ("host", "none")
                else None
            )
            try:
                netns = plan.netns if plan is not None else self._network_mode(rec)
                runtime = build_runtime(self.paths, self.layers, self.volumes, rec, netns)
                runtime["cgroup"]["parent"] = self.cgroup_parent_of(rec)
                if plan is not None:
                    runtime["network"] = plan.shim
                write_json(self.paths.container(rec.id) / "runtime.json", runtime)
                st = rec.state
                st.manual_stop = False
                st.error = ""
                if plan is not None:
                    st.network, st.ports = plan.state_network, plan.state_ports
                self.store.save_state(rec.id, st)
                launcher = launcher or ShimLauncher(self.paths.root, self.paths.run)
                handle = StartHandle(self, rec, launcher.order(rec.id, attach))
                try:
                    handle.expect_listening()
                except BaseException:
                    handle.close()
                    raise
                return handle
            except BaseException:
                if plan is not None:
                    plan.abort()  # undoes it all unless a shim took the container over
                if not self.shim_alive(rec.id):
                    from core.containers.runtime_spec import release_host_mounts

                    with contextlib.suppress(Exception):
                        release_host_mounts(self.paths, rec.id)
                raise

    def _with_links(self, rec: ContainerRecord) -> ContainerRecord:
        """``--link``s become /etc/hosts lines, as docker's legacy links on the default bridge: the linked
        containers' addresses under alias, host name and name (the lines stay while the container runs)."""
        h = rec.run.host_config
        if not h.links:
            return rec
        from core.containers.runtime_spec import link_hosts

        extra = [*h.extra_hosts, *link_hosts(self.store, rec)]
        return replace(rec, run=replace(rec.run, host_config=replace(h, extra_hosts=extra)))

    def networks(self) -> NetworkManager:
        from core.network.manager import NetworkManager

        return NetworkManager(self.paths, self.config)

    def _network_mode(self, rec: ContainerRecord) -> str:
        if rec.run.host_config.network_mode == "host":
            return "host"
        # "none" and, until bridge networking exists, every other mode: a private netns with loopback up
        return "new"

    # --------------------------------------------------------- stop and kill

    def sock(self, cid: str) -> str:
        return str(self.paths.shim_socket(cid))

    def stop(self, name_or_id: str, timeout: float | None = None) -> ContainerRecord:
        rec = self.get(name_or_id)
        if rec.state.status not in RUNNING_STATES:
            return rec
        if rec.state.status == "paused":
            self.unpause(rec.id)
        t = float(timeout) if timeout is not None else float(rec.process.get("stop_timeout", 10))
        try:
            protocol.request(self.sock(rec.id), {"op": "stop", "timeout": t}, timeout=t + 30)
        except (OSError, ConnectionError):
            pass
        self._wait_exited(rec.id, 10.0)
        out = self.get(rec.id)
        self._event("stop", out)
        return out

    def kill(self, name_or_id: str, sig: int = signal.SIGKILL, *, removing: bool = False) -> ContainerRecord:
        """Signal the container through its shim. ``removing``: the record is about to go, so a shim that
        cannot write the exit down (disk full) need not wait for room to do it."""
        try:
            rec = self.get(name_or_id)
        except ContainerNotFound as err:  # docker's words: the daemon's kill names what it was asked for
            raise ContainerNotFound(f"Cannot kill container: {name_or_id}: {err}") from err
        if rec.state.status not in RUNNING_STATES:
            raise Conflict(f"Cannot kill container: {name_or_id}: Container {rec.id} is not running")
        if rec.state.status == "paused" and sig == signal.SIGKILL:
            self.unpause(rec.id)
        try:
            request = {"op": "kill", "signal": int(sig), **({"remove": True} if removing else {})}
            answer = protocol.request(self.sock(rec.id), request, timeout=10)
        except (OSError, ConnectionError) as err:
            raise RuntimeFailure(f"cannot reach the supervisor of {rec.name}: {err}")
        if not answer.get("ok"):
            raise Conflict(f"Cannot kill container: {name_or_id}: {answer.get('error')}")
        return rec  # the shim recorded the kill event, before the signal (so before the die)

    def _wait_exited(self, cid: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        gone_since: float | None = None
        while time.monotonic() < deadline:
            rec = self.store.load(cid)
            if rec is None or rec.state.status not in RUNNING_STATES:
                break
            if not self.shim_alive(cid):
                return
            # a shim that cannot write the exit down (disk full) waits for room with the container gone:
            # once its process has been gone a while, stop waiting for the record
            if rec.state.pid and not pid_alive(rec.state.pid):
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > 2.0:
                    return
            time.sleep(0.02)
        self._await_release(cid, RELEASE_TIMEOUT)

    def _await_release(self, cid: str, timeout: float) -> None:
        """Networks: after recording the exit the shim releases the address, published ports and the
        peers' hosts entries, then ends; wait for that, so what `stop`/`rm` return to finds them freed
        (`docker rm -f c && docker network rm n` must work). Seconds, not milliseconds, under load: five
        containers of a compose project stopping at once on two cores took over 2 s."""
        settle = time.monotonic() + timeout
        while self.shim_alive(cid) and time.monotonic() < settle:
            rec = self.store.load(cid)
            if rec is not None and rec.state.status in RUNNING_STATES:
                return  # restarting by its policy: nothing is released
            time.sleep(0.005)

    def wait(self, name_or_id: str) -> int:
        """Block until the container is not running; its exit code (an exit its shim has not recorded yet
        counts: :meth:`observed`)."""
        rec = self.observed(self.get(name_or_id))
        while rec.state.status in RUNNING_STATES:
            try:
                s = protocol.connect(self.sock(rec.id), {"op": "attach", "stdin": False}, timeout=5)
            except OSError:
                time.sleep(0.05)
            else:
                with s, contextlib.suppress(OSError):  # the shim may close on us as the container ends
                    reader = protocol.FrameReader()
                    while True:
                        data = s.recv(65536)
                        if not data:
                            break
                        if any(kind == protocol.EXIT for kind, _ in reader.feed(data)):
                            break
                self._wait_exited(rec.id, 5)
            latest = self.store.load(rec.id)
            if latest is None:
                return rec.state.exit_code
            rec = self.observed(self.reconcile(latest))
        return rec.state.exit_code

    # --------------------------------------------------------- pause, remove

    def pause(self, name_or_id: str) -> None:
        rec = self.get(name_or_id)
        if rec.state.status != "running":
            raise Conflict(f"Container {rec.id} is not running")
        from core.runtime import cgroups

        cgroups.Cgroup.open(rec.id, parent=self.cgroup_parent_of(rec)).freeze()
        self._set_status(rec.id, "paused")
        self._event("pause", rec)

    def unpause(self, name_or_id: str) -> None:
        rec = self.get(name_or_id)
        if rec.state.status != "paused":
            raise Conflict(f"container {rec.name} is not paused")
        from core.runtime import cgroups

        cgroups.Cgroup.open(rec.id, parent=self.cgroup_parent_of(rec)).thaw()
        self._set_status(rec.id, "running")
        self._event("unpause", rec)

    def _set_status(self, cid: str, status: str) -> None:
        with self.store.container_lock(cid):
            rec = self.store.load(cid)
            if rec is not None:
                rec.state.status = status
                self.store.save_state(cid, rec.state)

    def remove(self, name_or_id: str, *, force: bool = False, volumes: bool = False) -> ContainerRecord:
        # not get(): a stopped --rm container is removed here as asked, not reported missing
        rec = self._settled(self.reconcile(self.store.resolve(name_or_id)))
        if rec.state.status in RUNNING_STATES:
            if not force:
                todo = "Unpause and then stop" if rec.state.status == "paused" else "Stop"
                raise Conflict(
                    f"You cannot remove a {rec.state.status} container {rec.id}. {todo} the container before "
                    "attempting removal or force remove"
                )
            with contextlib.suppress(Conflict, RuntimeFailure):
                self.kill(rec.id, signal.SIGKILL, removing=True)
            self._wait_exited(rec.id, 10)
            latest = self.store.load(rec.id)
            if latest is None:
                return rec  # a --rm container: its shim removed it as it exited, which is what was asked
            rec = self.reconcile(latest)
            if rec.state.status in RUNNING_STATES:
                raise RuntimeFailure(f"could not stop container {rec.name} for removal")
        # stopped a moment ago (by `stop`, or by itself): its shim may still be releasing the network
        self._await_release(rec.id, RELEASE_TIMEOUT)
        try:
            self._remove_stopped(rec, volumes=volumes)
        except ContainerNotFound:
            if not rec.run.host_config.auto_remove:
                raise
            # its shim removed it as it exited, which is what was asked
        self._sweep_hidden(locks=True)
        return rec

    def _settled(self, rec: ContainerRecord) -> ContainerRecord:
        """A container still "created" while a shim holds it is being started (the starter has handed it
        over, or was killed after that): wait until the shim says running or failed, so it is killed rather
        than removed under a shim that would go on to run it (and write its state back into a removed
        directory)."""
        deadline = time.monotonic() + START_TIMEOUT
        while rec.state.status == "created" and self.shim_alive(rec.id) and time.monotonic() < deadline:
            time.sleep(0.01)
            rec = self.store.load(rec.id) or rec
        return rec

    def _remove_stopped(self, rec: ContainerRecord, *, volumes: bool) -> None:
        """Remove a container that does not run: what it holds outside its directory, then the directory (a
        rename under its lock, then the slow delete). Raises ContainerNotFound if someone else removed it."""
        from core.containers.remove import announce_removal, hide_container, purge_hidden, release_leftovers

        with self.store.container_lock(rec.id) as lock:
            if not self.paths.container(rec.id).exists():
                raise ContainerNotFound(f"No such container: {rec.id}")
            if not self.shim_alive(rec.id):
                # a start killed half-way (or a shim that died) left a namespace, veths, addresses or a
                # cgroup; a shim still finishing releases its own
                release_leftovers(self.paths, rec.id, self.cgroup_parent_of(rec))
            hidden = hide_container(self.paths, rec.id, volumes=volumes)
            # the lock files go at once, not after the slow delete: a remover killed from here on leaves
            # only the renamed directory, which the next sweep finishes (a shim still finishing deletes
            # its own lock when it exits)
            remove_unheld(self.paths.locks, f"shim-{rec.id}")
            lock.release(remove=True)
        purge_hidden(self.paths, hidden)
        announce_removal(self.paths, hidden)

    def update(self, name_or_id: str, update: ContainerUpdate) -> ContainerRecord:
        """``docker update``: the new settings go into the container's record (its next start uses them),
        into its runtime.json (its shim's next restart and restart decision use them) and, while it runs,
        into its cgroup at once."""
        from core.containers.validate import check_request
        from core.models import LIVE_STATES

        rec = self.get(name_or_id)
        with self.store.container_lock(rec.id):
            rec = self.store.load(rec.id) or rec
            h = rec.run.host_config
            if update.restart_policy is not None and h.auto_remove and update.restart_policy.name != "no":
                raise Conflict(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                )
            changed = {
                k: v
                for k, v in (
                    ("memory", update.memory),
                    ("memory_swap", update.memory_swap),
                    ("nano_cpus", update.nano_cpus),
                    ("pids_limit", update.pids_limit),
                    ("restart_policy", update.restart_policy),
                )
                if v is not None
            }
            new_run = replace(rec.run, host_config=replace(h, **changed))
            check_request(new_run)  # the same rules, and wording, as at create
            if rec.state.status in LIVE_STATES:
                from core.runtime import cgroups

                limits = cgroups.CgroupLimits(
                    memory=update.memory,
                    memory_swap=update.memory_swap,
                    cpu_quota=update.nano_cpus // 10000 if update.nano_cpus else None,
                    pids=update.pids_limit,
                )
                try:
                    cgroups.Cgroup.open(rec.id, parent=self.cgroup_parent_of(rec)).update(limits)
                except OSError as err:
                    raise RuntimeFailure(f"cannot update the limits of container {rec.name}: {err}") from err
            rec.run = new_run
            self.store.save_config(rec)
            self._update_runtime(rec)
        self._event("update", rec)
        return rec

    def _update_runtime(self, rec: ContainerRecord) -> None:
        """The shim re-reads these two entries of runtime.json when it decides on and makes a restart."""
        path = self.paths.container(rec.id) / "runtime.json"
        try:
            runtime = json.loads(path.read_bytes())
        except FileNotFoundError:
            return  # never started: the start writes it from the record
        h = rec.run.host_config
        runtime["restart"] = {"name": h.restart_policy.name, "max": h.restart_policy.maximum_retry_count}
        runtime.setdefault("cgroup", {}).update(
            memory=h.memory or None,
            memory_swap=h.memory_swap or None,
            cpu_quota=h.nano_cpus // 10000 if h.nano_cpus else None,
            pids=h.pids_limit,
        )
        write_json(path, runtime)

    def rename(self, name_or_id: str, new_name: str) -> None:
        rec = self.get(name_or_id)
        with self.store.lock():
            try:
                self.store.check_new_name(new_name, exclude=rec.id)
            except Conflict as err:  # docker's words
                raise Conflict(f"Error when allocating new name: {err}") from err
            rec.name = new_name
            self.store.save_config(rec)
        self._event("rename", rec)

    def _event(self, action: str, rec: ContainerRecord, **attrs: str) -> None:
        with contextlib.suppress(Exception):
            import core.events as events

            events.emit(
                self.paths, "container", action, rec.id, {"name": rec.name, "image": rec.image, **attrs}
            )


class StartHandle:
    """What ``start`` returns: for a detached start it is already done; for an attached one the caller
    connects to the shim's socket (``LocalEngine.start_attached``), then calls :meth:`result`."""

    def __init__(
        self, lc: Lifecycle, rec: ContainerRecord, ready_fd: int | None, already_running: bool = False
    ) -> None:
        self.lc = lc
        self.record = rec
        self.ready_fd = ready_fd
        self.already_running = already_running
        self._buf = b""
        self._result: dict[str, Any] | None = None

    def _line(self, timeout: float) -> dict[str, Any] | None:
        assert self.ready_fd is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeFailure(
                    f"the supervisor of {self.record.name} did not answer in {timeout:.0f} s"
                )
            r, _, _ = select.select([self.ready_fd], [], [], left)
            if not r:
                continue
            chunk = os.read(self.ready_fd, 4096)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        obj: dict[str, Any] = json.loads(line)
        return obj

    def expect_listening(self) -> None:
        msg = self._line(START_TIMEOUT)
        if msg is None:
            self.close()
            log = self.lc.paths.container(self.record.id) / "shim.log"
            tail = ""
            with contextlib.suppress(OSError):
                tail = log.read_text(errors="replace").strip().splitlines()[-1]
            raise RuntimeFailure(
                f"the supervisor of {self.record.name} failed to start: {tail or 'no output'}"
            )
        if not msg.get("listening"):
            self._result = msg
            self.close()
            self._raise_if_failed(msg)

    def result(self) -> dict[str, Any]:
        if self._result is None:
            if self.already_running:
                self._result = {"ok": True, "pid": self.record.state.pid}
            else:
                msg = self._line(START_TIMEOUT)
                self._result = msg or {"ok": False, "code": 125, "message": "the supervisor exited"}
            self.close()
        self._raise_if_failed(self._result)
        return self._result

    def _raise_if_failed(self, msg: dict[str, Any]) -> None:
        if msg.get("ok") is False:
            raise error_for_exit_code(int(msg.get("code", 125)), str(msg.get("message", "failed to start")))

    def close(self) -> None:
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None


__all__ = ["Lifecycle", "StartHandle"]
