"""NAT, port forwarding and isolation in one nftables table of our own (``table ip dockyard`` by default).

The table is rebuilt whole from the run dir's records (bridges made in this boot, published ports of
running containers) and loaded in one ``nft -f`` transaction: ``table ip T`` + ``delete table ip T`` +
the new table. Rebuilding under a lock from the records makes every change idempotent and self-healing; an
identical ruleset is not reloaded. No other table is ever read, changed or flushed. When no bridge is left,
the table is deleted.

What the table does:
* masquerade what leaves a non-internal bridge's subnet for another interface (outbound NAT);
* DNAT published ports: in prerouting (from outside, and from containers: hairpin) and in output (from the
  host itself, 127.0.0.1 included), for destinations that are local addresses of the host;
* masquerade connections that reach a container from 127.0.0.0/8 (the bridge carries
  ``route_localnet=1`` so the kernel routes such packets at all) or hairpin back into their own bridge,
  so the replies come back through the host;
* drop forwarding between two of our bridges (networks are isolated from each other), and into or out of
  an internal network's bridge.

If another table's forward chain drops packets (a host firewall with policy drop), ours cannot override it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from typing import Any

from core.errors import InvalidArgument, RuntimeFailure
from core.network.endpoints import all_attachments
from core.network.layout import NetPaths
from core.state.locks import FileLock
from core.state.records import read_json, record_ids, write_bytes

_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def check_table(name: str) -> str:
    if not _TABLE.match(name):
        raise InvalidArgument(f"invalid nft table name {name!r}: a letter, then up to 31 of [A-Za-z0-9_]")
    return name


def nft_binary() -> str | None:
    found = shutil.which("nft")
    if found:
        return found
    for cand in ("/usr/sbin/nft", "/sbin/nft"):
        if os.access(cand, os.X_OK):
            return cand
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def render(table: str, bridges: list[dict[str, Any]], ports: list[dict[str, Any]]) -> str:
    """The nft script that replaces our table (or only deletes it when there is nothing to do)."""
    t = check_table(table)
    head = f"table ip {t}\ndelete table ip {t}\n"
    if not bridges and not ports:
        return head
    lines = [head, f"table ip {t} {{\n"]
    lines.append(
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tfib daddr type local jump published\n\t}\n"
        "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tfib daddr type local jump published\n\t}\n"
    )
    lines.append("\tchain published {\n")
    for p in sorted(ports, key=lambda p: (p["protocol"], int(p["host_port"]), p.get("host_ip", ""))):
        match = f"ip daddr {p['host_ip']} " if p.get("host_ip") else ""
        lines.append(
            f"\t\t{match}meta l4proto {p['protocol']} th dport {int(p['host_port'])} "
            f"dnat to {p['ip']}:{int(p['container_port'])}\n"
        )
    lines.append("\t}\n")
    lines.append("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
    for b in bridges:
        br = _q(b["bridge"])
        if not b.get("internal"):
            lines.append(f"\t\tip saddr {b['subnet']} oifname != {br} masquerade\n")
        lines.append(f"\t\toifname {br} ip saddr 127.0.0.0/8 masquerade\n")
        lines.append(f"\t\toifname {br} ip saddr {b['subnet']} ct status dnat masquerade\n")
    lines.append("\t}\n")
    lines.append("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
    names = [b["bridge"] for b in bridges]
    for b in bridges:
        others = [n for n in names if n != b["bridge"]]
        br = _q(b["bridge"])
        if b.get("internal"):
            lines.append(f"\t\tiifname {br} oifname != {br} drop\n")
            lines.append(f"\t\toifname {br} iifname != {br} drop\n")
        elif others:
            lines.append(f"\t\tiifname {br} oifname {{ {', '.join(_q(o) for o in others)} }} drop\n")
    lines.append("\t}\n}\n")
    return "".join(lines)


def bridge_markers(np: NetPaths) -> list[dict[str, Any]]:
    out = []
    for network_id in record_ids(np.bridges):
        try:
            out.append(read_json(np.bridge_marker(network_id)))
        except FileNotFoundError:
            continue
    return out


def published(np: NetPaths) -> list[dict[str, Any]]:
    """Every published port of every attached container, with the address it forwards to."""
    return [p for att in all_attachments(np) for p in att.ports if p.get("ip")]


def sync(np: NetPaths, table: str) -> None:
    """Make our table match the records. Without nft there are no rules to make (and none to remove)."""
    nft = nft_binary()
    if nft is None:
        return
    with FileLock(np.locks, "nat"):
        script = render(table, bridge_markers(np), published(np))
        try:
            if np.nft_applied.read_text() == script:
                return
        except FileNotFoundError:
            pass
        # forget what was applied before loading: an nft that finishes loading after we were killed must
        # not leave a record of the old ruleset, which would make the next sync skip its reload for good
        with contextlib.suppress(FileNotFoundError):
            os.unlink(np.nft_applied)
        proc = subprocess.run(
            [nft, "-f", "-"], input=script, capture_output=True, text=True, timeout=30, check=False
        )
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["no error output"])[0]
            raise RuntimeFailure(f"cannot load the nftables rules of table ip {table}: {detail}")
        write_bytes(np.nft_applied, script.encode())


def set_sysctl(path: str, value: str) -> None:
    """Write a /proc/sys value if it differs (the write is what needs privilege, and it is not free)."""
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(value)
