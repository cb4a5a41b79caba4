"""Long work as a stream of Docker's progress messages (core.progress) and the message mapping
(core.dockerjson.progress_to_docker)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dockerjson import progress_to_docker
from core.errors import RegistryError
from core.models import PullProgress
from core.progress import ThreadedProgress


def test_messages_then_the_result() -> None:
    def work(report: Any) -> str:
        for i in range(3):
            report({"status": "Downloading", "id": "abc", "progressDetail": {"current": i, "total": 2}})
        return "done"

    with ThreadedProgress(work) as stream:
        got = list(stream)
        assert [m["progressDetail"]["current"] for m in got] == [0, 1, 2]
        assert stream.result == "done"
        assert list(stream) == []  # a second look ends at once


def test_the_works_error_comes_out_of_the_iteration_after_its_messages() -> None:
    def work(report: Any) -> None:
        report({"status": "Pulling fs layer", "id": "abc", "progressDetail": {}})
        raise RegistryError("registry 127.0.0.1:1 refused the connection")

    stream = ThreadedProgress(work)
    seen = []
    with pytest.raises(RegistryError, match="refused"):
        for msg in stream:
            seen.append(msg["status"])
    assert seen == ["Pulling fs layer"]
    stream.close()


def test_closing_cancels_the_work_at_its_next_report_and_waits_for_it() -> None:
    unwound = threading.Event()

    def work(report: Any) -> None:
        try:
            while True:
                report({"status": "Downloading", "id": "abc", "progressDetail": {}})
                time.sleep(0.01)
        finally:
            unwound.set()

    stream = ThreadedProgress(work)
    assert next(iter(stream))["status"] == "Downloading"
    stream.close()
    assert unwound.is_set(), "close returned before the work had unwound"
    assert stream.result is None


def test_layer_and_whole_image_messages() -> None:
    assert progress_to_docker(PullProgress("a1b2c3d4e5f6", "Downloading", 512, 2048)) == {
        "status": "Downloading",
        "id": "a1b2c3d4e5f6",
        "progressDetail": {"current": 512, "total": 2048},
    }
    assert progress_to_docker(PullProgress("a1b2c3d4e5f6", "Pull complete")) == {
        "status": "Pull complete",
        "id": "a1b2c3d4e5f6",
        "progressDetail": {},
    }
    assert progress_to_docker(PullProgress("", "Digest:", message="sha256:00")) == {
        "status": "Digest: sha256:00"
    }


@given(
    layer=st.text("0123456789abcdef", min_size=1, max_size=12),
    status=st.sampled_from(["Waiting", "Downloading", "Extracting", "Verifying Checksum", "Already exists"]),
    current=st.integers(0, 1 << 40),
    total=st.integers(0, 1 << 40),
)
def test_a_layer_message_keeps_what_the_cli_draws_from(
    layer: str, status: str, current: int, total: int
) -> None:
    msg = progress_to_docker(PullProgress(layer, status, current, total))
    assert (msg["id"], msg["status"]) == (layer, status)
    # numbers only on a running bar: docker's CLI drops a message with numbers when not on a terminal
    bar = total and status in ("Downloading", "Extracting")
    assert msg["progressDetail"] == ({"current": current, "total": total} if bar else {})
