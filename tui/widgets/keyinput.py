"""An ``Input`` that handles its own bound keys in the order they were typed.

Textual (8.2.8) runs a printable key in the focused ``Input``'s own ``_on_key``, but a key bound in the
Input's ``BINDINGS`` (backspace, delete, left, right, home, end, ctrl+w, ...) only once the ``Key`` event
has bubbled, one message queue at a time, through every ancestor up to ``App._on_key``, which then looks
the binding up from the focused widget. While an ancestor is busy (the list pane re-filtering its rows for
the previous key), the next printable key, already in the Input's queue, is inserted first: typing
``webx<BS>-app`` at 30 keys/s could give ``webx-app`` with the backspace landing later. Here the Input's own
bindings run in its ``_on_key``, in the same queue as the characters; other keys bubble as before, and the
App's priority bindings (checked before the key reaches any widget) are untouched.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    """``Input`` whose bound keys are handled in typing order with its printable keys."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable and self.is_attached:
            for namespace, bindings in self.screen._modal_binding_chain:
                if namespace is not self:
                    continue
                for binding in bindings.key_to_bindings.get(event.key, ()):
                    if not binding.priority and await self.app.run_action(binding.action, self):
                        event.stop()
                        event.prevent_default()
                        self._restart_blink()
                        return
        await super()._on_key(event)


__all__ = ["OrderedInput"]
