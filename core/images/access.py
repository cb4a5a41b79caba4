"""Opening a registry client for a reference: scheme (plain HTTP for loopback and insecure registries) and
the user's stored credentials, found under the key docker would use."""

from __future__ import annotations

from core.config import Config
from core.images.reference import Reference, registry_scheme
from core.images.registry import Credentials, RegistryClient


def credentials_for(config: Config, ref: Reference) -> Credentials | None:
    from core.images import credentials

    found = credentials.lookup(config.docker_config_file, ref.credential_key)
    if found is None:
        return None
    return Credentials(found.username, found.password, getattr(found, "identity_token", "") or "")


def open_client(config: Config, ref: Reference, *, anonymous: bool = False) -> RegistryClient:
    scheme = registry_scheme(ref.domain, config.insecure_registries)
    creds = None if anonymous else credentials_for(config, ref)
    return RegistryClient(
        ref.api_host,
        scheme=scheme,
        credentials=creds,
        timeout=config.registry_read_timeout,
        retries=config.max_download_attempts,
    )
