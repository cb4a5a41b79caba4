"""Where things live and the engine's settings.

The root (``DOCKYARD_ROOT`` or ``--root``, default ``/var/lib/dockyard``) holds persistent state; the run dir
(``DOCKYARD_RUN``, default ``/run/dockyard``) holds what must vanish at reboot: network namespaces, shim
sockets, locks. Settings docker keeps in ``daemon.json`` (``insecure-registries``, ...) are read from
``<root>/daemon.json`` or the file named by ``DOCKYARD_CONFIG``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.errors import InvalidArgument
from core.locations import DEFAULT_ROOT, DEFAULT_RUN, root_dir, run_dir
from core.record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_platform() -> str:
    """The host's platform in OCI form, e.g. ``linux/amd64`` or ``linux/arm64/v8``."""
    machine = os.uname().machine
    arch = _GOARCH.get(machine, machine)
    if arch == "arm64":
        return "linux/arm64/v8"
    if arch == "arm":
        return "linux/arm/v7"
    return f"linux/{arch}"


@record(frozen=True)
class Paths:
    """Every path under the root and run dir; the only place their shape is spelled out."""

    root: Path
    run: Path

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def networks(self) -> Path:
        return self.root / "networks"

    @property
    def tmp(self) -> Path:
        """Scratch space on the same filesystem as the store, so finished work is renamed into place."""
        return self.root / "tmp"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def locks(self) -> Path:
        return self.run / "locks"

    @property
    def netns(self) -> Path:
        return self.run / "netns"

    @property
    def shims(self) -> Path:
        return self.run / "shims"

    def shim_socket(self, container_id: str) -> Path:
        """The shim's socket. AF_UNIX paths are limited to 108 bytes, so it is named by a 16-hex-digit
        prefix of the id (64 bits: unique among any number of containers one host will hold)."""
        from core.state.ids import check_hex64

        return self.shims / f"{check_hex64(container_id)[:16]}.sock"

    def blob(self, digest_hex: str) -> Path:
        from core.state.ids import check_hex64

        return self.blobs / check_hex64(digest_hex)

    def layer(self, chain_id_hex: str) -> Path:
        from core.state.ids import check_hex64

        return self.layers / check_hex64(chain_id_hex)

    def image(self, image_id_hex: str) -> Path:
        from core.state.ids import check_hex64

        return self.images / f"{check_hex64(image_id_hex)}.json"

    def container(self, container_id: str) -> Path:
        from core.state.ids import check_hex64

        return self.containers / check_hex64(container_id)


@record
class Config:
    root: Path = Path(DEFAULT_ROOT)
    run: Path = Path(DEFAULT_RUN)
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    docker_config: Path | None = None  # directory holding config.json; default ~/.docker or $DOCKER_CONFIG
    platform: str = field(default_factory=host_platform)
    max_concurrent_downloads: int = 3
    # retries of one blob download after its first try, as docker's "max-download-attempts" (docker: 5)
    max_download_attempts: int = 5
    # seconds without a byte from a registry before the read counts as a failure (and is retried)
    # ["registry-read-timeout"], env DOCKYARD_REGISTRY_READ_TIMEOUT
    registry_read_timeout: float = 30.0
    # containers' cgroups live under <controller>/<cgroup_parent>/<id>; tests use their own parent
    cgroup_parent: str = field(default_factory=lambda: os.environ.get("DOCKYARD_CGROUP_PARENT") or "dockyard")
    # networks (core.network); daemon.json keys in brackets. Defaults stay clear of docker's 172.17.0.0/16
    # and podman's 10.88.0.0/16 (and its 10.89.x.0/24 user networks).
    bridge: str = "dockyard0"  # the default network's bridge interface ["bridge"]
    bip: str = "10.199.0.1/24"  # the default bridge's address and subnet ["bip"]
    # where `network create` without --subnet takes a subnet from ["default-address-pools"]
    address_pools: list[dict[str, Any]] = field(
        default_factory=lambda: [{"base": "10.199.0.0/16", "size": 24}]
    )
    mtu: int = 1500  # of the bridges and the containers' interfaces ["mtu"]
    nft_table: str = "dockyard"  # our own `table ip <name>` for NAT and isolation ["nft-table"]

    @property
    def paths(self) -> Paths:
        return Paths(self.root, self.run)

    @property
    def docker_config_file(self) -> Path:
        base = self.docker_config or Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        return Path(base) / "config.json"

    @classmethod
    def load(
        cls, root: str | os.PathLike[str] | None = None, run: str | os.PathLike[str] | None = None
    ) -> Config:
        """Settings from flags, then environment, then ``daemon.json``, then defaults."""
        root_path = Path(root_dir(root))
        run_path = Path(run_dir(run))
        cfg = cls(root=root_path, run=run_path)
        settings_file = Path(os.environ.get("DOCKYARD_CONFIG") or root_path / "daemon.json")
        if settings_file.is_file():
            try:
                data = json.loads(settings_file.read_text())
            except (OSError, ValueError) as err:
                raise InvalidArgument(f"cannot read settings file {settings_file}: {err}") from err
            if not isinstance(data, dict):
                raise InvalidArgument(f"settings file {settings_file} must hold a JSON object")
            cfg.insecure_registries = list(data.get("insecure-registries", []))
            cfg.registry_mirrors = list(data.get("registry-mirrors", []))
            cfg.max_concurrent_downloads = int(
                data.get("max-concurrent-downloads", cfg.max_concurrent_downloads)
            )
            if "max-download-attempts" in data:
                cfg.max_download_attempts = _attempts(
                    data["max-download-attempts"], f'settings file {settings_file}: "max-download-attempts"'
                )
            if "registry-read-timeout" in data:
                cfg.registry_read_timeout = _seconds(
                    data["registry-read-timeout"], f'settings file {settings_file}: "registry-read-timeout"'
                )
            cfg.bridge = str(data.get("bridge", cfg.bridge))
            cfg.bip = str(data.get("bip", cfg.bip))
            if "default-address-pools" in data:
                pools = data["default-address-pools"]
                if not isinstance(pools, list) or not all(isinstance(x, dict) and "base" in x for x in pools):
                    raise InvalidArgument(
                        f'settings file {settings_file}: "default-address-pools" must be a list of '
                        '{"base": CIDR, "size": N} objects'
                    )
                cfg.address_pools = [dict(x) for x in pools]
            cfg.mtu = int(data.get("mtu", cfg.mtu))
            cfg.nft_table = str(data.get("nft-table", cfg.nft_table))
        env_insecure = os.environ.get("DOCKYARD_INSECURE_REGISTRIES")
        if env_insecure:
            cfg.insecure_registries += [h.strip() for h in env_insecure.split(",") if h.strip()]
        env_timeout = os.environ.get("DOCKYARD_REGISTRY_READ_TIMEOUT")
        if env_timeout:
            cfg.registry_read_timeout = _seconds(env_timeout, "DOCKYARD_REGISTRY_READ_TIMEOUT")
        env_attempts = os.environ.get("DOCKYARD_MAX_DOWNLOAD_ATTEMPTS")
        if env_attempts:
            cfg.max_download_attempts = _attempts(env_attempts, "DOCKYARD_MAX_DOWNLOAD_ATTEMPTS")
        return cfg


def _seconds(value: object, where: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = 0.0
    if not 0 < seconds < 86400:  # NaN fails this too
        raise InvalidArgument(f"{where} must be a number of seconds above 0 (not {value!r})")
    return seconds


def _attempts(value: object, where: str) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise InvalidArgument(f"{where} must be a whole number of retries, 0 or more (not {value!r})")
    return int(str(value).strip())
