"""Running a Dockerfile: stages, steps, the layer cache and the images steps leave behind.

Each step starts from the image the previous step left (its *parent*) and leaves a new one, stored as an
untagged image record (docker's intermediate images). RUN runs the command in a real container created from
the parent image — the engine's own ``create``/``start``/``wait``, so the same isolation and the same default
network as ``run`` — and its writable layer becomes the step's layer, through the same code as ``commit``.
COPY, ADD and WORKDIR write into a scratch layer directory that takes the same path to a layer. ENV, LABEL,
CMD and the other metadata instructions change only the config: their history entries are ``empty_layer``,
and so is a RUN that changed no file.

A step is looked up in the cache (:mod:`core.build.cache`) by its parent's id, its text after substitution
(for RUN: with the build args it sees, BuildKit's ``|N K=V`` prefix) and, for COPY/ADD, the content hash of
its sources. A hit reuses the stored image; the first miss runs, and every step after it has a new parent,
so it runs too. A failed step leaves the earlier steps' entries in place.

Only the stages the target needs are built, in the order they are needed (``FROM <stage>`` and
``COPY --from=<stage>``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.build.cache import BuildCache
from core.build.changes import (
    METADATA,
    MetaState,
    apply_instruction,
    command_of,
    expand,
    workdir_join,
)
from core.build.context import BuildContext, Entry
from core.build.copier import ImageSource, LayerWriter, Source, is_archive
from core.build.dockerfile import (
    Dockerfile,
    DockerfileError,
    Instruction,
    Stage,
    parse,
    split_stages,
)
from core.build.ignore import IgnoreMatcher
from core.build.shell import ShellLexer
from core.errors import BuildError, DockyardError, InvalidArgument, NotFound
from core.images.claims import Claims
from core.images.commit import (
    RUNTIME_MOUNTPOINTS,
    base_config,
    new_layer,
    parent_layers,
    record_config,
    set_parent,
    write_image,
)
from core.images.reference import Reference, parse_reference
from core.images.store import ImageRecord, LayerRef
from core.interface import STDERR, STDOUT
from core.models import (
    BuildEvent,
    BuildOptions,
    BuildResult,
    ContainerConfig,
    ContainerCreate,
    HostConfig,
    Mount,
)
from core.record import field, record
from core.state.records import remove_tree, sweep_temp, temp_name
from core.storage.diff import LayerUnion, write_diff
from core.timestamps import now_rfc3339

if TYPE_CHECKING:
    from core.engine import LocalEngine
    from core.interface import DuplexStream

Report = Callable[[BuildEvent], None]

# usable as --build-arg without an ARG; passed to RUN, never recorded (BuildKit's predefined ARGs)
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)
_URL = re.compile(r"^(https?://|git@|git://|ssh://)", re.IGNORECASE)
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)(.+)$")
OUTPUT_TAIL = 30  # lines of a failed RUN's output kept for the error
_KEEP_CONFIG_KEYS = ("architecture", "os", "os.version", "os.features", "variant", "config", "history")


@record
class _State:
    record: ImageRecord | None  # None: FROM scratch and nothing yet
    config: dict[str, Any]
    chain: list[LayerRef]

    @property
    def id(self) -> str:
        return self.record.id if self.record is not None else "scratch"

    def union(self, layers: Any) -> LayerUnion:
        return LayerUnion([layers.diff_dir(x.chain_id) for x in reversed(self.chain)])


@record
class _StageRun:
    stage: Stage
    state: _State
    total: int
    args: dict[str, str | None] = field(default_factory=dict)  # declared ARGs, in order
    meta: MetaState = field(default_factory=MetaState)
    number: int = 1  # FROM is step 1


class Builder:
    def __init__(self, engine: LocalEngine, opts: BuildOptions, report: Report | None = None) -> None:
        self.engine = engine
        self.images = engine.images
        self.layers = engine.layers
        self.paths = engine.paths
        self.opts = opts
        self._report = report or (lambda _e: None)
        self.cache = BuildCache(self.images, self.layers)
        # every layer and blob the build counts on (its base images', its steps'), held until it ends: no
        # prune or rmi takes them meanwhile, named by a record yet or not (core.images.claims)
        self.claims = Claims(self.paths.locks)
        self.platform = opts.platform or engine.config.platform
        self.step_seq = 0
        self.cached_steps = 0
        self.steps = 0
        self.used_args: set[str] = set()
        self.warnings: list[str] = []
        self.lexer = ShellLexer()
        self._stage_states: dict[int, _State] = {}
        self._in_progress: set[int] = set()
        self._resolved_images: dict[tuple[str, str | None], ImageRecord] = {}

    # ------------------------------------------------------------------------------------- driver

    def run(self) -> BuildResult:
        try:
            return self._build()
        finally:
            self.claims.release()

    def _build(self) -> BuildResult:
        t0 = time.monotonic()
        tags = [self._tag(t) for t in self.opts.tags]
        df = self._load_dockerfile()
        self.lexer = ShellLexer(df.escape)
        for w in df.warnings:
            self._warn(w)
        self.context = BuildContext(self.opts.context, self._load_ignore())
        global_args, self.stages = split_stages(df)
        self.auto_args = _platform_args(self.platform, self.engine.config.platform)
        self.global_decl: dict[str, str | None] = {}
        self.global_env: dict[str, str] = dict(self.auto_args)
        for instr in global_args:
            for word in instr.args:
                name, sep, default = word.partition("=")
                value = self._arg_value(name, sep, default, self.global_env, instr, stage_scope=False)
                self.global_decl[name] = value
                if value is not None:
                    self.global_env[name] = value
        target = self._target()
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        sweep_temp(self.paths.tmp)
        state = self._build_stage(target)
        if self.opts.labels:
            state = self._labels(state)
        record = state.record
        if record is None:  # FROM scratch with nothing after it
            cfg = dict(state.config)
            cfg["created"] = now_rfc3339()
            record = write_image(self.images, self.layers, cfg, [], claims=self.claims)
        self._emit("info", 0, f"writing image {record.id}")
        if tags:
            with self.images.lock():
                current = self.images.get(record.id) or record
                for ref in tags:
                    self.images.add_tag(current, ref)
                    self._emit("info", 0, f"naming to {ref}")
        unused = sorted(set(self.opts.build_args) - self.used_args - set(PROXY_ARGS))
        if unused:
            self._warn(f"one or more build-args {unused} were not consumed")
        return BuildResult(
            image_id=record.id,
            tags=[str(t) for t in tags],
            steps=self.steps,
            cached=self.cached_steps,
            seconds=time.monotonic() - t0,
            warnings=list(self.warnings),
        )

    def _tag(self, text: str) -> Reference:
        ref = parse_reference(text)
        if ref.digest:
            raise InvalidArgument(f"invalid tag {text!r}: a tag cannot name a digest")
        return ref.name_only().with_tag(ref.tag or "latest")

    def _load_dockerfile(self) -> Dockerfile:
        if self.opts.dockerfile_text is not None:
            return parse(self.opts.dockerfile_text, "Dockerfile")
        path = self.opts.dockerfile
        if path is None:
            if self.opts.context is None:
                raise InvalidArgument("no Dockerfile: give a context directory or a Dockerfile")
            path = self.opts.context / "Dockerfile"
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            raise NotFound(f"cannot read the Dockerfile {path}: no such file") from None
        except OSError as err:
            raise InvalidArgument(f"cannot read the Dockerfile {path}: {err.strerror}") from None
        return parse(text, Path(path).name)

    def _load_ignore(self) -> IgnoreMatcher:
        candidates = []
        if self.opts.dockerfile is not None and self.opts.dockerfile_text is None:
            candidates.append(Path(str(self.opts.dockerfile) + ".dockerignore"))
        if self.opts.context is not None:
            candidates.append(self.opts.context / ".dockerignore")
        for path in candidates:
            try:
                return IgnoreMatcher.from_text(path.read_text(encoding="utf-8", errors="surrogateescape"))
            except FileNotFoundError:
                continue
        return IgnoreMatcher([])

    def _target(self) -> Stage:
        if not self.opts.target:
            return self.stages[-1]
        for st in self.stages:
            if st.name == self.opts.target.lower():
                return st
        raise InvalidArgument(f"target stage {self.opts.target!r} could not be found")

    # ------------------------------------------------------------------------------------- reporting

    def _emit(self, kind: str, step: int, text: str = "", seconds: float = 0.0, stream: str = "") -> None:
        self._report(BuildEvent(kind, step, text, seconds, stream))

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self._emit("warning", 0, text)

    # ------------------------------------------------------------------------------------- stages

    def _stage_by_name(self, name: str) -> Stage | None:
        low = name.lower()
        for st in self.stages:
            if st.name == low:
                return st
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None

    def _build_stage(self, stage: Stage) -> _State:
        if stage.index in self._stage_states:
            return self._stage_states[stage.index]
        if stage.index in self._in_progress:
            raise stage.from_instruction.error(f"circular dependency on stage {stage.label!r}")
        self._in_progress.add(stage.index)
        try:
            for dep in self._dependencies(stage):
                self._build_stage(dep)
            state, triggers = self._from(stage)
            run = _StageRun(stage, state, total=1 + len(triggers) + len(stage.instructions))
            for instr in [*triggers, *stage.instructions]:
                run.number += 1
                self._step(run, instr)
            self._stage_states[stage.index] = run.state
            return run.state
        finally:
            self._in_progress.discard(stage.index)

    def _dependencies(self, stage: Stage) -> list[Stage]:
        """The stages ``stage`` names in FROM and COPY --from, so they are built (and reported) first.
        A name only an ARG of the stage itself can spell is found when its step runs instead."""
        names = [stage.base] + [i.flag("from") or "" for i in stage.instructions if i.cmd == "copy"]
        deps: list[Stage] = []
        for raw in names:
            try:
                name = self.lexer.process_word(raw, self.global_env) if raw else ""
            except DockyardError:
                continue
            other = self._stage_by_name(name) if name else None
            if other is not None and other.index != stage.index and other not in deps:
                deps.append(other)
        return deps

    def _from(self, stage: Stage) -> tuple[_State, list[Instruction]]:
        instr = stage.from_instruction
        base = expand(instr, stage.base, self.global_env, self.lexer)
        platform = expand(instr, stage.platform, self.global_env, self.lexer) if stage.platform else None
        n = 1 + len(stage.instructions)
        step = self._begin(f"[{stage.label} 1/{n}] FROM {base}" + (f" AS {stage.name}" if stage.name else ""))
        t0 = time.monotonic()
        if not base:
            raise instr.error("base name should not be blank")
        other = self._stage_by_name(base) if base.lower() != "scratch" else None
        if base.lower() == "scratch":
            state = _State(None, base_config(platform or self.platform), [])
        elif other is not None and other.name == base.lower() and other.index != stage.index:
            built = self._build_stage(other)
            state = _State(built.record, copy.deepcopy(built.config), list(built.chain))
        else:
            record = self._image(base, platform, instr)
            cfg = record_config(self.images, record)
            state = _State(
                record,
                {k: copy.deepcopy(v) for k, v in cfg.items() if k in _KEEP_CONFIG_KEYS},
                parent_layers(self.images, record),
            )
        state.config.setdefault("config", {})
        state.config.setdefault("history", [])
        triggers: list[Instruction] = []
        for text in state.config["config"].pop("OnBuild", None) or []:
            try:
                triggers.extend(parse(text + "\n", "ONBUILD").instructions)
            except DockerfileError as err:
                raise instr.error(
                    f"the base image's ONBUILD trigger {text!r} does not parse: {err}"
                ) from None
        self._done(step, t0)
        return state, triggers

    def _image(self, name: str, platform: str | None, instr: Instruction) -> ImageRecord:
        key = (name, platform)
        if key in self._resolved_images:
            return self._resolved_images[key]
        try:
            record = None if self.opts.pull else self.images.lookup(name)
            if record is None:
                self._emit("info", self.step_seq, f"pulling {name}")
                result = self.engine.pull(name, platform=platform)
                record = self.images.resolve(result.image.id)
        except DockyardError as err:
            raise instr.error(f"cannot get base image {name!r}: {err}") from None
        self._claim(record)
        self._resolved_images[key] = record
        return record

    def _claim(self, record: ImageRecord) -> None:
        """Hold ``record``'s layers and blobs for the rest of the build (an rmi or prune meanwhile leaves
        them); what went before the claim is caught where they are used (parent_layers, the cache)."""
        self.claims.hold_layers([x.chain_id for x in record.layers])
        self.claims.hold_blobs([x.digest for x in record.layers])

    # ------------------------------------------------------------------------------------- steps

    def _begin(self, title: str) -> int:
        self.step_seq += 1
        self.steps += 1
        self._emit("step", self.step_seq, title)
        return self.step_seq

    def _done(self, step: int, t0: float, cached: bool = False) -> None:
        if cached:
            self.cached_steps += 1
            self._emit("cached", step)
        else:
            self._emit("done", step, seconds=time.monotonic() - t0)

    def _step(self, run: _StageRun, instr: Instruction) -> None:
        title = instr.original if len(instr.original) <= 200 else instr.original[:197] + "..."
        step = self._begin(f"[{run.stage.label} {run.number}/{run.total}] {title}")
        t0 = time.monotonic()
        cmd = instr.cmd
        if cmd == "arg":
            self._arg(run, instr)
            cached = False
        elif cmd == "run":
            cached = self._run(run, instr, step)
        elif cmd in ("copy", "add"):
            cached = self._copy(run, instr)
        elif cmd == "workdir":
            cached = self._workdir(run, instr)
        elif cmd in METADATA:
            cached = self._meta(run, instr)
        else:
            raise instr.error(f"{instr.keyword} is not allowed here")
        self._done(step, t0, cached)

    def _env(self, run: _StageRun) -> dict[str, str]:
        env = {k: v for k, v in run.args.items() if v is not None}
        for item in run.state.config.get("config", {}).get("Env") or []:
            k, _, v = item.partition("=")
            env[k] = v
        return env

    def _arg_value(
        self, name: str, sep: str, default: str, env: dict[str, str], instr: Instruction, *, stage_scope: bool
    ) -> str | None:
        if name in self.opts.build_args:
            self.used_args.add(name)
            return self.opts.build_args[name]
        if sep:
            return expand(instr, default, env, self.lexer)
        if stage_scope and name in self.global_decl:
            return self.global_decl[name]
        return self.auto_args.get(name)

    def _arg(self, run: _StageRun, instr: Instruction) -> None:
        for word in instr.args:
            name, sep, default = word.partition("=")
            value = self._arg_value(name, sep, default, self._env(run), instr, stage_scope=True)
            run.args.pop(name, None)
            run.args[name] = value

    def _finish_step(
        self, run: _StageRun, key: str, cfg: dict[str, Any], text: str, layer: LayerRef | None
    ) -> None:
        """Record the step's image (its config with one more history entry) and its cache entry."""
        created = now_rfc3339()
        cfg["created"] = created
        entry: dict[str, Any] = {"created": created, "created_by": text}
        if layer is None:
            entry["empty_layer"] = True
        cfg.setdefault("history", []).append(entry)
        chain = [*run.state.chain, layer] if layer is not None else list(run.state.chain)
        record = write_image(self.images, self.layers, cfg, chain, claims=self.claims)
        if run.state.record is not None:
            set_parent(self.images, record.id, run.state.record.id)
        self.cache.put(key, record.id)
        run.state = _State(record, cfg, chain)

    def _cached(self, run: _StageRun, key: str) -> bool:
        if self.opts.no_cache:
            return False
        record = self.cache.get(key)
        if record is None:
            return False
        self._claim(record)
        if self.cache.get(key) is None:  # removed before the claim
            return False
        cfg = record_config(self.images, record)
        run.state = _State(
            record,
            # the author a MAINTAINER of this stage set carries on (a base image's does not: see _from)
            {k: v for k, v in cfg.items() if k in (*_KEEP_CONFIG_KEYS, "author")},
            parent_layers(self.images, record),
        )
        return True

    def _meta(self, run: _StageRun, instr: Instruction) -> bool:
        cfg = copy.deepcopy(run.state.config)
        text = apply_instruction(cfg, instr, self._env(run), state=run.meta, lexer=self.lexer)
        key = self.cache.key(run.state.id, text)
        if self._cached(run, key):
            return True
        self._finish_step(run, key, cfg, text, None)
        return False

    def _labels(self, state: _State) -> _State:
        """``--label``: one more LABEL step on the final image, cached like any other."""
        words = [f"{k}={_single_quote(v)}" for k, v in sorted(self.opts.labels.items())]
        instr = Instruction(
            cmd="label", args=words, line=0, original="LABEL " + " ".join(words), filename="--label"
        )
        stage = Stage(-1, "labels", "", None, instr, [])
        run = _StageRun(stage, state, total=1)
        step = self._begin("[labels] " + instr.original)
        t0 = time.monotonic()
        cached = self._meta(run, instr)
        self._done(step, t0, cached)
        return run.state

    # -- RUN -----------------------------------------------------------------------------------------

    def _run_args(self, run: _StageRun, instr: Instruction) -> tuple[list[str], dict[str, bytes]]:
        """The RUN's argv, and the heredoc scripts to mount at /dev/pipes/<name> (BuildKit's place)."""
        cfg = run.state.config
        if not instr.heredocs:
            return command_of(cfg, instr), {}
        line = instr.args[0].strip()
        m = _HEREDOC_WORD.match(line)
        shell = list(cfg.get("config", {}).get("Shell") or ["/bin/sh", "-c"])
        if m and len(instr.heredocs) == 1 and not m.group(1):
            doc = instr.heredocs[0]
            if doc.content.startswith("#!"):  # a script with its own interpreter runs as a file
                return [f"/dev/pipes/{doc.name}"], {doc.name: doc.content.encode()}
            return [*shell, doc.content], {}  # a lone heredoc is the script
        body = "".join(h.content + h.name + "\n" for h in instr.heredocs)
        return [*shell, instr.args[0] + "\n" + body], {}

    def _run(self, run: _StageRun, instr: Instruction, step: int) -> bool:
        if instr.flags.get("mount") or instr.flags.get("security"):
            raise instr.error("RUN --mount and --security are not supported")
        args, scripts = self._run_args(run, instr)
        env_cfg = {e.partition("=")[0] for e in run.state.config.get("config", {}).get("Env") or []}
        build_env = [f"{k}={v}" for k, v in run.args.items() if v is not None and k not in env_cfg]
        proxies = [f"{k}={self.opts.build_args[k]}" for k in PROXY_ARGS if k in self.opts.build_args]
        text = "RUN " + (f"|{len(build_env)} {' '.join(build_env)} " if build_env else "") + " ".join(args)
        network = instr.flag("network") or self.opts.network
        if network not in ("default", "none", "host"):
            raise instr.error(f"invalid network mode {network!r}: use default, none or host")
        scripts_id = "".join(f"\0{n}\0{c.hex()}" for n, c in sorted(scripts.items()))
        key = self.cache.key(run.state.id, text, f"network={network}{scripts_id}")
        if self._cached(run, key):
            return True
        if run.state.record is None or not run.state.chain:
            raise instr.error("RUN needs an image with a shell, but this stage has no layers (FROM scratch)")
        layer = self._run_container(run, instr, args, [*build_env, *proxies], network, step, scripts)
        self._finish_step(run, key, copy.deepcopy(run.state.config), text, layer)
        return False

    def _run_container(
        self,
        run: _StageRun,
        instr: Instruction,
        args: list[str],
        env: list[str],
        network: str,
        step: int,
        scripts: dict[str, bytes],
    ) -> LayerRef | None:

        state = run.state
        assert state.record is not None
        mounts: list[Mount] = []
        script_dir = temp_name(self.paths.tmp / "build-scripts") if scripts else None
        if script_dir is not None:
            os.mkdir(script_dir, 0o700)
            for name, content in scripts.items():
                path = script_dir / f"script-{len(mounts)}"
                path.write_bytes(content)
                path.chmod(0o755)
                mounts.append(Mount("bind", f"/dev/pipes/{name}", str(path), read_only=True))
        rc = ContainerCreate(
            config=ContainerConfig(
                image=state.record.id, cmd=args, entrypoint=[], env=env, labels={"dockyard.build": "1"}
            ),
            host_config=HostConfig(network_mode=network, mounts=mounts),
            pull="never",
        )
        # the shim's start-up overlaps the container's creation, as `run` does it
        launcher = self.engine.prepare_start()
        try:
            summary = self.engine.create_container(rc)
        except BaseException:
            launcher.cancel()
            if script_dir is not None:
                remove_tree(script_dir)
            raise
        tail: list[str] = []
        try:
            try:
                stream = self.engine.start_attached(summary.id, prepared=launcher)
            except DockyardError as err:
                raise BuildError(f"{_where(instr)}: {err}") from None
            with stream:
                code = self._pump(stream, step, tail, _where(instr))
            if code is None:
                code = self.engine.wait_container(summary.id)
            if code != 0:
                what = f"process {_quoted(args)} did not complete successfully"
                raise BuildError(f"{_where(instr)}: {what}: exit code: {code}", tail)
            cdir = self.paths.container(summary.id)
            lowers = [self.layers.diff_dir(x.chain_id) for x in reversed(state.chain)]
            volumes = list((state.config.get("config", {}).get("Volumes") or {}).keys())
            mountpoints = [*RUNTIME_MOUNTPOINTS, *(v.lstrip("/") for v in volumes)]
            layer, _stats = new_layer(
                self.images,
                self.layers,
                state.chain[-1].chain_id,
                lambda out: write_diff(cdir / "upper", out, lowers=lowers, mountpoints=mountpoints),
                claims=self.claims,
                keep_empty=False,
            )
            return layer
        finally:
            with contextlib.suppress(Exception):
                self.engine.remove_container(summary.id, force=True, volumes=True)
            if script_dir is not None:
                remove_tree(script_dir)

    def _pump(self, stream: DuplexStream, step: int, tail: list[str], where: str) -> int | None:
        """Report the container's output line by line as it comes; the exit code, if the shim sent it."""
        partial = {STDOUT: b"", STDERR: b""}
        names = {STDOUT: "stdout", STDERR: "stderr"}

        def line(kind: int, data: bytes) -> None:
            text = data.decode("utf-8", "replace")
            tail.append(text)
            del tail[:-OUTPUT_TAIL]
            self._emit("output", step, text, stream=names[kind])

        while (frames := stream.read()) is not None:  # blocking reads: nothing else to wait for here
            for kind, payload in frames:
                buf = partial[kind] + payload
                *lines, partial[kind] = buf.split(b"\n")
                for item in lines:
                    line(kind, item)
        if stream.error:
            raise BuildError(f"{where}: {stream.error}", tail)
        for kind, rest in partial.items():
            if rest:
                line(kind, rest)
        return stream.exit_code

    # -- COPY / ADD ----------------------------------------------------------------------------------

    def _owner(self, spec: str, union: LayerUnion, instr: Instruction) -> tuple[int, int]:
        user, _, group = spec.partition(":")
        if user.isdigit():
            uid = int(user)
        else:
            entry = _lookup(union, "/etc/passwd", user)
            if entry is None:
                raise instr.error(f"unable to find user {user}: no matching entries in passwd file")
            uid = int(entry[2])
        if not group:
            return uid, uid
        if group.isdigit():
            return uid, int(group)
        gentry = _lookup(union, "/etc/group", group)
        if gentry is None:
            raise instr.error(f"unable to find group {group}: no matching entries in group file")
        return uid, int(gentry[2])

    def _source(self, run: _StageRun, instr: Instruction, from_: str) -> tuple[Source, str]:
        """The ``--from`` source and a string that names its content exactly (for the cache key)."""
        other = self._stage_by_name(from_)
        if other is not None and other.index != run.stage.index:
            state = self._build_stage(other)
        else:
            record = self._image(from_, None, instr)
            state = _State(record, {}, parent_layers(self.images, record))
        return ImageSource(state.union(self.layers)), f"image {state.id}"

    def _copy(self, run: _StageRun, instr: Instruction) -> bool:
        kw = instr.keyword
        for unsupported in ("parents", "exclude", "checksum", "keep-git-dir"):
            if instr.flags.get(unsupported):
                raise instr.error(f"{kw} --{unsupported} is not supported")
        env = self._env(run)
        words = list(instr.args)
        heredocs = {h.name: h for h in instr.heredocs}
        dest = expand(instr, words[-1], env, self.lexer)
        srcs: list[str] = []
        inline: list[tuple[str, bytes]] = []
        for word in words[:-1]:
            m = _HEREDOC_WORD.match(word) if not instr.json else None
            name = m.group(3).replace('"', "").replace("'", "") if m else ""
            if m and name in heredocs:
                h = heredocs[name]
                content = expand(instr, h.content, env, self.lexer) if h.expand else h.content
                inline.append((name, content.encode()))
                continue
            srcs.append(expand(instr, word, env, self.lexer))
        from_ = expand(instr, instr.flag("from") or "", env, self.lexer)
        chown = expand(instr, instr.flag("chown") or "", env, self.lexer)
        chmod_text = expand(instr, instr.flag("chmod") or "", env, self.lexer)
        chmod = None
        if chmod_text:
            if not re.fullmatch(r"[0-7]{3,4}", chmod_text):
                raise instr.error(f"invalid --chmod {chmod_text!r}: give octal permission bits, like 755")
            chmod = int(chmod_text, 8)
        for s in srcs:
            if _URL.match(s):
                if instr.cmd == "copy":
                    raise instr.error(f"source can't be a URL for COPY: {s}")
                raise instr.error(
                    f"cannot ADD {s}: remote sources are not supported (builds run offline); "
                    "download the file into the build context and ADD it from there"
                )
        source: Source
        if from_:
            if instr.cmd == "add":
                raise instr.error("ADD does not take --from; use COPY --from")
            source, content_id = self._source(run, instr, from_)
        else:
            source, content_id = self.context, ""
        matched: list[str] = []
        try:
            for s in srcs:
                matched.extend(source.sources(s))
        except (NotFound, InvalidArgument) as err:
            raise BuildError(f"{_where(instr)}: {err}") from None
        count = len(matched) + len(inline)
        if count > 1 and not dest.endswith("/"):
            raise instr.error(
                f"When using {kw} with more than one source file, "
                "the destination must be a directory and end with a /"
            )
        if from_:
            content_id += "\0" + "\0".join(matched)
        else:
            content_id = self.context.content_hash(matched)
        content_id += "".join(f"\0heredoc {n}\0{c.hex()}" for n, c in inline)
        flag_text = "".join(
            f"--{k}={v} " for k, v in (("from", from_), ("chown", chown), ("chmod", chmod_text)) if v
        )
        text = f"{kw} {flag_text}{' '.join([*srcs, *(f'<<{n}' for n, _ in inline)])} {dest}"
        key = self.cache.key(run.state.id, text, content_id)
        if self._cached(run, key):
            return True
        union = run.state.union(self.layers)
        owner = self._owner(chown, union, instr) if chown else None
        workdir = run.state.config.get("config", {}).get("WorkingDir") or "/"
        dest_rel = union.resolve(workdir_join(workdir, dest))
        found = union.lookup(dest_rel)
        dest_dir = dest.endswith("/") or count > 1 or (found is not None and stat.S_ISDIR(found[1].st_mode))

        def fill(writer: LayerWriter, scratch: Path) -> None:
            default_owner = owner if owner is not None else (None if from_ else (0, 0))
            for path in matched:
                entries = iter(source.walk(path))
                root = next(entries, None)
                if root is None:
                    continue
                if stat.S_ISDIR(root.st.st_mode):
                    writer.ensure_dir(dest_rel, owner)
                    for e in entries:
                        writer.copy(
                            source, e, f"{dest_rel}/{e.rel}" if dest_rel else e.rel, default_owner, chmod
                        )
                    continue
                if instr.cmd == "add" and stat.S_ISREG(root.st.st_mode) and self._archive(source, root):
                    writer.add_archive(source, root, dest_rel, scratch)
                    continue
                base = path.rsplit("/", 1)[-1]
                target = (f"{dest_rel}/{base}" if dest_rel else base) if dest_dir else dest_rel
                writer.copy(source, root, target, default_owner, chmod)
            for name, content in inline:
                target = (f"{dest_rel}/{name}" if dest_rel else name) if dest_dir else dest_rel
                writer.write_file(target, content, chmod if chmod is not None else 0o644, owner or (0, 0))

        if not dest_rel and not dest_dir:
            raise instr.error("cannot copy a file to / : give a destination path")
        layer = self._layer_from_scratch(run, union, fill)
        self._finish_step(run, key, copy.deepcopy(run.state.config), text, layer)
        return False

    def _archive(self, source: Source, entry: Entry) -> bool:
        fd = source.open(entry.path)
        try:
            return is_archive(fd)
        finally:
            os.close(fd)

    def _layer_from_scratch(
        self, run: _StageRun, union: LayerUnion, fill: Callable[[LayerWriter, Path], None]
    ) -> LayerRef | None:
        scratch = temp_name(self.paths.tmp / "build-step")
        os.mkdir(scratch, 0o700)
        try:
            upper = scratch / "upper"
            os.mkdir(upper, 0o755)
            writer = LayerWriter(upper, union, int(time.time()))
            fill(writer, scratch)
            writer.finish()
            parent = run.state.chain[-1].chain_id if run.state.chain else None
            layer, _stats = new_layer(
                self.images,
                self.layers,
                parent,
                lambda out: write_diff(upper, out),
                claims=self.claims,
                keep_empty=False,
            )
            return layer
        finally:
            remove_tree(scratch)

    # -- WORKDIR -------------------------------------------------------------------------------------

    def _workdir(self, run: _StageRun, instr: Instruction) -> bool:
        cfg = copy.deepcopy(run.state.config)
        text = apply_instruction(cfg, instr, self._env(run), state=run.meta, lexer=self.lexer)
        key = self.cache.key(run.state.id, text)
        if self._cached(run, key):
            return True
        union = run.state.union(self.layers)
        rel = union.resolve(cfg["config"]["WorkingDir"])
        found = union.lookup(rel)
        layer = None
        if rel and (found is None or not stat.S_ISDIR(found[1].st_mode)):
            owner = None
            user = cfg["config"].get("User")
            if user:
                with contextlib.suppress(DockerfileError):
                    owner = self._owner(user, union, instr)
            layer = self._layer_from_scratch(run, union, lambda w, _s: w.ensure_dir(rel, owner))
        self._finish_step(run, key, cfg, text, layer)
        return False


# ------------------------------------------------------------------------------------------ helpers


def _where(instr: Instruction) -> str:
    return f"{instr.filename}:{instr.line}: {instr.keyword}"


def _quoted(args: list[str]) -> str:
    return json.dumps(" ".join(args))


def _single_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _lookup(union: LayerUnion, path: str, name: str) -> list[str] | None:
    data = union.read_file(path)
    if data is None:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return fields
    return None


def _platform_args(target: str, build: str) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (one platform here: the target is the build platform)."""
    out: dict[str, str] = {}
    for prefix, value in (("TARGET", target), ("BUILD", build)):
        parts = value.split("/")
        out[f"{prefix}PLATFORM"] = value
        out[f"{prefix}OS"] = parts[0]
        out[f"{prefix}ARCH"] = parts[1] if len(parts) > 1 else ""
        out[f"{prefix}VARIANT"] = parts[2] if len(parts) > 2 else ""
    return out


def build(engine: LocalEngine, opts: BuildOptions, report: Report | None = None) -> BuildResult:
    return Builder(engine, opts, report).run()


__all__ = ["PROXY_ARGS", "Builder", "build"]
