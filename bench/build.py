"""Build speed: a 10-step Dockerfile built cold (``--no-cache``) and fully cached, dockyard vs
``podman build`` (buildah) in the same run.

    sudo .venv/bin/python bench/build.py [--cold-rounds 5] [--cached-rounds 10]

Both engines get a fresh root on tmpfs and the same busybox image from a loopback registry (the test bed);
dockyard's networks use a bridge, subnets and nft table of the run's own (tests/netbed.py), removed at the end
with everything mounted under the run's directory.
Podman runs with runc and pinned ulimits through a private CONTAINERS_CONF (see bench/run.py) and
``--pull=never``, so neither side touches a network beyond loopback. The Dockerfile has three RUN steps, two
COPY steps (one a 4 MB file), WORKDIR, ENV, LABEL and CMD; the image each side built is checked to run.
Cold builds are timed twice: with each engine's default network for RUN steps, and with ``--network none``
on both (the same work on both sides whatever their default networks cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench import peers  # noqa: E402
from tests.testbed import ensure_images, start_testbed  # noqa: E402
from tests.testbed.common import remove_scratch  # noqa: E402

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY small/ ./small/
RUN echo one > one && mkdir gen
RUN for i in $(seq 1 200); do echo $i > gen/f$i; done
COPY big.bin ./
RUN sha256sum big.bin > big.sha && rm one
LABEL version=1
CMD ["cat", "/app/big.sha"]
"""


def make_context(ctx: Path) -> None:
    (ctx / "small").mkdir(parents=True)
    for i in range(20):
        (ctx / "small" / f"s{i}.txt").write_text(f"small file {i}\n" * 20)
    (ctx / "big.bin").write_bytes(os.urandom(4 << 20))
    (ctx / "Dockerfile").write_text(DOCKERFILE)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold-rounds", type=int, default=5)
    ap.add_argument("--cached-rounds", type=int, default=10)
    ap.add_argument("--no-podman", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    have_podman = not args.no_podman
    if have_podman:
        peers.ensure_packages(peers.PODMAN)
    base = Path(tempfile.mkdtemp(prefix="dockyard-bench-build-", dir="/dev/shm"))
    bed = start_testbed(ensure_images())
    engines = None
    try:
        ctx = base / "ctx"
        make_context(ctx)
        engines = peers.prepare(base, bed.ref("busybox:latest"), with_podman=have_podman)
        dy, denv, pcmd, penv = engines.dockyard, engines.denv, engines.podman, engines.penv
        results: dict[str, list[float]] = {}
        builds = {"dockyard": [*dy, "build", "-q", "-t", "bench:latest"]}
        if have_podman:
            builds["podman  "] = [*pcmd, "build", "-q", "--pull=never", "-t", "bench:latest"]
        for name, cmd in builds.items():
            env = denv if name == "dockyard" else penv
            # warm-up: fills the cache the "cached" rounds use, and pages in both tools
            peers.timed([*cmd, str(ctx)], env, 1, sync=True)
            results[f"{name} cold"] = peers.timed(
                [*cmd, "--no-cache", str(ctx)], env, args.cold_rounds, sync=True
            )
            results[f"{name} cold-nonet"] = peers.timed(
                [*cmd, "--no-cache", "--network", "none", str(ctx)], env, args.cold_rounds, sync=True
            )
            results[f"{name} cached"] = peers.timed([*cmd, str(ctx)], env, args.cached_rounds, sync=True)
            run = dy if name == "dockyard" else pcmd
            out = subprocess.run(
                [*run, "run", "--rm", "bench:latest"], env=env, capture_output=True, text=True
            )
            if out.returncode != 0 or "big.bin" not in out.stdout:
                raise SystemExit(f"{name} built an image that does not run: {out.stderr[-500:]}")

        print(f"\n10-step Dockerfile (3 RUN, 2 COPY); data roots on tmpfs ({base})\n")
        for name, xs in results.items():
            print(f"{name:20s} {peers.fmt(xs)}")
        print()
        for kind in ("cold", "cold-nonet", "cached"):
            d, p = results.get(f"dockyard {kind}"), results.get(f"podman   {kind}")
            if d and p:
                ratio = statistics.median(d) / statistics.median(p)
                print(f"ratio dockyard/podman {kind:10s} median {ratio:.2f}   min {min(d) / min(p):.2f}")
    finally:
        bed.close()
        if engines is not None:
            engines.close()
        remove_scratch(base)  # unmounts what is left below it (netns mounts), then removes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
