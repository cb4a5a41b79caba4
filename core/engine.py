"""Engine — the one facade both faces call. Thin: it sequences the rooms under core/, holding no logic."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

from core.config import Config
from core.errors import InvalidArgument
from core.images.reference import Reference, parse_reference
from core.images.store import ImageRecord, ImageStore
from core.models import ImageSummary, PullProgress, PullResult, RemovedImage
from core.storage.layers import LayerStore

Progress = Callable[[PullProgress], None]


class Engine:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.load()
        self.paths = self.config.paths
        self.images = ImageStore(self.paths)
        self.layers = LayerStore(self.paths)

    # ------------------------------------------------------------------ images

    def pull(
        self, reference: str, *, platform: str | None = None, progress: Progress | None = None
    ) -> PullResult:
        from core.images.access import open_client
        from core.images.pull import Puller

        ref = parse_reference(reference)
        with open_client(self.config, ref) as client:
            pulled = Puller(self.config, self.images, self.layers).pull(
                client, ref, platform=platform, progress=progress
            )
        return PullResult(str(ref), pulled.manifest_digest, self._summary(pulled.record), pulled.new)

    def list_images(self, *, all: bool = False) -> list[ImageSummary]:
        users = self._image_users()
        out = [self._summary(r, users) for r in self.images.records()]
        return sorted(out, key=lambda s: s.created, reverse=True)

    def resolve_image(self, name: str) -> ImageRecord:
        return self.images.resolve(name)

    def inspect_image(self, name: str) -> dict[str, Any]:
        record = self.images.resolve(name)
        cfg = json.loads(self.images.read_blob(record.config_digest))
        return {
            "Id": record.id,
            "RepoTags": [parse_reference(t).familiar() for t in record.repo_tags],
            "RepoDigests": [_familiar_digest(d) for d in record.repo_digests],
            "Parent": "",
            "Comment": (cfg.get("history") or [{}])[-1].get("comment", "") if cfg.get("history") else "",
            "Created": cfg.get("created", ""),
            "Author": cfg.get("author", ""),
            "Config": cfg.get("config") or {},
            "Architecture": cfg.get("architecture", ""),
            "Variant": cfg.get("variant", ""),
            "Os": cfg.get("os", ""),
            "Size": record.size,
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "LowerDir": ":".join(
                        str(self.layers.diff_dir(layer.chain_id)) for layer in reversed(record.layers)
                    )
                },
            },
            "RootFS": {"Type": "layers", "Layers": [layer.diff_id for layer in record.layers]},
            "Metadata": {"LastTagTime": ""},
            "Descriptor": {"mediaType": record.manifest_media_type, "digest": record.manifest_digest},
        }

    def image_config(self, record: ImageRecord) -> dict[str, Any]:
        cfg: dict[str, Any] = json.loads(self.images.read_blob(record.config_digest))
        return cfg

    def tag_image(self, source: str, target: str) -> None:
        ref = parse_reference(target)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        with self.images.lock():
            record = self.images.resolve(source)
            self.images.add_tag(record, ref)

    def remove_image(self, name: str, *, force: bool = False) -> RemovedImage:
        from core.images.manage import remove_image

        return remove_image(self.images, self.layers, name, force=force, in_use=self._image_users())

    def prune_images(self, *, all: bool = False) -> tuple[RemovedImage, int]:
        from core.images.manage import prune_images

        return prune_images(self.images, self.layers, all_unused=all, in_use=self._image_users())

    def push(self, reference: str, *, progress: Progress | None = None, chunk_size: int | None = None) -> str:
        from core.images.access import open_client
        from core.images.push import push

        ref = parse_reference(reference)
        record = self.images.resolve(reference)
        with open_client(self.config, ref) as client:
            return push(client, self.images, record, ref, progress, chunk_size=chunk_size)

    def save_images(self, names: list[str], out: BinaryIO) -> None:
        from core.images.archive import save

        items = []
        for name in names:
            record = self.images.resolve(name)
            tags = [name] if not record.hex.startswith(name.removeprefix("sha256:")) else []
            items.append((record, [str(parse_reference(t)) for t in tags]))
        save(self.images, items, out)

    def load_images(self, src: BinaryIO, *, progress: Progress | None = None) -> list[str]:
        from core.images.archive import load

        return load(self.images, self.layers, src, progress)

    def login(self, server: str, username: str, password: str) -> str:
        """Check the credentials against the registry, then store them like docker; returns the key used."""
        from core.images import credentials
        from core.images.reference import registry_scheme
        from core.images.registry import Credentials, RegistryClient

        ref = _server_reference(server)
        scheme = registry_scheme(ref.domain, self.config.insecure_registries)
        with RegistryClient(
            ref.api_host, scheme=scheme, credentials=Credentials(username, password)
        ) as client:
            client.ping()
        credentials.store(self.config.docker_config_file, ref.credential_key, username, password)
        return ref.credential_key

    def logout(self, server: str) -> bool:
        from core.images import credentials

        ref = _server_reference(server)
        return credentials.erase(self.config.docker_config_file, ref.credential_key)

    # ---------------------------------------------------------------- helpers

    def _summary(self, record: ImageRecord, users: dict[str, list[str]] | None = None) -> ImageSummary:
        users = users if users is not None else self._image_users()
        return ImageSummary(
            id=record.id,
            repo_tags=[parse_reference(t).familiar() for t in record.repo_tags],
            repo_digests=[_familiar_digest(d) for d in record.repo_digests],
            created=record.created,
            size=record.size,
            containers=len(users.get(record.id, [])),
        )

    def _image_users(self) -> dict[str, list[str]]:
        """image id -> names of the containers created from it."""
        users: dict[str, list[str]] = {}
        try:
            entries = list(self.paths.containers.iterdir())
        except FileNotFoundError:
            return users
        for entry in entries:
            try:
                cfg = json.loads((entry / "config.json").read_bytes())
            except (OSError, ValueError):
                continue
            image_id = cfg.get("image_id")
            if image_id:
                users.setdefault(image_id, []).append(cfg.get("name", entry.name[:12]))
        return users


def _familiar_digest(entry: str) -> str:
    name, _, digest = entry.rpartition("@")
    try:
        return f"{parse_reference(name).familiar_name}@{digest}"
    except InvalidArgument:
        return entry


def _server_reference(server: str) -> Reference:
    """``dockyard login [SERVER]``: no server means Docker Hub, like docker."""
    text = (server or "docker.io").strip()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0]
    if text in ("index.docker.io", "registry-1.docker.io"):
        text = "docker.io"
    return parse_reference(f"{text}/x")
