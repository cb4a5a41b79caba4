"""Container start latency: `run --rm busybox true`, dockyard vs podman (runc) in the same run, with the
default network and with `--network none`; `exec` latency against `podman exec`; the shim's RSS.

    sudo .venv/bin/python bench/run.py [--rounds 15]

Both engines get a fresh root on tmpfs and the same busybox image from a loopback registry (the test bed).
Podman runs with runc (crun refuses this host's hybrid cgroups) and pinned ulimits (no CAP_SYS_RESOURCE
here), through a private CONTAINERS_CONF so the host's configuration is untouched.
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

DOCKYARD = peers.DOCKYARD


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-podman", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    have_podman = not args.no_podman
    if have_podman:
        peers.ensure_packages(peers.PODMAN)
    # byte-compile up front: with PYTHONDONTWRITEBYTECODE set, every start would compile our modules again
    peers.compile_sources()
    base = Path(tempfile.mkdtemp(prefix="dockyard-bench-", dir="/dev/shm"))
    bed = start_testbed(ensure_images())
    engines = None
    try:
        engines = peers.prepare(base, bed.ref("busybox:latest"), with_podman=have_podman)
        droot = engines.dockyard[1:]
        denv, pcmd, penv = engines.denv, engines.podman, engines.penv

        results: dict[str, list[float]] = {}
        for label, extra in (("default network", []), ("--network none", ["--network", "none"])):
            results[f"dockyard {label}"] = peers.timed(
                [DOCKYARD, *droot, "run", "--rm", *extra, "busybox", "true"], denv, args.rounds, warmup=2
            )
            if have_podman:
                results[f"podman   {label}"] = peers.timed(
                    [*pcmd, "run", "--rm", *extra, "busybox", "true"], penv, args.rounds, warmup=2
                )

        # exec latency
        subprocess.run(
            [DOCKYARD, *droot, "run", "-d", "--name", "bench-exec", "busybox", "sleep", "1000"],
            env=denv,
            check=True,
            capture_output=True,
        )
        try:
            cid = subprocess.run(
                [DOCKYARD, *droot, "inspect", "-f", "{{.Id}}", "bench-exec"],
                env=denv,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            state = Path(base / "root" / "containers" / cid / "state.json").read_text()
            import json

            shim_pid = int(json.loads(state)["shim_pid"])
            shim_rss = rss_kb(shim_pid)
            try:
                results["dockyard exec"] = peers.timed(
                    [DOCKYARD, *droot, "exec", "bench-exec", "true"], denv, args.rounds, warmup=2
                )
            except SystemExit as err:
                print(f"(dockyard exec not measured: {err})")
            if have_podman:
                subprocess.run(
                    [*pcmd, "run", "-d", "--name", "bench-exec", "busybox", "sleep", "1000"],
                    env=penv,
                    check=True,
                    capture_output=True,
                )
                try:
                    results["podman   exec"] = peers.timed(
                        [*pcmd, "exec", "bench-exec", "true"], penv, args.rounds, warmup=2
                    )
                    conmon = subprocess.run(
                        ["pgrep", "-f", f"conmon.*{base}"], capture_output=True, text=True
                    ).stdout.split()
                    conmon_rss = rss_kb(int(conmon[0])) if conmon else 0
                finally:
                    subprocess.run(
                        [*pcmd, "rm", "-f", "-t", "0", "bench-exec"], env=penv, capture_output=True
                    )
            else:
                conmon_rss = 0
        finally:
            subprocess.run([DOCKYARD, *droot, "rm", "-f", "bench-exec"], env=denv, capture_output=True)

        print(f"\nrounds: {args.rounds}, data roots on tmpfs ({base})\n")
        for name, xs in results.items():
            print(f"{name:28s} {peers.fmt(xs)}")
        print()
        for label in ("default network", "--network none", "exec"):
            d, p = results.get(f"dockyard {label}"), results.get(f"podman   {label}")
            if d and p:
                ratio = statistics.median(d) / statistics.median(p)
                print(f"ratio dockyard/podman {label:16s} median {ratio:.2f}  min {min(d) / min(p):.2f}")
        print(f"\nshim RSS {shim_rss} kB" + (f"   (podman's conmon: {conmon_rss} kB)" if conmon_rss else ""))
    finally:
        bed.close()
        if engines is not None:
            engines.close()
        remove_scratch(base)  # unmounts what is left below it (netns mounts), then removes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
