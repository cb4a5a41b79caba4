"""Instructions that change only an image's config: ENV, LABEL, EXPOSE, VOLUME, CMD, ENTRYPOINT, USER,
WORKDIR, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER.

One implementation for the three places that apply them: ``build``'s metadata steps, ``commit --change`` and
``import --change``. Each application returns the text docker records in the image's history.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from core.build.dockerfile import Instruction, parse_duration
from core.build.shell import ShellError, ShellLexer
from core.record import record

DEFAULT_SHELL = ["/bin/sh", "-c"]
METADATA = (
    "env",
    "label",
    "expose",
    "volume",
    "cmd",
    "entrypoint",
    "user",
    "workdir",
    "stopsignal",
    "healthcheck",
    "shell",
    "onbuild",
    "maintainer",
)
_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)
_HEALTH_FIELDS = (
    ("interval", "Interval"),
    ("timeout", "Timeout"),
    ("start-period", "StartPeriod"),
    ("start-interval", "StartInterval"),
)


@record
class MetaState:
    """What docker's dispatcher remembers between instructions of one stage (or one ``--change`` list)."""

    cmd_set: bool = False  # a CMD in this stage: a later ENTRYPOINT keeps it


def expand(instr: Instruction, word: str, env: Mapping[str, str], lexer: ShellLexer) -> str:
    try:
        return lexer.process_word(word, env)
    except ShellError as err:
        raise instr.error(str(err)) from None


def expand_words(instr: Instruction, text: str, env: Mapping[str, str], lexer: ShellLexer) -> list[str]:
    try:
        return lexer.process_words(text, env)
    except ShellError as err:
        raise instr.error(str(err)) from None


def command_of(config: dict[str, Any], instr: Instruction) -> list[str]:
    """RUN/CMD/ENTRYPOINT arguments: exec form as written, shell form through the image's SHELL."""
    if instr.json:
        return list(instr.args)
    shell = list((config.get("config") or {}).get("Shell") or DEFAULT_SHELL)
    return [*shell, *instr.args]


def env_list_set(env: list[str], key: str, value: str) -> list[str]:
    out = [e for e in env if e.partition("=")[0] != key]
    # keep the variable where it was, as docker does when ENV changes an existing one
    for i, e in enumerate(env):
        if e.partition("=")[0] == key:
            out.insert(i, f"{key}={value}")
            return out
    return [*out, f"{key}={value}"]


def apply_instruction(
    config: dict[str, Any],
    instr: Instruction,
    env: Mapping[str, str],
    *,
    state: MetaState | None = None,
    lexer: ShellLexer | None = None,
) -> str:
    """Apply one metadata instruction to ``config`` (an image config: ``config["config"]`` is the runtime
    part); ``env`` holds the variables ``$NAME`` may name. Returns the history text."""
    lexer = lexer or ShellLexer()
    state = state or MetaState()
    c: dict[str, Any] = config.setdefault("config", {})
    cmd = instr.cmd
    if cmd in ("env", "label"):
        pairs = []
        for word in instr.args:
            raw_key, _, raw_value = word.partition("=")
            key = expand(instr, raw_key, env, lexer)
            value = expand(instr, raw_value, env, lexer)
            if not key:
                raise instr.error(f"{instr.keyword} names an empty key")
            pairs.append((key, value))
            if cmd == "env":
                c["Env"] = env_list_set(list(c.get("Env") or []), key, value)
                env = {**env, key: value}  # ENV A=1 B=$A: later pairs see earlier ones
            else:
                c["Labels"] = {**(c.get("Labels") or {}), key: value}
        return f"{instr.keyword} " + " ".join(f"{k}={_quote(v)}" for k, v in pairs)
    if cmd == "expose":
        ports = dict(c.get("ExposedPorts") or {})
        added = []
        for word in expand_words(instr, " ".join(instr.args), env, lexer):
            m = _PORT.match(word)
            if not m:
                raise instr.error(f"invalid port {word!r}: use PORT[/PROTOCOL] or START-END[/PROTOCOL]")
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
            proto = (m.group(3) or "tcp").lower()
            if not 0 < lo <= hi <= 65535:
                raise instr.error(f"invalid port range {word!r}")
            for p in range(lo, hi + 1):
                ports[f"{p}/{proto}"] = {}
                added.append(f"{p}/{proto}")
        c["ExposedPorts"] = ports
        return "EXPOSE " + " ".join(added)
    if cmd == "volume":
        vols = dict(c.get("Volumes") or {})
        names = (
            [expand(instr, a, env, lexer) for a in instr.args]
            if instr.json
            else expand_words(instr, " ".join(instr.args), env, lexer)
        )
        for v in names:
            if not v.strip():
                raise instr.error("VOLUME specified can not be an empty string")
            vols[v] = {}
        c["Volumes"] = vols
        return "VOLUME " + json.dumps(names)
    if cmd == "cmd":
        c["Cmd"] = command_of(config, instr)
        state.cmd_set = True
        return "CMD " + json.dumps(c["Cmd"])
    if cmd == "entrypoint":
        args = command_of(config, instr) if instr.args else []
        c["Entrypoint"] = args or None
        if not state.cmd_set:
            c.pop("Cmd", None)  # docker: a new ENTRYPOINT drops the Cmd inherited from the base image
        if c["Entrypoint"] is None:
            c.pop("Entrypoint")
        return "ENTRYPOINT " + json.dumps(args)
    if cmd == "user":
        c["User"] = expand(instr, instr.args[0], env, lexer)
        return f"USER {c['User']}"
    if cmd == "workdir":
        path = expand(instr, instr.args[0], env, lexer)
        c["WorkingDir"] = workdir_join(c.get("WorkingDir") or "/", path)
        return f"WORKDIR {c['WorkingDir']}"
    if cmd == "stopsignal":
        sig = expand(instr, instr.args[0], env, lexer)
        _check_signal(instr, sig)
        c["StopSignal"] = sig
        return f"STOPSIGNAL {sig}"
    if cmd == "healthcheck":
        c["Healthcheck"] = healthcheck_of(instr)
        return instr.original
    if cmd == "shell":
        c["Shell"] = list(instr.args)
        return "SHELL " + json.dumps(instr.args)
    if cmd == "onbuild":
        assert instr.trigger is not None
        c["OnBuild"] = [*(c.get("OnBuild") or []), instr.args[0]]
        return f"ONBUILD {instr.args[0]}"
    if cmd == "maintainer":
        config["author"] = instr.args[0]
        return f"MAINTAINER {instr.args[0]}"
    raise instr.error(f"{instr.keyword} cannot be applied as a config change")


def workdir_join(current: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(current or "/", path)).replace("//", "/")


def healthcheck_of(instr: Instruction) -> dict[str, Any]:
    if instr.args == ["NONE"]:
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {"Test": list(instr.args)}
    for flag, key in _HEALTH_FIELDS:
        value = instr.flag(flag)
        if value is not None:
            ns = parse_duration(value, instr, flag)
            if ns:
                out[key] = ns
    retries = instr.flag("retries")
    if retries:
        out["Retries"] = int(retries)
    return out


def _check_signal(instr: Instruction, sig: str) -> None:
    from core.runtime.signals import parse_signal

    try:
        parse_signal(sig)
    except Exception:
        raise instr.error(f"invalid signal {sig!r}") from None


def _quote(value: str) -> str:
    return json.dumps(value) if (not value or any(ch.isspace() or ch in "\"'\\" for ch in value)) else value


__all__ = [
    "DEFAULT_SHELL",
    "METADATA",
    "MetaState",
    "apply_instruction",
    "command_of",
    "env_list_set",
    "expand",
    "expand_words",
    "healthcheck_of",
    "workdir_join",
]
