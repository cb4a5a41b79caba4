"""The engine's event log: an append-only JSON-lines file under the root that any process writes and follows.

There is no daemon to broadcast events, so the file is the bus: every dockyard process appends a line per
event (``create``, ``start``, ``die``, ``pull``, ...) and ``dockyard events`` or the TUI follow it. A line
is docker's events message (``Type``, ``Action``, ``Actor``, ``scope``, ``time``, ``timeNano``), so a
future Engine-API face can pass it through as it is.

Concurrency: an event is one ``write`` on an ``O_APPEND`` descriptor (Linux appends it whole, whatever
other writers do) and lines are kept under 4 KiB. Size: when the file passes half of :data:`MAX_BYTES` it
is renamed to ``events.jsonl.1`` (replacing the previous one), so the pair holds between half and all of
``MAX_BYTES``, newest events kept. Writers hold a shared lock while they write and the rotation takes it
exclusively, so once ``events.jsonl`` has been renamed nobody writes to the old file again: a follower that
sees the name point at a new file finishes the old one and moves on, missing and repeating nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from core.config import Paths
from core.errors import InvalidArgument
from core.state.locks import FileLock

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    import threading

    from core.models import Event


MAX_BYTES = 16 * 1024 * 1024
LINE_LIMIT = 4000  # under PIPE_BUF, so even a reader of a FIFO copy would see whole lines
_KEEP_FIRST = ("name", "image", "exitCode", "container", "type", "signal", "driver")
_FILTER_KEYS = ("type", "event", "container", "image", "label", "network", "volume")


def _encode(ns: int, type_: str, action: str, actor_id: str, attributes: Mapping[str, str]) -> bytes:
    def line(attrs: Mapping[str, str]) -> bytes:
        obj = {
            "Type": type_,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attrs)},
            "scope": "local",
            "time": ns // 1_000_000_000,
            "timeNano": ns,
        }
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"

    out = line(attributes)
    if len(out) <= LINE_LIMIT:
        return out
    # too big (long labels): keep the attributes that identify the actor, then whatever still fits
    kept: dict[str, str] = {}
    ordered = [k for k in _KEEP_FIRST if k in attributes] + sorted(
        k for k in attributes if k not in _KEEP_FIRST
    )
    for key in ordered:
        trial = {**kept, key: str(attributes[key])[:512]}
        if len(line(trial)) <= LINE_LIMIT:
            kept = trial
    return line(kept)


def emit(
    paths: Paths,
    type: str,
    action: str,
    id: str,
    attributes: Mapping[str, str] | None = None,
    *,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Append one event. Best effort: the operation it reports has already happened, so a failure to
    record a warning goes to stderr rather than an exception to the caller."""
    line = _encode(time.time_ns(), type, action, id, {k: str(v) for k, v in (attributes or {}).items()})
    try:
        # appends share the lock (O_APPEND keeps whole lines apart); only a line that a full disk cut short
        # needs the file to itself, to end that line before this one (see _append)
        size = _append(paths, line, exclusive=False)
        if size < 0:
            size = _append(paths, line, exclusive=True)
        if size > max_bytes // 2:
            rotate(paths, max_bytes)
    except OSError as err:
        sys.stderr.write(f"warning: could not record {type} {action} event for {id[:12]}: {err}\n")


def _append(paths: Paths, line: bytes, *, exclusive: bool) -> int:
    """Append ``line``; the file's new size. -1 (nothing written) when, not holding the file alone, its
    last line looks cut: another writer's append may be in progress, or an event did not fit on a full
    disk, which only the exclusive pass can tell apart and mend (it ends the cut line: readers skip it,
    and this event is not glued to it and lost with it)."""
    with FileLock(paths.locks, "events", shared=not exclusive):
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(paths.events, flags, 0o644)
        except FileNotFoundError:
            paths.events.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(paths.events, flags, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                if not exclusive:
                    return -1
                line = b"\n" + line
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]  # a short write on a nearly full disk: go on
            return os.fstat(fd).st_size
        finally:
            os.close(fd)


def rotate(paths: Paths, max_bytes: int = MAX_BYTES) -> bool:
    """Rename the event log to ``.1`` if it has passed half of ``max_bytes``; True if it did."""
    with FileLock(paths.locks, "events"):
        # checked again under the lock: another process may have rotated while we waited
        try:
            if os.stat(paths.events).st_size <= max_bytes // 2:
                return False
        except FileNotFoundError:
            return False
        os.rename(paths.events, paths.events.with_name(paths.events.name + ".1"))
        return True


def _check_filters(filters: Mapping[str, list[str]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, values in (filters or {}).items():
        name = "event" if key == "action" else key
        if name not in _FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{key}': use one of {', '.join(_FILTER_KEYS)}")
        out.setdefault(name, []).extend(values)
    return out


def _strip_tag(name: str) -> str:
    from core.images.reference import parse_reference

    try:
        return parse_reference(name, default_tag=None).familiar_name
    except Exception:  # not a reference (an id, garbage): compare it as it is
        return name


class _Matcher:
    """docker's event filters: values of one key are alternatives, keys must all match; labels all."""

    def __init__(self, filters: dict[str, list[str]]) -> None:
        self.f = filters
        fuzzy_actions = {"health_status", "exec_create", "exec_start"}
        self.fuzzy_event = bool(fuzzy_actions & set(filters.get("event", ())))
        self.images = set(filters.get("image", ()))

    def _exact(self, key: str, value: str) -> bool:
        values = self.f.get(key)
        return not values or value in values

    def _fuzzy(self, key: str, value: str) -> bool:
        values = self.f.get(key)
        return not values or any(value.startswith(v) for v in values)

    def _name(self, key: str, ev: Event) -> bool:
        # as docker: matches the actor's id or its name attribute, by prefix, whatever the event's type
        if not self.f.get(key):
            return True
        return self._fuzzy(key, ev.id) or self._fuzzy(key, ev.attributes.get("name", ""))

    def _image(self, ev: Event) -> bool:
        if not self.images:
            return True
        name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        candidates = {ev.id, name}
        if not candidates & self.images:
            candidates |= {_strip_tag(ev.id), _strip_tag(name)} if name else {_strip_tag(ev.id)}
        return bool(candidates & self.images)

    def _labels(self, ev: Event) -> bool:
        for want in self.f.get("label", ()):
            key, eq, value = want.partition("=")
            if key not in ev.attributes or (eq and ev.attributes[key] != value):
                return False
        return True

    def __call__(self, ev: Event) -> bool:
        return (
            (self._fuzzy("event", ev.action) if self.fuzzy_event else self._exact("event", ev.action))
            and self._exact("type", ev.type)
            and self._name("container", ev)
            and self._name("network", ev)
            and self._name("volume", ev)
            and self._image(ev)
            and self._labels(ev)
        )


def _decode(rec: bytes) -> Event | None:
    from core.models import Event  # not at the top: the shim writes events and never reads them

    try:
        obj = json.loads(rec)
        actor = obj["Actor"]
        ns = int(obj["timeNano"])
        attrs = actor.get("Attributes") or {}
        ev = Event(
            time=ns / 1e9,
            type=str(obj["Type"]),
            action=str(obj["Action"]),
            id=str(actor.get("ID", "")),
            attributes={str(k): str(v) for k, v in attrs.items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not an event line (damaged by a crash, or written by something else)
    return ev


def read_events(
    paths: Paths,
    since: float | None = None,
    until: float | None = None,
    filters: Mapping[str, list[str]] | None = None,
    follow: bool = False,
    stop: Callable[[], bool] | threading.Event | None = None,
    *,
    poll: float = 0.1,
) -> Iterator[Event]:
    """Recorded events, oldest first, then (``follow``) new ones as they are written.

    ``since``/``until`` are seconds since the epoch, both inclusive; ``since=None`` starts at the oldest
    recorded event (``dockyard events`` without ``--since`` passes the current time). With ``follow`` the
    stream ends when ``stop`` says so or, with ``until``, when the clock passes it. ``filters`` are
    docker's ``--filter`` keys: type, event (or action), container, image, label, network, volume.
    Raises InvalidArgument at once for an unknown filter key.
    """
    match = _Matcher(_check_filters(filters))
    return _events(paths.events, since, until, match, follow, stop, poll)


def _events(
    path: Path,
    since: float | None,
    until: float | None,
    match: _Matcher,
    follow: bool,
    stop: Callable[[], bool] | threading.Event | None,
    poll: float,
) -> Iterator[Event]:
    tail: int | None = None
    if since is not None:
        # the usual follow-from-now: nothing on disk was that new a moment ago, so read only the last few
        # records (any written since we looked are among them) instead of the whole history
        try:
            if since > os.stat(path).st_mtime + 1.0:
                tail = 256
        except FileNotFoundError:
            pass

    def skip_file(last: bytes) -> bool:
        decoded = _decode(last)
        # a little slack: writers take their stamp before they append, so order is only nearly by time
        return decoded is not None and since is not None and decoded.time < since - 5.0

    from core.logs import iter_records  # not at the top: writers of events (every command) never read them

    records = iter_records(
        path,
        tail=tail,
        skip_file=skip_file if since is not None else None,
        follow=follow,
        stop=stop,
        deadline=until,
        poll=poll,
    )
    try:
        for rec in records:
            ev = _decode(rec)
            if ev is None:
                continue
            # compared as the floats the caller sees in Event.time, so passing one back as since finds it
            if since is not None and ev.time < since:
                continue
            if until is not None and ev.time > until:
                continue  # not a stop: another process may have appended an older stamp after it
            if match(ev):
                yield ev
    finally:
        records.close()
