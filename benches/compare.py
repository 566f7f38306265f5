"""dockspec beside its floors and its peer, in one run: a table of ratios.

    .venv/bin/pip install --group bench      # docker-py, for the peer rows
    .venv/bin/python benches/compare.py [--quick] [--real-docker unix:///var/run/docker.sock]

Rows (wall time per call, median of interleaved samples, each sample long
enough to dwarf the clock; op and baseline alternate so drift hits both):

- one refresh, stdlib and fast decoders: `parse_containers_json(body,
  decoder=...)` then an exact lookup of every binding the map publishes
  (benches/ops.py), against `json.loads` of the same body
  (benches/make_inputs.py bodies; ratio = dockspec / json.loads);
- the labels opt-in: the same refresh with `labels=True` against it with
  labels off (ratio = what keeping every label costs);
- lookup against a plain `dict.get` on the same map (ratio = lookup / get);
- detection (`dockspec.detect_containers()`) against the floor, one raw
  HTTP/1.0 request on a fresh connection plus `json.loads` of the body, over
  the same socket, and against docker-py (`docker.from_env()` then
  `containers.list()` reading each container's name and ports, and with
  `sparse=True` reading the list's Ports), all against one lean fake daemon
  (benches/lean_daemon.py) serving 20 Docker containers, which answers
  docker-py's /version and per-container inspect calls from answers
  recorded from Docker 20.10 (ratio = docker-py / dockspec: how many times
  faster dockspec is);
- dockspec.aio: `aio.detect_containers()` awaited on one kept event loop,
  and under a fresh `asyncio.run()` per call, against the sync
  `detect_containers()`, on the same lean daemon (20 and 100 containers;
  ratio = aio / sync), and with no DOCKER_HOST and three lean daemons at
  table paths under a temporary home (the coroutine's three tasks against
  the sync call's three threads);
- `import dockspec` against `import docker`, each in a fresh interpreter,
  net of an interpreter that imports nothing; and whole processes:
  `python -c 'import dockspec'` against `python -c 'import attrs'`.

With --real-docker URL the detection rows are repeated against that real
daemon (read-only: a list and, for docker-py, inspects).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_inputs  # noqa: E402
import ops  # noqa: E402
from lean_daemon import raw_list, start  # noqa: E402

# Issues 5 and 11's targets: (group, kind, limit). kind "le": ratio <= limit; "ge": ratio >= limit.
TARGETS: dict[str, tuple[str, float]] = {
    "refresh docker-1000 stdlib": ("le", 1.4),
    "refresh docker-10 stdlib": ("le", 1.5),
    "refresh docker-1000 fast": ("le", 0.33),
    "lookup 4096 exact": ("le", 2.0),
    "lookup 4096 wildcard": ("le", 2.0),
    "lookup 4096 fallback_unique": ("le", 3.0),
    "lookup 4096 fallback_ambiguous": ("le", 3.0),
    "lookup 4096 miss": ("le", 3.0),
    "import dockspec vs import attrs, whole process": ("le", 1.25),
    "detect docker-100 vs raw floor": ("le", 1.3),
    "docker-py list() / detect, 20": ("ge", 3.0),
    "import dockspec vs import docker": ("le", 1 / 3),
}


class Timer:
    """Per-call wall time of fn(), sampled in alternation with other timers."""

    def __init__(self, fn: Callable[[int], object], min_sample: float) -> None:
        self.fn = fn  # fn(n) makes n calls
        self.samples: list[float] = []
        self.n = 1
        fn(1)  # warm-up
        while True:
            took = self._time(self.n)
            if took >= min_sample or self.n >= 1 << 20:
                break
            self.n = max(self.n * 2, int(self.n * min_sample / max(took, 1e-9) * 1.2))

    def _time(self, n: int) -> float:
        started = time.perf_counter()
        self.fn(n)
        return time.perf_counter() - started

    def sample(self) -> None:
        gc.collect()
        self.samples.append(self._time(self.n) / self.n)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def side_by_side(fns: list[Callable[[int], object]], repeats: int, min_sample: float) -> list[float]:
    """Median per-call times of each fn, sampled round-robin."""
    timers = [Timer(fn, min_sample) for fn in fns]
    for _ in range(repeats):
        for timer in timers:
            timer.sample()
    return [t.median for t in timers]


def looped(op: ops.Op) -> Callable[[int], object]:
    return lambda n: ops.loop(op, n)


def repeated(fn: Callable[[], object]) -> Callable[[int], object]:
    def run(n: int) -> None:
        for _ in range(n):
            fn()

    return run


Row = tuple[str, str, float, str, float]  # group, what, ours, baseline's name, baseline


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.2f} us"
    return f"{seconds * 1e3:9.2f} ms"


def parse_rows(repeats: int, min_sample: float) -> Iterator[Row]:
    ctx = ops.Context()
    for shape, n in make_inputs.BODIES:
        base = ops.SPECS[f"baseline.json.loads.{shape}-{n}"].make(ctx)
        stdlib = ops.SPECS[f"parse.{shape}-{n}.stdlib"].make(ctx)
        fast = ops.SPECS[f"parse.{shape}-{n}.fast"].make(ctx)
        t_stdlib, t_fast, t_base = side_by_side([looped(stdlib), looped(fast), looped(base)], repeats, min_sample)
        what = "parse_containers_json(decoder='{}') + lookups"
        yield f"refresh {shape}-{n} stdlib", what.format("stdlib"), t_stdlib, "json.loads", t_base
        yield f"refresh {shape}-{n} fast", what.format("fast"), t_fast, "json.loads", t_base


def labels_rows(repeats: int, min_sample: float) -> Iterator[Row]:
    """The labels opt-in's cost: one refresh with labels=True against the default one (skipped before labels=)."""
    import inspect

    import dockspec

    parse, lookup = dockspec.parse_containers_json, dockspec.lookup_published_container
    if "labels" not in inspect.signature(parse).parameters:
        return

    def refresh(body: bytes, decoder: str, labels: bool) -> Callable[[int], object]:
        def run(n: int) -> None:
            for _ in range(n):
                port_map = parse(body, decoder=decoder, labels=labels)
                for ip, port, protocol in port_map:
                    lookup(port_map, (ip, port), protocol)

        return run

    ctx = ops.Context()
    for shape, n in make_inputs.BODIES:
        body = ctx.body(shape, n)
        for decoder in ("stdlib", "fast"):
            t_all, t_default = side_by_side(
                [refresh(body, decoder, True), refresh(body, decoder, False)], repeats, min_sample
            )
            yield (f"refresh {shape}-{n} {decoder}, labels=True", "parse_containers_json(labels=True) + lookups",
                   t_all, "the same, labels off", t_default)


def lookup_rows(repeats: int, min_sample: float) -> Iterator[Row]:
    ctx = ops.Context()
    for size in make_inputs.LOOKUP_SIZES:
        for case in make_inputs.LOOKUP_CASES:
            ours = ops.SPECS[f"lookup.{size}.{case}"].make(ctx)
            base = ops.SPECS[f"baseline.dict.get.{size}.{case}"].make(ctx)
            t_ours, t_base = side_by_side([looped(ours), looped(base)], repeats, min_sample)
            yield f"lookup {size} {case}", "lookup_published_container", t_ours, "dict.get", t_base


def docker_py_calls(url: str) -> dict[str, Callable[[], object]]:
    import docker

    def fresh_list() -> object:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        try:
            return [(c.name, c.ports) for c in client.containers.list()]
        finally:
            client.close()

    def fresh_sparse() -> object:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        try:
            return [(c.attrs["Names"], c.attrs["Ports"]) for c in client.containers.list(sparse=True)]
        finally:
            client.close()

    kept = docker.DockerClient(base_url=url) if url else docker.from_env()
    return {
        "docker.from_env().containers.list()": fresh_list,
        "docker.from_env().containers.list(sparse=True)": fresh_sparse,
        "client.containers.list() (client kept)": lambda: [(c.name, c.ports) for c in kept.containers.list()],
        "client.containers.list(sparse=True) (kept)": lambda: [
            (c.attrs["Names"], c.attrs["Ports"]) for c in kept.containers.list(sparse=True)
        ],
    }


def detect_rows(url: str, label: str, repeats: int, min_sample: float, with_docker_py: bool) -> Iterator[Row]:
    import dockspec

    os.environ["DOCKER_HOST"] = url
    path = url.removeprefix("unix://")
    detect = repeated(dockspec.detect_containers)
    raw = repeated(lambda: raw_list(path))
    calls = docker_py_calls(url) if with_docker_py else {}
    times = side_by_side([detect, raw, *(repeated(fn) for fn in calls.values())], repeats, min_sample)
    t_detect, t_raw = times[0], times[1]
    yield f"detect {label} vs raw floor", "detect_containers()", t_detect, "raw request + json.loads", t_raw
    for (name, _), t_peer in zip(calls.items(), times[2:], strict=True):
        # ratio = peer / dockspec: the peer is the "ours" column here, so the ratio reads "x slower than dockspec"
        group = f"docker-py {'list(sparse)' if 'sparse' in name else 'list()'} / detect, {label.rsplit('-', 1)[-1]}"
        if "kept" in name:
            group += " (client kept)"
        yield group, name, t_peer, "detect_containers()", t_detect


def aio_rows(url: str, label: str, repeats: int, min_sample: float) -> Iterator[Row]:
    import asyncio

    import dockspec
    from dockspec import aio

    os.environ["DOCKER_HOST"] = url
    loop = asyncio.new_event_loop()
    try:
        kept = repeated(lambda: loop.run_until_complete(aio.detect_containers()))
        fresh = repeated(lambda: asyncio.run(aio.detect_containers()))
        sync = repeated(dockspec.detect_containers)
        t_kept, t_fresh, t_sync = side_by_side([kept, fresh, sync], repeats, min_sample)
    finally:
        loop.close()
    yield f"aio detect {label} vs sync detect", "await aio.detect_containers() (loop kept)", t_kept, (
        "detect_containers()"), t_sync
    yield f"aio detect {label}, asyncio.run per call", "asyncio.run(aio.detect_containers())", t_fresh, (
        "detect_containers()"), t_sync


# Three of the Linux table's Docker paths (spec/endpoints.yaml), under a temporary home and runtime dir.
THREE_PATHS = ("home/.docker/desktop/docker.sock", "home/.docker/run/docker.sock", "xdg/docker.sock")


def three_daemon_rows(tmp: Path, repeats: int, min_sample: float) -> Iterator[Row]:
    """No DOCKER_HOST, three lean daemons at table paths: aio's tasks against the sync side's threads."""
    import asyncio

    import attrs

    import dockspec
    from dockspec import aio

    os.environ.pop("DOCKER_HOST", None)
    spec = dockspec.builtin_spec()
    spec = attrs.evolve(spec, endpoints=tuple(
        e for e in spec.endpoints if e.template.startswith(("{home}", "{xdg_runtime_dir}"))))
    env = dockspec.Env(platform="linux", home=str(tmp / "home"), xdg_runtime_dir=str(tmp / "xdg"), environ={})
    with contextlib.ExitStack() as stack:
        for relative in THREE_PATHS:
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(start(tmp / relative, make_inputs.body("docker", 20)))
        if len(dockspec.detect_daemons(env=env, spec=spec).reports) != 3:
            raise SystemExit("three_daemon_rows: detection did not find the three lean daemons")
        loop = asyncio.new_event_loop()
        try:
            ours = repeated(lambda: loop.run_until_complete(aio.detect_containers(env=env, spec=spec)))
            sync = repeated(lambda: dockspec.detect_containers(env=env, spec=spec))
            t_ours, t_sync = side_by_side([ours, sync], repeats, min_sample)
        finally:
            loop.close()
    yield "aio detect 3 daemons x 20 vs sync (threads)", "await aio.detect_containers() (loop kept)", t_ours, (
        "detect_containers()"), t_sync


def import_rows(repeats: int, with_docker_py: bool) -> Iterator[Row]:
    def interpreter(code: str) -> Callable[[int], object]:
        argv = [sys.executable, "-c", code]
        return lambda n: [subprocess.run(argv, check=True) for _ in range(n)]

    codes = ["import dockspec", "import attrs", "pass", *(["import docker"] if with_docker_py else [])]
    t_ours, t_attrs, t_bare, *t_docker = side_by_side([interpreter(c) for c in codes], repeats, 0.0)
    yield ("import dockspec vs import attrs, whole process", "python -c 'import dockspec'", t_ours,
           "python -c 'import attrs'", t_attrs)
    if t_docker:
        yield "import dockspec vs import docker", "import dockspec (net)", t_ours - t_bare, "import docker (net)", (
            t_docker[0] - t_bare
        )
        yield "import, whole process", "python -c 'import dockspec'", t_ours, "python -c 'import docker'", t_docker[0]


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    deps = ", ".join(
        f"{d} {metadata.version(d)}" for d in ("dockspec", "msgspec", "attrs", "h11", "docker", "requests")
        if _installed(d)
    )
    return (
        f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}; {deps}"
    )


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def verdict(group: str, ratio: float) -> str:
    target = TARGETS.get(group)
    if target is None:
        return ""
    kind, limit = target
    ok = ratio <= limit if kind == "le" else ratio >= limit
    return f"{'<=' if kind == 'le' else '>='} {limit:.2f} {'met' if ok else 'MISSED'}"


KINDS = ("refresh", "lookup", "detect", "aio", "import")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples (a smoke run)")
    parser.add_argument("--real-docker", metavar="URL", help="repeat the detection rows against this real daemon")
    parser.add_argument("--only", choices=KINDS, action="append", help="only these kinds of rows (repeatable)")
    args = parser.parse_args(argv)
    kinds = set(args.only or KINDS)
    repeats, min_sample = (3, 0.005) if args.quick else (15, 0.05)
    with_docker_py = _installed("docker")
    print(f"# benches/compare.py, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# {machine()}")
    if not with_docker_py:
        print("# docker-py is not installed (pip install --group bench): no docker-py rows")
    rows: list[Row] = []
    if "refresh" in kinds:
        rows += parse_rows(repeats, min_sample)
        rows += labels_rows(repeats, min_sample)
    if "lookup" in kinds:
        rows += lookup_rows(repeats, min_sample)
    if "detect" in kinds:
        with tempfile.TemporaryDirectory(prefix="dockspec-compare-") as tmp:
            for n in (20, 100):
                sock = Path(tmp) / f"docker-{n}.sock"
                with start(sock, make_inputs.body("docker", n), docker_py=True) as url:
                    rows += detect_rows(url, f"docker-{n}", repeats, min_sample, with_docker_py and n == 20)
        if args.real_docker:
            rows += detect_rows(args.real_docker, "real dockerd", repeats, min_sample, with_docker_py)
    if "aio" in kinds:
        with tempfile.TemporaryDirectory(prefix="dockspec-compare-") as tmp:
            for n in (20, 100):
                with start(Path(tmp) / f"docker-{n}.sock", make_inputs.body("docker", n)) as url:
                    rows += aio_rows(url, f"docker-{n}", repeats, min_sample)
            rows += three_daemon_rows(Path(tmp), repeats, min_sample)
    if "import" in kinds:
        rows += import_rows(max(repeats, 15), with_docker_py)
    print("# ratio = A / B (wall time per call); docker-py rows: how many times slower than dockspec")
    print()
    print(f"| {'comparison':50} | {'A':46} | {'A per call':>12} | {'B':26} | {'B per call':>12} "
          f"| {'ratio':>8} | {'target':17} |")
    print(f"|{'-' * 52}|{'-' * 48}|{'-' * 14}|{'-' * 28}|{'-' * 14}|{'-' * 10}|{'-' * 19}|")
    for group, what, ours, base_name, base in rows:
        ratio = ours / base
        print(f"| {group:50} | {what:46} | {fmt_time(ours):>12} | {base_name:26} | {fmt_time(base):>12} "
              f"| {ratio:7.2f}x | {verdict(group, ratio):17} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
