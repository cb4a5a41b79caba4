"""Fixtures for the workbench tests: a real engine with busybox pulled from the test bed; every container
is removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.config import Config
from core.engine import LocalEngine
from tests.tui.tuikit import Bench


@pytest.fixture
def bench(testbed, engine_config: Config) -> Iterator[Bench]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    engine.pull(ref)
    engine.tag_image(ref, "busybox")
    b = Bench(engine, engine_config, ref)
    yield b  # engine_config removes what is left (tests/conftest.py)
