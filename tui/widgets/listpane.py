"""A list pane: a row table with a ``/`` filter and marked rows, updated in place from fresh engine data.

Updates keep the cursor on the same item and only touch the cells that changed, so a refresh every few
seconds costs nothing visible and nothing much in CPU; the table is rebuilt only when the set or order of
rows changes (a container created or removed). Bulk actions act on marked rows, else on the cursor row.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tui.keymap import bindings
from tui.widgets.keyinput import OrderedInput
from tui.widgets.rows import Row, engine_filters, matches

MARK = "●"
# status -> style; named ANSI colours so 16-colour terminals show the same meaning
STATUS_STYLES = {
    "running": "green",
    "paused": "yellow",
    "restarting": "yellow",
    "exited": "red",
    "dead": "bold red",
    "created": "cyan",
    # a compose project's row (tui.widgets.rows.project_style)
    "project-up": "green",
    "project-partial": "yellow",
    "project-down": "red",
    "project-unhealthy": "bold red",
}
HEALTH_STYLES = {"unhealthy": "bold red", "starting": "yellow"}  # a running container's health check


class ResourceTable(DataTable[Text | str]):
    """A row-cursor DataTable with vi-style movement for keyboards without arrows handy, and g/G (Home/End)
    to the first and last row (DataTable's own Home/End scroll sideways, which a row list never needs)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        *(b for b in bindings("list") if isinstance(b, Binding) and b.action in ("first_row", "last_row")),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)


class ListPane(Vertical):
    """Base of the Containers/Images/Networks/Volumes panes. Subclasses set COLUMNS and their actions."""

    COLUMNS: tuple[str, ...] = ()
    STATUS_COLUMN: int = -1  # index of the cell coloured by Row.style, -1 for none
    # the COLUMNS a narrow pane keeps, most important first (the others show as the width allows, in
    # COLUMNS order, never scrolled sideways); () shows them all
    PRIORITY: tuple[str, ...] = ()
    EMPTY = "Nothing here yet."
    BINDINGS = bindings("list")

    class Highlighted(Message):
        """The cursor moved to another item (or to none)."""

        def __init__(self, pane: ListPane, key: str | None) -> None:
            super().__init__()
            self.pane = pane
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="list-pane")
        self.rows: list[Row] = []
        self.by_key: dict[str, Row] = {}
        self.shown: list[str] = []
        self.marked: set[str] = set()
        self.filter_text = ""
        # a `key=value` filter is the engine's (docker's -f filters): the keys of the rows it chose, None
        # until it answered; filter_error is its refusal ("invalid filter 'x'")
        self.engine_filter: dict[str, list[str]] | None = None
        self.engine_keys: set[str] | None = None
        self.filter_error = ""
        self.loaded = False
        self._rendered: dict[str, Row] = {}
        self._widths: dict[int, int] = {}  # widest cell shown in each column (see _update_cells)
        self.columns_shown: tuple[int, ...] = tuple(range(len(self.COLUMNS)))  # indices into COLUMNS

    def compose(self) -> ComposeResult:
        # its backspaces run in typing order with its characters (tui.widgets.keyinput says why)
        box = OrderedInput(placeholder="filter (Esc clears)", id="filter", classes="filter")
        table = ResourceTable(cursor_type="row", zebra_stripes=False, id="table")
        box.leave_to = table  # Enter keeps the filter, Escape clears it: either way, back to the list
        self._add_columns(table)
        self._table = table
        yield box
        yield table
        self._empty_line = Static(self.EMPTY, classes="empty")
        yield self._empty_line

    @property
    def table(self) -> ResourceTable:
        # the widget composed, not a query: as the app shuts down Textual takes the children away first,
        # and a tick or a finished load that reaches the pane then must not fail to find its table
        return self._table

    # -------------------------------------------------------------- columns

    def column_title(self, index: int) -> str | Text:
        """The header of COLUMNS[index] (a sorted pane adds its arrow)."""
        return self.COLUMNS[index]

    def _add_columns(self, table: DataTable[Text | str]) -> None:
        table.add_column(" ", key="_mark", width=1)
        for i in self.columns_shown:
            table.add_column(self.column_title(i), key=self.COLUMNS[i])

    def visible_columns(self) -> list[str]:
        return [self.COLUMNS[i] for i in self.columns_shown]

    def fit_columns(self) -> None:
        """Keep the columns that fit the pane's width, by PRIORITY; rebuild the table when that changes."""
        if not self.PRIORITY or not self.is_mounted:
            return
        width = self.size.width
        if width <= 0:
            return
        padding = 2 * self.table.cell_padding
        budget = width - (1 + padding) - 2  # the mark column and the vertical scrollbar
        need = {}
        rows = self.visible_rows()
        for i, title in enumerate(self.COLUMNS):
            widest = max((_width(r.cells[i]) for r in rows if i < len(r.cells)), default=0)
            need[i] = max(cell_len(title) + 2, widest) + padding  # + 2: a sort arrow
        # a column with nothing in it (no container publishes a port) goes last: it says nothing
        empty = {i for i in range(len(self.COLUMNS)) if all(not r.cells[i].strip("-… ") for r in rows)}
        order = [t for t in self.PRIORITY if self.COLUMNS.index(t) not in empty]
        order += [t for t in self.PRIORITY if self.COLUMNS.index(t) in empty]
        chosen: set[int] = set()
        for title in order:
            i = self.COLUMNS.index(title)
            if not chosen or need[i] <= budget:
                chosen.add(i)
                budget -= need[i]
        shown = tuple(i for i in range(len(self.COLUMNS)) if i in chosen)
        if shown != self.columns_shown:
            self.columns_shown = shown
            self.rebuild_columns()

    def rebuild_columns(self) -> None:
        """Columns again (another set, or new titles): every row is drawn again."""
        table = self.table
        current = self.cursor_key()
        table.clear(columns=True)
        self._add_columns(table)
        self.shown = []
        self._render_rows()
        if current is not None:
            self.select_key(current)
        # Textual 8.2.8's DataTable keeps a header line rendered with the new columns' widths before the
        # rows widened them (the header then no longer lines up with the cells, and a click on a header
        # picks the wrong column): drop its render caches once the new rows are measured
        self.call_after_refresh(self._redraw_table)

    def _redraw_table(self) -> None:
        table = self.table
        table._clear_caches()
        table.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()

    # ----------------------------------------------------------------- data

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        self.by_key = {r.key: r for r in self.rows}
        self.marked &= set(self.by_key)
        self.loaded = True
        if self.engine_filter is not None:
            self.request_engine_filter(self.engine_filter)  # what changed may change what it chooses
        self._render_rows()
        self.fit_columns()

    def update_row(self, row: Row) -> None:
        """Replace one row's cells (stats samples, status ticks) without touching the others."""
        if row.key not in self.by_key:
            return
        old = self.by_key[row.key]
        self.by_key[row.key] = row
        self.rows = [row if r.key == row.key else r for r in self.rows]
        if row.key in self.shown and old != row:
            self._update_cells(old, row)

    def _shown_cells(self, row: Row) -> list[Text | str]:
        """The mark and the cells of the columns shown."""
        cells = self._cells(row)
        return [cells[0], *(cells[i + 1] for i in self.columns_shown if i + 1 < len(cells))]

    def _cells(self, row: Row) -> list[Text | str]:
        out: list[Text | str] = [MARK if row.key in self.marked else " "]
        for i, cell in enumerate(row.cells):
            style = HEALTH_STYLES.get(row.health) or STATUS_STYLES.get(row.style)
            if i == self.STATUS_COLUMN and style:
                out.append(Text(cell, style=style))
            elif i == 0 and row.style.startswith("project-"):
                out.append(Text(cell, style="bold"))
            else:
                out.append(cell)
        return out

    def _update_cells(self, old: Row, new: Row) -> None:
        table = self.table
        cells = self._cells(new)
        shown = set(self.columns_shown)
        for i, (a, b) in enumerate(zip(old.cells, new.cells, strict=False)):
            if i not in shown:
                continue
            if a != b or (i == self.STATUS_COLUMN and (old.style, old.health) != (new.style, new.health)):
                value = cells[i + 1]
                width = _width(value)
                # Ask the table to widen the column only when this cell is wider than any shown in it so
                # far: with update_width, a cell narrower than its column makes DataTable measure the whole
                # column again, and a status tick that updates every row then costs rows x rows measures
                # (2.5 s for 500 containers). Columns grow and never shrink while the rows stay.
                wider = width > self._widths.get(i, 0)
                if wider:
                    self._widths[i] = width
                table.update_cell(new.key, self.COLUMNS[i], value, update_width=wider)

    def _render_rows(self) -> None:
        table = self.table
        visible = self.visible_rows()
        keys = [r.key for r in visible]
        if keys == self.shown and table.row_count == len(keys):
            for r in visible:
                old = self._rendered.get(r.key)
                if old is not None and old != r:
                    self._update_cells(old, r)
        else:
            current = self.cursor_key()
            table.clear()
            self._widths = {}
            for r in visible:
                cells = self._shown_cells(r)
                table.add_row(*cells, key=r.key)
                for i, value in zip(self.columns_shown, cells[1:], strict=False):
                    self._widths[i] = max(self._widths.get(i, 0), _width(value))
            self.shown = keys
            if current in keys:
                table.move_cursor(row=keys.index(current), animate=False)
        self._rendered = {r.key: r for r in visible}
        self.set_class(not visible, "-empty")
        empty = self.EMPTY if not self.rows else self.filter_error or f"Nothing matches {self.filter_text!r}."
        line = self._empty_line
        if line.content != empty:  # an update lays the whole screen out again: not at every refresh
            line.update(empty)

    def visible_rows(self) -> list[Row]:
        """The rows the filter keeps, in order (a pane with groups of rows adds its own rule)."""
        if self.engine_filter is not None:
            chosen = self.engine_keys
            return [r for r in self.rows if chosen is None or r.key in chosen]
        return [r for r in self.rows if matches(r, self.filter_text)]

    # ---------------------------------------------------------- engine filters

    def request_engine_filter(self, filters: dict[str, list[str]]) -> None:
        """Ask the engine which rows ``filters`` choose; answer with :meth:`apply_engine_filter`. The list
        panes over an engine do (tui.widgets.panes); a plain list has no engine, and shows nothing."""
        self.apply_engine_filter(set(), "")

    def apply_engine_filter(self, keys: set[str], error: str = "") -> None:
        if self.engine_filter is None:  # the filter changed to plain text meanwhile
            return
        self.engine_keys, self.filter_error = keys, error
        self._render_rows()

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        self.engine_filter = engine_filters(text)
        self.engine_keys, self.filter_error = None, ""
        if self.engine_filter is not None:
            self.request_engine_filter(self.engine_filter)
        self._render_rows()

    # ------------------------------------------------------------ selection

    def cursor_key(self) -> str | None:
        table = self.table
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def cursor_row_data(self) -> Row | None:
        key = self.cursor_key()
        return self.by_key.get(key) if key else None

    def targets(self) -> list[Row]:
        """Marked rows (in list order), else the cursor row."""
        if self.marked:
            return [self.by_key[k] for k in self.shown if k in self.marked] or [
                self.by_key[k] for k in self.marked if k in self.by_key
            ]
        row = self.cursor_row_data()
        return [row] if row else []

    def select_key(self, key: str) -> None:
        if key in self.shown:
            self.table.move_cursor(row=self.shown.index(key), animate=False)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = self.cursor_key()
        self.cursor_moved(key)
        self.post_message(self.Highlighted(self, key))

    def cursor_moved(self, key: str | None) -> None:
        """The cursor is on another row (a pane whose keys depend on the row refreshes its bindings)."""

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.call_later(self.run_action, self.enter_action())

    def enter_action(self) -> str:
        """What Enter (or a click) on the cursor row does."""
        return "inspect"

    # -------------------------------------------------------------- actions

    def action_filter(self) -> None:
        box = self.query_one("#filter", OrderedInput)
        self.add_class("-filtering")
        box.focus_now()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._set_filter(event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.filter_text:
            self.remove_class("-filtering")
        self.table.focus()

    def clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        self.remove_class("-filtering")
        self._set_filter("")
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        # Esc in the filter box (or on a filtered table) clears the filter; elsewhere it bubbles
        key = getattr(event, "key", "")
        if key == "escape" and (self.filter_text or self.has_class("-filtering")):
            if self.screen.focused is self.query_one("#filter"):
                # an Escape from the box has already sent the focus back to the list (OrderedInput.leave_to):
                # this one was typed ahead of the "/" that opened the box, queued for the list before it.
                # The app hands it to the box after the letters typed before it (keyinput.TypeaheadToInput)
                return
            event.stop()
            self.clear_filter()

    def action_first_row(self) -> None:
        self.table.action_first_row()

    def action_last_row(self) -> None:
        self.table.action_last_row()

    def action_mark(self) -> None:
        key = self.cursor_key()
        if key is None:
            return
        self.marked ^= {key}
        self.table.update_cell(key, "_mark", MARK if key in self.marked else " ")
        self.table.action_cursor_down()

    def action_mark_all(self) -> None:
        if self.marked and set(self.shown) <= self.marked:
            self.marked -= set(self.shown)
        else:
            self.marked |= set(self.shown)
        for key in self.shown:
            self.table.update_cell(key, "_mark", MARK if key in self.marked else " ")

    def action_copy_id(self) -> None:
        row = self.cursor_row_data()
        if row:
            text = self.copy_id_text(row)
            self.app.copy_to_clipboard(text)
            self.notify(f"Copied {text}", timeout=3)

    def action_copy_name(self) -> None:
        row = self.cursor_row_data()
        if row:
            self.app.copy_to_clipboard(row.name)
            self.notify(f"Copied {row.name}", timeout=3)

    def copy_id_text(self, row: Row) -> str:
        return row.key

    def focus_table(self) -> None:
        self.table.focus()


def _width(value: Text | str) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(value)
