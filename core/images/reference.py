"""Image references, parsed and normalised the way docker does it.

The grammar and the normalisation rules follow distribution/reference (``regexp.go``, ``reference.go``,
``normalize.go`` at v0.6, the version the docker CLI ships): ``busybox`` means
``docker.io/library/busybox:latest``, the first path element is a registry only when it is ``localhost``,
contains ``.`` or ``:``, and a bare 64-hex string is refused because it would be mistaken for an image id.
One difference on purpose: docker also takes a first element with an upper-case letter for a registry host
(``UPPER/case`` is looked up as the host ``UPPER``); we refuse it as the Docker Hub name it almost always
is, with docker's message for ``docker.io/UPPER/case``. Users see the *familiar* form (``busybox:latest``);
records keep the full one.

Platforms follow containerd's ``platforms`` package, except that the normalised form always carries the
default variant of ``arm`` (v7) and ``arm64`` (v8), so that comparing two normalised triples is enough.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from core.errors import InvalidArgument, InvalidReference
from core.record import record, replace

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any, Literal

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
# the key docker login has always written for Docker Hub in ~/.docker/config.json
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255
# No valid reference comes near this (name <= 255, tag <= 128, digest <= sha512); refusing longer input
# up front keeps the regular expressions' backtracking bounded on hostile text.
_INPUT_LENGTH_MAX = 1024

# --- grammar, built exactly as regexp.go builds it -------------------------------------------------------
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_LOCALHOST = "localhost"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"  # \w is ASCII-only: every pattern is compiled with re.ASCII, as Go's \w is
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IDENTIFIER = r"[a-f0-9]{64}"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = f"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + f"(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = _PATH_COMPONENT + f"(?:/{_PATH_COMPONENT})*"
_NAME = f"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

# All are used with fullmatch (Go's ^...$; Python's $ would also accept a trailing newline).
_REFERENCE_RE = re.compile(f"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(f"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IDENTIFIER_RE = re.compile(_IDENTIFIER, re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT, re.ASCII)
_REMOTE_NAME_RE = re.compile(_REMOTE_NAME, re.ASCII)

# go-digest's registered algorithms (docker links sha256 and sha512, which brings sha384) and hex lengths
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_ENCODED_RE = re.compile(r"[a-f0-9]+", re.ASCII)


def _invalid(text: str, why: str = "") -> InvalidReference:
    detail = f": {why}" if why else ""
    return InvalidReference(f'invalid reference format: "{text}" is not a valid image reference{detail}')


@record(frozen=True)
class Reference:
    """A normalised reference: ``domain`` is never empty (``docker.io`` for Docker Hub).

    Both ``tag`` and ``digest`` may be set (``busybox:1.36@sha256:...``), as docker allows; the digest then
    decides what is fetched and the tag is what gets recorded.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``: the repository, without tag or digest."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        return self.name + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    @property
    def familiar_name(self) -> str:
        """The name as docker shows it: ``busybox``, ``user/app``, ``localhost:5000/foo``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX):
            rest = path[len(OFFICIAL_REPO_PREFIX) :]
            # library/a/b stays as it is: "a/b" would normalise to docker.io/a/b, another repository
            if "/" not in rest:
                path = rest
        # docker.io/0.0/x would show as "0.0/x", which reads back as registry "0.0"; docker prints it so
        # anyway, we keep the registry in the few names where dropping it would change their meaning.
        if _split_docker_domain(path) != (DEFAULT_DOMAIN, self.path):
            return self.name
        return path

    def familiar(self) -> str:
        """``busybox:latest``, ``localhost:5000/foo@sha256:...``: what ``docker images``/``ps`` show."""
        return self.familiar_name + self._suffix()

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DEFAULT_DOMAIN

    @property
    def api_host(self) -> str:
        """The host (and port) whose ``/v2/`` API serves this repository."""
        return DOCKER_HUB_API_HOST if self.is_docker_hub else self.domain

    @property
    def credential_key(self) -> str:
        """The key of this registry in ``~/.docker/config.json`` (``auths``, ``credHelpers``)."""
        return DOCKER_HUB_CREDENTIAL_KEY if self.is_docker_hub else self.domain

    def with_tag(self, tag: str) -> Reference:
        """The same reference with ``tag`` (a digest, if any, is kept, as distribution's WithTag does)."""
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(f'invalid tag format: "{tag}"')
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        """The same reference pinned to ``digest`` (a tag, if any, is kept)."""
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidReference(f'invalid digest format: "{digest}"')
        _check_digest(digest, digest)
        return replace(self, digest=digest)

    def name_only(self) -> Reference:
        """The repository alone, without tag or digest."""
        return replace(self, tag=None, digest=None)


def _split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go's splitDockerDomain: decide whether the first element names a registry."""
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        # a single element is always a Docker Hub official image, even "localhost" or "example.com"
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == _LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # repository paths are lower case, so an upper-case first element can only be a host
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _is_upper_case_label(domain: str) -> bool:
    """A first element docker takes for a host only because it has an upper-case letter (no ``.``, no
    port, not ``localhost``)."""
    return domain.lower() != domain and "." not in domain and ":" not in domain


def _check_digest(digest: str, text: str) -> None:
    """go-digest's Parse: a registered algorithm and exactly its length of lower-case hex."""
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_HEX_LENGTH.get(algorithm)
    if size is None:
        raise _invalid(text, f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != size:
        raise _invalid(text, "invalid checksum digest length")
    if not _ENCODED_RE.fullmatch(encoded):
        raise _invalid(text, "invalid checksum digest format")


def _parse_full(full: str, text: str) -> tuple[str, str, str | None, str | None]:
    """reference.go's Parse on the already domain-qualified string; ``text`` is what the user typed."""
    m = _REFERENCE_RE.fullmatch(full)
    if m is None:
        lowered = full.lower()
        if lowered != full and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidReference(f'invalid reference format: repository name must be lowercase: "{text}"')
        raise _invalid(text)
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} "
            f'characters: "{text}"'
        )
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    assert nm is not None  # the name group of _REFERENCE_RE is exactly this pattern
    domain, path = nm.group(1), nm.group(2)
    if not domain:
        # e.g. "a_b.com/x": docker's splitter calls "a_b.com" a host, its grammar does not, and Go ends up
        # with a reference that has no registry at all; nothing could be pulled from it, so refuse it here.
        raise _invalid(text, f"{full.partition('/')[0]!r} is not a valid registry host")
    if digest is not None:
        _check_digest(digest, text)
    return domain, path, tag, digest


def parse_reference(text: str, default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse what a user typed (``busybox``, ``localhost:5000/a/b:1``, ``x@sha256:...``) into its full form.

    A reference with neither tag nor digest gets ``default_tag`` (None keeps it name-only, for
    ``docker images busybox`` style filters). Anything docker would refuse raises InvalidReference.
    """
    if not isinstance(text, str):
        raise InvalidReference(f"invalid reference format: expected text, got {type(text).__name__}")
    if len(text) > _INPUT_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: reference is {len(text)} characters long, at most "
            f"{_INPUT_LENGTH_MAX} can be valid"
        )
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:  # docker's words, after its split ("Bad/Image": host "Bad", name "Image")
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    if _is_upper_case_label(domain):
        # docker calls "UPPER/case" a registry host (its only way to spell a one-label host without a
        # port) and then fails on a name lookup; far more often it is a Docker Hub namespace typed in the
        # wrong case, so say what docker says for docker.io/UPPER/case and contact nobody.
        remainder = text
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    domain, path, tag, digest = _parse_full(domain + "/" + remainder, text)
    if tag is None and digest is None and default_tag is not None:
        if not _TAG_RE.fullmatch(default_tag):
            raise InvalidArgument(f'invalid default tag "{default_tag}"')
        tag = default_tag
    return Reference(domain, path, tag, digest)


def normalize(text: str) -> str:
    """The full form of ``text`` as a string: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse_reference(text))


def parse_tag(text: str) -> Reference:
    """The target of ``docker tag SRC TARGET``: a name and a tag, never a digest (docker refuses one)."""
    ref = parse_reference(text)
    if ref.digest is not None:
        raise InvalidReference(f'refusing to create a tag with a digest reference: "{text}"')
    return ref


def is_valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def is_valid_domain(domain: str) -> bool:
    return _DOMAIN_RE.fullmatch(domain) is not None


def is_valid_repository_path(path: str) -> bool:
    return _REMOTE_NAME_RE.fullmatch(path) is not None


# --- registry hosts ----------------------------------------------------------------------------------------


def split_host_port(domain: str) -> tuple[str, str | None]:
    """``[::1]:5000`` -> (``::1``, ``5000``); ``localhost`` -> (``localhost``, None); ``::1`` stays whole."""
    if domain.startswith("["):
        host, bracket, rest = domain[1:].partition("]")
        if not bracket:
            return domain, None
        port = rest[1:] if rest.startswith(":") and rest[1:] else None
        return host, port
    if domain.count(":") == 1:
        host, _, port = domain.partition(":")
        return host, port or None
    return domain, None


def _host_ip(domain: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host, _ = split_host_port(domain)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_host(domain: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``, with or without a port.

    Names other than ``localhost`` are not resolved: resolving would send a DNS query, and a registry's
    address should not change how we talk to it behind the user's back.
    """
    host, _ = split_host_port(domain.strip())
    if host.lower() == _LOCALHOST:
        return True
    ip = _host_ip(domain.strip())
    return ip is not None and ip.is_loopback


def _strip_scheme(entry: str) -> str:
    entry = entry.strip()
    lowered = entry.lower()
    for scheme in ("http://", "https://"):
        if lowered.startswith(scheme):
            entry = entry[len(scheme) :]
            break
    return entry.rstrip("/")


def registry_scheme(domain: str, insecure_registries: Sequence[str]) -> Literal["http", "https"]:
    """Whether to speak plain HTTP or HTTPS to ``domain``.

    Like dockerd: loopback registries and those listed in ``insecure-registries`` (a ``host:port`` that
    must match exactly, or a CIDR that the registry's IP address falls in) are insecure; Docker Hub never is.
    Unlike dockerd we do not try HTTPS first on insecure registries: a registry listed there is spoken to
    over HTTP.
    """
    if domain in (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API_HOST):
        return "https"
    if is_loopback_host(domain):
        return "http"
    ip = _host_ip(domain)
    for raw in insecure_registries:
        entry = _strip_scheme(raw)
        if not entry:
            continue
        if "/" in entry:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip is not None and ip.version == network.version and ip in network:
                return "http"
        elif entry.lower() == domain.lower():
            return "http"
    return "https"


# --- platforms ---------------------------------------------------------------------------------------------

# Go's GOOS and GOARCH lists (go/build/syslist.go), as containerd uses them to read a lone specifier
_KNOWN_OS = frozenset(
    {
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "windows",
        "zos",
    }
)
_KNOWN_ARCH = frozenset(
    {
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "ppc64",
        "ppc64le",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    }
)
_SPECIFIER_RE = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_OS_RE = re.compile(r"([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?", re.ASCII)

Platform = tuple[str, str, str | None]


def _normalize_os(os_name: str) -> str:
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def _normalize_arch(arch: str, variant: str) -> tuple[str, str | None]:
    """containerd's normalizeArch, with the default arm/arm64 variants made explicit (v7, v8)."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        arch, variant = "386", ""
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        if variant == "v1":
            variant = ""
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        if variant in ("", "8", "v8"):
            variant = "v8"
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant or None


def _host_default_platform() -> Platform:
    from core.config import host_platform

    parts = host_platform().split("/")
    arch, variant = _normalize_arch(parts[1], parts[2] if len(parts) > 2 else "")
    return parts[0], arch, variant


def parse_platform(text: str) -> Platform:
    """``linux/arm64/v8``, ``linux/amd64``, ``arm64``, ``linux`` -> (os, arch, variant), normalised.

    Aliases (x86_64, aarch64, armhf, armel, i386, macos) become their Go names; a lone architecture means
    Linux, a lone OS means the host's architecture.
    """
    spec = text.strip()
    if "*" in spec:
        raise InvalidArgument(f'invalid platform "{text}": wildcards are not supported')
    parts = spec.split("/", 3)
    m = _OS_RE.fullmatch(parts[0])
    if m is None:
        raise InvalidArgument(
            f'invalid platform "{text}": "{parts[0]}" is not an operating system or architecture'
        )
    if m.group(2) or m.group(3):
        raise InvalidArgument(f'invalid platform "{text}": OS versions and features are not supported')
    for part in parts[1:]:
        if not _SPECIFIER_RE.fullmatch(part):
            raise InvalidArgument(f'invalid platform "{text}": "{part}" is not a valid component')
    os_name = _normalize_os(m.group(1))
    if len(parts) == 1:
        if os_name in _KNOWN_OS:
            _, arch, variant = _host_default_platform()
            return os_name, arch, variant
        arch, variant = _normalize_arch(parts[0], "")
        if arch in _KNOWN_ARCH:
            return "linux", arch, variant
        raise InvalidArgument(f'invalid platform "{text}": unknown operating system or architecture')
    if len(parts) == 2:
        arch, variant = _normalize_arch(parts[1], "")
        return os_name, arch, variant
    if len(parts) == 3:
        arch, variant = _normalize_arch(parts[1], parts[2])
        return os_name, arch, variant
    raise InvalidArgument(f'invalid platform "{text}": expected os[/arch[/variant]]')


def format_platform(platform: Platform) -> str:
    os_name, arch, variant = platform
    return f"{os_name}/{arch}/{variant}" if variant else f"{os_name}/{arch}"


def normalize_platform(candidate: Mapping[str, Any]) -> Platform | None:
    """An OCI ``platform`` object (``{"os": .., "architecture": .., "variant": ..}``) normalised; None if
    it lacks an os or architecture."""
    os_name = candidate.get("os")
    arch = candidate.get("architecture")
    variant = candidate.get("variant") or ""
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        return None
    if not isinstance(variant, str):
        return None
    norm_arch, norm_variant = _normalize_arch(arch, variant)
    return _normalize_os(os_name), norm_arch, norm_variant


def platform_matches(wanted: Platform | str, candidate: Mapping[str, Any] | None) -> bool:
    """Whether an index entry's ``platform`` object is exactly the wanted platform (containerd's
    OnlyStrict: aliases and default variants are equal, nothing else is)."""
    if candidate is None:
        return False
    want = parse_platform(wanted) if isinstance(wanted, str) else wanted
    return normalize_platform(candidate) == want


def compatible_platforms(wanted: Platform | str) -> list[Platform]:
    """The platforms that can run where ``wanted`` runs, best first (containerd's ``Only``).

    amd64 also runs 386; arm/vN also runs arm/v(N-1)..v5; arm64/v8 also runs arm/v8..v5.
    """
    want = parse_platform(wanted) if isinstance(wanted, str) else wanted
    os_name, arch, variant = want
    out: list[Platform] = [want]
    if arch == "amd64":
        level = _variant_number(variant)
        if level is not None and level > 1:
            out += [(os_name, "amd64", f"v{n}" if n > 1 else None) for n in range(level - 1, 0, -1)]
        out.append((os_name, "386", None))
    elif arch == "arm":
        level = _variant_number(variant)
        if level is not None and level > 5:
            out += [(os_name, "arm", f"v{n}") for n in range(level - 1, 4, -1)]
    elif arch == "arm64":
        major = (variant or "v8").split(".", 1)[0]
        level = _variant_number(major)
        if level is not None and level >= 8:
            if variant != "v8":
                out.append((os_name, "arm64", "v8"))  # every later arm64 runs plain armv8 code
            out += [(os_name, "arm", f"v{n}") for n in range(8, 4, -1)]
    return out


def _variant_number(variant: str | None) -> int | None:
    if not variant or not variant.startswith("v") or not variant[1:].isdigit():
        return None
    return int(variant[1:])


def best_platform_index(wanted: Platform | str, candidates: Sequence[Mapping[str, Any] | None]) -> int | None:
    """Index of the candidate platform object that suits ``wanted`` best, None if none can run."""
    normalised = [normalize_platform(c) if c is not None else None for c in candidates]
    for acceptable in compatible_platforms(wanted):
        for i, got in enumerate(normalised):
            if got == acceptable:
                return i
    return None
