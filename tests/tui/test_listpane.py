"""ListPane keeps DataTable's column widths cheap: a tick that changes every row must not make the table
measure whole columns again (rows x rows work: 2.5 s for 500 containers before)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tui.widgets.listpane import ListPane
from tui.widgets.rows import Row


class Pane(ListPane):
    COLUMNS = ("NAME", "STATUS")
    STATUS_COLUMN = 1


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Pane(id="pane")


def rows(status: dict[int, str]) -> list[Row]:
    return [Row(f"c{i}", f"c{i}", (f"c{i}", status.get(i, "Up 10 minutes")), "running") for i in range(200)]


@contextlib.asynccontextmanager
async def listed() -> AsyncIterator[tuple[Pilot[None], Pane]]:
    """A running app with the pane's 200 rows shown."""
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(Pane)
        pane.set_rows(rows({}))
        await pilot.pause()
        yield pilot, pane


def test_a_tick_on_every_row_asks_for_no_width_work_unless_a_cell_is_wider() -> None:
    async def scenario() -> None:
        async with listed() as (pilot, pane):
            calls: list[tuple[Any, bool]] = []
            original = DataTable.update_cell

            def spy(
                self: DataTable[Any], row: Any, col: Any, value: Any, *, update_width: bool = False
            ) -> None:
                calls.append((row, update_width))
                original(self, row, col, value, update_width=update_width)

            DataTable.update_cell = spy  # type: ignore[method-assign]
            try:
                # every status narrower than before, one wider than any
                tick = {i: "Up 9 seconds" for i in range(200)}
                tick[7] = "Up 10 minutes (healthy), restarting soon"
                pane.set_rows(rows(tick))
                await pilot.pause()
            finally:
                DataTable.update_cell = original  # type: ignore[method-assign]
            assert len(calls) == 200
            assert [row for row, wide in calls if wide] == ["c7"]
            # and the column did grow to show it
            status = pane.table.columns["STATUS"]
            assert status.get_render_width(pane.table) >= len(tick[7])

    asyncio.run(scenario())


def test_a_tick_lays_the_screen_out_only_when_the_nothing_here_line_changes() -> None:
    async def scenario() -> None:
        async with listed() as (pilot, pane):
            empty = pane.query_one(".empty", Static)
            layouts = 0  # asked for by the "nothing here" line (its update lays the whole screen out)
            original = empty.refresh

            def counted(*args: Any, layout: bool = False, **kwargs: Any) -> Any:
                nonlocal layouts
                layouts += layout
                return original(*args, layout=layout, **kwargs)

            empty.refresh = counted  # type: ignore[method-assign]
            for n in range(5):  # the list's own refresh, every few seconds
                pane.set_rows(rows({0: f"Up {n} seconds"}))
                await pilot.pause()
            assert layouts == 0
            pane.filter_text = "nothing-like-this"
            pane.set_rows(rows({}))
            await pilot.pause()
            assert layouts >= 1  # now the line says "Nothing matches": shown, and laid out
            assert "Nothing matches" in str(empty.render())

    asyncio.run(scenario())
