"""Pull benchmark: the Debian test image from a loopback registry, dockyard against its peers in one run.

    sudo .venv/bin/python bench/pull.py [--rounds 5] [--parallel 10] [--profile] [--json FILE]

Tools, each with a fresh root on its own tmpfs (mounted for the run, unmounted after it, ``sync`` between):

  dockyard  ``dockyard --root R pull`` as a subprocess, so interpreter start-up counts
  podman    ``podman --root R --storage-driver overlay pull --tls-verify=false`` (TMPDIR on the tmpfs too:
            containers/image stages big blobs there)
  skopeo    ``skopeo copy docker://... oci:R`` — download, verify and store the blob: the network floor
  tar       ``zcat BLOB | tar -x`` of the same layer from a tmpfs copy: the unpack floor

The order of the tools rotates every round. Prints min and median per tool and the ratios of dockyard to
each peer. Then ``--parallel N`` pulls at once into one fresh root against one pull, for dockyard and for
podman (the peer, which shares layers between its processes through containers/storage's locks), and
prints each one's ratio of N parallel pulls to one (dockyard's target: at most 1.5x). ``--profile`` then
runs one more dockyard pull under cProfile and prints where the time went.
The image is debootstrap --variant=minbase bookworm built by tests/testbed/build.py (cached; the first
build takes ~25 s and uses this machine's apt mirror). Only 127.0.0.1 is spoken to.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench import peers  # noqa: E402
from tests.testbed.build import Layout, ensure_debian, push_skopeo  # noqa: E402
from tests.testbed.common import detach_mounts_under, make_scratch_dir, remove_scratch, tool_env  # noqa: E402
from tests.testbed.registry import Registry  # noqa: E402

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
# tool -> Debian package; the test bed's own tools come along for the registry and the image build
APT = {
    "podman": "podman",
    "skopeo": "skopeo",
    "debootstrap": "debootstrap",
    "umoci": "umoci",
    "docker-registry": "docker-registry",
    "busybox": "busybox-static",
    "htpasswd": "apache2-utils",
}
TOOLS = ("dockyard", "podman", "skopeo", "tar")


def mount_tmpfs(path: Path, size: str = "4g") -> None:
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)


def unmount(path: Path) -> None:
    detach_mounts_under(path)  # podman may leave an overlay behind; the tmpfs itself goes too
    for _ in range(50):
        if not os.path.ismount(path):
            break
        time.sleep(0.02)
    path.rmdir()


def run_checked(cmd: list[str], env: dict[str, str] | None = None, shell: bool = False) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd if not shell else " ".join(cmd),
        env=env,
        capture_output=True,
        shell=shell,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).decode(errors="replace").strip()[-800:]
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err}")
    return elapsed


def commands(ref: str, blob: Path) -> dict[str, Callable[[Path], float]]:
    base_env = tool_env()

    def dockyard(root: Path) -> float:
        env = {k: v for k, v in base_env.items() if not k.startswith("DOCKYARD_")}
        env.update(DOCKYARD_RUN=str(root / "run"), DOCKER_CONFIG=str(root / "docker"))
        return run_checked([DOCKYARD, "--root", str(root / "dockyard"), "pull", "-q", ref], env)

    def podman(root: Path) -> float:
        (root / "tmp").mkdir()
        env = dict(base_env, TMPDIR=str(root / "tmp"), REGISTRY_AUTH_FILE=str(root / "auth.json"))
        (root / "auth.json").write_text('{"auths": {}}')
        # podman refuses a runroot longer than 50 characters: a short private dir beside /run
        runroot = Path(tempfile.mkdtemp(prefix="dyb-", dir="/run" if os.path.isdir("/run") else None))
        try:
            return run_checked(podman_cmd(root, runroot), env)
        finally:
            shutil.rmtree(runroot, ignore_errors=True)

    def podman_cmd(root: Path, runroot: Path) -> list[str]:
        return ["podman", "--root", str(root / "storage"), "--runroot", str(runroot),
               "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
               "pull", "-q", "--tls-verify=false", ref]  # fmt: skip

    def skopeo(root: Path) -> float:
        (root / "tmp").mkdir()
        env = dict(base_env, TMPDIR=str(root / "tmp"), REGISTRY_AUTH_FILE=str(root / "auth.json"))
        (root / "auth.json").write_text('{"auths": {}}')
        cmd = ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
               f"oci:{root / 'oci'}:bench"]  # fmt: skip
        return run_checked(cmd, env)

    def tar(root: Path) -> float:
        (root / "rootfs").mkdir()
        return run_checked(
            ["zcat", str(blob), "|", "tar", "-x", "--numeric-owner", "-p", "-C", str(root / "rootfs")],
            shell=True,
        )

    return {"dockyard": dockyard, "podman": podman, "skopeo": skopeo, "tar": tar}


def parallel_commands(ref: str) -> dict[str, Callable[[Path, Path], tuple[list[str], dict[str, str]]]]:
    """(command, env) of one pull into ``root`` for the tools the parallel part compares; every process
    of a round shares the root (and podman's runroot), as pulls on one host do."""
    base_env = tool_env()

    def dockyard(root: Path, runroot: Path) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in base_env.items() if not k.startswith("DOCKYARD_")}
        env.update(DOCKYARD_RUN=str(root / "run"), DOCKER_CONFIG=str(root / "docker"))
        return [DOCKYARD, "--root", str(root / "dockyard"), "pull", "-q", ref], env

    def podman(root: Path, runroot: Path) -> tuple[list[str], dict[str, str]]:
        (root / "tmp").mkdir(exist_ok=True)
        (root / "auth.json").write_text('{"auths": {}}')
        env = dict(base_env, TMPDIR=str(root / "tmp"), REGISTRY_AUTH_FILE=str(root / "auth.json"))
        return ["podman", "--root", str(root / "storage"), "--runroot", str(runroot),
                "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                "pull", "-q", "--tls-verify=false", ref], env  # fmt: skip

    return {"dockyard": dockyard, "podman": podman}


def run_together(cmds: list[tuple[list[str], dict[str, str]]]) -> float:
    """Start every command at once; the time until the last one ends. Any failure stops the benchmark."""
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for cmd, env in cmds
    ]
    errors = [p.communicate()[1] for p in procs]
    elapsed = time.perf_counter() - t0
    for (cmd, _), p, err in zip(cmds, procs, errors, strict=True):
        if p.returncode != 0:
            raise SystemExit(
                f"{cmd[0]} failed ({p.returncode}): {err.decode(errors='replace').strip()[-800:]}"
            )
    return elapsed


def parallel_round(tool: str, ref: str, work: Path, n: int, label: str) -> float:
    """``n`` pulls of ``ref`` at once into a fresh tmpfs root."""
    build = parallel_commands(ref)[tool]
    subprocess.run(["sync"], check=True)
    root = work / label
    mount_tmpfs(root)
    # podman refuses a runroot longer than 50 characters: a short private dir beside /run
    runroot = Path(tempfile.mkdtemp(prefix="dyb-", dir="/run" if os.path.isdir("/run") else None))
    try:
        return run_together([build(root, runroot) for _ in range(n)])
    finally:
        unmount(root)
        shutil.rmtree(runroot, ignore_errors=True)


def parallel(
    ref: str, work: Path, tools: list[str], n: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """One pull and ``n`` pulls at once, per tool, alternating which goes first each round."""
    found: dict[str, dict[str, list[float]]] = {t: {"one": [], "parallel": []} for t in tools}
    for rnd in range(rounds):
        for tool in tools if rnd % 2 == 0 else tools[::-1]:
            kinds = ["one", "parallel"] if rnd % 2 == 0 else ["parallel", "one"]
            for kind in kinds:
                found[tool][kind].append(
                    parallel_round(tool, ref, work, n if kind == "parallel" else 1, f"{tool}-{kind}-{rnd}")
                )
        print(
            f"parallel round {rnd + 1}: "
            + "  ".join(
                f"{t} 1: {v['one'][-1]:.2f}s {n}: {v['parallel'][-1]:.2f}s" for t, v in found.items()
            ),
            file=sys.stderr,
        )
    return found


def profile(ref: str, work: Path) -> None:
    """One dockyard pull in-process under cProfile (one layer: the pull runs in the main thread)."""
    import pstats

    root = work / "profile"
    mount_tmpfs(root)
    try:
        prof = work / "pull.prof"
        env = {k: v for k, v in tool_env().items() if not k.startswith("DOCKYARD_")}
        env.update(DOCKYARD_RUN=str(root / "run"), DOCKER_CONFIG=str(root / "docker"))
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "tui.cli",
             "--root", str(root / "dockyard"), "pull", "-q", ref],
            env=env, check=True, cwd=HERE, capture_output=True,
        )  # fmt: skip
        stats = pstats.Stats(str(prof))
        print("\n== cProfile of one dockyard pull: top 25 by own time ==")
        stats.sort_stats("tottime").print_stats(25)
        print("== top 25 by cumulative time ==")
        stats.sort_stats("cumulative").print_stats(25)
    finally:
        unmount(root)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--profile", action="store_true", help="also profile one dockyard pull with cProfile")
    p.add_argument("--json", type=Path, help="write the raw timings here")
    p.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    p.add_argument("--parallel", type=int, default=10, help="pulls at once in the parallel part (0: skip it)")
    p.add_argument("--parallel-rounds", type=int, default=3)
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the roots are tmpfs mounts and podman/dockyard keep file owners")
    tools = [t for t in args.tools.split(",") if t]
    peers.ensure_packages(APT)

    t0 = time.monotonic()
    image = ensure_debian()
    print(f"image: {image.oci_ref} (ready in {time.monotonic() - t0:.1f} s)", file=sys.stderr)
    lay = Layout(image.layout)
    manifest = lay.read_json(lay.descriptor(image.tag)["digest"])
    layers = manifest["layers"]
    size = sum(layer["size"] for layer in layers)

    work = make_scratch_dir("dockyard-bench-pull-")
    registry = Registry("bench", work / "registry", work / "registry" / "storage")
    timings: dict[str, list[float]] = {t: [] for t in tools}
    together: dict[str, dict[str, list[float]]] = {}
    try:
        registry.start()
        push_skopeo(image, registry.addr, "debian:bookworm", work)
        ref = f"{registry.addr}/debian:bookworm"
        # the tar floor reads the layer from tmpfs, as the others read it from the registry's tmpfs storage
        blob = work / "layer.tar.gz"
        shutil.copyfile(lay.blob_path(layers[0]["digest"]), blob)
        run = commands(ref, blob)
        print(
            f"{ref}: {len(layers)} layer(s), {size / 1e6:.1f} MB compressed; {args.rounds} rounds",
            file=sys.stderr,
        )
        for rnd in range(args.rounds):
            order = tools[rnd % len(tools) :] + tools[: rnd % len(tools)]
            for tool in order:
                subprocess.run(["sync"], check=True)
                root = work / f"{tool}-{rnd}"
                mount_tmpfs(root)
                try:
                    timings[tool].append(run[tool](root))
                finally:
                    unmount(root)
            print(
                f"round {rnd + 1}: " + "  ".join(f"{t} {timings[t][-1]:.2f}s" for t in tools),
                file=sys.stderr,
            )
        if args.parallel > 0:
            side = [t for t in ("dockyard", "podman") if t in tools]
            together = parallel(ref, work, side, args.parallel, args.parallel_rounds)
        if args.profile:
            profile(ref, work)
    finally:
        registry.stop()
        remove_scratch(work)

    print(f"\npull of debian:bookworm ({size / 1e6:.1f} MB compressed), {args.rounds} rounds, tmpfs roots")
    print(f"{'tool':<10}{'min':>9}{'median':>9}")
    med = {t: statistics.median(v) for t, v in timings.items()}
    for t, v in timings.items():
        print(f"{t:<10}{min(v):>8.2f}s{med[t]:>8.2f}s")
    if "dockyard" in med:
        for peer in ("podman", "skopeo", "tar"):
            if peer in med:
                print(
                    f"dockyard/{peer}: {med['dockyard'] / med[peer]:.2f}x median, "
                    f"{min(timings['dockyard']) / min(timings[peer]):.2f}x min"
                )
    if together:
        n = args.parallel
        print(f"\n{n} pulls at once into one root vs one pull, {args.parallel_rounds} rounds (medians)")
        print(f"{'tool':<10}{'one':>9}{f'{n} at once':>12}{'ratio':>8}")
        for t, pv in together.items():
            one, par = statistics.median(pv["one"]), statistics.median(pv["parallel"])
            print(f"{t:<10}{one:>8.2f}s{par:>11.2f}s{par / one:>7.2f}x")
        if "dockyard" in together:
            dv = together["dockyard"]
            ratio = statistics.median(dv["parallel"]) / statistics.median(dv["one"])
            print(f"dockyard {n} at once / one: {ratio:.2f}x (target: at most 1.5x)")
    if args.json:
        args.json.write_text(json.dumps({"size": size, "timings": timings, "parallel": together}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
