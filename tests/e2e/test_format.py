"""``--format`` on real containers, images, volumes and networks: Go templates as the docker CLI runs them,
with each command's row fields, docker's table titles and its messages and exit codes for a template that
does not parse or fails. The expected strings were read from the docker CLI 28 over dockerd 20.10 doing
the same (the same testbed busybox image, tagged busybox:latest)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def run(cfg: Config, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_ROOT", "DOCKYARD_RUN")}
    env["DOCKYARD_RUN"] = str(cfg.run)
    return subprocess.run(
        [DOCKYARD, "--root", str(cfg.root), *args], capture_output=True, text=True, timeout=60, env=env
    )


def ok(cfg: Config, *args: str) -> str:
    r = run(cfg, *args)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def fails(cfg: Config, code: int, *args: str, stdout: str = "") -> str:
    r = run(cfg, *args)
    assert r.returncode == code, f"{args}: {r.returncode} {r.stdout} {r.stderr}"
    # like docker: nothing printed when a template fails; inspect's an empty line when nothing came out
    assert r.stdout == stdout, r.stdout
    return r.stderr.removeprefix("Error: ").strip()


PS_JSON_KEYS = {
    "Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
    "Platform", "Ports", "RunningFor", "Size", "State", "Status",
}  # fmt: skip
IMAGES_JSON_KEYS = {
    "Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag",
    "UniqueSize", "VirtualSize",
}  # fmt: skip


def test_format_across_commands(testbed: Testbed, engine_config: Config) -> None:
    cfg = engine_config
    ok(cfg, "pull", "-q", testbed.ref("busybox:latest"))
    ok(cfg, "tag", testbed.ref("busybox:latest"), "busybox:latest")
    ok(cfg, "volume", "create", "--label", "z=1", "--label", "a=2", "fmtvol")
    up = ok(
        cfg, "run", "-d", "--name", "fmt-up", "--label", "a=b", "--label", "c=d", "--network", "none",
        "-v", "fmtvol:/data", "busybox", "sh", "-c", "sleep 300",
    ).strip()  # fmt: skip
    r = run(cfg, "run", "--name", "fmt-down", "--network", "none", "busybox", "sh", "-c", "exit 1")
    assert r.returncode == 1

    # ---- ps: docker's ContainerContext
    assert ok(cfg, "ps", "-a", "--format", "{{.Names}}") == "fmt-down\nfmt-up\n"
    table = ok(cfg, "ps", "-a", "--format", "table {{.ID}}\\t{{.Names}}").splitlines()
    assert table[0] == "CONTAINER ID   NAMES"
    assert table[2] == f"{up[:12]}   fmt-up"
    assert ok(cfg, "ps", "-a", "--format", "table {{.Names}} {{.ID}}").splitlines()[0] == "NAMES CONTAINER ID"
    row = ok(
        cfg, "ps", "--format",
        '{{.Label "a"}}|{{.Label "zz"}}|{{.Labels}}|{{.Command}}|{{.State}}|{{.LocalVolumes}}|{{.Mounts}}',
    )  # fmt: skip
    assert row == (
        "b||a=b,c=d,org.opencontainers.image.title=testbed-busybox|\"sh -c 'sleep 300'\"|running|1|fmtvol\n"
    )
    down = ok(cfg, "ps", "-a", "--filter", "name=fmt-down", "--format", "{{.Command}} {{.Status}}")
    assert re.fullmatch(r"\"sh -c 'exit 1'\" Exited \(1\) .* ago\n", down), down
    head = ok(cfg, "ps", "--format", 'table {{.Label "com.example.my-tier"}}\\t{{.Image}}\\t{{.State}}')
    assert head.splitlines() == ["my tier   IMAGE     STATE", "          busybox   running"]
    rows = [json.loads(x) for x in ok(cfg, "ps", "-a", "--format", "json").splitlines()]
    assert {frozenset(r) for r in rows} == {frozenset(PS_JSON_KEYS)}
    assert rows[1]["Command"] == "\"sh -c 'sleep 300'\"" and rows[1]["Platform"] is None
    assert ok(cfg, "ps", "--format", '{{if eq .State "running"}}{{upper .Names}}{{end}}') == "FMT-UP\n"
    assert ok(cfg, "ps", "-a", "--format", '{{range split .Names "-"}}<{{.}}>{{end}}') == (
        "<fmt><down>\n<fmt><up>\n"
    )
    # sizes only when asked (a template with .Size, or -s): the container's own, then with its image's
    sized = ok(cfg, "ps", "--format", "{{.Networks}}|{{.Size}}")
    assert re.fullmatch(r"none\|\d[\d.]*k?B \(virtual \d[\d.]*[kM]B\)\n", sized), sized
    assert ok(cfg, "ps", "-s").splitlines()[0].endswith("NAMES     SIZE")
    raw = ok(cfg, "ps", "--format", "raw").splitlines()
    assert raw[0] == f"container_id: {up[:12]}" and raw[1:3] == [
        "image: busybox",
        "command: \"sh -c 'sleep 300'\"",
    ]
    assert raw[4:] == [
        "state: running", raw[5], "names: fmt-up",
        "labels: a=b,c=d,org.opencontainers.image.title=testbed-busybox", "ports:", "",
    ]  # fmt: skip
    default = ok(cfg, "ps").splitlines()
    assert default[0].startswith("CONTAINER ID   IMAGE     COMMAND       ")
    assert fails(cfg, 1, "ps", "--format", "{{.Nope}}") == (
        'failed to execute template: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.ContainerContext"
    )
    assert (
        fails(cfg, 1, "ps", "--format", "{{.A") == "failed to parse template: template: :1: unclosed action"
    )
    assert (
        fails(cfg, 1, "ps", "--format", "{{end}}")
        == "failed to parse template: template: :1: unexpected {{end}}"
    )
    assert fails(cfg, 1, "ps", "--format", "{{foo .ID}}") == (
        'failed to parse template: template: :1: function "foo" not defined'
    )

    # ---- images: docker's imageContext
    assert ok(cfg, "images", "--format", "table {{.Repository}}\\t{{.Tag}}", "busybox").splitlines()[0] == (
        "REPOSITORY   TAG"
    )
    assert (
        ok(cfg, "images", "--format", "{{.Repository}}:{{.Tag}} {{len .ID}}", "busybox")
        == "busybox:latest 12\n"
    )
    for r in map(json.loads, ok(cfg, "images", "--format", "json").splitlines()):
        assert set(r) == IMAGES_JSON_KEYS and r["SharedSize"] == "N/A"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+", r["CreatedAt"]), r
    assert fails(cfg, 1, "images", "--format", "{{.Nope}}") == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.imageContext"
    )
    assert fails(cfg, 1, "images", "--format", "{{index.Tag}}") == (
        'template parsing error: template: :1:2: executing "" at <index>: '
        "wrong number of args for index: want at least 1 got 0"
    )

    # ---- inspect: the typed document, then the raw one with missing keys as errors
    got = ok(
        cfg, "inspect", "-f",
        '{{.State.Running}} {{.Config.Cmd}} {{index .Config.Labels "a"}} {{.Config.Labels.zz}}'
        ' [{{index .Config.Labels "zz"}}] {{.State.Health}} {{len .Config.Cmd}}'
        " {{range $i, $m := .Mounts}}{{$i}}:{{$m.Name}}{{end}}",
        "fmt-up",
    )  # fmt: skip
    assert got == "true [sh -c sleep 300] b <no value> [] <nil> 3 0:fmtvol\n"
    assert ok(cfg, "inspect", "-f", '{{printf "%s:%d" .Name .State.ExitCode}}', "fmt-down") == "/fmt-down:1\n"
    assert ok(
        cfg, "container", "inspect", "-f", "{{if .State.Running}}up{{else}}down{{end}}", "fmt-down"
    ) == ("down\n")
    assert ok(cfg, "inspect", "-f", "{{json .Config.Labels}}", "fmt-up") == (
        '{"a":"b","c":"d","org.opencontainers.image.title":"testbed-busybox"}\n'
    )
    assert fails(cfg, 1, "inspect", "-f", "{{.Nope}}", "busybox", stdout="\n") == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'
    )
    assert fails(cfg, 1, "inspect", "-f", "{{.Config.Nope}}", "busybox", stdout="\n") == (
        'template parsing error: template: :1:9: executing "" at <.Config.Nope>: '
        'map has no entry for key "Nope"'
    )
    assert (
        fails(cfg, 64, "inspect", "-f", "{{.A", "busybox")
        == "template parsing error: template: :1: unclosed action"
    )
    tags = '{{range .RepoTags}}{{if eq . "busybox:latest"}}{{.}}{{end}}{{end}} {{len .RepoTags}}'
    assert ok(cfg, "image", "inspect", "-f", tags + " {{.Config.Labels}}", "busybox") == (
        "busybox:latest 2 map[org.opencontainers.image.title:testbed-busybox]\n"
    )
    assert ok(
        cfg, "volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Labels.x}} {{.Options}}", "fmtvol"
    ) == ("fmtvol map[a:2 z:1] <no value> map[]\n")
    assert fails(cfg, 1, "volume", "inspect", "-f", "{{.Nope}}", "fmtvol", stdout="\n") == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type volume.Volume"
    )
    assert ok(cfg, "network", "inspect", "-f", "{{.Name}} {{.Labels.x}} {{.Options}}", "none") == (
        "none <no value> map[]\n"
    )

    # ---- volume ls, network ls
    assert ok(cfg, "volume", "ls", "--format", 'table {{.Name}}\\t{{.Label "a"}}\\t{{.Labels}}') == (
        "VOLUME NAME   a         LABELS\nfmtvol        2         a=2,z=1\n"
    )
    # -q: a custom format wins for volumes, networks and images; ps warns and lists its ids
    assert ok(cfg, "volume", "ls", "-q", "--format", "{{.Driver}}:{{.Name}}") == "local:fmtvol\n"
    assert ok(cfg, "volume", "ls", "-q", "--format", "table") == "fmtvol\n"
    assert "none\n" in ok(cfg, "network", "ls", "-q", "--format", "{{.Name}}")
    r = run(cfg, "ps", "-q", "--format", "{{.Names}}")
    assert (r.stdout, r.stderr) == (
        f"{up[:12]}\n",
        "WARNING: Ignoring custom format, because both --format and --quiet are set.\n",
    )
    assert ok(cfg, "ps", "-q", "--format", "raw") == f"container_id: {up[:12]}\n"
    vol = json.loads(ok(cfg, "volume", "ls", "--format", "json"))
    assert vol == {
        "Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "a=2,z=1", "Links": "N/A",
        "Mountpoint": vol["Mountpoint"], "Name": "fmtvol", "Scope": "local", "Size": "N/A", "Status": "N/A",
    }  # fmt: skip
    nets = ok(cfg, "network", "ls", "--format", "table {{.Name}}\\t{{.Driver}}").splitlines()
    assert nets[0] == "NAME      DRIVER" and "none      null" in nets
    for n in map(json.loads, ok(cfg, "network", "ls", "--format", "json").splitlines()):
        assert set(n) == {"CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"}

    # ---- version, info, history, system df, stats, events
    assert ok(cfg, "version", "--format", "{{.Client.Os}}/{{.Server.Os}}") == "linux/linux\n"
    assert set(json.loads(ok(cfg, "version", "--format", "json"))) == {"Client", "Server"}
    assert ok(cfg, "version", "--format", "{{.Client.Os}}\t|") == "linux               |\n"  # a real tab
    assert ok(cfg, "version", "--format", "{{.Client.Os}}\\t|") == "linux\\t|\n"  # no escapes read here
    assert ok(cfg, "info", "--format", "{{.OSType}}\\t|") == "linux\\t|\n"
    r = run(cfg, "version", "--format", "{{.Nope}}")  # docker's version has printed its newline already
    assert (r.returncode, r.stdout) == (1, "\n")
    assert r.stderr.removeprefix("Error: ").strip() == (
        'template: version:1:2: executing "version" at <.Nope>: '
        "can't evaluate field Nope in type system.versionInfo"
    )
    assert ok(cfg, "info", "--format", "{{.Containers}} {{.ContainersRunning}}") == "2 1\n"
    assert (
        fails(cfg, 64, "info", "--format", "{{.A") == "template parsing error: template: :1: unclosed action"
    )
    hist = ok(cfg, "history", "--format", "table {{.ID}}\\t{{.CreatedBy}}", "busybox").splitlines()
    assert hist[0].split() == ["IMAGE", "CREATED", "BY"] and hist[1].endswith(
        "testbed: busybox-static rootfs"
    )
    df = [json.loads(x) for x in ok(cfg, "system", "df", "--format", "json").splitlines()]
    assert [d["Type"] for d in df] == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert all(isinstance(d["TotalCount"], str) for d in df)
    assert ok(cfg, "system", "df", "--format", "{{.Type}}:{{.TotalCount}}").splitlines()[1] == "Containers:2"
    assert ok(cfg, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "fmt-up") == "fmt-up 1\n"
    stats = ok(
        cfg, "stats", "--no-stream", "--format", "table {{.Name}}\\t{{.CPUPerc}}", "fmt-up"
    ).splitlines()
    assert stats[0] == "NAME      CPU %"
    events = ok(
        cfg, "events", "--since", "5m", "--until", "0s", "--filter", "container=fmt-up",
        "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}",
    ).splitlines()  # fmt: skip
    assert events[:2] == ["container create fmt-up create", "container start fmt-up start"], events
    ev = json.loads(
        ok(
            cfg,
            "events",
            "--since",
            "5m",
            "--until",
            "0s",
            "--filter",
            "container=fmt-up",
            "--format",
            "json",
        ).splitlines()[0]
    )
    assert list(ev) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
    r = run(cfg, "events", "--since", "5m", "--until", "0s", "--format", "{{.Nope}}")
    assert r.returncode == 64 and "Error parsing format: template: :1:2:" in r.stderr
    assert "can't evaluate field Nope in type *events.Message" in r.stderr

    ok(cfg, "rm", "-f", "fmt-up", "fmt-down")
    ok(cfg, "volume", "rm", "fmtvol")
