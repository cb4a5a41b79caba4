"""Ids, digests and names: checked before any of them becomes part of a path."""

from __future__ import annotations

import os
import re

from core.errors import InvalidArgument

# \Z, not $: "$" also matches before a trailing newline, and "<id>\n" must not pass for an id
HEX64 = re.compile(r"^[a-f0-9]{64}\Z")
# docker's container name rule
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")


def check_hex64(value: str) -> str:
    """Return ``value`` if it is 64 lowercase hex digits, else raise; guards every id used in a path."""
    if not HEX64.match(value):
        raise InvalidArgument(f"invalid id {value!r}: expected 64 hexadecimal digits")
    return value


def digest_hex(digest: str) -> str:
    """``sha256:<hex>`` -> ``<hex>``, refusing any other algorithm or a malformed value."""
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo != "sha256":
        raise InvalidArgument(f"unsupported digest {digest!r}: only sha256 is supported")
    return check_hex64(hexpart)


def new_id() -> str:
    return os.urandom(32).hex()  # what secrets.token_hex does, without importing hmac and OpenSSL


# a container's name: docker's pattern, which wants two characters at least ("x" is refused)
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")


def check_name(name: str) -> str:
    """A container name, refused in docker's words."""
    if not CONTAINER_NAME.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name
