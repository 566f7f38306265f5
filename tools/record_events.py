#!/usr/bin/env python3
"""Record real /events lines into spec/fixtures/<engine>-<version>-<mode>-events.yaml (observations).

Needs the beds up (scripts/daemons.sh: /run/dockspec-daemons/env; scripts/engines.sh:
/run/dockspec-engines/env). Standalone like tools/record_fixtures.py: stdlib + PyYAML, and
it does NOT import dockspec. Run it under the live lock (it makes a throwaway container):

    flock /tmp/dockspec-live.lock tools/record_events.py [--out spec/fixtures]

For each daemon it subscribes to /events with dockspec's filter (spec/events.yaml's
filter_events, plus exec_die and exec_died so that those shapes are seen too), then drives
one throwaway container with a published port through run, pause, unpause, rename, exec,
kill, start, stop and rm, and keeps every raw line. `expect` per line is what the recorder
knows it did: the container's id (from inspect) and its name at that moment; the Action is
read from the line and must be one the step may cause. It also records how long the
headers took (engines that send none until the first event).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record_fixtures
from record_fixtures import FlowMap, RecordError, Short, load_env, write

record_fixtures.HEADER = "# Recorded from a real daemon by tools/record_events.py. Observation: read only by tests.\n"
FILTER_EVENTS = ["start", "die", "died", "stop", "kill", "destroy", "remove", "rename", "pause", "unpause",
                 "exec_die", "exec_died"]
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CMD = 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'


class Daemon:
    def __init__(self, bed: str, engine: str, mode: str, sock: str, cli: list[str], image: str, port: int) -> None:
        self.bed, self.engine, self.mode, self.sock, self.cli_prefix = bed, engine, mode, sock, cli
        self.image, self.port = image, port
        self.version = ""

    def cli(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([*self.cli_prefix, *args], cwd="/", capture_output=True, text=True, timeout=120,
                              check=False)
        if check and proc.returncode != 0:
            raise RecordError(f"{self.engine}/{self.mode}: {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout


def daemons() -> list[Daemon]:
    found: list[Daemon] = []
    debian = Path("/run/dockspec-daemons/env")
    if debian.exists():
        env = load_env(debian)
        root = ["env", "-u", "DOCKER_HOST", "-u", "CONTAINER_HOST", "-u", "DOCKER_CONTEXT"]
        rootless = [
            "setpriv", f"--reuid={env['DOCKSPEC_ROOTLESS_UID']}", f"--regid={env['DOCKSPEC_ROOTLESS_GID']}",
            "--init-groups", "env", "-i", f"HOME={env['DOCKSPEC_ROOTLESS_HOME']}", f"PATH={STD_PATH}",
            f"XDG_RUNTIME_DIR={env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman",
        ]
        found += [
            Daemon("debian12", "docker", "rootful", env["DOCKSPEC_DOCKER_SOCK"], [*root, "docker"], "bb:latest", 19991),
            Daemon("debian12", "podman", "rootful", env["DOCKSPEC_PODMAN_SOCK"], [*root, "podman"],
                   "localhost/bb:latest", 29991),
            Daemon("debian12", "podman", "rootless", env["DOCKSPEC_ROOTLESS_SOCK"], rootless, "localhost/bb:latest",
                   39991),
        ]
    forky = Path("/run/dockspec-engines/env")
    if forky.exists():
        env = load_env(forky)
        found += [
            Daemon("forky", "docker", "rootful", env["DOCKSPEC_DOCKER_SOCK"], [env["DOCKSPEC_DOCKER_CLI"]],
                   "bb:latest", 49991),
            Daemon("forky", "podman", "rootful", env["DOCKSPEC_PODMAN_SOCK"], [env["DOCKSPEC_PODMAN_CLI"]],
                   "localhost/bb:latest", 59991),
            Daemon("forky", "podman", "rootless", env["DOCKSPEC_ROOTLESS_SOCK"], [env["DOCKSPEC_ROOTLESS_CLI"]],
                   "localhost/bb:latest", 62991),
        ]
    return found


def target() -> str:
    filters = json.dumps({"type": ["container"], "event": FILTER_EVENTS}, separators=(",", ":"))
    return "/events?filters=" + urllib.parse.quote(filters, safe="")


class Stream:
    """A raw /events subscription: headers, then the chunked body's lines."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        started = time.monotonic()
        self.sock.sendall(f"GET {target()} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        self.header_seconds = time.monotonic() - started
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = [[k, v.strip()] for k, v in (h.split(":", 1) for h in lines[1:])]
        self.body = b""

    def drain(self, quiet: float) -> None:
        """Read until nothing came for `quiet` seconds."""
        self.sock.settimeout(quiet)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.buf += data
        except TimeoutError:
            return

    def lines(self) -> list[str]:
        """De-chunk what was read (the streams are chunked) and split it into lines."""
        out, data = b"", self.buf
        while data:
            size_line, _, rest = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            data = rest[size + 2 :]
        return [line for line in out.decode().split("\n") if line.strip()]


# What each step may cause, in order; the recorder checks each line's Action against its step.
STEPS = [
    ("run", {"start"}),
    ("pause", {"pause"}),
    ("unpause", {"unpause"}),
    ("rename", {"rename"}),
    ("exec", {"exec_die", "exec_died"}),
    ("kill", {"kill", "die", "died"}),
    ("start", {"start"}),
    ("stop", {"kill", "die", "died", "stop"}),
    ("rm", {"destroy", "remove"}),
]


def record(d: Daemon, today: str) -> dict[str, Any]:
    d.version = json.loads(
        subprocess.run(["curl", "-s", "--unix-socket", d.sock, "http://x/version"], capture_output=True,
                       check=True, timeout=30).stdout
    )["Version"]
    tag = secrets.token_hex(3)
    name, renamed = f"dsev-{tag}", f"dsev-{tag}-b"
    stream = Stream(d.sock)
    marks: list[tuple[str, str, int]] = []  # (step, name after it, lines read so far)
    cid = ""
    skipped: list[dict[str, Any]] = []
    try:
        for step, _ in STEPS:
            if step == "run":
                d.cli("run", "-d", "--name", name, "-p", f"127.0.0.1:{d.port}:80", d.image, "sh", "-c", CMD)
                cid = d.cli("inspect", "-f", "{{.Id}}", name).strip()
            elif step == "rename":
                d.cli("rename", name, renamed)
            elif step == "exec":
                d.cli("exec", renamed, "true")
            elif step == "stop":
                d.cli("stop", "-t", "1", renamed)
            elif step == "kill":
                d.cli("kill", renamed)
                time.sleep(1)
            elif step in ("pause", "unpause"):
                try:
                    d.cli(step, name)
                except RecordError as exc:  # rootless Podman on cgroup v1 cannot pause
                    skipped.append(FlowMap({"step": step, "why": Short(str(exc).split(": ", 1)[-1][:200])}))
            else:
                d.cli(step, renamed)
            stream.drain(1.0)
            marks.append((step, renamed if step not in ("run", "pause", "unpause") else name, len(stream.lines())))
    finally:
        d.cli("rm", "-f", renamed, check=False)
        d.cli("rm", "-f", name, check=False)
        stream.sock.close()
    raw = stream.lines()
    cases = []
    start = 0
    for (step, current, end), (_, allowed) in zip(marks, STEPS, strict=True):
        for index in range(start, end):
            event = json.loads(raw[index])
            action = event.get("Action")
            if action not in allowed:
                raise RecordError(f"{d.engine} {d.version}: {step} gave Action {action!r}, not one of {allowed}")
            # The rename event carries the new name; die/stop/remove after it too.
            cases.append({
                "id": f"{index:02d}-{step}-{action}",
                "step": step,
                "line": Short(raw[index]),
                "expect": FlowMap({"action": action, "id": cid, "name": current}),
            })
        start = end
    mode = d.mode if d.engine == "podman" else "rootful"
    ident = f"{d.engine}-{'.'.join(d.version.split('.')[:2])}-{mode}-events"
    return {
        "id": ident,
        "check": "events",
        "source": FlowMap({"recorded_by": "tools/record_events.py", "recorded_at": today, "bed": d.bed,
                           "engine": d.engine, "version": d.version, "mode": mode,
                           "request": "GET " + target()}),
        "status": stream.status,
        "headers": [FlowMap({"name": k, "value": v}) for k, v in stream.headers if k.lower() != "date"],
        "headers_before_first_event": stream.header_seconds < 0.5,
        **({"skipped": skipped} if skipped else {}),
        "vectors": cases,
    }


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=repo / "spec" / "fixtures")
    ap.add_argument("--only", help="a regex on bed/engine/mode")
    args = ap.parse_args(argv)
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    for d in daemons():
        if args.only and not re.search(args.only, f"{d.bed}/{d.engine}/{d.mode}"):
            continue
        try:
            doc = record(d, today)
        except (RecordError, OSError, subprocess.SubprocessError) as exc:
            print(f"record_events: {d.bed} {d.engine} {d.mode}: {exc}", file=sys.stderr)
            return 1
        path = write(args.out, doc)
        print(path.relative_to(repo) if path.is_relative_to(repo) else path, len(doc["vectors"]), "lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
