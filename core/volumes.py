"""Named volumes: ``volumes/<name>/_data`` plus ``volumes/<name>/volume.json``, the ``local`` driver only."""

from __future__ import annotations

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


class VolumeStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "volumes")

    def _dir(self, name: str) -> Path:
        if not NAME.match(name) or len(name) > 255:
            raise InvalidArgument(f"invalid volume name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        return self.paths.volumes / name

    def data_dir(self, name: str) -> Path:
        return self._dir(name) / "_data"

    def get(self, name: str) -> Volume:
        d = self._dir(name)
        try:
            rec = read_json(d / "volume.json")
        except FileNotFoundError:
            raise VolumeNotFound(f"no such volume: {name}")
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
    ) -> tuple[Volume, bool]:
        """Create (or return the existing) volume; the bool says whether it is new. Atomic: the directory
        is built under a temp name and renamed into place."""
        if options:
            unknown = set(options) - {"type", "device", "o", "size"}
            if unknown:
                raise InvalidArgument(
                    f"unsupported volume options for the local driver: {', '.join(sorted(unknown))}"
                )
        anonymous = name is None
        vol_name = name or new_id()
        final = self._dir(vol_name)
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
            # rename first so a crash mid-delete leaves a sweepable temp dir, not a broken volume
            tmp = temp_name(final)
            os.rename(final, tmp)
            remove_tree(tmp)

    def is_anonymous(self, name: str) -> bool:
        try:
            return self.get(name).anonymous
        except VolumeNotFound:
            return HEX64.match(name) is not None

    def size(self, name: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.data_dir(name)):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
                except OSError:
                    pass
        return total
