"""Fixtures for the workbench tests: a real engine with busybox pulled from the test bed; every container
is removed afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.config import Config
from core.engine import LocalEngine
from tests.tui.tuikit import Bench
from tui import output


@pytest.fixture(autouse=True)
def _still_clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot's relative times ("Up 3 minutes") are counted from one instant: the fake engine's times
    are whole minutes before it was made, so a minute passing while the test ran changed the text."""
    if "snap_compare" in request.fixturenames:
        frozen = time.time()
        monkeypatch.setattr(output, "now", lambda: frozen)


@pytest.fixture
def bench(testbed, engine_config: Config) -> Iterator[Bench]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    engine.pull(ref)
    engine.tag_image(ref, "busybox")
    b = Bench(engine, engine_config, ref)
    yield b  # engine_config removes what is left (tests/conftest.py)
