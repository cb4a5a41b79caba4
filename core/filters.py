"""Docker's list and prune filters, implemented once for every face (the command line, the workbench, the
Engine API): ``key -> values``, where the values of one key are alternatives and different keys must all
hold - with docker's exceptions, kept here: ``label`` values must all match (MatchKVList), ``name`` and
``id`` are regular expressions searched in the name (with or without its "/") and id (Match), ``dangling``
and ``is-task`` take one boolean.

The engine gathers the facts about each object (:class:`ContainerFacts` and the summaries) and calls the
``select_*`` functions; an unknown key or a bad value is :class:`core.errors.InvalidFilter`, with docker's
message. Nothing here touches the disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from core.errors import BadFlagValue, InvalidArgument, InvalidFilter
from core.record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from core.models import ImageSummary, NetworkSummary, Volume

Filters = Mapping[str, Sequence[str]]

# what each list and prune accepts (moby daemon/list.go, images/image_list.go, network/filter.go, prune.go)
CONTAINER_LIST_KEYS = frozenset(
    {
        "ancestor",
        "before",
        "exited",
        "expose",
        "health",
        "id",
        "is-task",
        "isolation",
        "label",
        "name",
        "network",
        "publish",
        "since",
        "status",
        "volume",
    }
)
IMAGE_LIST_KEYS = frozenset({"before", "dangling", "label", "reference", "since"})
NETWORK_LIST_KEYS = frozenset({"dangling", "driver", "id", "label", "name", "scope", "type"})
VOLUME_LIST_KEYS = frozenset({"dangling", "driver", "label", "name"})
CONTAINER_PRUNE_KEYS = frozenset({"label", "label!", "until"})
IMAGE_PRUNE_KEYS = frozenset({"dangling", "label", "label!", "until"})
NETWORK_PRUNE_KEYS = frozenset({"label", "label!", "until"})
VOLUME_PRUNE_KEYS = frozenset({"all", "label", "label!"})

CONTAINER_STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")
PREDEFINED_NETWORKS = ("bridge", "host", "none", "default")


# ------------------------------------------------------------------------------------------ parsing


def parse_filter_flags(items: Iterable[str]) -> dict[str, list[str]]:
    """``-f KEY=VALUE`` flags as docker's CLI reads them: the key trimmed and lower-cased, the value trimmed,
    values of one key in order (duplicates dropped); an empty flag is nothing."""
    out: dict[str, list[str]] = {}
    for item in items:
        if item == "":
            continue
        if "=" not in item:
            raise BadFlagValue(
                f'invalid argument "{item}" for "-f, --filter" flag: '
                "bad format of filter (expected name=value)"
            )
        key, _, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        values = out.setdefault(key, [])
        if value not in values:
            values.append(value)
    return out


def from_json(text: str) -> dict[str, list[str]]:
    """The Engine API's ``filters`` query parameter: ``{"key": ["v", ...]}`` or the older
    ``{"key": {"v": true}}``; empty means none. Anything else is docker's "invalid filter"."""
    import json

    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise InvalidFilter("invalid filter") from None
    if not isinstance(raw, dict):
        raise InvalidFilter("invalid filter")
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            chosen = [str(v) for v, on in values.items() if on]
        elif isinstance(values, list) and all(isinstance(v, str) for v in values):
            chosen = list(values)
        else:
            raise InvalidFilter("invalid filter")
        out[str(key)] = list(dict.fromkeys(chosen))
    return out


def normalize(filters: Filters | None) -> dict[str, list[str]]:
    """A filters mapping as lists (a bare string value is one value), for callers that pass anything."""
    out: dict[str, list[str]] = {}
    for key, values in (filters or {}).items():
        vals = [values] if isinstance(values, str) else list(values)
        out[str(key)] = list(dict.fromkeys(str(v) for v in vals))
    return out


def validate(filters: Filters, accepted: frozenset[str]) -> None:
    for key in sorted(filters):
        if key not in accepted:
            raise InvalidFilter(f"Invalid filter '{key}'")


# -------------------------------------------------------------------------------- docker's matchers


def exact_match(filters: Filters, key: str, source: str) -> bool:
    """True when ``key`` is not filtered on, or one of its values is ``source``."""
    values = filters.get(key)
    return not values or source in values


def regex_search(pattern: str, source: str) -> bool:
    """Go's ``regexp.MatchString``: the pattern found anywhere in ``source``; a pattern that does not compile
    matches nothing."""
    try:
        return re.search(pattern, source) is not None
    except re.error:
        return False


def match(filters: Filters, key: str, source: str) -> bool:
    """docker's ``Args.Match``: not filtered on, an exact value, or a value that is a regular expression
    found in ``source``."""
    if exact_match(filters, key, source):
        return True
    return any(regex_search(v, source) for v in filters.get(key, ()))


def match_kv_list(filters: Filters, key: str, labels: Mapping[str, str]) -> bool:
    """docker's ``MatchKVList``: every value (``k`` or ``k=v``) must match a label."""
    values = filters.get(key)
    if not values:
        return True
    if not labels:
        return False
    for value in values:
        k, sep, v = value.partition("=")
        if k not in labels or (sep and labels[k] != v):
            return False
    return True


def match_labels(filters: Filters, labels: Mapping[str, str]) -> bool:
    """A prune's ``label`` (all must match) and ``label!`` (not all of them may match)."""
    if not match_kv_list(filters, "label", labels):
        return False
    return not (filters.get("label!") and match_kv_list(filters, "label!", labels))


def bool_value(filters: Filters, key: str, default: bool) -> bool:
    """docker's ``GetBoolOrDefault``: one of true/1 or false/0."""
    values = filters.get(key)
    if values is None:
        return default
    is_false = any(v in ("0", "false") for v in values)
    is_true = any(v in ("1", "true") for v in values)
    if not values or is_false == is_true:
        raise InvalidFilter(f"Invalid filter '{key}=[{' '.join(values)}]'")
    return is_true


def until_time(filters: Filters, now: float) -> float | None:
    """A prune's ``until``: a time or a duration ago, as docker reads it (one value only)."""
    values = filters.get("until")
    if not values:
        return None
    if len(values) > 1:
        raise InvalidFilter("more than one until filter specified")
    from core.logs import parse_since

    try:
        return parse_since(values[0], now)
    except InvalidArgument:
        raise InvalidFilter(f'failed to parse value as time or duration: "{values[0]}"') from None


def parse_ports(key: str, value: str) -> set[tuple[int, str]]:
    """``publish``/``expose`` values: ``80``, ``80/udp``, ``8000-8080/tcp``."""
    if ":" in value:
        raise InvalidFilter(f"filter for '{key}' should not contain ':': {value}")
    port, _, proto = value.partition("/")
    proto = proto or "tcp"
    lo, sep, hi = port.partition("-")
    try:
        start = int(lo)
        end = int(hi) if sep else start
        if not (0 <= start <= end <= 65535):
            raise ValueError
    except ValueError:
        raise InvalidFilter(f"error while looking up for {key} {value}: invalid port range") from None
    return {(p, proto) for p in range(start, end + 1)}


# ------------------------------------------------------------------ Go's path.Match (image references)


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise InvalidFilter("syntax error in pattern")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise InvalidFilter("syntax error in pattern")
    r, rest = chunk[0], chunk[1:]
    if not rest:
        raise InvalidFilter("syntax error in pattern")
    return r, rest


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> str | None:
    """What is left of ``s`` after ``chunk`` matched its start, or None."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            nrange = 0
            while True:
                if chunk.startswith("]") and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= r <= hi and r:
                    matched = True
                nrange += 1
            if matched == negated:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise InvalidFilter("syntax error in pattern")
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*`` any run of non-"/" characters, ``?`` one, ``[a-z]``/``[^...]`` classes,
    ``\\`` escapes; a malformed pattern is docker's "syntax error in pattern"."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest = _match_chunk(chunk, name[i + 1 :])
                if rest is not None:
                    if not pattern and rest:
                        i += 1
                        continue
                    name, found = rest, True
                    break
                i += 1
            if found:
                continue
        while pattern:  # the rest of the pattern must still be well formed
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def reference_match(pattern: str, familiar: str) -> bool:
    """docker's ``FamiliarMatch``: the pattern against the familiar reference (``busybox:latest``,
    ``team/app@sha256:...``), then against its name alone."""
    if path_match(pattern, familiar):
        return True
    name = familiar.partition("@")[0]
    last = name.rfind(":")
    if last > name.rfind("/"):
        name = name[:last]
    return path_match(pattern, name)


# ------------------------------------------------------------------------------------------ containers


@record
class ContainerFacts:
    """What a container filter looks at, gathered by the engine from a container's record."""

    id: str
    name: str
    status: str
    exit_code: int
    started: bool  # it has run at least once (an exit code means something)
    created: str
    image_id: str
    labels: dict[str, str] = field(default_factory=dict)
    mounts: list[tuple[str, str, str]] = field(default_factory=list)  # (volume name, source, destination)
    networks: dict[str, str] = field(default_factory=dict)  # network name -> its id ("" before a start)
    ports: list[tuple[int, int, str]] = field(default_factory=list)  # (private, public or 0, protocol)
    health: str = "none"  # starting | healthy | unhealthy | none


def _find_container(items: Sequence[ContainerFacts], value: str) -> ContainerFacts:
    key = value.lstrip("/")
    for c in items:
        if c.id == key or c.name == key:
            return c
    prefixed = [c for c in items if c.id.startswith(key)] if key else []
    if len(prefixed) == 1:
        return prefixed[0]
    raise InvalidFilter(f"No such container: {value}")


def select_containers(
    items: Sequence[ContainerFacts],
    filters: Filters | None,
    *,
    all: bool,
    image_family: Callable[[str], set[str] | None],
) -> list[ContainerFacts]:
    """``ps``: ``items`` newest first, as docker walks them; ``image_family(ref)`` is the ids of the image a
    reference names and of every image built on it (None when there is no such image)."""
    f = normalize(filters)
    validate(f, CONTAINER_LIST_KEYS)
    exited: list[int] = []
    for v in f.get("exited", []):
        try:
            exited.append(int(v))
        except ValueError:
            raise InvalidFilter(f"Invalid filter 'exited={v}'") from None
    for v in f.get("status", []):
        if v not in CONTAINER_STATES:
            raise InvalidFilter(f"Invalid filter 'status={v}'")
        all = True
    task_filter = "is-task" in f
    is_task = bool_value(f, "is-task", False)
    for v in f.get("health", []):
        if v not in HEALTH_STATES:
            raise InvalidFilter(f"Unrecognised filter value for health: {v}")
    before = since = None
    for v in f.get("before", []):
        before = _find_container(items, v)
    for v in f.get("since", []):
        since = _find_container(items, v)
    images: set[str] | None = None
    if "ancestor" in f:
        images = set()
        for v in f["ancestor"]:
            images |= image_family(v) or set()
    publish: set[tuple[int, str]] = set()
    for v in f.get("publish", []):
        publish |= parse_ports("publish", v)
    expose: set[tuple[int, str]] = set()
    for v in f.get("expose", []):
        expose |= parse_ports("expose", v)
    id_matches: set[str] | None = None
    if f.get("id"):
        id_matches = set()
        for v in f["id"]:
            found = [c.id for c in items if c.id.startswith(v)]
            if len(found) == 1:  # docker's GetByPrefix: an ambiguous prefix names nothing
                id_matches.add(found[0])

    out = []
    for c in items:
        if before is not None:  # skip down to (and past) the container named
            if c.id == before.id:
                before = None
            continue
        if since is not None and c.id == since.id:
            break
        if c.status not in ("running", "paused", "restarting") and not all:
            continue
        if not (match(f, "name", "/" + c.name) or match(f, "name", c.name)):
            continue
        if id_matches is not None and c.id not in id_matches:
            continue
        if not match(f, "id", c.id):
            continue
        if task_filter and is_task:  # dockyard runs no swarm tasks
            continue
        # isolation: accepted and, as docker's on Linux, never excludes anything
        if not match_kv_list(f, "label", c.labels):
            continue
        if exited and not (c.started and c.status not in ("running", "paused") and c.exit_code in exited):
            continue
        if not match(f, "status", c.status):
            continue
        if not exact_match(f, "health", c.health):
            continue
        if "volume" in f:
            names = {m[0] or m[1] for m in c.mounts}
            dests = {m[2] for m in c.mounts}
            if not any(v in dests or v in names for v in f["volume"]):
                continue
        if images is not None and c.image_id not in images:
            continue
        if "network" in f and not any(
            v in c.networks or any(nid and nid.startswith(v) for nid in c.networks.values())
            for v in f["network"]
        ):
            continue
        if (publish or expose) and not any(
            (pub, proto) in publish or (priv, proto) in expose for priv, pub, proto in c.ports
        ):
            continue
        out.append(c)
    return out


def prune_containers_filter(filters: Filters | None, now: float) -> Callable[[str, Mapping[str, str]], bool]:
    """Whether a stopped container (by its creation time and labels) goes in a ``container prune``."""
    f = normalize(filters)
    validate(f, CONTAINER_PRUNE_KEYS)
    until = until_time(f, now)

    def chosen(created: str, labels: Mapping[str, str]) -> bool:
        if until is not None and timestamp(created) > until:
            return False
        return match_labels(f, labels)

    return chosen


def timestamp(rfc3339: str) -> float:
    """Seconds since the epoch of a record's RFC 3339 time (0 when there is none)."""
    if not rfc3339:
        return 0.0
    from core.logs import parse_since

    try:
        return parse_since(rfc3339, 0.0)
    except InvalidArgument:
        return 0.0


# ---------------------------------------------------------------------------------------------- images


def select_images(
    items: Sequence[ImageSummary],
    filters: Filters | None,
    *,
    labels: Callable[[ImageSummary], Mapping[str, str]],
    resolve: Callable[[str], ImageSummary],
    has_children: Callable[[ImageSummary], bool],
) -> list[ImageSummary]:
    """``images``: ``reference`` keeps only the matching tags of an image (as docker's list does);
    ``dangling=true`` the untagged images nothing is built on."""
    from core.record import replace

    f = normalize(filters)
    validate(f, IMAGE_LIST_KEYS)
    dangling_only = bool_value(f, "dangling", False)
    before = since = None
    for v in f.get("before", []):
        t = timestamp(resolve(v).created)
        before = t if before is None else min(before, t)
    for v in f.get("since", []):
        t = timestamp(resolve(v).created)
        since = t if since is None else max(since, t)
    out = []
    for img in items:
        created = timestamp(img.created)
        if before is not None and not created < before:
            continue
        if since is not None and not created > since:
            continue
        if "label" in f and not match_kv_list(f, "label", labels(img)):
            continue
        tags, digests = list(img.repo_tags), list(img.repo_digests)
        if "reference" in f:
            patterns = f["reference"]
            tags = [t for t in tags if any(reference_match(p, t) for p in patterns)]
            digests = [d for d in digests if any(reference_match(p, d) for p in patterns)]
        if not tags and not digests:
            if "reference" in f or ("dangling" in f and not dangling_only):
                continue
        elif dangling_only and tags:
            continue
        if dangling_only and has_children(img):
            continue
        if (tags, digests) != (list(img.repo_tags), list(img.repo_digests)):
            img = replace(img, repo_tags=tags, repo_digests=digests)
        out.append(img)
    return out


def prune_images_filter(
    filters: Filters | None, now: float, *, all: bool
) -> tuple[bool, Callable[[str, Mapping[str, str]], bool]]:
    """(dangling only, whether an image by its creation time and labels goes in an ``image prune``);
    ``all`` is ``-a`` (docker's CLI sends it as ``dangling=false``)."""
    f = normalize(filters)
    validate(f, IMAGE_PRUNE_KEYS)
    dangling_only = bool_value(f, "dangling", not all)
    until = until_time(f, now)

    def chosen(created: str, labels: Mapping[str, str]) -> bool:
        if until is not None and timestamp(created) > until:
            return False
        return match_labels(f, labels)

    return dangling_only, chosen


# -------------------------------------------------------------------------------------------- networks


def select_networks(items: Sequence[NetworkSummary], filters: Filters | None) -> list[NetworkSummary]:
    """``network ls``."""
    f = normalize(filters)
    validate(f, NETWORK_LIST_KEYS)
    out = [
        n
        for n in items
        if exact_match(f, "driver", n.driver)
        and match(f, "name", n.name)
        and match(f, "id", n.id)
        and match_kv_list(f, "label", n.labels)
        and exact_match(f, "scope", n.scope)
    ]
    dangling = f.get("dangling")
    if dangling:
        if len(dangling) > 1:
            raise InvalidFilter('got more than one value for filter key "dangling"')
        if dangling[0] not in ("0", "1", "true", "false"):
            raise InvalidFilter(
                """invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"""
            )
        only = dangling[0] in ("1", "true")
        out = [n for n in out if (n.name not in PREDEFINED_NETWORKS and not n.containers) == only]
    if "type" in f:
        typed: list[NetworkSummary] = []
        for kind in f["type"]:
            if kind == "builtin":
                typed += [n for n in out if n.name in PREDEFINED_NETWORKS]
            elif kind == "custom":
                typed += [n for n in out if n.name not in PREDEFINED_NETWORKS]
            else:
                raise InvalidFilter(f"invalid filter: 'type'='{kind}'")
        out = typed
    return out


def prune_networks_filter(filters: Filters | None, now: float) -> Callable[[str, Mapping[str, str]], bool]:
    """Whether an unused network (by its creation time and labels) goes in a ``network prune``."""
    f = normalize(filters)
    validate(f, NETWORK_PRUNE_KEYS)
    until = until_time(f, now)

    def chosen(created: str, labels: Mapping[str, str]) -> bool:
        if until is not None and timestamp(created) > until:
            return False
        return match_labels(f, labels)

    return chosen


# --------------------------------------------------------------------------------------------- volumes


def select_volumes(
    items: Sequence[Volume], filters: Filters | None, *, in_use: Callable[[str], bool]
) -> list[Volume]:
    """``volume ls``."""
    f = normalize(filters)
    validate(f, VOLUME_LIST_KEYS)
    dangling = bool_value(f, "dangling", False) if "dangling" in f else None
    return [
        v
        for v in items
        if (not f.get("driver") or v.driver in f["driver"])
        and match(f, "name", v.name)
        and match_kv_list(f, "label", v.labels)
        and (dangling is None or in_use(v.name) != dangling)
    ]


def prune_volumes_filter(filters: Filters | None, *, all: bool) -> Callable[[Volume], bool]:
    """Whether an unused volume goes in a ``volume prune``: anonymous ones only unless ``all`` (``-a``, or
    the ``all=true`` filter), and ``label``/``label!``."""
    f = normalize(filters)
    validate(f, VOLUME_PRUNE_KEYS)
    values = f.get("all", [])
    if len(values) > 1:
        raise InvalidFilter(f"Invalid filter 'all=[{' '.join(values)}]': only one value is expected")
    if values:
        if values[0].lower() not in ("1", "t", "true", "0", "f", "false"):
            raise InvalidFilter(f"Invalid filter 'all': invalid syntax: {values[0]!r}")
        all = values[0].lower() in ("1", "t", "true")

    def chosen(v: Volume) -> bool:
        return (all or v.anonymous) and match_labels(f, v.labels)

    return chosen


__all__ = [
    "ContainerFacts",
    "Filters",
    "bool_value",
    "from_json",
    "match",
    "match_kv_list",
    "match_labels",
    "normalize",
    "parse_filter_flags",
    "parse_ports",
    "path_match",
    "prune_containers_filter",
    "prune_images_filter",
    "prune_networks_filter",
    "prune_volumes_filter",
    "reference_match",
    "regex_search",
    "select_containers",
    "select_images",
    "select_networks",
    "select_volumes",
    "until_time",
    "validate",
]
