"""The differential test's normalisation (tests/e2e/dockerdiff.py) and its deliberate differences
(tests/e2e/test_docker_diff.py): what they hide must be only what varies between runs or engines."""

from __future__ import annotations

from tests.e2e.dockerdiff import looks_like_generated_names, normalise
from tests.e2e.test_docker_diff import DELIBERATE, apply_deliberate


def test_ids_digests_and_short_ids() -> None:
    full = "a" * 32 + "0" * 32
    assert normalise(f"{full}\n", {}) == "<id>\n"
    assert normalise(f"sha256:{full}", {}) == "sha256:<id>"
    assert normalise("d7fce09db179 busybox", {}) == "<id> busybox"
    # twelve hex letters are a word, not an id; twelve digits are an id (a short id may be all digits)
    assert normalise("deadbeefcafe 684911788620", {}) == "deadbeefcafe <id>"


def test_times_durations_and_sizes() -> None:
    assert normalise("2026-12-03T13:34:21.123456789Z x", {}) == "<time> x"
    assert normalise("2026-12-03 13:34:21 +0000 UTC", {}) == "<time>"
    assert normalise("Up 3 seconds", {}) == "Up <dur>"
    assert normalise("Up Less than a second", {}) == "Up <dur>"
    assert normalise("Exited (1) 2 minutes ago", {}) == "Exited (1) <ago>"
    assert normalise("About a minute ago", {}) == "<ago>"
    assert normalise("1.99MB 0B 4.26kB 12.5MiB", {}) == "<size> <size> <size> <size>"
    # a number without a unit, or a word ending in B, stays
    assert normalise("exit 125 and ABBA", {}) == "exit 125 and ABBA"


def test_addresses_keep_loopback_and_any() -> None:
    assert normalise("10.215.3.2 172.17.0.1/16", {}) == "<ip> <ip>/16"
    assert normalise("0.0.0.0:8080 127.0.0.1:5000", {}) == "0.0.0.0:8080 127.0.0.1:5000"
    assert normalise("02:42:ac:11:00:02", {}) == "<mac>"
    assert normalise("0.0.0.0:49153->80/tcp", {}) == "0.0.0.0:<port>->80/tcp"


def test_side_literals_names_and_columns() -> None:
    literals = {"/dev/shm/w-docker/x-1": "$W", "40001": "$P1"}
    assert normalise("/dev/shm/w-docker/x-1/f on 40001", literals) == "$W/f on $P1"
    assert normalise("quirky_hopper exited", {}, names={"quirky_hopper"}) == "<name> exited"
    assert normalise("not_a_name", {}, names={"quirky_hopper"}) == "not_a_name"
    assert normalise("a    b      c  \n", {}) == "a   b   c\n"
    assert looks_like_generated_names("boring_wozniak") and not looks_like_generated_names("plain words")


def test_deliberate_differences_are_documented_and_narrow() -> None:
    assert all(d.reason and d.stream in ("stdout", "stderr") for d in DELIBERATE)
    # the error prefixes: docker's daemon errors, run's, docker's own bare errors and dockyard's all compare
    for text in ("Error response from daemon: No such container: x\n", "Error: No such container: x\n"):
        assert apply_deliberate(text, "stderr") == "No such container: x\n"
    run = "docker: Error response from daemon: boom\n\nRun 'docker run --help' for more information\n"
    assert apply_deliberate(run, "stderr") == "boom\n"
    assert apply_deliberate("docker: 'docker logs' requires 1 argument\n", "stderr").startswith(
        "docker: 'docker"
    )
    usage = "usage: dockyard rm [-h] [-f] CONTAINER\nError: bad\nSee 'dockyard rm --help'.\n"
    assert apply_deliberate(usage, "stderr") == "bad\n"
    runc = (
        "failed to create shim task: OCI runtime create failed: runc create failed: unable to start "
        'container process: exec: "x": executable file not found in $PATH: unknown'
    )
    assert apply_deliberate(runc, "stderr") == 'exec: "x": executable file not found in $PATH'
    # a message's own words are never rewritten
    assert apply_deliberate("invalid reference format\n", "stderr") == "invalid reference format\n"
    assert apply_deliberate("overlay2\n", "stdout") == "overlay\n"
