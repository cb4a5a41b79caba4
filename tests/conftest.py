"""Session-wide fixtures for the whole suite.

``testbed``  three real registries on 127.0.0.1 (open, htpasswd Basic, Bearer token) holding images built
             by umoci/skopeo from Debian's busybox-static; see tests/testbed/bed.py for addresses,
             credentials and the token policy, tests/testbed/build.py for the images. Started only for
             tests that ask for it (such tests are marked ``e2e``); skipped with the reason when not root
             or a tool is missing. The images are built once per machine (cached, file-locked for
             pytest-xdist); each session (each xdist worker) starts its own registries on copies.
``engine_config``  a fresh ``core.config.Config`` per test: root and run dirs on tmpfs when /dev/shm is a
             usable tmpfs, ``docker_config`` an empty dir; unmounted and removed afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from tests.netbed import NetSettings
from tests.testbed import BuiltImages, Testbed, ensure_images, start_testbed, unavailable_reason
from tests.testbed.common import make_scratch_dir, remove_scratch, stop_shims_under

# dockyard's ssh connection sharing (core.remote.ssh) leaves a master ssh behind every command for a minute:
# off for the tests, whose hosts configure their own sharing (start_sshd's dyhost) or count connections;
# the test of the sharing turns it on and ends its master
os.environ["DOCKYARD_SSH_PERSIST"] = "0"

_E2E_DIR = Path(__file__).parent / "e2e"
_SLOW = Path(__file__).parent / "slow.txt"  # the longest tests, measured (see _longest_first)
_TIMELINE = os.environ.get("DOCKYARD_TEST_TIMELINE")  # see pytest_runtest_protocol
_timings: dict[str, float] = {}


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the xdist_group marks added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `-m "not e2e"` must never start the bed: mark what lives in tests/e2e or asks for the bed
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if _E2E_DIR in Path(str(item.path)).parents or "testbed" in fixtures or "testbed_images" in fixtures:
            item.add_marker(pytest.mark.e2e)
        _group_shared_scope(item)
    _longest_first(items)


def _group_shared_scope(item: pytest.Item) -> None:
    """A test using a module- or class-scoped fixture runs on one worker with the rest of its module, in the
    module's order (``--dist loadgroup`` keeps an ``xdist_group`` together): such tests share state (the
    compose e2e tests build on one project) and the fixture is set up once, not on every worker."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    for defs in info.name2fixturedefs.values():
        if any(d.scope in ("module", "class", "package") for d in defs):
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(Path(__file__).parent))))
            return


def _longest_first(items: list[pytest.Item]) -> None:
    """The tests listed in ``tests/slow.txt`` (measured longest, longest first) run first. With xdist's
    ``loadgroup`` scheduling a worker takes the next test whenever it has fewer than three waiting, so the
    longest tests spread over the workers at the start and the short ones fill in around them: no long
    test is left to start last and keep the run going on one worker. The order must be the same in every
    worker's collection: it depends on the file only. A test in an ``xdist_group`` keeps its place (its
    group runs in the module's order); a listed test that no longer exists is ignored."""
    lines = _SLOW.read_text().splitlines()
    listed = [line.split(None, 1)[1] for line in lines if line.strip() and not line.startswith("#")]
    rank = {nodeid: i for i, nodeid in enumerate(listed)}
    last = len(rank)

    def key(item: pytest.Item) -> int:
        if item.get_closest_marker("xdist_group") is not None:
            return last
        return rank.get(item.nodeid, last)

    items.sort(key=key)  # stable: the rest keep their order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """With ``DOCKYARD_TEST_TIMELINE=FILE``: one line per test (worker, start, end, node id) appended to
    FILE, to see how the workers were kept busy (and re-measure ``tests/slow.txt``)."""
    start = time.time()
    yield
    if _TIMELINE:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(_TIMELINE, "a") as f:
            f.write(f"{worker} {start:.3f} {time.time():.3f} {item.nodeid}\n")


@pytest.fixture(scope="session")
def testbed_images() -> BuiltImages:
    """The cached OCI layouts and pristine registry storage (built on first use, ~1-2 s)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    built = ensure_images()
    _timings["images"] = time.monotonic() - t0
    return built


@pytest.fixture(scope="session")
def testbed(testbed_images: BuiltImages) -> Iterator[Testbed]:
    """Registries and token server for this session (this worker); stopped by PID at the end."""
    t0 = time.monotonic()
    bed = start_testbed(testbed_images)
    _timings["registries"] = time.monotonic() - t0
    try:
        yield bed
    finally:
        bed.close()


@pytest.fixture
def engine_config(_private_networks: NetSettings) -> Iterator[Config]:
    """A Config whose root, run dir and docker config dir are fresh and private to this test."""
    base = make_scratch_dir("dockyard-test-")
    cfg = Config(root=base / "root", run=base / "run", docker_config=base / "docker")
    for d in (cfg.root, cfg.run, base / "docker"):
        d.mkdir()
    _private_networks.apply(cfg)  # networks: this session's bridge, subnets and nft table (tests/netbed.py)
    try:
        yield cfg
    finally:
        _remove_containers(cfg)
        stop_shims_under(base)
        remove_scratch(base)


def _remove_containers(cfg: Config) -> None:
    """What a test left running: removed through the engine, so its shim ends it and cleans up."""
    if not cfg.paths.containers.is_dir() or not any(cfg.paths.containers.iterdir()):
        return
    from core.engine import LocalEngine

    engine = LocalEngine(cfg)
    try:
        for c in engine.list_containers(all=True):
            try:
                engine.remove_container(c.id, force=True, volumes=True)
            except Exception:
                pass
    except Exception:
        pass


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _timings:
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in _timings.items())
        terminalreporter.write_line(f"test bed set-up: {parts}")


@pytest.fixture(scope="session")
def _private_networks() -> Iterator[NetSettings]:
    """Networks: a bridge, subnets and an nft table of this session's own, removed at the end
    (never the real default ``dockyard0`` / ``table ip dockyard``); see tests/netbed.py."""
    from tests import netbed

    settings = netbed.reserve()
    try:
        yield settings
    finally:
        netbed.cleanup(settings)


@pytest.fixture(scope="session", autouse=True)
def _private_cgroup_parent() -> Iterator[str]:
    """Every container a test starts lives under its own cgroup parent, removed at the end."""
    parent = f"dockyard-test-{os.getpid()}"
    old = os.environ.get("DOCKYARD_CGROUP_PARENT")
    os.environ["DOCKYARD_CGROUP_PARENT"] = parent
    try:
        yield parent
    finally:
        if old is None:
            os.environ.pop("DOCKYARD_CGROUP_PARENT", None)
        else:
            os.environ["DOCKYARD_CGROUP_PARENT"] = old
        if os.geteuid() == 0:
            from core.runtime import cgroups

            try:
                cgroups.Cgroup.remove_parent(parent)
            except Exception:
                pass
