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

import contextlib
import weakref

from textual import events
from textual.binding import Binding
from textual.dom import NoScreen
from textual.widget import Widget
from textual.widgets import Input


class OrderedInput(Input):
    """``Input`` whose bound keys are handled in typing order with its printable keys.

    With :attr:`leave_to` set, Enter and Escape hand the focus to that widget at once, and keys typed
    after them reach it: the app hands each key to the widget focused when the key arrives, so "jj" typed
    right behind the Enter that closes a filter box was queued for the box before the box handled the
    Enter, and went into the filter."""

    leave_to: Widget | None = None  # where Enter and Escape send the focus; None: the owner moves it

    async def _on_key(self, event: events.Key) -> None:
        if self.is_attached and self.screen.focused is not self and self.screen.focused is not None:
            # queued for us while we had the focus, handled after it moved on: the key is the focus's now
            event.stop()
            event.prevent_default()
            self.screen.focused._forward_event(events.Key(event.key, event.character))
            return
        if event.key in ("enter", "escape") and self.leave_to is not None and self.leave_to.is_attached:
            target = self.leave_to
            try:
                await self._handle_key(event)
            finally:
                # the Enter or Escape itself is ours (submitted, or bubbling on to our owner's Escape)
                with contextlib.suppress(NoScreen):
                    self.screen.set_focus(target)
            return
        await self._handle_key(event)

    async def _handle_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._own_bindings(event.key):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    self._restart_blink()
                    return
        await super()._on_key(event)

    def _own_bindings(self, key: str) -> list[Binding]:
        """This box's own bindings of ``key`` (from its ``BINDINGS``, as the screen's chain has them)."""
        if not self.is_attached:
            return []
        return [
            binding
            for namespace, bindings in self.screen._modal_binding_chain
            if namespace is self
            for binding in bindings.key_to_bindings.get(key, ())
        ]

    def takes(self, event: events.Key) -> bool:
        """Whether this box, focused, handles ``event`` itself: a printable key, one of its own bindings
        (which :meth:`_on_key` runs), or the Escape that closes it."""
        if event.key == "escape" and self.leave_to is not None:
            return True  # it closes the box (see leave_to)
        return event.is_printable or bool(self._own_bindings(event.key))

    def focus_now(self) -> None:
        """Take the focus before the next queued event is handled. ``focus()`` only asks for it through
        the app's queue, behind keys already typed: "/" then "web" typed fast on a loaded machine sent "w"
        and "e" to the list (its ``e`` opens a shell) and the box got "b"."""
        self.refresh()
        with contextlib.suppress(NoScreen):
            self.screen.set_focus(self)


class TypeaheadToInput:
    """Mix into the App (before ``App``): a key typed ahead for an :class:`OrderedInput` reaches it.

    A key bubbles back to the App only when no widget took it. One that the focused box would have taken
    was typed ahead: sent to the list before the key that opened the box ("/web" typed fast: "web" was
    queued for the list before "/" was handled) and bubbled here after it. It is the box's, and arrives in
    typing order. (Textual runs each class's ``_on_key`` in turn: ``prevent_default`` skips App's.)"""

    async def _on_key(self, event: events.Key) -> None:
        focused = self.focused  # type: ignore[attr-defined]
        if not isinstance(focused, OrderedInput) or not focused.takes(event) or event in _handed_over:
            return  # (a key handed over already, back again because the box did not take it: no second round)
        event.prevent_default()
        key = events.Key(event.key, event.character)
        _handed_over.add(key)
        focused._forward_event(key)  # as the app hands a key to the focused widget


# keys handed to the box they were typed for (weak: gone once handled)
_handed_over: weakref.WeakSet[events.Key] = weakref.WeakSet()


__all__ = ["OrderedInput", "TypeaheadToInput"]
