"""``dockyard build`` end to end over the test bed's busybox: real RUN containers, the layer cache,
multi-stage builds, .dockerignore, ADD of archives, bad input, and a push that skopeo reads and that pulls
back and runs."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    ctx: Path  # a fresh build context directory
    registry: str  # 127.0.0.1:PORT of the test bed's open registry

    def cli(
        self, *args: str, check: bool = False, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKYARD_RUN": str(self.config.run)}
        proc = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            input=input,
            timeout=timeout,
            env=env,
        )
        out = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}: {out.stderr}")
        return out

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def build(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cli("build", *args, str(self.ctx), check=check)

    def run(self, image: str, *cmd: str) -> str:
        return self.cli("run", "--rm", image, *cmd, check=True).stdout


@pytest.fixture
def env(testbed, engine_config: Config, tmp_path: Path) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    e = Env(engine_config, engine, ctx, testbed.addr("open"))
    yield e  # engine_config removes what is left (tests/conftest.py)


def steps(stderr: str) -> dict[str, str]:
    """Step title -> CACHED or DONE, from the plain progress output."""
    titles: dict[str, str] = {}
    status: dict[str, str] = {}
    for line in stderr.splitlines():
        m = re.match(r"^#(\d+) (\[.*)$", line)
        if m:
            titles[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^#(\d+) (CACHED|DONE) ?", line)
        if m:
            status[m.group(1)] = m.group(2)
    return {titles[n]: status.get(n, "?") for n in titles}


def image_id(result: subprocess.CompletedProcess[str]) -> str:
    m = re.search(r"writing image (sha256:[0-9a-f]{64})", result.stderr)
    assert m, result.stderr
    return m.group(1)


MULTISTAGE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS builder
ARG GREETING=hello
WORKDIR /work
RUN mkdir -p out/sub && echo "$GREETING from the builder" > out/greeting \\
 && echo nested > out/sub/nested.txt && rm /bin/ls
COPY app.txt out/
FROM ${BASE}
COPY --from=builder /work/out /app
ENV WHO=world
CMD ["sh", "-c", "cat /app/greeting /app/app.txt /app/sub/nested.txt; echo bye $WHO; ls /bin/ls"]
"""


def test_multistage_build_runs_and_prints(env: Env) -> None:
    env.write("Dockerfile", MULTISTAGE)
    env.write("app.txt", "from the context\n")
    r = env.build("-t", "demo:1", "--build-arg", "GREETING=howdy")
    # the RUN's own line shows the build arg it saw, BuildKit's way; the step title shows the text as written
    assert "[builder 4/5] RUN mkdir -p out/sub" in r.stderr
    out = env.run("demo:1")
    # the final stage is a fresh busybox: the builder's `rm /bin/ls` does not reach it
    assert out == "howdy from the builder\nfrom the context\nnested\nbye world\n/bin/ls\n"
    hist = env.engine.history("demo:1")
    created_by = [h.created_by for h in hist]
    assert created_by[0].startswith("CMD ") and created_by[1] == "ENV WHO=world"
    assert created_by[2].startswith("COPY --from=builder /work/out /app")
    # metadata-only steps make no layers: busybox's one layer plus the COPY's
    assert len(env.engine.images.resolve("demo:1").layers) == 2
    assert [h.empty_layer for h in hist[:3]] == [True, True, False]
    # the intermediate builder images exist but `images` hides them; `images -a` shows them
    listed = env.cli("images", "-q", check=True).stdout.split()
    everything = env.cli("images", "-a", "-q", check=True).stdout.split()
    assert len(everything) > len(listed) >= 2


def test_second_build_is_all_cached_and_same_id(env: Env) -> None:
    env.write("Dockerfile", MULTISTAGE)
    env.write("app.txt", "x\n")
    first = env.build("-t", "demo:1")
    second = env.build("-t", "demo:2")
    s = steps(second.stderr)
    non_from = {k: v for k, v in s.items() if " FROM " not in k and " ARG " not in k}
    assert non_from and set(non_from.values()) == {"CACHED"}, second.stderr
    assert image_id(first) == image_id(second)
    q = env.build("-q")
    assert q.stdout.strip() == image_id(first)
    assert env.engine.images.resolve("demo:1").id == env.engine.images.resolve("demo:2").id


def test_changing_one_copied_file_rebuilds_from_that_copy_on(env: Env) -> None:
    env.write(
        "Dockerfile",
        "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\n"
        'CMD ["cat", "/copy", "/b.txt"]\n',
    )
    a = env.write("a.txt", "first\n")
    env.write("b.txt", "bee\n")
    env.build("-t", "t:1")
    # a touch that changes no content keeps the cache (the Docker docs: mtimes are not in the checksum)
    os.utime(a, (time.time() + 100, time.time() + 100))
    assert set(v for k, v in steps(env.build("-t", "t:1").stderr).items() if "FROM" not in k) == {"CACHED"}
    a.write_text("second\n")
    s = steps(env.build("-t", "t:2").stderr)
    by_step = {k.split("] ", 1)[1]: v for k, v in s.items()}
    assert by_step == {
        "FROM busybox": "DONE",
        "RUN echo one > /one": "CACHED",
        "COPY a.txt /a.txt": "DONE",
        "RUN cat /a.txt > /copy": "DONE",
        "COPY b.txt /b.txt": "DONE",
        'CMD ["cat", "/copy", "/b.txt"]': "DONE",
    }
    assert env.run("t:2") == "second\nbee\n"
    assert env.run("t:1") == "first\nbee\n"
    # a mode change is a content change too
    a.chmod(0o600)
    s = steps(env.build("-t", "t:3").stderr)
    assert [v for k, v in s.items() if "COPY a.txt" in k] == ["DONE"]


def test_dockerignore_excludes_what_docker_would(env: Env) -> None:
    env.write("Dockerfile", "FROM busybox\nCOPY . /ctx\nRUN cd /ctx && find . | sort > /list\n")
    env.write(
        ".dockerignore",
        "# comment\n*.log\n!dir/keep.log\nnode_modules\n**/*.md\n!README.md\nsecret/\n"
        "!secret/public\n/abs.txt\n",
    )
    for name in (
        "a.txt",
        "b.log",
        "dir/c.log",
        "dir/keep.log",
        "node_modules/x/y.js",
        "docs/guide.md",
        "README.md",
        "secret/key",
        "secret/public",
        "abs.txt",
        "dir/abs.txt",
    ):
        env.write(name, name)
    env.build("-t", "ign")
    listing = env.run("ign", "cat", "/list").split()
    assert listing == [
        ".",
        "./.dockerignore",
        "./Dockerfile",
        "./README.md",  # **/*.md excludes it, !README.md takes it back
        "./a.txt",
        "./dir",
        "./dir/abs.txt",  # /abs.txt means the context's top level only
        "./dir/c.log",  # *.log does not cross a /
        "./dir/keep.log",
        "./docs",  # its only file is excluded, the directory itself is not
        "./secret",  # excluded, but kept as the parent of the re-included file
        "./secret/public",
    ]
    # an excluded file is not there for COPY either
    env.write("Dockerfile", "FROM busybox\nCOPY b.log /\n")
    r = env.build(check=False)
    assert r.returncode == 1 and ".dockerignore excludes it" in r.stderr


def test_instructions_end_to_end(env: Env) -> None:
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tf:
        data = b"from the archive\n"
        ti = tarfile.TarInfo("pkg/inside.txt")
        ti.size, ti.uid, ti.gid, ti.mode = len(data), 7, 8, 0o640
        tf.addfile(ti, io.BytesIO(data))
    env.write("pkg.tar.gz", payload.getvalue())
    env.write("script.sh", "echo script\n")
    env.write("sub/one.txt", "1\n")
    env.write("sub/two.txt", "2\n")
    env.write(
        "Dockerfile",
        """\
# escape=`
FROM busybox AS base
ARG VERSION=1.0
ENV APP_HOME=/opt/app `
    MODE=test
WORKDIR $APP_HOME
USER 1000:1000
WORKDIR data
USER root
ADD pkg.tar.gz /unpacked/
ADD script.sh /scripts/
COPY --chown=1234:5678 --chmod=751 sub/*.txt ./
COPY <<EOF /etc/motd
version ${VERSION} in $MODE
EOF
RUN <<EOF
set -e
echo "heredoc run $VERSION" > /heredoc.txt
EOF
RUN <<EOF
#!/bin/sh -e
echo "shebang script in $0" > /shebang.txt
EOF
SHELL ["/bin/sh", "-xc"]
RUN echo shell-form
LABEL org.example.version=$VERSION maintainer="A B"
EXPOSE 8080/tcp 9000-9001/udp
VOLUME /state
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ONBUILD RUN echo triggered > /onbuild.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo default"]
FROM base AS other
RUN echo never built
""",
    )
    r = env.build("-t", "feat", "--target", "base", "--label", "built.by=test", "--build-arg", "VERSION=2.5")
    assert "never built" not in r.stderr
    assert "+ echo shell-form" in r.stderr  # SHELL -xc took effect for the RUN after it
    info = env.engine.inspect_image("feat")
    cfg = info["Config"]
    assert cfg["Env"][-2:] == ["APP_HOME=/opt/app", "MODE=test"]
    assert cfg["WorkingDir"] == "/opt/app/data"
    assert cfg["User"] == "root"
    assert cfg["Labels"]["org.example.version"] == "2.5" and cfg["Labels"]["maintainer"] == "A B"
    assert cfg["Labels"]["built.by"] == "test"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "9000/udp": {}, "9001/udp": {}}
    assert cfg["Volumes"] == {"/state": {}}
    assert cfg["StopSignal"] == "SIGQUIT"
    assert cfg["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert cfg["OnBuild"] == ["RUN echo triggered > /onbuild.txt"]
    assert cfg["Shell"] == ["/bin/sh", "-xc"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and cfg["Cmd"] == ["echo default"]
    out = env.run(
        "feat",
        "cat /unpacked/pkg/inside.txt /scripts/script.sh /etc/motd /heredoc.txt /shebang.txt; "
        "stat -c '%u:%g %a %n' /unpacked/pkg/inside.txt one.txt two.txt /opt/app/data; pwd; echo $MODE",
    )
    assert out.splitlines() == [
        "from the archive",
        "echo script",
        "version 2.5 in test",
        "heredoc run 2.5",
        "shebang script in /dev/pipes/EOF",
        "7:8 640 /unpacked/pkg/inside.txt",
        "1234:5678 751 one.txt",
        "1234:5678 751 two.txt",
        "1000:1000 755 /opt/app/data",  # WORKDIR made it for the USER of the time
        "/opt/app/data",
        "test",
    ]
    assert env.run("feat") == "default\n"
    # ONBUILD triggers run in a build FROM the image
    env.write("Dockerfile", "FROM feat\nRUN cat /onbuild.txt\n")
    r = env.build("-t", "child")
    assert "] RUN echo triggered > /onbuild.txt" in r.stderr  # the trigger ran as a step of its own
    assert env.run("child", "cat /onbuild.txt") == "triggered\n"
    assert env.engine.inspect_image("child")["Config"]["OnBuild"] is None  # triggers are not inherited


def test_dockerfile_from_stdin_and_tar_context(env: Env) -> None:
    r = env.cli("build", "-t", "stdin1", "-", input=b"FROM busybox\nRUN echo from-stdin > /f\n", check=True)
    assert env.run("stdin1", "cat", "/f") == "from-stdin\n"
    env.write("x.txt", "ctx\n")
    r = env.cli("build", "-t", "stdin2", "-f", "-", str(env.ctx), input=b"FROM busybox\nCOPY x.txt /\n")
    assert r.returncode == 0, r.stderr
    assert env.run("stdin2", "cat", "/x.txt") == "ctx\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY y.txt /\n"), ("y.txt", b"tarred\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    r = env.cli("build", "-t", "stdin3", "-", input=buf.getvalue())
    assert r.returncode == 0, r.stderr
    assert env.run("stdin3", "cat", "/y.txt") == "tarred\n"


def test_syntax_error_names_file_line_and_instruction(env: Env) -> None:
    env.write("Dockerfile", "FROM busybox\nRUN true\n\nCOPY onlyone\n")
    r = env.build(check=False)
    assert r.returncode == 1
    assert "Error: Dockerfile:4: COPY: COPY requires at least two arguments" in r.stderr
    env.write("custom.df", "FROM busybox\nFROB it\n")
    r = env.cli("build", "-f", str(env.ctx / "custom.df"), str(env.ctx))
    assert r.returncode == 1 and "dockerfile parse error line 2: unknown instruction: FROB" in r.stderr


def test_failing_run_shows_output_and_exit_code_and_keeps_earlier_cache(env: Env) -> None:
    env.write("Dockerfile", "FROM busybox\nRUN echo prepared > /p\nRUN echo about to fail && exit 3\n")
    r = env.build("-t", "bad", check=False)
    assert r.returncode == 1
    assert "about to fail" in r.stderr
    assert (
        'Dockerfile:3: RUN: process "/bin/sh -c echo about to fail && exit 3" did not complete ' in r.stderr
    )
    assert "exit code: 3" in r.stderr
    assert env.engine.list_containers(all=True) == []  # the step's container is gone
    q = env.build("-q", check=False)  # -q still shows what failed
    assert q.returncode == 1 and "about to fail" in q.stderr and q.stdout == ""
    env.write("Dockerfile", "FROM busybox\nRUN echo prepared > /p\nRUN echo fixed\n")
    s = steps(env.build("-t", "good").stderr)
    assert [v for k, v in s.items() if "prepared" in k] == ["CACHED"]
    assert [v for k, v in s.items() if "fixed" in k] == ["DONE"]


def test_copy_from_outside_the_context_is_refused(env: Env, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("nope\n")
    env.write("Dockerfile", "FROM busybox\nCOPY ../secret /x\n")
    r = env.build(check=False)
    assert r.returncode == 1 and "forbidden path outside the build context: ../secret" in r.stderr
    # a symlink in the context that points outside resolves inside the context, never to the host
    os.symlink(str(tmp_path / "secret"), env.ctx / "link")
    env.write("Dockerfile", "FROM busybox\nCOPY link /x\n")
    r = env.build(check=False)
    assert r.returncode == 1 and "not found" in r.stderr
    env.write("Dockerfile", "FROM busybox\nADD http://127.0.0.1:1/file /x\n")
    r = env.build(check=False)
    assert r.returncode == 1 and "remote sources are not supported" in r.stderr


def test_push_built_image_skopeo_inspects_pulls_back_and_runs(env: Env, engine_config: Config) -> None:
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    env.write("Dockerfile", 'FROM busybox\nRUN echo pushed-and-pulled > /msg\nCMD ["cat", "/msg"]\n')
    ref = f"{env.registry}/built/demo:v1"
    env.build("-t", ref)
    r = env.cli("push", ref, check=True)
    assert "digest: sha256:" in r.stdout
    insp = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert insp.returncode == 0, insp.stderr
    meta = json.loads(insp.stdout)
    assert len(meta["Layers"]) == 2
    assert meta["Digest"] == env.engine.images.resolve(ref).manifest_digest
    env.cli("rmi", ref, check=True)
    env.cli("pull", ref, check=True)
    assert env.run(ref) == "pushed-and-pulled\n"


def test_scratch_predefined_args_and_steps_without_changes(env: Env) -> None:
    env.write(
        "Dockerfile",
        """\
FROM busybox AS tools
ARG TARGETARCH
ARG TARGETPLATFORM
RUN echo "arch=$TARGETARCH platform=$TARGETPLATFORM proxy=$HTTP_PROXY" > /args
RUN true
VOLUME /vol
RUN echo lost > /vol/file && echo kept > /kept
MAINTAINER someone
FROM scratch
COPY --from=tools /bin/busybox /bin/busybox
COPY --from=tools /args /kept /
CMD ["/bin/busybox", "cat", "/args", "/kept"]
""",
    )
    r = env.build("-t", "scratchy", "--build-arg", "HTTP_PROXY=http://127.0.0.1:9")
    assert "were not consumed" not in r.stderr  # proxy args need no ARG
    arch = env.engine.config.platform.split("/")[1]
    out = env.run("scratchy")
    assert out == f"arch={arch} platform={env.engine.config.platform} proxy=http://127.0.0.1:9\nkept\n"
    record = env.engine.images.resolve("scratchy")
    assert len(record.layers) == 2  # FROM scratch: only the two COPY layers
    tools = env.cli("build", "-q", "--target", "tools", str(env.ctx), check=True).stdout.strip()
    hist = {h.created_by: h for h in env.engine.history(tools)}
    prefix = f"RUN |2 TARGETARCH={arch} TARGETPLATFORM={env.engine.config.platform} /bin/sh -c "
    assert hist[prefix + "true"].empty_layer  # a RUN that changes nothing makes no layer
    assert not hist[prefix + "echo lost > /vol/file && echo kept > /kept"].empty_layer
    assert not any("127.0.0.1:9" in k for k in hist)  # proxy values stay out of the history
    listing = env.run(tools, "sh", "-c", "ls -A /vol; cat /kept")
    assert listing == "kept\n"  # what a RUN wrote into a declared VOLUME is discarded, as docker does
    assert env.engine.inspect_image(tools)["Author"] == "someone"
    r = env.build("--build-arg", "UNUSED=1", "-q")
    assert "were not consumed" in r.stderr and "UNUSED" in r.stderr
