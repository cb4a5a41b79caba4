"""core.errors: docker's exit codes and the errors that carry them."""

from __future__ import annotations

import pytest

from core.errors import CannotInvoke, CommandNotFound, DockyardError, RuntimeFailure, error_for_exit_code


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (127, CommandNotFound),
        (126, CannotInvoke),
        (125, RuntimeFailure),
        (1, RuntimeFailure),
        (0, RuntimeFailure),
    ],
)
def test_an_exit_code_maps_to_the_error_that_carries_it(code: int, cls: type[DockyardError]) -> None:
    err = error_for_exit_code(code, 'exec: "nope": executable file not found in $PATH')
    assert type(err) is cls
    assert str(err) == 'exec: "nope": executable file not found in $PATH'
    assert err.exit_code == (code if code in (126, 127) else 125)
