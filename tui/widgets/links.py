"""Published ports as URLs (``w`` on a container) and the OSC 8 hyperlink a terminal makes clickable.

A link is drawn as Rich text with a ``link`` style: Textual writes it as OSC 8 (``ESC ] 8 ; ; URL ST``)
around the text, which terminals pass through SSH and tmux (3.4+) like any other output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

UNSPECIFIED = ("", "0.0.0.0", "::")


def port_urls(ports: Sequence[Any], host: str | None = None) -> list[tuple[str, str]]:
    """(label, URL) for each published TCP port of a container (``PortBinding``s), first the lowest port:
    ``http://127.0.0.1:8080`` for a port bound on every address (or ``host``, the engine's host when it is
    another machine), ``http://IP:PORT`` for one bound on an address; https for container port 443/8443."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for p in sorted(ports, key=lambda p: (p.container_port, p.host_ip, p.host_port)):
        if p.protocol != "tcp" or not p.host_port:
            continue
        ip = p.host_ip if p.host_ip not in UNSPECIFIED else (host or "127.0.0.1")
        shown = f"[{ip}]" if ":" in ip else ip
        scheme = "https" if p.container_port in (443, 8443) else "http"
        url = f"{scheme}://{shown}:{p.host_port}"
        if url in seen:
            continue
        seen.add(url)
        out.append((f"{p.host_port}->{p.container_port}/tcp", url))
    return out


def link_text(url: str, label: str = "") -> Any:
    """A Rich Text of ``url`` that is a hyperlink to it (OSC 8 once Textual draws it)."""
    from rich.style import Style
    from rich.text import Text

    return Text(label or url, style=Style(link=url, underline=True))
