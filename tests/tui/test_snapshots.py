"""Snapshot tests (pytest-textual-snapshot) of the main screens at 80x24, on fixed data
(tests/tui/fakeengine.py) so the pictures do not change from run to run.
``pytest tests/tui/test_snapshots.py --snapshot-update``
rewrites them after an intended change; look at the report it writes before accepting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.tui.fakeengine import LOG_LINES, FakeEngine
from tests.tui.tuikit import detail_panel_settled, wait_for
from tui.app import DockyardApp
from tui.settings import Settings

SIZE = (80, 24)
# one stats sample when the list first loads and none after while a snapshot is taken (0 turns sampling
# off altogether, and the CPU/MEM cells say "off")
ONE_SAMPLE = 3600.0


@pytest.fixture
def app(tmp_path: Path) -> Iterator[DockyardApp]:
    yield DockyardApp(FakeEngine(tmp_path), Settings(stats_interval=ONE_SAMPLE))  # type: ignore[arg-type]


async def settle(pilot: Any) -> None:
    # the lists and the first CPU/memory sample are loaded by workers: wait for both, then for the frame
    for _ in range(200):
        snap = pilot.app.snapshot
        if {"containers", "images", "volumes"} <= snap.loaded and snap.stats:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)
    await wait_for(pilot, lambda: detail_panel_settled(pilot.app, LOG_LINES), what="the detail panel drawn")
    await pilot.wait_for_scheduled_animations()
    # a focused Input's cursor blinks on a timer: a frame taken mid-blink differed from the saved one
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause(0.1)


async def until(pilot: Any, cond: Any) -> None:
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app never got there")


def test_containers_pane(snap_compare: Any, app: DockyardApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_images_pane(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_volumes_pane(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_networks_pane(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_filtered_and_marked(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "slash", *"e", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_remove_confirmation(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "d")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_inspect_tree(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("i")
        await until(pilot, lambda: getattr(pilot.app.screen, "info", None) is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_stats_view(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("S")
        await pilot.pause(0.5)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_logs_pane_with_search(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause(0.5)
        await pilot.press("slash", *"ERROR", "enter")
        await pilot.pause(0.5)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_run_form(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"busybox", "tab", *"web2", "tab", *"sleep 3600", "tab", *"8080:80")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_pull_done(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("P", *"busybox", "enter")
        await until(pilot, lambda: pilot.app.screen.result is not None)
        await pilot.pause(0.3)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_help(snap_compare: Any, app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
