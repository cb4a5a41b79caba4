"""Variable substitution in compose files, as compose-go's ``template`` and ``interpolation`` packages do it.

``${VAR}``, ``$VAR``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset), ``${VAR:?err}``,
``${VAR?err}``, ``${VAR:+alt}`` (set and not empty), ``${VAR+alt}`` (set), defaults that hold substitutions
themselves, and ``$$`` for a literal ``$``. Applied to values (not keys) before validation; a value at a
path compose types (``read_only``, ``ports[].target``, ``deploy.replicas``...) is cast from its string
afterwards, as compose-go's ``interpolateTypeCastMapping`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from compose.errors import InterpolationError

# compose-go's DefaultPattern: `$` then an escaped `$`, a bare name, a braced name with an optional
# operator and rest (greedy, so a nested `${...}` in a default is inside), or an invalid `${`
PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
OPERATORS = (":?", "?", ":-", "-", ":+", "+")

Lookup = Callable[[str], "str | None"]


class TemplateError(Exception):
    """A substitution failed: ``invalid`` for a malformed template, else a missing required variable."""

    def __init__(self, message: str, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


def _first_closing_brace(s: str) -> int:
    depth = 0
    i = 0
    while i < len(s):
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if s[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _operator_of(template: str) -> str:
    found = [(template.find(op), n, op) for n, op in enumerate(OPERATORS) if op in template]
    return min(found)[2] if found else OPERATORS[0]


def _apply_operator(
    op: str, substitution: str, lookup: Lookup, warn: Callable[[str], None] | None
) -> str | None:
    """The value of a braced substitution with operator ``op``; None when ``op`` is not in it."""
    if op not in substitution:
        return None
    name, arg = substitution.split(op, 1)
    value = lookup(name)
    if op in (":-", "-"):
        if value is None or (op == ":-" and value == ""):
            return substitute(arg, lookup, warn)
        return value
    if op in (":+", "+"):
        if value is not None and (op == "+" or value != ""):
            return substitute(arg, lookup, warn)
        return value if value is not None else ""
    # ":?" and "?"
    if value is None or (op == ":?" and value == ""):
        reason = substitute(arg, lookup, warn)
        if reason:
            raise TemplateError(f"required variable {name} is missing a value: {reason}")
        raise TemplateError(f"required variable {name} is missing a value")
    return value


def substitute(template: str, lookup: Lookup, warn: Callable[[str], None] | None = None) -> str:
    """``template`` with every substitution made; raises the first TemplateError, like compose-go."""
    errors: list[TemplateError] = []

    def replace(match: re.Match[str]) -> str:
        substring = match.group(0)
        op = _operator_of(substring)
        closing = _first_closing_brace(substring)
        rest = ""
        if closing > -1:
            rest = substring[closing + 1 :]
            substring = substring[: closing + 1]
        m = PATTERN.match(substring)
        if m is None or m.group(0) != substring:  # a truncated `${` that no longer parses
            if not errors:
                errors.append(TemplateError(template, invalid=True))
            return ""
        if m.group("escaped"):
            return "$"
        name = m.group("named")
        braced = False
        if not name:
            name = m.group("braced")
            braced = True
        if not name:
            if not errors:
                errors.append(TemplateError(template, invalid=True))
            return ""
        if braced:
            try:
                value = _apply_operator(op, name, lookup, warn)
                if value is not None:
                    return value + substitute(rest, lookup, warn)
            except TemplateError as err:
                if not errors:
                    errors.append(err)
                return ""
        value = lookup(name)
        if value is None:
            if warn is not None:
                warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
            return ""
        return value

    if "$" not in template:
        return template
    result = PATTERN.sub(replace, template)
    if errors:
        raise errors[0]
    return result


# --- casts at typed paths (compose-go loader/interpolate.go) ---


def _to_int(v: str) -> Any:
    return int(v, 10)


def _to_float(v: str) -> Any:
    return float(v)


_OLD_BOOLS = {"y": True, "yes": True, "on": True, "n": False, "no": False, "off": False}


def _to_bool(v: str) -> Any:
    low = v.lower()
    if low in ("true", "y", "yes", "on"):
        return True
    if low in ("false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {v}")


_S = ("services", "*")
CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    (*_S, "cpu_count"): _to_int,
    (*_S, "cpu_percent"): _to_float,
    (*_S, "cpu_period"): _to_int,
    (*_S, "cpu_quota"): _to_int,
    (*_S, "cpu_rt_period"): _to_int,
    (*_S, "cpu_rt_runtime"): _to_int,
    (*_S, "cpus"): _to_float,
    (*_S, "cpu_shares"): _to_int,
    (*_S, "init"): _to_bool,
    (*_S, "depends_on", "*", "required"): _to_bool,
    (*_S, "depends_on", "*", "restart"): _to_bool,
    (*_S, "deploy", "replicas"): _to_int,
    (*_S, "deploy", "update_config", "parallelism"): _to_int,
    (*_S, "deploy", "update_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "rollback_config", "parallelism"): _to_int,
    (*_S, "deploy", "rollback_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "restart_policy", "max_attempts"): _to_int,
    (*_S, "deploy", "placement", "max_replicas_per_node"): _to_int,
    (*_S, "healthcheck", "retries"): _to_int,
    (*_S, "healthcheck", "disable"): _to_bool,
    (*_S, "oom_kill_disable"): _to_bool,
    (*_S, "oom_score_adj"): _to_int,
    (*_S, "pids_limit"): _to_int,
    (*_S, "ports", "[]", "target"): _to_int,
    (*_S, "privileged"): _to_bool,
    (*_S, "read_only"): _to_bool,
    (*_S, "scale"): _to_int,
    (*_S, "stdin_open"): _to_bool,
    (*_S, "tty"): _to_bool,
    (*_S, "ulimits", "*"): _to_int,
    (*_S, "ulimits", "*", "hard"): _to_int,
    (*_S, "ulimits", "*", "soft"): _to_int,
    (*_S, "volumes", "[]", "read_only"): _to_bool,
    (*_S, "volumes", "[]", "volume", "nocopy"): _to_bool,
    ("networks", "*", "external"): _to_bool,
    ("networks", "*", "internal"): _to_bool,
    ("networks", "*", "attachable"): _to_bool,
    ("networks", "*", "enable_ipv4"): _to_bool,
    ("networks", "*", "enable_ipv6"): _to_bool,
    ("volumes", "*", "external"): _to_bool,
    ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}


def _cast_for(path: tuple[str, ...]) -> Callable[[str], Any] | None:
    for pattern, cast in CASTS.items():
        if len(pattern) == len(path) and all(
            p in ("*", q) or (p == "[]" and q == "[]") for p, q in zip(pattern, path, strict=True)
        ):
            return cast
    return None


def dotted(path: tuple[str | int, ...]) -> str:
    """compose's spelling of a path in the document: ``services.web.ports.0``."""
    return ".".join(str(p) for p in path)


def interpolate(
    doc: Mapping[str, Any], lookup: Lookup, warn: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """A copy of ``doc`` with every string value substituted, and cast where compose types it."""

    def walk(value: Any, path: tuple[str | int, ...], shape: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            try:
                new = substitute(value, lookup, warn)
            except TemplateError as err:
                if err.invalid:
                    raise InterpolationError(
                        f"invalid interpolation format for {dotted(path)}: {value!r}: "
                        "you may need to escape any $ with another $"
                    )
                raise InterpolationError(f"error while interpolating {dotted(path)}: {err}")
            cast = _cast_for(shape)
            if cast is None:
                return new
            if cast is _to_bool and warn is not None and new.lower() in _OLD_BOOLS:
                word = "true" if _OLD_BOOLS[new.lower()] else "false"
                warn(f'"{new}" for boolean is not supported by YAML 1.2, please use `{word}`')
            try:
                return cast(new)
            except ValueError as err:
                raise InterpolationError(
                    f"error while interpolating {dotted(path)}: failed to cast to expected type: {err}"
                )
        if isinstance(value, dict):
            return {k: walk(v, (*path, k), (*shape, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i), (*shape, "[]")) for i, v in enumerate(value)]
        return value

    return {k: walk(v, (k,), (str(k),)) for k, v in doc.items()}
