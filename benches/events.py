"""The live map's costs, in one run, as ratios (issue 13).

    .venv/bin/python benches/events.py [--quick]
    flock /tmp/dockspec-live.lock .venv/bin/python benches/events.py --latency   # also the real daemons

Rows (compare.py's interleaved medians):

- applying one event to the map of a 1000-container answer, against a
  re-detection's parse of that same answer (`parse_list`, the default
  decoder; benches/make_inputs.py's docker-1000 body): a die (parse the
  line, drop the container's bindings) and a start (parse the line, parse
  that container's one-container list answer, put its bindings in).
  Target: at most 1/50 (ratio <= 0.02).

With --latency, per real daemon of both beds (those that are up): a
throwaway container with a published port is started, then killed; the
latency is from the event's own `timeNano` (the daemon's clock, this
host's) to the moment `dockspec.watch` yields the change, median of 3.
Goal: <= 1 s. With --aio too, `dockspec.aio.watch` follows the same daemon
at the same time (its own loop on a thread of the bench's), so both are
timed on the very same events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import compare  # noqa: E402
import make_inputs  # noqa: E402

from dockspec import Env, aio, watch  # noqa: E402
from dockspec.containers import parse_list  # noqa: E402
from dockspec.events import apply_bindings, events_target, parse_event  # noqa: E402
from dockspec.models import ContainerPortMap  # noqa: E402

DAEMON = "unix:///var/run/docker.sock"


def apply_rows(repeats: int, min_sample: float) -> list[compare.Row]:
    body = make_inputs.body("docker", 1000)
    containers = json.loads(body)
    parsed = parse_list(body, "docker", daemon=DAEMON)
    base = ContainerPortMap(parsed.bindings)
    victim = next(c for c in containers if c.get("Ports"))
    cid = victim["Id"]
    one = json.dumps([victim]).encode()
    line = json.dumps({"Type": "container", "Action": "die", "Actor": {"ID": cid, "Attributes": {"name": "x"}},
                       "time": 1, "timeNano": 1}).encode()
    start_line = line.replace(b'"die"', b'"start"')
    dropped = apply_bindings(base, DAEMON, cid, {})  # builds the map's owner index once (a watch's maps carry it)
    assert dropped.removed
    gone = dropped.port_map
    apply_bindings(gone, DAEMON, cid, {})

    def die(n: int) -> None:
        for _ in range(n):
            event = parse_event(line)
            assert event is not None
            apply_bindings(base, DAEMON, event.id, {})

    def start(n: int) -> None:
        for _ in range(n):
            event = parse_event(start_line)
            assert event is not None
            apply_bindings(gone, DAEMON, event.id, parse_list(one, "docker", daemon=DAEMON).bindings)

    def redetect(n: int) -> None:
        for _ in range(n):
            parse_list(body, "docker", daemon=DAEMON)

    t_die, t_start, t_parse = compare.side_by_side([die, start, redetect], repeats, min_sample)
    what = "parse_event + apply_bindings, 1000 containers"
    return [
        ("apply a die event vs re-detection, 1000", what, t_die, "parse_list of the answer", t_parse),
        ("apply a start event vs re-detection, 1000", what + " + 1-container list", t_start,
         "parse_list of the answer", t_parse),
    ]


TARGETS = {"apply a die event vs re-detection, 1000": 0.02, "apply a start event vs re-detection, 1000": 0.02}


# ---------------------------------------------------------------- latency on the real daemons


def _env(path: str) -> dict[str, str]:
    p = Path(path)
    if not p.exists():
        return {}
    return dict(line.split("=", 1) for line in p.read_text().splitlines() if "=" in line and line[0] != "#")


def real_daemons() -> list[tuple[str, str, list[str], str, int]]:
    """(label, socket, engine CLI, image, free port) of every real daemon that is up."""
    found = []
    deb = _env("/run/dockspec-daemons/env")
    if deb:
        rootless = ["setpriv", f"--reuid={deb['DOCKSPEC_ROOTLESS_UID']}", f"--regid={deb['DOCKSPEC_ROOTLESS_GID']}",
                    "--init-groups", "env", "-i", f"HOME={deb['DOCKSPEC_ROOTLESS_HOME']}",
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"XDG_RUNTIME_DIR={deb['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman"]
        found += [
            ("Docker 20.10", deb["DOCKSPEC_DOCKER_SOCK"], ["docker"], "bb:latest", 19971),
            ("Podman 4.3 rootful", deb["DOCKSPEC_PODMAN_SOCK"], ["podman"], "localhost/bb:latest", 29971),
            ("Podman 4.3 rootless", deb["DOCKSPEC_ROOTLESS_SOCK"], rootless, "localhost/bb:latest", 39971),
        ]
    forky = _env("/run/dockspec-engines/env")
    if forky:
        found += [
            ("Docker 28.5", forky["DOCKSPEC_DOCKER_SOCK"], [forky["DOCKSPEC_DOCKER_CLI"]], "bb:latest", 49971),
            ("Podman 5.8 rootful", forky["DOCKSPEC_PODMAN_SOCK"], [forky["DOCKSPEC_PODMAN_CLI"]],
             "localhost/bb:latest", 59971),
            ("Podman 5.8 rootless", forky["DOCKSPEC_ROOTLESS_SOCK"], [forky["DOCKSPEC_ROOTLESS_CLI"]],
             "localhost/bb:latest", 62971),
        ]
    return found


class RawEvents:
    """A raw /events subscriber beside the watch: each event's timeNano by (action, id)."""

    def __init__(self, sock_path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sock_path)
        self.sock.sendall(f"GET {events_target()} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        self.stamps: dict[tuple[str, str], int] = {}
        self.received: dict[tuple[str, str], int] = {}  # time.time_ns() when this subscriber read the line
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            now = time.time_ns()
            *lines, buf = buf.split(b"\n")
            for piece in lines:
                text = piece.strip()
                if text.startswith(b"{"):
                    event = json.loads(text)
                    key = (event["Action"], event["Actor"]["ID"])
                    self.stamps.setdefault(key, event["timeNano"])
                    self.received.setdefault(key, now)


class AioConsumer:
    """dockspec.aio.watch in an event loop of its own (on a thread of the bench's): each change, timestamped."""

    def __init__(self, env: Env) -> None:
        self.seen: list[tuple[int, Any]] = []
        self.ready = threading.Event()
        self._stop: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(env)), daemon=True)
        self._thread.start()
        assert self.ready.wait(10)

    async def _main(self, env: Env) -> None:
        self._loop = asyncio.get_running_loop()
        async with aio.watch(env=env) as live:
            self._stop = live.aclose
            while await live.get(3) is not None and await live.get(0.3) is not None:
                pass  # the first list's changes
            self.ready.set()
            async for change in live:
                self.seen.append((time.time_ns(), change))

    def close(self) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._thread.join(5)


Latencies = tuple[str, list[float], list[float], list[float], list[float], list[float]]


def _hit(seen: list[tuple[int, Any]], wanted: str, cid: str, port: int) -> int | None:
    return next((at for at, change in list(seen) if any(
        info.id == cid and key[1] == port for key, info in getattr(change, wanted))), None)


def latency_rows(runs: int, with_aio: bool = False) -> list[Latencies]:
    cmd = 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'
    out = []
    for label, sock, cli, image, port in real_daemons():
        ups: list[float] = []
        downs: list[float] = []
        aio_ups: list[float] = []
        aio_downs: list[float] = []
        sent: list[float] = []  # the die line: from its timeNano to a raw subscriber reading it
        raw = RawEvents(sock)
        env = Env(platform="linux", environ={"DOCKER_HOST": "unix://" + sock})
        other = AioConsumer(env) if with_aio else None
        with watch(env=env) as live:
            while live.get(3) is not None and live.get(0.3) is not None:
                pass  # the first list's changes
            seen: list[tuple[int, Any]] = []  # (time.time_ns() when the watch yielded it, change)

            def consume(live: Any = live, seen: list[tuple[int, Any]] = seen) -> None:
                for change in live:  # timestamped as it comes, not when the CLI call below returns
                    seen.append((time.time_ns(), change))

            threading.Thread(target=consume, daemon=True).start()
            for i in range(runs):
                name = f"dsbench-{os.getpid()}-{i}"

                def run(*args: str, cli: list[str] = cli) -> str:
                    return subprocess.run([*cli, *args], capture_output=True, text=True, check=True, cwd="/",
                                          timeout=120).stdout.strip()

                run("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", image, "sh", "-c", cmd)
                cid = run("inspect", "-f", "{{.Id}}", name)
                for wanted, into, aio_into in (("added", ups, aio_ups), ("removed", downs, aio_downs)):
                    if wanted == "removed":
                        run("kill", name)
                    action = "start" if wanted == "added" else "die"
                    end = time.monotonic() + 10
                    while time.monotonic() < end:
                        hit = _hit(seen, wanted, cid, port)
                        aio_hit = _hit(other.seen, wanted, cid, port) if other else 0
                        stamp = raw.stamps.get((action, cid))
                        if hit is not None and aio_hit is not None and stamp is not None:
                            into.append((hit - stamp) / 1e9)
                            if other:
                                aio_into.append((aio_hit - stamp) / 1e9)
                            if action == "die" and (action, cid) in raw.received:
                                sent.append((raw.received[(action, cid)] - stamp) / 1e9)
                            break
                        time.sleep(0.01)
                subprocess.run([*cli, "rm", "-f", name], capture_output=True, check=False, cwd="/", timeout=120)
        if other:
            other.close()
        raw.sock.close()
        out.append((label, ups, downs, sent, aio_ups, aio_downs))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", action="store_true", help="also the real daemons (run under the live lock)")
    parser.add_argument("--aio", action="store_true", help="with --latency: dockspec.aio.watch beside dockspec.watch")
    args = parser.parse_args(argv)
    repeats, min_sample = (3, 0.005) if args.quick else (15, 0.05)
    print(f"# benches/events.py, {compare.machine()}")
    print(f"| {'comparison':44} | {'A per call':>12} | {'B':26} | {'B per call':>12} | {'ratio':>8} | target |")
    print(f"|{'-' * 46}|{'-' * 14}|{'-' * 28}|{'-' * 14}|{'-' * 10}|--------|")
    for group, _what, ours, base_name, base in apply_rows(repeats, min_sample):
        ratio = ours / base
        limit = TARGETS[group]
        print(f"| {group:44} | {compare.fmt_time(ours):>12} | {base_name:26} | {compare.fmt_time(base):>12} "
              f"| {ratio:8.4f} | <= {limit} {'met' if ratio <= limit else 'MISSED'} |")
    if args.latency:
        print()
        extra = " aio start -> added (s) | aio die -> removed (s) |" if args.aio else ""
        head = "| daemon | start -> added (s) | die -> removed (s) | die line read by a raw subscriber (s) |"
        print(f"{head}{extra} goal |")
        print("|---|---|---|---|" + ("---|---|" if args.aio else "") + "---|")
        for label, ups, downs, sent, aio_ups, aio_downs in latency_rows(3, args.aio):
            def fmt(values: list[float]) -> str:
                return f"median {statistics.median(values):.3f}, max {max(values):.3f}" if values else "not seen"
            worst = max(ups + downs + aio_ups + aio_downs) if ups and downs else float("inf")
            cells = f" {fmt(aio_ups)} | {fmt(aio_downs)} |" if args.aio else ""
            verdict = "met" if worst <= 1 else "MISSED"
            print(f"| {label} | {fmt(ups)} | {fmt(downs)} | {fmt(sent)} |{cells} <= 1 s {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
