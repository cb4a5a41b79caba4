"""Images you make: build, commit, history, export, import (and ``image build|history|import``,
``container commit|export``)."""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from tui.cli import CLIError, make_engine
from tui.output import emit, human_size, time_ago


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "t", "true", "yes", "y"):
        return True
    if low in ("0", "f", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("context", metavar="PATH|-", help="the build context directory, or - (stdin)")
    p.add_argument("-t", "--tag", action="append", default=[], help="name and optionally a tag (repeatable)")
    p.add_argument("-f", "--file", help="the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]", help="set a build arg")
    p.add_argument("--target", help="the build stage to build (default: the last)")
    p.add_argument("--no-cache", action="store_true", help="do not use the cache when building")
    p.add_argument("--pull", action="store_true", help="always pull base images")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set an image label")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id on success")
    p.add_argument("--network", default="default", help="network mode of RUN steps: default, none or host")
    p.add_argument("--platform", help="platform of the image (only this host's can run RUN steps)")
    p.add_argument("--iidfile", help="write the image id to this file")
    p.add_argument(
        "--progress", default="plain", choices=["auto", "plain", "tty", "quiet"], help="output style"
    )
    p.set_defaults(func=cmd_build)


def _commit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-a", "--author", default="", help='author (e.g. "Jane Doe <jane@example.com>")')
    p.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction")
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument(
        "-p",
        "--pause",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="pause the container while committing (default true; --pause=false to not)",
    )
    p.set_defaults(func=cmd_commit)


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "-H",
        "--human",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="human readable sizes and dates",
    )
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
    p.add_argument("--format", help="'json', 'table', 'table TEMPLATE' or a Go-style template")
    p.set_defaults(func=cmd_history)


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-o", "--output", help="write to a file instead of stdout")
    p.set_defaults(func=cmd_export)


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="file|-")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction")
    p.add_argument("-m", "--message", default="", help="commit message for the imported image")
    p.add_argument("--platform", help="platform to record in the image (default: this host's)")
    p.set_defaults(func=cmd_import)


def register(sub: Any) -> None:
    _build_args(sub.add_parser("build", help="Build an image from a Dockerfile"))
    _commit_args(sub.add_parser("commit", help="Create a new image from a container's changes"))
    _history_args(sub.add_parser("history", help="Show the history of an image"))
    _export_args(sub.add_parser("export", help="Export a container's filesystem as a tar archive"))
    _import_args(sub.add_parser("import", help="Import a tarball's contents as a filesystem image"))
    # `image build|history|import` and `container commit|export`, when those groups are being built
    extend(sub, "image")
    extend(sub, "container")


def _group(sub: Any, name: str) -> Any | None:
    parser = sub.choices.get(name)
    if parser is None:
        return None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def extend(sub: Any, group: str) -> None:
    """Add this module's verbs to the ``image`` and ``container`` management groups."""
    gsub = _group(sub, group)
    if gsub is None:
        return
    if group == "image":
        _build_args(gsub.add_parser("build", help="Build an image from a Dockerfile"))
        _history_args(gsub.add_parser("history", help="Show the history of an image"))
        _import_args(gsub.add_parser("import", help="Import a tarball's contents as a filesystem image"))
    elif group == "container":
        _commit_args(gsub.add_parser("commit", help="Create a new image from a container's changes"))
        _export_args(gsub.add_parser("export", help="Export a container's filesystem as a tar archive"))


# ------------------------------------------------------------------------------------------ build


def _stdin_is_tar(data: bytes) -> bool:
    if len(data) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(data[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


class _Printer:
    """BuildKit's plain progress: ``#N title``, output lines with their time into the step, then
    ``#N DONE 0.3s`` or ``#N CACHED``."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.started: dict[int, float] = {}

    def __call__(self, ev: Any) -> None:
        w = self.out.write
        if ev.kind == "step":
            self.started[ev.step] = time.monotonic()
            w(f"\n#{ev.step} {ev.text}\n")
        elif ev.kind == "output":
            elapsed = time.monotonic() - self.started.get(ev.step, time.monotonic())
            w(f"#{ev.step} {elapsed:.3f} {ev.text}\n")
        elif ev.kind == "cached":
            w(f"#{ev.step} CACHED\n")
        elif ev.kind == "done":
            w(f"#{ev.step} DONE {ev.seconds:.1f}s\n")
        elif ev.kind == "warning":
            w(f"WARNING: {ev.text}\n")
        elif ev.kind == "info":
            w(f"{ev.text}\n")
        self.out.flush()


def cmd_build(args: argparse.Namespace) -> int:
    from core.errors import BuildError
    from core.models import BuildOptions

    engine = make_engine(args)
    build_args: dict[str, str] = {}
    for item in args.build_arg:
        key, sep, value = item.partition("=")
        if not key:
            raise CLIError(f"invalid --build-arg {item!r}: use KEY=VALUE or KEY")
        if sep:
            build_args[key] = value
        elif key in os.environ:
            build_args[key] = os.environ[key]  # docker: a bare KEY takes the caller's value, if set
    labels: dict[str, str] = {}
    for item in args.label:
        key, _, value = item.partition("=")
        if not key:
            raise CLIError(f"invalid --label {item!r}: use KEY=VALUE")
        labels[key] = value
    dockerfile_text: str | None = None
    archive: bytes | None = None
    dockerfile: Path | None = None
    context: Path | None
    if args.context == "-":
        if args.file == "-":
            raise CLIError("the context and the Dockerfile cannot both come from stdin")
        data = sys.stdin.buffer.read()
        if _stdin_is_tar(data) or data[:2] == b"\x1f\x8b":
            archive = data  # the engine unpacks it, as it would a context sent over its API
            context = None
            dockerfile = Path(args.file) if args.file else None
        else:
            context = None
            dockerfile_text = data.decode("utf-8", "surrogateescape")
    else:
        context = Path(args.context)
        if not context.is_dir():  # docker's words
            if context.exists():
                raise CLIError(f"unable to prepare context: context must be a directory: {args.context}")
            raise CLIError(f'unable to prepare context: path "{args.context}" not found')
        if args.file == "-":
            dockerfile_text = sys.stdin.read()
        elif args.file:
            dockerfile = Path(args.file).absolute()
    opts = BuildOptions(
        context=context,
        dockerfile=dockerfile,
        dockerfile_text=dockerfile_text,
        context_archive=archive,
        tags=list(args.tag),
        build_args=build_args,
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        labels=labels,
        network=args.network,
        platform=args.platform,
    )
    quiet = args.quiet or args.progress == "quiet"
    printer = None if quiet else _Printer(sys.stderr)
    try:
        result = engine.build(opts, progress=printer)
    except BuildError as err:
        if quiet and err.output:
            sys.stderr.write("".join(line + "\n" for line in err.output))
        raise
    if args.iidfile:
        Path(args.iidfile).write_text(result.image_id)
    if quiet:
        for warning in result.warnings:  # still worth seeing: stderr leaves the id alone on stdout
            sys.stderr.write(f"WARNING: {warning}\n")
        print(result.image_id)
    return 0


# ------------------------------------------------------------------------------------------ commit


def cmd_commit(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    summary = engine.commit(
        args.container,
        args.repository,
        message=args.message,
        author=args.author,
        changes=list(args.change),
        pause=args.pause,
    )
    print(summary.id)
    return 0


# ------------------------------------------------------------------------------------------ history


def _created_by(text: str, no_trunc: bool) -> str:
    text = text.replace("\t", " ").replace("\n", " ")
    if not no_trunc and len(text) > 45:
        return text[:44] + "…"
    return text


def _rfc3339(value: str) -> str:
    """Go's time.Format(time.RFC3339) of a time in seconds, in the local zone."""
    from datetime import datetime

    from tui.output import parse_time

    dt = parse_time(value)
    if dt is None:
        return value
    local = datetime.fromtimestamp(int(dt.timestamp())).astimezone()
    text = local.isoformat()
    offset = local.utcoffset()
    return text[:-6] + "Z" if offset is not None and not offset else text


def cmd_history(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    rows = engine.history(args.image)
    if args.quiet:
        for r in rows:
            print(r.id if args.no_trunc or r.id == "<missing>" else r.id.removeprefix("sha256:")[:12])
        return 0
    out = []
    for r in rows:
        image_id = r.id if (args.no_trunc or r.id == "<missing>") else r.id.removeprefix("sha256:")[:12]
        out.append(
            {
                "ID": image_id,
                "CreatedAt": _rfc3339(r.created),
                "CreatedSince": time_ago(r.created) if args.human else _rfc3339(r.created),
                "CreatedBy": _created_by(r.created_by, args.no_trunc),
                "Size": human_size(r.size) if args.human else str(r.size),
                "Comment": r.comment,
            }
        )
    from tui.contexts import HISTORY_HEADER, HISTORY_TABLE

    emit(out, args.format, [], go_type="*image.historyContext", header=HISTORY_HEADER, default=HISTORY_TABLE)
    return 0


# ------------------------------------------------------------------------------------------ export/import


def cmd_export(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    if args.output:
        path = Path(args.output)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                engine.export_container(args.container, f)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return 0
    if sys.stdout.isatty():
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    engine.export_container(args.container, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    src = args.source
    if "://" in src:
        raise CLIError(
            f"cannot import {src}: importing from a URL is not supported; "
            "download the archive and import the file"
        )
    if src == "-":
        summary = engine.import_image(
            sys.stdin.buffer,
            args.repository,
            message=args.message,
            changes=list(args.change),
            platform=args.platform,
        )
    else:
        try:
            f = open(src, "rb")  # noqa: SIM115
        except OSError as err:
            raise CLIError(f"cannot open {src}: {err.strerror}") from None
        with f:
            summary = engine.import_image(
                f,
                args.repository,
                message=args.message,
                changes=list(args.change),
                platform=args.platform,
                source_name=src,
            )
    print(summary.id)
    return 0
