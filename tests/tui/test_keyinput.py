"""tui.widgets.keyinput's typeahead hand-over: a key the focused box would take, bubbled back to the app
unhandled, goes to the box once, never round and round."""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App, ComposeResult

from tui.widgets.keyinput import OrderedInput, TypeaheadToInput


class _Claims(OrderedInput):
    """Says it takes f5 (as a binding it cannot run would), and does not."""

    seen = 0

    def takes(self, event: events.Key) -> bool:
        return event.key == "f5" or super().takes(event)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "f5":
            self.seen += 1
        await super()._on_key(event)


class _Host(TypeaheadToInput, App[None]):
    def compose(self) -> ComposeResult:
        yield _Claims(id="box")


def test_a_key_the_box_does_not_take_is_handed_over_once_not_forever() -> None:
    async def main() -> None:
        app = _Host()
        async with app.run_test() as pilot:
            box = app.query_one(_Claims)
            box.focus_now()
            assert app.focused is box
            app.post_message(events.Key("f5", None))
            await pilot.pause(0.3)
            assert box.seen == 2  # as typed, then handed over once; without the guard, without end
            app.post_message(events.Key("x", "x"))
            await pilot.pause(0.1)
            assert box.value == "x"  # and the app still answers

    asyncio.run(main())
