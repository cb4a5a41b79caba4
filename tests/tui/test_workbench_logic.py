"""Workbench logic that needs no engine: the settings file, the key table, the run form's argv, rows."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from core.errors import InvalidArgument
from core.models import ContainerSummary, HostPortBinding, ImageSummary, PortBinding, RestartPolicy
from tui import keymap, settings
from tui.screens.run_form import RunForm, command_line, form_argv, parse_run_argv
from tui.widgets.rows import container_row, image_row, matches


def test_settings_defaults_when_the_file_is_missing(tmp_path: Path) -> None:
    s = settings.load(tmp_path / "none.toml")
    assert s.theme == settings.DEFAULT_THEME and s.keymap == {} and s.path is None


def test_settings_read_theme_keymap_and_interval(tmp_path: Path) -> None:
    f = tmp_path / "tui.toml"
    f.write_text('theme = "nord"\nstats_interval = 2\n[keymap]\n"container.stop" = "x, ctrl+x"\n')
    s = settings.load(f)
    assert (s.theme, s.stats_interval, s.keymap) == ("nord", 2.0, {"container.stop": "x,ctrl+x"})


@pytest.mark.parametrize(
    "text, message",
    [
        ('colour = "red"', "unknown setting"),
        ('[keymap]\n"container.explode" = "x"', "unknown binding id"),
        ('[keymap]\n"container.stop" = ""', "non-empty"),
        ("stats_interval = -1", "stats_interval"),
        ("theme = ", "tui.toml"),
    ],
)
def test_settings_refuse_what_they_do_not_understand(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "tui.toml"
    f.write_text(text)
    with pytest.raises(InvalidArgument, match=message):
        settings.load(f)


def test_every_action_has_a_unique_id_and_a_handler() -> None:
    from tui.app import DockyardApp
    from tui.screens import project_logs
    from tui.screens.inspect import DetailScreen
    from tui.widgets.engines import EnginesPane
    from tui.widgets.fleet import FleetPane
    from tui.widgets.listpane import ListPane
    from tui.widgets.panes import ContainersPane, ImagesPane, NetworksPane, VolumesPane

    ids = [a.id for a in keymap.ACTIONS]
    assert len(ids) == len(set(ids))
    owners = {
        "app": [DockyardApp],
        "list": [ContainersPane, ImagesPane, NetworksPane, VolumesPane],
        "containers": [ContainersPane],
        "containerlist": [ContainersPane],
        "projects": [ContainersPane],
        "projectlogs": [project_logs.ProjectLogsScreen],
        "images": [ImagesPane],
        "networks": [NetworksPane],
        "volumes": [VolumesPane],
        "detail": [DetailScreen],
        "engines": [EnginesPane],
        "fleet": [FleetPane],
    }
    for a in keymap.ACTIONS:
        name = a.action.split("(")[0]
        for owner in owners[a.scope]:
            assert hasattr(owner, f"action_{name}"), f"{owner.__name__} has no action_{name} for {a.id}"
    assert issubclass(ContainersPane, ListPane)


def test_key_labels_read_as_typed() -> None:
    assert keymap.key_label("question_mark,f1") == "? / F1"
    assert keymap.key_label("ctrl+r") == "Ctrl+R"
    assert keymap.key_label("slash") == "/"


def test_run_form_argv_is_what_the_cli_parses() -> None:
    form = RunForm(
        image="busybox",
        name="web",
        command="sh -c 'echo hi; sleep 9'",
        ports="8080:80, 127.0.0.1::53/udp",
        env="A=1 'B=two words'",
        volumes="data:/data /srv:/srv:ro",
        network="none",
        restart="on-failure:3",
        detach=True,
        interactive=True,
        remove=False,
    )
    argv = form_argv(form)
    line = command_line(argv)
    assert line == (
        "dockyard run -d -it --name web -p 8080:80 -p 127.0.0.1::53/udp -e A=1 -e 'B=two words' "
        "-v data:/data -v /srv:/srv:ro --network none --restart on-failure:3 busybox sh -c 'echo hi; sleep 9'"
    )
    req = parse_run_argv(shlex.split(line)[1:])
    cfg, host = req.config, req.host_config
    assert cfg.cmd == ["sh", "-c", "echo hi; sleep 9"]
    assert cfg.env == ["A=1", "B=two words"]
    assert host.port_bindings == {
        "80/tcp": [HostPortBinding("", "8080")],
        "53/udp": [HostPortBinding("127.0.0.1", "")],
    }
    assert [(m.type, m.source, m.target, m.read_only) for m in host.mounts] == [
        ("volume", "data", "/data", False),
        ("bind", "/srv", "/srv", True),
    ]
    detached = not cfg.attach_stdout
    assert (cfg.tty, cfg.open_stdin, detached, host.network_mode, host.restart_policy) == (
        True,
        True,
        True,
        "none",
        RestartPolicy("on-failure", 3),
    )


@pytest.mark.parametrize(
    "form, message",
    [
        (RunForm(image=""), "image is required"),
        (RunForm(image="busybox", ports="99999"), "^invalid containerPort: 99999$"),
        (RunForm(image="busybox", env="'unclosed"), "env"),
        (RunForm(image="busybox", restart="sometimes"), "restart"),
        (RunForm(image="busybox", remove=True, restart="always"), "conflicting"),
    ],
)
def test_run_form_errors_come_from_the_cli_rules(form: RunForm, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_run_argv(form_argv(form))


def test_rows_show_status_ports_and_tags() -> None:
    c = ContainerSummary(
        id="a" * 64,
        name="web",
        image="busybox",
        image_id="sha256:" + "b" * 64,
        command="sh",
        created="2026-01-01T00:00:00Z",
        status="exited",
        exit_code=137,
        started_at="",
        finished_at="",
        ports=[PortBinding(80, "tcp", "0.0.0.0", 8080)],
        labels={},
    )
    row = container_row(c)
    assert row.cells[0] == "web" and row.cells[2].startswith("Exited (137)")
    assert row.cells[3] == "-" and row.cells[5] == "0.0.0.0:8080->80/tcp"
    assert matches(row, "WEB") and matches(row, "8080") and not matches(row, "nginx")
    img = ImageSummary(
        "sha256:" + "c" * 64, ["busybox:latest", "mine:1"], [], "2026-01-01T00:00:00Z", 4_261_000, 2
    )
    rows = image_row(img)
    assert [r.cells[0] for r in rows] == ["busybox:latest", "mine:1"]
    assert rows[0].cells[1] == "c" * 12 and rows[0].cells[2] == "4.26MB" and rows[0].cells[4] == "2"
    untagged = image_row(ImageSummary("sha256:" + "d" * 64, [], [], "", 1, 0))
    assert untagged[0].cells[0] == "<none>:<none>" and untagged[0].cells[4] == ""


@pytest.mark.parametrize(
    "status, health, shown",
    [
        ("running", "starting", r"Up .+ \(health: starting\)"),
        ("running", "healthy", r"Up .+ \(healthy\)"),
        ("running", "unhealthy", r"Up .+ \(unhealthy\)"),
        ("running", "", r"Up [^()]+"),
        ("paused", "healthy", r"Up .+ \(Paused\)"),  # as docker: paused says so, not its health
        ("exited", "unhealthy", r"Exited \(0\) .+ ago"),
    ],
)
def test_container_rows_show_health_as_docker_ps(status: str, health: str, shown: str) -> None:
    import re

    c = ContainerSummary(
        id="a" * 64,
        name="web",
        image="busybox",
        image_id="sha256:" + "b" * 64,
        command="sh",
        created="2026-01-01T00:00:00Z",
        status=status,
        exit_code=0 if status == "exited" else None,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:05Z",
        ports=[],
        labels={},
        health=health,
    )
    row = container_row(c)
    assert re.fullmatch(shown, row.cells[2]), row.cells[2]
    assert matches(row, health) if health and status == "running" else True


def test_detail_title_shows_health_and_the_last_failure() -> None:
    from tui.screens.inspect import state_text

    assert state_text({"State": {"Status": "exited"}}) == "exited"
    starting = {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert state_text({"State": {"Status": "running", "Health": starting}}) == "running (health: starting)"
    failing = {
        "Status": "unhealthy",
        "FailingStreak": 3,
        "Log": [{"Start": "", "End": "", "ExitCode": 1, "Output": "curl: (7) refused\n"}],
    }
    assert (
        state_text({"State": {"Status": "running", "Health": failing}})
        == "running (unhealthy, 3 failing; last check exit 1: curl: (7) refused)"
    )
