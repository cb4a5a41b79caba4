"""The command line beside the run form (issue 16, "Safety"): the same checks, in the same words, before
anything is pulled or created; and what a run whose start fails leaves, which is docker's.

Checked by hand against the reference dockerd 20.10 (docker CLI 28): ``docker run -d -p TAKEN:80 busybox``
exits 125 with "driver failed programming external connectivity ... address already in use" and leaves a
Created container; ``-v rel/path:/x`` exits 125 at create ("includes invalid characters for a local volume
name ... use absolute path") and leaves none. The command line keeps docker's behaviour; the run form
removes the container it made (tests/tui/test_safety.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_run_prestart import Env, env, taken_port  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # docker's CLI: `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`
        (
            ["-e", "=x"],
            'Error: invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x\n',
        ),
        (
            ["--name", "bad name!"],
            "Error: Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n",
        ),
        (
            ["-v", "rel/path:/x"],
            'Error: create rel/path: "rel/path" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute '
            "path\n",
        ),
    ],
)
def test_the_run_forms_checks_are_the_command_lines_and_come_before_a_pull(
    env: Env,  # noqa: F811
    flags: list[str],
    message: str,
) -> None:
    r = env.cli("run", "-d", *flags, env.ref, "true")
    assert (r.returncode, r.stderr) == (125, message)
    env.nothing_left()
    # with an image that is not there, the request is refused before a pull is tried (nothing listens on
    # port 1: a pull would fail with a connection error instead)
    r = env.cli("run", "-d", *flags, "127.0.0.1:1/nothing-here:latest", "true")
    assert r.returncode == 125
    assert r.stderr in (message, "Unable to find image '127.0.0.1:1/nothing-here:latest' locally\n" + message)
    env.nothing_left()


def test_a_taken_port_leaves_a_created_container_as_docker_does(
    env: Env,  # noqa: F811
    taken_port: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    r = env.cli("run", "-d", "--name", "porty", "-p", f"127.0.0.1:{taken_port}:80", env.ref, "true")
    assert r.returncode == 125 and "address already in use" in r.stderr, r.stderr
    assert env.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}") == "porty Created\n"
    env.ok("rm", "porty")
