"""Named volumes: ``volumes/<name>/_data`` plus ``volumes/<name>/volume.json``, the ``local`` driver only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from core.config import Paths
from core.errors import Conflict, InvalidArgument, VolumeNotFound
from core.models import Volume
from core.record import asdict, known_fields
from core.state.ids import HEX64, NAME, new_id
from core.state.locks import FileLock
from core.state.records import read_json, remove_tree, temp_name, write_json
from core.timestamps import now_rfc3339

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    pass


def check_volume_name(name: str) -> str:
    """A local volume's name, refused in docker's words (a relative path given to ``-v`` ends up here)."""
    if not NAME.match(name) or len(name) > 255:
        raise InvalidArgument(  # docker's words
            f'"{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use '
            "absolute path"
        )
    return name


class VolumeStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "volumes")

    def _dir(self, name: str) -> Path:
        return self.paths.volumes / check_volume_name(name)

    def data_dir(self, name: str) -> Path:
        return self._dir(name) / "_data"

    def get(self, name: str) -> Volume:
        if not NAME.match(name) or len(name) > 255:  # no volume has such a name: docker's words
            raise VolumeNotFound(f"get {name}: no such volume")
        d = self._dir(name)
        try:
            rec = read_json(d / "volume.json")
        except FileNotFoundError:
            raise VolumeNotFound(f"get {name}: no such volume")
        vol = Volume(**known_fields(Volume, rec))
        vol.mountpoint = str(d / "_data")
        return vol

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "volume.json").is_file()

    def all(self) -> list[Volume]:
        try:
            names = sorted(os.listdir(self.paths.volumes))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            if NAME.match(n) and not n.startswith(".tmp-"):
                try:
                    out.append(self.get(n))
                except VolumeNotFound:
                    continue
        return out

    def create(
        self,
        name: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> tuple[Volume, bool]:
        """Create (or return the existing) volume; the bool says whether it is new. Atomic: the directory
        is built under a temp name and renamed into place. ``anonymous``: a container's ``-v /path`` or
        image VOLUME, named by the container's create (a ``volume prune`` without ``-a`` takes those)."""
        anonymous = anonymous or name is None
        vol_name = name or new_id()
        if options:
            check_options(vol_name, options)
        try:
            final = self._dir(vol_name)
        except InvalidArgument as err:
            raise InvalidArgument(f"create {vol_name}: {err}") from err
        with self.lock():
            if self.exists(vol_name):
                return self.get(vol_name), False
            self.paths.volumes.mkdir(parents=True, exist_ok=True)
            tmp = temp_name(final)
            os.makedirs(tmp / "_data", mode=0o755)
            vol = Volume(
                name=vol_name,
                created=now_rfc3339(),
                labels=labels or {},
                options=options or {},
                anonymous=anonymous,
            )
            write_json(tmp / "volume.json", {k: v for k, v in asdict(vol).items() if k != "mountpoint"})
            if final.exists():  # a half-made one from a killed process: it has no volume.json
                remove_tree(final)
            os.rename(tmp, final)
        vol.mountpoint = str(final / "_data")
        return vol, True

    def remove(self, name: str, *, in_use_by: list[str], force: bool = False) -> None:
        with self.lock():
            self.get(name)
            if in_use_by:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(in_use_by)}]")
            final = self._dir(name)
            self._never_mounted(name)
            # rename first so a crash mid-delete leaves a sweepable temp dir, not a broken volume
            tmp = temp_name(final)
            os.rename(final, tmp)
            remove_tree(tmp)

    # -- the local driver's type/device/o options: mounted on _data while containers use the volume

    def _users(self, name: str) -> Path:
        return self.paths.run / "volume-users" / name

    def _user_lock(self, name: str) -> FileLock:
        return FileLock(self.paths.locks, f"volume-{name}")

    def mount_for(self, name: str, cid: str) -> None:
        """Container ``cid`` uses volume ``name``: its device is mounted on ``_data`` unless it already is
        (docker's local driver mounts at the first user's start, unmounts after the last one's stop)."""
        vol = self.get(name)
        opts = vol.options
        data = self.data_dir(name)
        with self._user_lock(name):
            users = self._users(name)
            users.mkdir(parents=True, exist_ok=True)
            (users / cid).touch()
            from core.runtime import hostmounts

            if hostmounts.is_mounted(data):
                return
            try:
                hostmounts.mount(opts.get("device", ""), data, opts.get("type", ""), opts.get("o", ""))
            except OSError as err:
                (users / cid).unlink(missing_ok=True)
                with _suppress_oserror():
                    users.rmdir()
                flags = hostmounts.mount_flags(opts.get("o", ""))
                shown = f", flags: {flags:#x}" if flags else ""
                reason = (err.strerror or str(err)).lower()
                raise InvalidArgument(
                    f"error while mounting volume '{data}': failed to mount local volume: "
                    f"mount {opts.get('device', '')}:{data}{shown}: {reason}"
                ) from None

    def release_user(self, cid: str) -> None:
        """Container ``cid`` stopped: each volume it had mounted is unmounted if no other container that
        is starting or running still uses it."""
        base = self.paths.run / "volume-users"
        try:
            names = [n for n in os.listdir(base) if (base / n / cid).exists()]
        except FileNotFoundError:
            return
        from core.state.locks import held

        for name in names:
            with self._user_lock(name):
                users = self._users(name)
                (users / cid).unlink(missing_ok=True)
                for other in os.listdir(users):
                    alive = held(self.paths.locks, f"shim-{other}") or held(
                        self.paths.locks, f"container-{other}"
                    )
                    if not alive:
                        (users / other).unlink(missing_ok=True)
                if not os.listdir(users):
                    from core.runtime import hostmounts

                    hostmounts.unmount(self.data_dir(name))
                    with _suppress_oserror():
                        users.rmdir()

    def _never_mounted(self, name: str) -> None:
        """Before a delete: nothing may be mounted on _data (a bind volume's files are the host's)."""
        data = self.data_dir(name)
        if not self.get(name).options.get("type"):
            return
        from core.runtime import hostmounts

        hostmounts.unmount(data)
        if hostmounts.is_mounted(data):
            raise Conflict(f"remove {name}: its device is still mounted on {data}")

    def is_anonymous(self, name: str) -> bool:
        try:
            return self.get(name).anonymous
        except VolumeNotFound:
            return HEX64.match(name) is not None

    def is_empty(self, name: str) -> bool:
        """Nothing in the volume's ``_data`` (docker copies the image's files only into an empty volume)."""
        with os.scandir(self.data_dir(name)) as it:
            return next(it, None) is None

    def size(self, name: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.data_dir(name)):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
                except OSError:
                    pass
        return total


# the local driver's options (docker's validOpts) and the ones "type"/"device" need together
LOCAL_OPTIONS = ("type", "device", "o", "size")


def check_options(name: str, options: dict[str, str]) -> None:
    """``volume create -o``, as docker's local driver checks them (its wording)."""
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f'create {name}: invalid option: "{key}"')
    if "size" in options:
        raise InvalidArgument(f"create {name}: quota size requested but no quota support")
    if options.get("type") or options.get("device"):
        for key in ("device", "type"):
            if key not in options:
                raise InvalidArgument(f'create {name}: missing required option: "{key}"')


def _suppress_oserror() -> contextlib.suppress:
    return contextlib.suppress(OSError)
