"""Image verbs: pull, push, images / image ls, image inspect, rmi / image rm, tag, image prune, save, load,
login, logout."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from tui.cli import CLIError, make_engine
from tui.output import confirm_prune, emit, human_size, print_inspected, time_ago

TYPE_CHECKING = False
if TYPE_CHECKING:
    from core.interface import Engine


def register(sub: Any) -> None:
    p = sub.add_parser("pull", help="Download an image from a registry")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("--platform", help="platform to pull, e.g. linux/arm64 (default: this host's)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image reference")
    p.add_argument("-a", "--all-tags", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("push", help="Upload an image to a registry")
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument(
        "--chunk-size",
        type=_size,
        default=None,
        help="upload layers in chunks of this many bytes (default: one request a layer)",
    )
    p.set_defaults(func=cmd_push)

    _images_parser(sub, "images", "List images")

    p = sub.add_parser("rmi", help="Remove one or more images")
    _rmi_args(p)

    p = sub.add_parser("tag", help="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser(
        "save", help="Save one or more images to a tar archive (streamed to stdout by default)"
    )
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="write to a file instead of stdout")
    p.set_defaults(func=cmd_save)

    p = sub.add_parser("load", help="Load images from a tar archive (docker-archive or OCI layout)")
    p.add_argument("-i", "--input", help="read from a tar file instead of stdin")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("login", help="Log in to a registry")
    p.add_argument("server", nargs="?", default="", metavar="SERVER")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="Log out from a registry")
    p.add_argument("server", nargs="?", default="", metavar="SERVER")
    p.set_defaults(func=cmd_logout)

    img = sub.add_parser("image", help="Manage images")
    isub = img.add_subparsers(dest="image_verb", metavar="COMMAND", parser_class=type(img))
    _images_parser(isub, "ls", "List images", aliases=["list"])
    p = isub.add_parser("inspect", help="Display detailed information on one or more images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--format", help="format the output using a template")
    p.set_defaults(func=cmd_inspect)
    p = isub.add_parser("rm", help="Remove one or more images", aliases=["remove"])
    _rmi_args(p)
    p = isub.add_parser("prune", help="Remove unused images")
    p.add_argument(
        "-a", "--all", action="store_true", help="remove all images no container uses, not just dangling"
    )
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter", action="append", default=[], help="provide filter values (e.g. 'until=<timestamp>')"
    )
    p.set_defaults(func=cmd_prune)
    for verb, target in (
        ("pull", cmd_pull),
        ("push", cmd_push),
        ("tag", cmd_tag),
        ("save", cmd_save),
        ("load", cmd_load),
    ):
        alias = isub.add_parser(verb, help=f"same as 'dockyard {verb}'")
        src = sub.choices.get(verb)
        if src is not None:  # absent when only another verb's parser is being built (tui.cli)
            _copy_args(src, alias)
        alias.set_defaults(func=target)
    img.set_defaults(func=lambda a: img.print_help())


def _copy_args(src: argparse.ArgumentParser, dst: argparse.ArgumentParser) -> None:
    for action in src._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        kwargs: dict[str, Any] = {"dest": action.dest, "help": action.help, "default": action.default}
        if action.option_strings:
            if isinstance(action, argparse._StoreTrueAction):
                dst.add_argument(*action.option_strings, action="store_true", **kwargs)
            else:
                dst.add_argument(*action.option_strings, type=action.type, metavar=action.metavar, **kwargs)  # type: ignore[arg-type]
        else:
            kwargs.pop("dest")
            dst.add_argument(action.dest, nargs=action.nargs, metavar=action.metavar, help=action.help)


def _images_parser(sub: Any, name: str, help_text: str, aliases: list[str] | None = None) -> None:
    p = sub.add_parser(name, help=help_text, aliases=aliases or [])
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument(
        "-a", "--all", action="store_true", help="show all images (default hides intermediate images)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("--format", help="'json', 'table', 'table TEMPLATE' or a Go-style template")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="filter output based on conditions provided (before, dangling, label, reference, since)",
    )
    p.set_defaults(func=cmd_images)


def _rmi_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("--no-prune", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_rmi)


def _size(text: str) -> int:
    from core.interface import parse_bytes

    return parse_bytes(text)


# ------------------------------------------------------------------- commands


def cmd_pull(args: argparse.Namespace) -> int:
    from core.interface import parse_reference
    from tui.progress import progress_for

    if args.all_tags:
        raise CLIError("--all-tags is not supported")
    ref = parse_reference(args.name)
    tag_or_digest = ref.digest or ref.tag
    engine = make_engine(args)
    headed = False

    def header() -> None:
        # once the registry has the manifest (docker says nothing on stdout for a missing one); docker names
        # the repository path without its registry: "library/busybox", "team/app"
        nonlocal headed
        if not args.quiet and not headed:
            headed = True
            print(f"{tag_or_digest}: Pulling from {ref.path}", flush=True)

    with progress_for(args.quiet) as bars:

        def progress(p: Any) -> None:
            if p.layer or p.status != "Pulling from":
                bars(p)
            else:
                header()

        result = engine.pull(args.name, platform=args.platform, progress=progress)
    header()
    if args.quiet:
        print(str(ref) if "/" in args.name else ref.familiar())
        return 0
    print(f"Digest: {result.digest}")
    word = "Downloaded newer image for" if result.new else "Image is up to date for"
    print(f"Status: {word} {ref.familiar()}")
    print(str(ref))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from core.interface import parse_reference
    from tui.progress import progress_for

    ref = parse_reference(args.name)
    engine = make_engine(args)
    if not args.quiet:
        print(f"The push refers to repository [{ref.name}]")
    with progress_for(args.quiet) as bars:
        pushed = engine.push(args.name, progress=bars, chunk_size=args.chunk_size)
    if not args.quiet:
        print(f"{ref.tag or 'latest'}: digest: {pushed.digest} size: {pushed.size}")
    else:
        print(ref.familiar())
    return 0


def _image_rows(engine: Engine, args: argparse.Namespace) -> list[dict[str, Any]]:
    from core.interface import parse_reference
    from tui.contexts import go_time

    rows: list[dict[str, Any]] = []
    wanted = None
    if args.repository:
        ref = parse_reference(args.repository)
        wanted = (ref.name, ref.tag if ":" in args.repository.rsplit("/", 1)[-1] else None)
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    for img in engine.list_images(all=args.all, filters=filters or None):
        short = img.id if args.no_trunc else img.id.removeprefix("sha256:")[:12]
        digests = {d.partition("@")[0]: d.partition("@")[2] for d in img.repo_digests}
        tags = img.repo_tags or []
        pairs: list[tuple[str, str]] = []
        for t in tags:
            repo, _, tag = t.rpartition(":")
            if "/" in tag:  # a port, not a tag
                repo, tag = t, "<none>"
            pairs.append((repo, tag))
        if not pairs:
            pairs = [(d.partition("@")[0], "<none>") for d in img.repo_digests] or [("<none>", "<none>")]
        for repo, tag in pairs:
            if wanted:
                full = parse_reference(repo).name if repo != "<none>" else ""
                if full != wanted[0] or (wanted[1] and tag != wanted[1]):
                    continue
            rows.append(
                {
                    # docker's `images` lists without counting users (the daemon's -1): N/A
                    "Containers": "N/A",
                    "CreatedAt": go_time(img.created),
                    "CreatedSince": time_ago(img.created),
                    "Digest": digests.get(repo, "<none>"),
                    "ID": short,
                    "Repository": repo,
                    "SharedSize": "N/A",
                    "Size": human_size(img.size),
                    "Tag": tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(img.size, 4),
                }
            )
    return rows


def cmd_images(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    rows = _image_rows(engine, args)
    if args.quiet and args.format in (None, "", "table"):  # like docker: a custom format wins over -q
        # an id a row, as docker's CLI: an image with two tags is listed twice
        sys.stdout.write("".join(f"{r['ID']}\n" for r in rows))
        return 0
    from tui.contexts import IMAGE_HEADER, IMAGE_RAW, IMAGE_RAW_DIGEST, IMAGE_TABLE, IMAGE_TABLE_DIGEST

    fmt = args.format or "table"
    if fmt == "table":
        fmt = IMAGE_TABLE_DIGEST if args.digests else IMAGE_TABLE
    elif fmt == "raw":
        fmt = "image_id: {{.ID}}" if args.quiet else IMAGE_RAW_DIGEST if args.digests else IMAGE_RAW
    elif fmt.startswith("table") and args.digests and "{{.Digest}}" not in fmt:
        fmt += "\t{{.Digest}}"
    emit(rows, fmt, [], go_type="*formatter.imageContext", header=IMAGE_HEADER)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from core.errors import ImageNotFound

    engine = make_engine(args)
    found, missing = [], []
    for name in args.images:
        try:
            found.append(engine.inspect_image(name))
        except ImageNotFound:
            missing.append(name)
    print_inspected(found, args.format)
    for name in missing:  # docker's words: the name asked for, then the reference it looked for
        sys.stderr.write(f"Error: no such image: {name}: No such image: {_with_tag(name)}\n")
    return 1 if missing else 0


def _with_tag(name: str) -> str:
    """``name`` with ``:latest`` when it has no tag or digest (an image id stays as it is)."""
    if "@" in name or ":" in name.rpartition("/")[2]:
        return name
    return f"{name}:latest"


def cmd_rmi(args: argparse.Namespace) -> int:
    from core.errors import DockyardError

    engine = make_engine(args)
    failed = 0
    for name in args.images:
        try:
            removed = engine.remove_image(name, force=args.force)
        except DockyardError as err:
            sys.stderr.write(f"Error: {err}\n")
            failed = err.exit_code
            continue
        for u in removed.untagged:
            print(f"Untagged: {_familiar(u)}")
        for d in removed.deleted:
            print(f"Deleted: {d}")
    return 1 if failed else 0


def _familiar(name: str) -> str:
    from core.interface import parse_reference

    if "@" in name:
        repo, _, digest = name.partition("@")
        return f"{parse_reference(repo).familiar_name}@{digest}"
    try:
        return parse_reference(name).familiar()
    except Exception:
        return name


def cmd_tag(args: argparse.Namespace) -> int:
    make_engine(args).tag_image(args.source, args.target)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    what = (
        "all images without at least one container associated to them" if args.all else "all dangling images"
    )
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if not confirm_prune(what, args.force):
        return 0
    removed, reclaimed = make_engine(args).prune_images(all=args.all, filters=filters or None)
    if removed.untagged or removed.deleted:
        print("Deleted Images:")
        for u in removed.untagged:
            print(f"untagged: {_familiar(u)}")
        for d in removed.deleted:
            print(f"deleted: {d}")
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    if args.output:
        import tempfile
        from pathlib import Path

        final = Path(args.output).absolute()
        # written beside the target, then renamed: an interrupted save leaves no half archive under its name
        with tempfile.NamedTemporaryFile(dir=final.parent, prefix=f".{final.name}.", delete=False) as f:
            tmp = Path(f.name)
            try:
                engine.save_images(args.images, f)  # type: ignore[arg-type]  # a binary file object
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        tmp.rename(final)
        return 0
    if sys.stdout.isatty():
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    engine.save_images(args.images, sys.stdout.buffer)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    if args.input:
        with open(args.input, "rb") as f:
            lines = engine.load_images(f)
    else:
        if sys.stdin.isatty():
            raise CLIError("requested load from stdin, but stdin is empty")
        lines = engine.load_images(sys.stdin.buffer)
    for line in lines:
        print(line)
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    username = args.username
    password = args.password
    if args.password_stdin:
        if password:
            raise CLIError("--password and --password-stdin are mutually exclusive")
        if not username:
            raise CLIError("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        if not sys.stdin.isatty():
            raise CLIError("cannot perform an interactive login from a non TTY device")
        username = input("Username: ").strip()
    if not password:
        if not sys.stdin.isatty():
            raise CLIError("cannot perform an interactive login from a non TTY device")
        password = getpass.getpass("Password: ")
    if args.password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    engine = make_engine(args)
    key = engine.login(args.server, username, password)
    print(f"Login Succeeded ({key})" if args.server else "Login Succeeded")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    server = args.server or "docker.io"
    if engine.logout(args.server):
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0
