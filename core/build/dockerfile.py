"""The Dockerfile parser: text to instructions and build stages, with BuildKit's syntax rules.

- Parser directives (``# syntax=``, ``# escape=``, ``# check=``) count only at the very top: the first line
  that is not one (a comment, a blank line, an instruction, an unknown directive) ends them.
- A line ending in the escape character (``\\`` or, with ``# escape=`````, a backtick) continues on the
  next; comment lines and blank lines inside a continuation are dropped. Continuation lines keep their
  leading whitespace, as BuildKit keeps it.
- Instructions are case-insensitive; ``--flag[=value]`` words right after the instruction are its flags.
- RUN, CMD, ENTRYPOINT and SHELL take exec form (a JSON array of strings) or shell form; COPY, ADD and
  VOLUME a JSON array or whitespace-separated words; ENV and LABEL ``k=v ...`` (quotes kept for the lexer)
  or the old ``KEY value``; ARG ``name[=default] ...``; HEALTHCHECK ``NONE`` or ``[--flags] CMD ...``;
  ONBUILD any other instruction.
- Heredocs (``<<EOF``, ``<<-EOF``, ``<<"EOF"``) on RUN, COPY and ADD: the lines after the instruction up to
  the delimiter are the body.

Errors name the file, the line and the instruction: ``Dockerfile:7: COPY: ...``.
"""

from __future__ import annotations

import json
import re

from core.errors import InvalidArgument
from core.record import field, record


class DockerfileError(InvalidArgument):
    """A Dockerfile that does not parse, or an instruction that cannot run; the message says where.
    ``docker build`` exits 1 for any failed build, this one included."""

    exit_code = 1


def error_at(filename: str, line: int, keyword: str, message: str) -> DockerfileError:
    where = f"{filename}:{line}" + (f": {keyword}" if keyword else "")
    return DockerfileError(f"{where}: {message}")


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_ARG_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# instruction -> the flags it takes (BuildKit's names)
FLAGS: dict[str, tuple[str, ...]] = {
    "from": ("platform",),
    "run": ("mount", "network", "security"),
    "copy": ("from", "chown", "chmod", "link", "parents", "exclude"),
    "add": ("chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"),
    "healthcheck": ("interval", "timeout", "start-period", "start-interval", "retries"),
}
INSTRUCTIONS = (
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)
HEREDOC_INSTRUCTIONS = ("run", "copy", "add")


@record
class Heredoc:
    name: str
    content: str  # every line with its newline; leading tabs already stripped for <<-
    expand: bool  # an unquoted delimiter: variables in the body are expanded
    fd: int | None = None  # RUN 3<<EOF: the file descriptor it feeds


@record
class Instruction:
    cmd: str  # lower case
    args: list[str]  # parsed arguments, before variable substitution
    line: int  # where it starts (1-based)
    original: str  # the logical line as written (continuations joined)
    filename: str = "Dockerfile"
    json: bool = False  # exec form
    flags: dict[str, list[str]] = field(default_factory=dict)  # --name=value; a bare --name is ""
    heredocs: list[Heredoc] = field(default_factory=list)
    trigger: Instruction | None = None  # ONBUILD's instruction
    end_line: int = 0

    @property
    def keyword(self) -> str:
        return self.cmd.upper()

    def error(self, message: str) -> DockerfileError:
        return error_at(self.filename, self.line, self.keyword, message)

    def flag(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None


@record
class Dockerfile:
    filename: str
    instructions: list[Instruction]
    escape: str = "\\"
    syntax: str | None = None
    warnings: list[str] = field(default_factory=list)


@record
class Stage:
    index: int
    name: str | None  # lower case, from ``AS name``
    base: str  # as written, before ARG substitution ("scratch", an image, or an earlier stage's name)
    platform: str | None
    from_instruction: Instruction
    instructions: list[Instruction]

    @property
    def label(self) -> str:
        return self.name or f"stage-{self.index}"


# ------------------------------------------------------------------------------------------ words


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on whitespace outside quotes; quotes and escapes stay in the words (the lexer removes them)."""
    words: list[str] = []
    word = ""
    in_word = False
    quote = ""
    blank_ok = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
            word += ch
            i += 1
            continue
        if ch.isspace():
            if in_word and (blank_ok or word):
                words.append(word)
            word, in_word, blank_ok = "", False, False
            i += 1
            continue
        in_word = True
        if ch in ("'", '"'):
            quote = ch
            blank_ok = True
        elif ch == escape:
            if i + 1 == n:
                i += 1
                continue
            word += ch
            i += 1
            ch = rest[i]
        word += ch
        i += 1
    if in_word and (blank_ok or word):
        words.append(word)
    return words


def _extract_flags(rest: str) -> tuple[str, list[str]]:
    """Leading ``--flag`` words (quotes and backslashes processed, as BuildKit) and the rest of the line."""
    words: list[str] = []
    i, n = 0, len(rest)
    while True:
        while i < n and rest[i].isspace():
            i += 1
        if i >= n or not rest.startswith("--", i):
            return rest[i:], words
        word, quote, blank_ok = "", "", False
        while i < n:
            ch = rest[i]
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    if ch == "\\" and i + 1 < n:
                        i += 1
                        ch = rest[i]
                    word += ch
                i += 1
                continue
            if ch.isspace():
                break
            if ch in ("'", '"'):
                quote, blank_ok = ch, True
            else:
                if ch == "\\" and i + 1 < n:
                    i += 1
                    ch = rest[i]
                word += ch
            i += 1
        if word == "--":
            return rest[i:], words
        if blank_ok or word:
            words.append(word)


def _maybe_json(rest: str) -> list[str] | None:
    text = rest.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    return None


# ------------------------------------------------------------------------------------------ parsing


class _Lines:
    def __init__(self, text: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = text.splitlines()
        self.i = 0

    def next(self) -> str | None:
        if self.i >= len(self.lines):
            return None
        self.i += 1
        return self.lines[self.i - 1]

    @property
    def number(self) -> int:
        return self.i


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    lines = _Lines(text)
    df = Dockerfile(filename=filename, instructions=[])
    seen: set[str] = set()
    # parser directives: only at the very top
    while lines.i < len(lines.lines):
        m = _DIRECTIVE.match(lines.lines[lines.i].strip())
        if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in seen:
            raise error_at(filename, lines.i + 1, "", f"only one {key} parser directive can be used")
        seen.add(key)
        if key == "escape":
            if value not in ("\\", "`"):
                raise error_at(filename, lines.i + 1, "", f"invalid escape token {value!r}: use ` or \\")
            df.escape = value
        elif key == "syntax":
            df.syntax = value
        lines.i += 1
    continuation = re.compile(re.escape(df.escape) + r"[ \t]*$")

    while True:
        raw = lines.next()
        if raw is None:
            break
        if _is_comment(raw) or not raw.strip():
            continue
        start = lines.number
        line = raw.lstrip()
        ended = not continuation.search(line)
        if not ended:
            line = continuation.sub("", line)
        while not ended:
            nxt = lines.next()
            if nxt is None:
                break
            if _is_comment(nxt):
                continue
            if not nxt.strip():
                df.warnings.append(f"{filename}:{lines.number}: empty continuation line")
                continue
            if continuation.search(nxt):
                line += continuation.sub("", nxt)
            else:
                line += nxt
                ended = True
        if not line.strip():
            continue
        instr = _parse_instruction(line, start, filename, df.escape)
        if instr.cmd in HEREDOC_INSTRUCTIONS and not instr.json:
            _read_heredocs(instr, lines, df.escape)
        instr.end_line = lines.number
        df.instructions.append(instr)
    return df


def _parse_instruction(line: str, number: int, filename: str, escape: str) -> Instruction:
    parts = line.strip().split(None, 1)
    cmd = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    if cmd not in INSTRUCTIONS:
        # docker's words (its builder's parser)
        raise DockerfileError(f"dockerfile parse error line {number}: unknown instruction: {parts[0]}")
    instr = Instruction(cmd=cmd, args=[], line=number, original=line.strip(), filename=filename)
    if cmd == "onbuild":
        return _parse_onbuild(instr, rest, escape)
    rest, flag_words = _extract_flags(rest)
    allowed = FLAGS.get(cmd, ())
    for word in flag_words:
        name, sep, value = word[2:].partition("=")
        if name not in allowed:
            raise instr.error(f"unknown flag: --{name}")
        instr.flags.setdefault(name, []).append(value if sep else "")
    _parse_args(instr, rest, escape)
    return instr


def _parse_onbuild(instr: Instruction, rest: str, escape: str) -> Instruction:
    if not rest.strip():
        raise instr.error("ONBUILD requires at least one argument")
    word = rest.strip().split(None, 1)[0].lower()
    if word in ("onbuild", "from", "maintainer"):
        raise instr.error(f"{word.upper()} isn't allowed as an ONBUILD trigger")
    instr.trigger = _parse_instruction(rest.strip(), instr.line, instr.filename, escape)
    instr.args = [rest.strip()]
    return instr


def _parse_args(instr: Instruction, rest: str, escape: str) -> None:
    cmd = instr.cmd
    rest = rest.strip()
    if cmd in ("run", "cmd", "entrypoint", "shell"):
        exec_form = _maybe_json(rest)
        if exec_form is not None:
            instr.json, instr.args = True, exec_form
        elif cmd == "shell":
            raise instr.error("SHELL requires the arguments to be in JSON form")
        else:
            instr.args = [rest] if rest else []
        if cmd == "run" and not instr.args:
            raise instr.error("RUN requires at least one argument")
        if cmd == "shell" and not instr.args:
            raise instr.error("SHELL requires at least one argument")
        return
    if cmd in ("copy", "add", "volume"):
        exec_form = _maybe_json(rest)
        if exec_form is not None:
            instr.json, instr.args = True, exec_form
        else:
            instr.args = rest.split()
        if cmd == "volume" and not instr.args:
            raise instr.error("VOLUME requires at least one argument")
        if cmd in ("copy", "add") and len(instr.args) < 2:
            raise instr.error(f"{cmd.upper()} requires at least two arguments, but only one was provided")
        return
    if cmd in ("env", "label"):
        instr.args = _name_values(instr, rest, escape)
        return
    if cmd == "arg":
        words = parse_words(rest, escape)
        if not words:
            raise instr.error("ARG requires at least one argument")
        for word in words:
            name = word.split("=", 1)[0]
            if not _ARG_NAME.match(name):
                raise instr.error(f"invalid ARG name {name!r}")
        instr.args = words
        return
    if cmd in ("expose", "from"):
        instr.args = rest.split()
        if not instr.args:
            raise instr.error(f"{cmd.upper()} requires at least one argument")
        if cmd == "from":
            _check_from(instr)
        return
    if cmd in ("user", "workdir", "stopsignal", "maintainer"):
        if not rest:
            raise instr.error(f"{cmd.upper()} requires exactly one argument")
        instr.args = [rest]
        return
    if cmd == "healthcheck":
        _parse_healthcheck(instr, rest)
        return
    raise instr.error("unsupported instruction")  # every name in INSTRUCTIONS is handled above


def _name_values(instr: Instruction, rest: str, escape: str) -> list[str]:
    """``k=v`` words, or the old form ``KEY value with spaces`` as one ``KEY=value`` word."""
    words = parse_words(rest, escape)
    if not words:
        raise instr.error(f"{instr.keyword} requires at least one argument")
    if "=" not in words[0]:
        parts = re.split(r"\s+", rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise instr.error(f"{instr.keyword} must have two arguments")
        return [f"{parts[0]}={parts[1]}"]
    for word in words:
        if "=" not in word:
            raise instr.error(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
    return words


def _check_from(instr: Instruction) -> None:
    args = instr.args
    if len(args) == 3 and args[1].lower() == "as":
        if not _STAGE_NAME.match(args[2].lower()):
            raise instr.error(f"invalid name for build stage: {args[2]!r}, name can't start with a number")
        return
    if len(args) != 1:
        raise instr.error("FROM requires either one or three arguments: FROM <image> [AS <name>]")


def _parse_healthcheck(instr: Instruction, rest: str) -> None:
    if not rest:
        raise instr.error("HEALTHCHECK requires at least one argument")
    kind, _, cmdline = rest.partition(" ")
    kind = kind.upper()
    cmdline = cmdline.strip()
    if kind == "NONE":
        if cmdline or instr.flags:
            raise instr.error("HEALTHCHECK NONE takes no arguments")
        instr.args = ["NONE"]
        return
    if kind != "CMD":
        raise instr.error(f"unknown type {kind!r} in HEALTHCHECK (try CMD)")
    if not cmdline:
        raise instr.error("Missing command after HEALTHCHECK CMD")
    exec_form = _maybe_json(cmdline)
    if exec_form is not None:
        instr.json, instr.args = True, ["CMD", *exec_form]
    else:
        instr.args = ["CMD-SHELL", cmdline]
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = instr.flag(name)
        if value is not None:
            parse_duration(value, instr, name)
    retries = instr.flag("retries")
    if retries is not None:
        try:
            if int(retries) < 0:
                raise ValueError
        except ValueError:
            raise instr.error(f"--retries must be a whole number of at least 0, not {retries!r}")


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str, instr: Instruction | None = None, what: str = "duration") -> int:
    """Go's time.ParseDuration ("1m30s", "1.5h", "100ms", "0") in nanoseconds."""

    def bad() -> DockerfileError:
        msg = f"--{what}: invalid duration {text!r} (use e.g. 30s, 1m30s, 500ms)"
        return instr.error(msg) if instr else DockerfileError(msg)

    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0
    if not s or s.startswith("-"):
        raise bad()
    s = s.lstrip("+")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise bad()
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    ns = int(total)
    if 0 < ns < 1_000_000:
        msg = f"--{what} {text!r} cannot be less than 1ms"
        raise instr.error(msg) if instr else DockerfileError(msg)
    return ns


def _read_heredocs(instr: Instruction, lines: _Lines, escape: str) -> None:
    words = parse_words(" ".join(instr.args), escape)
    for word in words:
        m = _HEREDOC.match(word)
        if not m:
            continue
        chomp = m.group(2) == "-"
        raw_name = m.group(3)
        name = raw_name.replace('"', "").replace("'", "")
        if not name:
            continue
        body: list[str] = []
        while True:
            nxt = lines.next()
            if nxt is None:
                raise instr.error(f"unterminated heredoc {name!r}")
            candidate = nxt.lstrip("\t") if chomp else nxt
            if candidate == name:
                break
            body.append((nxt.lstrip("\t") if chomp else nxt) + "\n")
        instr.heredocs.append(
            Heredoc(
                name=name,
                content="".join(body),
                expand=raw_name == name,
                fd=int(m.group(1)) if m.group(1) else None,
            )
        )


# ------------------------------------------------------------------------------------------ stages


def split_stages(df: Dockerfile) -> tuple[list[Instruction], list[Stage]]:
    """Global ARGs (before the first FROM) and the build stages."""
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    names: set[str] = set()
    for instr in df.instructions:
        if instr.cmd == "from":
            name = instr.args[2].lower() if len(instr.args) == 3 else None
            if name is not None:
                if name in names:
                    raise instr.error(f"duplicate stage name {name!r}")
                names.add(name)
            stages.append(Stage(len(stages), name, instr.args[0], instr.flag("platform"), instr, []))
        elif not stages:
            if instr.cmd != "arg":
                raise instr.error("no build stage in current context: the Dockerfile must start with FROM")
            global_args.append(instr)
        else:
            stages[-1].instructions.append(instr)
    if not stages:
        raise DockerfileError(f"{df.filename}: the Dockerfile has no FROM instruction: nothing to build")
    return global_args, stages


__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "Stage",
    "error_at",
    "parse",
    "parse_duration",
    "parse_words",
    "split_stages",
]
