"""Name resolution the way docker's user-defined networks behave, without a DNS server: every container's
``/etc/hosts`` lists the containers it shares a network with, by name, network alias and short id, and is
rewritten whenever one of them joins or leaves.

The files are bind-mounted from the container's directory into the container, so they are rewritten in
place: a rename would put a new inode beside the one the bind mount holds, and the container would never
see it. All rewrites happen under one ``hosts`` lock (a container can be on several networks, so one lock
keeps the order simple).

The default network (docker's "bridge") resolves no names but the container's own, as docker's does.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from core.errors import InvalidArgument
from core.network.endpoints import Attachment, all_attachments
from core.network.layout import NetPaths
from core.state.locks import FileLock

BASE_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
HOST_GATEWAY = "host-gateway"


def check_extra_host(item: str) -> tuple[str, str]:
    """``--add-host NAME:IP`` (docker also takes ``NAME=IP``); IP may be ``host-gateway``."""
    sep = "=" if "=" in item else ":"
    name, found, ip = item.partition(sep)
    name, ip = name.strip(), ip.strip().strip("[]")
    if not found or not name or not ip:
        raise InvalidArgument(f"invalid --add-host {item!r}: expected NAME:IP")
    if ip != HOST_GATEWAY:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid --add-host {item!r}: {ip!r} is not an IP address") from None
    return name, ip


def _line(ip: str, names: list[str]) -> str:
    seen: list[str] = []
    for n in names:
        if n and n not in seen:
            seen.append(n)
    return f"{ip}\t{' '.join(seen)}\n"


def hosts_content(att: Attachment, everyone: list[Attachment]) -> str:
    """The whole /etc/hosts of ``att``: localhost lines, --add-host lines, its own addresses, then its
    peers on each network that resolves names."""
    out = [BASE_HOSTS]
    gateway = att.endpoints[0].gateway if att.endpoints else ""
    for item in att.extra_hosts:
        name, ip = check_extra_host(item)
        if ip == HOST_GATEWAY:
            if not gateway:
                continue
            ip = gateway
        out.append(_line(ip, [name]))
    for i, ep in enumerate(att.endpoints):
        own = [att.hostname] if i == 0 else []
        if ep.dns:
            own += [att.name, *ep.aliases]
        out.append(_line(ep.ip, own or [att.hostname]))
    for ep in att.endpoints:
        if not ep.dns:
            continue
        for other in everyone:
            if other.cid == att.cid:
                continue
            oep = other.endpoint(ep.network_id)
            if oep is not None:
                out.append(_line(oep.ip, [other.name, *oep.aliases, other.cid[:12]]))
    return "".join(out)


def resolv_content(
    dns: list[str], host_text: str, search: list[str] | None = None, options: list[str] | None = None
) -> str:
    """The host's resolv.conf with loopback and IPv6 resolvers dropped (they mean nothing inside the
    container), or with ``--dns`` servers instead of the host's; docker's public fallback if none is left.
    With ``--dns-search``/``--dns-option`` too, the file is built as docker builds it: a search line (none
    for "."), the servers, an options line, each taken from the host's file when not given."""
    if search or options:
        return _built_resolv(dns, host_text, search or [], options or [])
    out: list[str] = []
    servers = 0
    for line in host_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "nameserver":
            if dns or len(parts) < 2:
                continue
            addr = parts[1]
            if addr.startswith("127.") or ":" in addr:
                continue
            servers += 1
        out.append(line)
    for server in dns:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidArgument(f"invalid --dns {server!r}: expected an IP address") from None
        out.append(f"nameserver {server}")
    if not servers and not dns:
        out += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(out) + "\n"


def _built_resolv(dns: list[str], host_text: str, search: list[str], options: list[str]) -> str:
    host_search: list[str] = []
    host_options: list[str] = []
    for line in host_text.splitlines():
        parts = line.split()
        if parts and parts[0] in ("search", "domain"):
            host_search = parts[1:]
        elif parts and parts[0] == "options":
            host_options += parts[1:]
    servers = [
        line.split()[1]
        for line in resolv_content(dns, host_text).splitlines()
        if line.startswith("nameserver") and len(line.split()) > 1
    ]
    search = search or host_search
    options = options or host_options
    out = []
    if search and search[0] != ".":
        out.append("search " + " ".join(search))
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def host_resolv_conf() -> str:
    try:
        return Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""


def write_in_place(path: str | Path, content: str) -> None:
    """Overwrite the file's bytes, keeping its inode (the container's bind mount holds that inode)."""
    data = content.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def hosts_lock(np: NetPaths) -> FileLock:
    return FileLock(np.locks, "hosts")


def refresh(np: NetPaths, network_ids: set[str], also: set[str] | None = None) -> None:
    """Rewrite the hosts file of every container on a name-resolving network in ``network_ids``, and of
    the containers in ``also`` (ids)."""
    also = also or set()
    with hosts_lock(np):
        everyone = all_attachments(np)
        for att in everyone:
            affected = att.cid in also or any(ep.dns and ep.network_id in network_ids for ep in att.endpoints)
            if not affected or not att.hosts_path:
                continue
            try:
                write_in_place(att.hosts_path, hosts_content(att, everyone))
            except FileNotFoundError:
                continue  # removed meanwhile (run --rm)
