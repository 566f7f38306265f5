"""The `dockspec` command: which container owns this host port?

Subcommands: ports, ps, who, stop, kill, endpoints; `--json` on each prints a
list of objects (docs/cli.md). EXIT_STATUSES is the one table of exit
statuses: what each means (printed by --help) and the errors that end in it.
Only `import dockspec.cli` loads this module (never `import dockspec`); each
command imports what it needs when it runs (psutil for `ports` alone).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from dockspec.env import Env, _platform_family
from dockspec.errors import (
    ContextError,
    DaemonNotFound,
    InvalidAddress,
    InvalidContainerId,
    InvalidDockerHost,
    InvalidResponse,
)
from dockspec.models import Ambiguous, ContainerInfo, Found, PortKey, Protocol, StopOutcome

if TYPE_CHECKING:
    from dockspec.detect import DaemonReport, Detection
    from dockspec.events import PortMapChange
    from dockspec.live import Watch
    from dockspec.sockets import Attribution, HostSocket

__all__ = ["EXIT_STATUSES", "main", "parse_target"]


class UsageError(Exception):
    """An argument argparse let through but the command cannot use (a `who` target)."""


class MissingPsutil(Exception):
    """`dockspec ports` without the `cli` extra."""


EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_AMBIGUOUS = 2
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_NO_PSUTIL = 4
EXIT_INTERRUPTED = 130

# Every exit status: what it means (--help prints this) and the errors that end
# a command with it. A command's own answer (found, not found, ambiguous,
# stopped) is a status it returns; an error is looked up here, first match wins.
EXIT_STATUSES: tuple[tuple[int, str, tuple[type[BaseException], ...]], ...] = (
    (EXIT_OK, "ok", ()),
    (EXIT_NOT_FOUND, "no container / stop failed", ()),
    (EXIT_USAGE, "ambiguous, unsafe id or usage error", (UsageError, InvalidContainerId)),
    (
        EXIT_NO_DAEMON,
        "no daemon answered usefully, or DOCKER_HOST or a context is invalid",
        (InvalidDockerHost, ContextError, DaemonNotFound, InvalidResponse),
    ),
    (EXIT_NO_PSUTIL, "`ports` without psutil (pip install 'dockspec[cli]')", (MissingPsutil,)),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)", (KeyboardInterrupt,)),
)

# Errors about daemons not answering: the message is followed by this hint.
HINT = "hint: run `dockspec endpoints` to see what was tried"
_HINTED = (ContextError, DaemonNotFound, InvalidResponse)

EPILOG = """\
examples:
  dockspec ports                    every listening socket, with its container
  dockspec ports --containers-only  only the sockets a container owns
  dockspec ps                       running containers of every daemon
  dockspec who 8080                 which container publishes tcp port 8080?
  dockspec who 127.0.0.1:5353/udp   ... udp port 5353 on 127.0.0.1?
  dockspec who '[::1]:8080'         ... an IPv6 address, in brackets
  dockspec stop web                 stop a container by name or id (kill: SIGKILL)
  dockspec endpoints                every socket tried, and why each failed
  dockspec ps --json                machine-readable (shapes: docs/cli.md)

DOCKER_HOST, when set, names the one daemon to use. XDG_RUNTIME_DIR decides
where rootless Podman's and Docker's sockets are looked for.

exit status:
""" + "".join(f"  {status:<3}  {meaning}\n" for status, meaning, _ in EXIT_STATUSES)


def _status_of(exc: BaseException) -> int | None:
    for status, _, errors in EXIT_STATUSES:
        if isinstance(exc, errors):
            return status
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _message(exc: BaseException) -> str:
    """One line, where str() of an address error has three (value and caret): its summary instead."""
    if isinstance(exc, InvalidDockerHost):
        return f"invalid DOCKER_HOST: {_one_line(exc.summary())}"
    if isinstance(exc, InvalidAddress):
        return _one_line(exc.summary())
    return _one_line(str(exc))


# Bidi embeddings, overrides and isolates: printable, yet they reorder the line.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _safe(text: str) -> str:
    """Daemon-supplied text for a terminal: controls, DEL, C1 and bidi overrides escaped.

    A container name is the daemon's to choose; raw, an escape sequence or a
    CR LF could repaint the terminal or forge rows. JSON keeps names verbatim.
    """
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    out = []
    for ch in text:
        if ch.isprintable() and ch not in _BIDI:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _usable(detection: Detection, err: TextIO) -> Detection:
    """The library's detection, as is: its error when nothing answered, a warning on `err` per failed endpoint."""
    if not detection.ok:
        raise detection.error()
    for report in detection.reports:
        if not report.ok:
            print(_safe(f"dockspec: warning: {report.endpoint.url}: {_one_line(report.error or '')}"), file=err)
    return detection


def _detect(env: Env, err: TextIO) -> Detection:
    from dockspec.detect import detect_daemons

    return _usable(detect_daemons(env=env), err)


# ---------------------------------------------------------------- formatting


MAX_CELL = 200
"""Characters of one text-table cell at most; longer ones end in an ellipsis (`--json` has them whole)."""
ELLIPSIS = "\u2026"


def _cell(value: object) -> str:
    """One cell: escaped for the terminal (_safe), cut to MAX_CELL characters with an ellipsis."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > MAX_CELL
    text = _safe(text[:MAX_CELL] if cut else text)  # cut first: a 2^20-character name is never escaped whole
    if cut or len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + ELLIPSIS
    return text


def _row(row: Sequence[object], columns: int) -> list[str]:
    """A row's cells, exactly `columns` of them; a row that cannot be rendered is one `?` row, not an abort."""
    try:
        cells = [_cell(cell) for cell in row]
    except Exception:
        cells = ["?"]
    return (cells + ["-"] * columns)[:columns]


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns padded to their widest cell (at most MAX_CELL); the last column is not padded."""
    all_rows = [list(headers), *[_row(r, len(headers)) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _address(ip: str | None, port: int) -> str:
    if ip is None:
        return f"*:{port}"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _container_json(info: ContainerInfo, engines: dict[str, str], engine: str | None = None) -> dict[str, Any]:
    """`engine`: for a container no daemon listed, the engine its cgroup form names."""
    return {
        "id": info.id,
        "name": info.name,
        "image": info.image,
        "daemon": info.daemon,
        "engine": engines.get(info.daemon) if info.daemon else engine,
        "compose": _compose_json(info),
    }


def _compose_json(info: ContainerInfo) -> dict[str, Any] | None:
    """`{"project", "service", "number"}` of every container object, or None (issue 13)."""
    c = info.compose
    return None if c is None else {"project": c.project, "service": c.service, "number": c.number}


def _compose_text(info: ContainerInfo) -> str:
    """`project/service` (`project` when no service label), `-` outside compose."""
    return "-" if info.compose is None else str(info.compose)


def _print_json(rows: list[dict[str, Any]], out: TextIO) -> None:
    import json

    out.write(json.dumps(rows, indent=2) + "\n")


def _short(container_id: str) -> str:
    return container_id[:12]


# ---------------------------------------------------------------- commands


def _attributions(
    sockets: Iterable[HostSocket], detection: Detection, env: Env
) -> list[tuple[HostSocket, Attribution]]:
    """Each socket with its container: helper evidence, cgroup, binding, fallback (dockspec.sockets.attribute)."""
    from dockspec.podman import RootlessPodmanResolver, lookup_rootless_podman_container
    from dockspec.sockets import attribute, cgroup_lookup
    from dockspec.spec import builtin_spec

    spec = builtin_spec()
    resolver = RootlessPodmanResolver(spec=spec)
    cgroup = cgroup_lookup(spec)

    def rootless(pid: int, name: str) -> ContainerInfo | None:
        return lookup_rootless_podman_container(pid, name, resolver, env=env)

    return [(s, attribute(s, detection.port_map, detection.containers, spec, rootless, cgroup)) for s in sockets]


def _holder_name(a: Attribution, container: ContainerInfo) -> str:
    """The container's name; one no daemon listed (found by cgroup) as engine and short id."""
    if container.daemon is None and a.engine:
        return f"{a.engine} {container.name}"
    return container.name


# The one stderr line of `ports` when no daemon answered: it still lists every socket.
NO_DAEMON_LINE = "dockspec: no daemon answered; only the host's own evidence names containers (" + HINT + ")"


def cmd_ports(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Every listening socket, named by its container (helper evidence, cgroup, exact, wildcard, fallback).

    With no daemon answering it still lists every socket (exit 0), says so in
    one line on `err`, and names what the host's own evidence can: cgroup
    (engine and short id), rootless Podman's storage.
    """
    try:
        import psutil  # noqa: F401  (the `cli` extra; checked before any daemon is asked)
    except ImportError:
        raise MissingPsutil("`dockspec ports` needs psutil: pip install 'dockspec[cli]'") from None
    from dockspec.detect import begin_detection
    from dockspec.sockets import host_sockets

    if args.watch:
        if args.json:
            print("dockspec: ports --watch draws a table; for JSON use `dockspec events --json`", file=err)
            return EXIT_USAGE
        return _ports_watch(args, env, out, err)
    pending = begin_detection(env=env)  # the daemons answer while this thread lists the host's sockets
    sockets = host_sockets()
    detection = pending.detection()
    if detection.ok:
        _usable(detection, err)
    else:
        print(NO_DAEMON_LINE, file=err)
    rows = _ports_rows(args, sockets, detection, env)
    if args.json:
        _print_json(
            [
                {
                    "protocol": sock.protocol.value,
                    "ip": sock.ip,
                    "port": sock.port,
                    "pid": sock.pid,
                    "process": sock.process,
                    "container": _container_json(a.container, detection.engines, a.engine) if a.container else None,
                    "candidates": [_container_json(c, detection.engines) for c in a.candidates],
                    "via": a.via,
                }
                for sock, a in rows
            ],
            out,
        )
        return EXIT_OK
    print(_ports_table(rows), file=out)
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and geteuid() != 0 and any(sock.pid is None for sock, _ in rows):
        print("dockspec: some sockets' processes are not visible to this user (run as root to see them)", file=err)
    return EXIT_OK


def _ports_rows(
    args: argparse.Namespace, sockets: Iterable[HostSocket], detection: Detection, env: Env
) -> list[tuple[HostSocket, Attribution]]:
    """The sockets `ports` shows: PORT, --tcp/--udp (ss's -t/-u: both or neither mean both), --containers-only."""
    wanted = {p for p, flag in ((Protocol.TCP, args.tcp), (Protocol.UDP, args.udp)) if flag} or set(Protocol)
    chosen = [s for s in sockets if s.protocol in wanted and (args.port is None or s.port == args.port)]
    return [
        (sock, found)
        for sock, found in _attributions(chosen, detection, env)
        if not args.containers_only or found.container is not None or found.candidates
    ]


def _ports_table(rows: list[tuple[HostSocket, Attribution]]) -> str:
    table = []
    for sock, a in rows:
        if a.container is not None:
            name, image = _holder_name(a, a.container), a.container.image or "-"
        elif a.candidates:
            name, image = "one of " + ", ".join(c.name for c in a.candidates), "-"
        else:
            name = image = "-"
        pid = "-" if sock.pid is None else str(sock.pid)
        table.append([sock.protocol.value, _address(sock.ip, sock.port), pid, sock.process or "-", name, image])
    return _table(["PROTO", "LOCAL ADDRESS", "PID", "PROCESS", "CONTAINER", "IMAGE"], table)


# ANSI: cursor home, then clear the screen (only written to a terminal).
CLEAR = "\x1b[H\x1b[2J"
WATCH_REFRESH = 1.0
"""Seconds `ports --watch` waits for a change before it looks at the host's sockets again."""


def _watch_detection(live: Watch) -> Detection:
    """The watch's map as a Detection, for the attribution `ports` does (containers: those with bindings)."""
    from dockspec.detect import Detection

    port_map = live.port_map
    return Detection((), False, port_map, {c.id: c for c in port_map.containers()}, dict(live.engines))


def _ports_watch(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """`ports --watch`: the table again whenever the port map or the host's sockets change; Ctrl-C ends it."""
    from dockspec.live import watch
    from dockspec.sockets import host_sockets

    tty = out.isatty()
    shown = None
    with watch(env=env) as live:
        live.get(min(1.0, WATCH_REFRESH))  # the first lists, so the first table names containers
        while True:
            text = _ports_table(_ports_rows(args, host_sockets(), _watch_detection(live), env))
            if text != shown:
                out.write((CLEAR if tty else ("\n" if shown is not None else "")) + text + "\n")
                out.flush()
                shown = text
            live.get(WATCH_REFRESH)
            while live.get(0.05) is not None:  # a burst of changes: one redraw
                pass


def _change_lines(change: PortMapChange, engines: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON objects of one change: each binding removed, then each added (docs/cli.md)."""
    return [
        {
            "change": kind,
            "protocol": key[2].value,
            "ip": key[0],
            "port": key[1],
            "container": _container_json(info, engines),
            "daemon": info.daemon,
        }
        for kind, bindings in (("removed", change.removed), ("added", change.added))
        for key, info in bindings
    ]


def cmd_events(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """One line per published socket that comes or goes, until Ctrl-C (the first lines: what is published now)."""
    import json

    from dockspec.live import watch

    with watch(env=env) as live:
        for change in live:
            for item in _change_lines(change, dict(live.engines)):
                if args.json:
                    out.write(json.dumps(item) + "\n")
                else:
                    name = item["container"]["name"]
                    image = item["container"]["image"] or "-"
                    row = [item["change"], item["protocol"], _address(item["ip"], item["port"]), name, image,
                           item["daemon"] or "-"]
                    out.write("  ".join(_cell(cell) for cell in row) + "\n")
            out.flush()
    return EXIT_OK


def _ports_of(report: DaemonReport) -> dict[str, list[PortKey]]:
    by_id: dict[str, list[PortKey]] = {}
    for key, info in report.bindings.items():
        by_id.setdefault(info.id, []).append(key)
    for keys in by_id.values():
        keys.sort(key=lambda k: (k[1], k[2].value, k[0] or ""))
    return by_id


def _port_ranges(keys: list[PortKey]) -> str:
    """`*:8200-8203/tcp, 127.0.0.1:8081/tcp`: consecutive ports on one address and protocol folded."""
    groups: dict[tuple[str | None, Protocol], list[int]] = {}
    for ip, port, protocol in keys:
        groups.setdefault((ip, protocol), []).append(port)
    parts = []
    for (ip, protocol), ports in groups.items():
        ports.sort()
        host = "*" if ip is None else (f"[{ip}]" if ":" in ip else ip)
        runs: list[list[int]] = []
        for port in ports:
            if runs and port == runs[-1][1] + 1:
                runs[-1][1] = port
            else:
                runs.append([port, port])
        for start, end in runs:
            span = str(start) if start == end else f"{start}-{end}"
            parts.append(f"{host}:{span}/{protocol.value}")
    return ", ".join(parts)


def cmd_ps(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Running containers of every daemon that answered, with their published ports."""
    detection = _detect(env, err)
    rows: list[tuple[DaemonReport, ContainerInfo, list[PortKey]]] = []
    for report in detection.reports:
        if not report.ok:
            continue
        ports = _ports_of(report)
        for info in sorted(report.containers, key=lambda c: (c.name, c.id)):
            rows.append((report, info, ports.get(info.id, [])))
    if args.json:
        _print_json(
            [
                {
                    "id": info.id,
                    "name": info.name,
                    "image": info.image,
                    "daemon": report.endpoint.url,
                    "engine": report.engine,
                    "version": report.version,
                    "compose": _compose_json(info),
                    "ports": [{"ip": ip, "port": port, "protocol": proto.value} for ip, port, proto in keys],
                }
                for report, info, keys in rows
            ],
            out,
        )
        return EXIT_OK
    table = [
        [
            info.name,
            _short(info.id),
            info.image or "-",
            _compose_text(info),
            _port_ranges(keys) or "-",
            f"{report.endpoint.url} ({report.engine or 'unknown'})",
        ]
        for report, info, keys in rows
    ]
    print(_table(["NAME", "ID", "IMAGE", "COMPOSE", "PORTS", "DAEMON"], table), file=out)
    return EXIT_OK


def parse_target(text: str) -> tuple[str | None, int, Protocol]:
    """`PORT[/udp]`, `ADDR:PORT[/proto]` or `[V6]:PORT[/proto]` as (ip or None, port, protocol).

    The one address grammar (dockspec.addresses); InvalidAddress, a
    ValueError whose message shows a caret under the fault.
    """
    from dockspec.addresses import parse_port_target

    return parse_port_target(text)


def _held_on(ip: str | None, port: int, protocol: Protocol, detection: Detection, env: Env) -> dict[str, str | None]:
    """The containers whose processes hold the host's sockets on that port (cgroup, helper evidence): id -> engine.

    For `who` when no daemon publishes the port (a host-network container).
    Nothing without psutil. A socket on every address serves any ADDR.
    """
    try:
        import psutil  # noqa: F401
    except ImportError:
        return {}
    import ipaddress

    from dockspec.sockets import host_sockets

    def serves(sock_ip: str) -> bool:
        if ip is None:
            return True
        try:
            address = ipaddress.ip_address(sock_ip)
            return address.is_unspecified or address == ipaddress.ip_address(ip)
        except ValueError:
            return False

    mine = [s for s in host_sockets() if s.port == port and s.protocol is protocol and serves(s.ip)]
    held: dict[str, str | None] = {}
    for _, a in _attributions(mine, detection, env):
        if a.container is not None:
            held.setdefault(a.container.id, a.engine)
    return held


def cmd_who(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """The container publishing a port (exact address with ADDR, else any address, proxy fallback), or holding it."""
    try:
        ip, port, protocol = parse_target(args.target)
    except ValueError as exc:
        raise UsageError(_message(exc)) from None
    from dockspec.ports import lookup_published_container

    detection = _detect(env, err)
    if ip is None:
        match = lookup_published_container(detection.port_map, (None, port), protocol, allow_proxy_fallback=True)
        what = f"{protocol.value} port {port}"
    else:
        match = lookup_published_container(detection.port_map, (ip, port), protocol)
        what = f"{protocol.value} {_address(ip, port)}"
    engines: dict[str, str | None] = {}
    if isinstance(match, Found):
        found: tuple[ContainerInfo, ...] = (match.container,)
        status = EXIT_OK
    elif isinstance(match, Ambiguous):
        found, status = match.candidates, EXIT_AMBIGUOUS
    else:
        engines = _held_on(ip, port, protocol, detection, env)
        found = tuple(
            detection.containers.get(cid) or ContainerInfo(cid, _short(cid), "") for cid in sorted(engines)
        )
        status = {0: EXIT_NOT_FOUND, 1: EXIT_OK}.get(len(found), EXIT_AMBIGUOUS)
    if args.json:
        _print_json([_container_json(c, detection.engines, engines.get(c.id)) for c in found], out)
        return status

    def line(c: ContainerInfo) -> str:
        engine = detection.engines.get(c.daemon or "") or engines.get(c.id) or "unknown"
        compose = "" if c.compose is None else f", compose {c.compose}"
        return _safe(f"{c} id {_short(c.id)} on {c.daemon or 'unknown daemon'} ({engine}){compose}")

    if status == EXIT_OK:
        print(f"{what}: {line(found[0])}", file=out)
    elif status == EXIT_AMBIGUOUS:
        print(f"{what} is published by {len(found)} containers:", file=out)
        for c in found:
            print(f"  {line(c)}", file=out)
    else:
        print(f"no container publishes {what}", file=out)
    return status


def _stop(force: bool) -> Callable[[argparse.Namespace, Env, TextIO, TextIO], int]:
    def command(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
        """Stop or kill one container; 0 only when it is (now or already) stopped."""
        from dockspec.detect import request_stop

        action = "kill" if force else "stop"
        report = request_stop(args.container, force=force, timeout=getattr(args, "time", 10), env=env)
        if not report.answered and report.outcome is StopOutcome.FAILED:
            raise report.error()
        outcome = report.outcome
        if args.json:
            _print_json([{"container": args.container, "action": action, "outcome": outcome.value}], out)
        else:
            text = {
                StopOutcome.STOPPED: f"{args.container}: {'killed' if force else 'stopped'}",
                StopOutcome.ALREADY_STOPPED: f"{args.container}: already stopped",
                StopOutcome.NOT_FOUND: f"{args.container}: no such container on any daemon",
                StopOutcome.FAILED: f"{args.container}: {action} failed (a daemon refused or answered badly)",
            }[outcome]
            print(text, file=out)
        return EXIT_OK if outcome in (StopOutcome.STOPPED, StopOutcome.ALREADY_STOPPED) else EXIT_NOT_FOUND

    return command


def cmd_endpoints(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Every endpoint dockspec would try, in order, and what each said: the first thing to run when nothing is found."""
    from dockspec.detect import probe_endpoints

    reports, _ = probe_endpoints(env=env, all_endpoints=True)
    if args.json:
        _print_json(
            [
                {
                    "url": r.endpoint.url,
                    "transport": r.endpoint.transport,
                    "address": r.endpoint.address,
                    "origin": r.endpoint.origin,
                    "expected_engine": r.endpoint.engine,
                    "reachable": r.reachable,
                    "ok": r.ok,
                    "engine": r.engine,
                    "version": r.version,
                    "elapsed_ms": round(r.elapsed * 1000, 1),
                    "containers": len(r.containers) if r.ok else None,
                    "error": r.error,
                }
                for r in reports
            ],
            out,
        )
    else:
        table = []
        for r in reports:
            if r.ok:
                status = f"ok, {len(r.containers)} running container{'s' if len(r.containers) != 1 else ''}"
            elif r.reachable:
                status = f"answered, but: {_one_line(r.error or '')}"
            else:
                status = f"unreachable: {_one_line(r.error or '')}"
            daemon = " ".join(x for x in (r.engine, r.version) if x) or "-"
            table.append([r.endpoint.origin or "-", r.endpoint.url, daemon, f"{r.elapsed * 1000:.0f} ms", status])
        print(_table(["ORIGIN", "URL", "DAEMON", "TIME", "STATUS"], table), file=out)
    return EXIT_OK if any(r.ok for r in reports) else EXIT_NO_DAEMON


# ---------------------------------------------------------------- parser


class _Exit(Exception):
    """argparse is done (--help, --version, a usage error): main returns `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse writing to main's `out` and `err` and returning through _Exit, never sys.exit."""

    def __init__(self, *args: Any, out: TextIO, err: TextIO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out, self.err = out, err

    def print_usage(self, file: Any = None) -> None:
        super().print_usage(self.out if file is None else file)

    def print_help(self, file: Any = None) -> None:
        super().print_help(self.out if file is None else file)

    def error(self, message: str) -> NoReturn:
        self.print_usage(self.err)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.err.write(message)
        raise _Exit(status)


class _VersionAction(argparse.Action):
    """--version, with the text computed only when asked (importlib.metadata and the spec digest cost)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import dockspec
        from dockspec._generated import SPEC_DIGEST

        out = parser.out if isinstance(parser, _Parser) else sys.stdout
        out.write(f"dockspec {dockspec.__version__} (spec {SPEC_DIGEST})\n")
        parser.exit()


def _seconds(text: str) -> int:
    """`stop -t`: ASCII digits, 0 to daemons.MAX_STOP_SECONDS (a usage error otherwise, before any daemon is asked)."""
    from dockspec.daemons import MAX_STOP_SECONDS

    if not text.isascii() or not text.isdigit() or len(text) > 6 or int(text) > MAX_STOP_SECONDS:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to {MAX_STOP_SECONDS}: {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port from 1 to 65535: {text!r}")
    return int(text)


def build_parser(out: TextIO | None = None, err: TextIO | None = None) -> argparse.ArgumentParser:
    """The argparse tree, printing to `out` and `err` (stdout, stderr); every subcommand takes --json."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = _Parser(
        out=out,
        err=err,
        prog="dockspec",
        description="Which container owns this host port? Asks Docker and Podman daemons directly.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    common = _Parser(out=out, err=err, add_help=False)
    common.add_argument("--json", action="store_true", help="print a JSON list of objects (docs/cli.md)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace, Env, TextIO, TextIO], int], **kwargs: Any) -> _Parser:
        parsed = sub.add_parser(name, out=out, err=err, parents=[common], **kwargs)
        parsed.set_defaults(func=func)
        return parsed

    ports = command("ports", cmd_ports, help="listening sockets and the containers that own them")
    ports.add_argument("--containers-only", action="store_true", help="hide sockets no container owns")
    ports.add_argument("port", metavar="PORT", nargs="?", type=_port, help="only sockets on this local port")
    ports.add_argument("-t", "--tcp", action="store_true", help="only TCP sockets (with --udp: both)")
    ports.add_argument("-u", "--udp", action="store_true", help="only UDP sockets (with --tcp: both)")
    ports.add_argument("--watch", action="store_true", help="redraw the table whenever it changes (Ctrl-C ends)")
    command("events", cmd_events, help="one line per published socket that comes or goes (Ctrl-C ends)")
    command("ps", cmd_ps, help="running containers of every daemon, with published ports")
    who = command(
        "who",
        cmd_who,
        help="which container publishes PORT[/udp] or ADDR:PORT[/udp]",
        description="Exit 0 found, 1 no container, 2 ambiguous. Without ADDR any address matches.",
    )
    who.add_argument("target", metavar="[ADDR:]PORT[/udp]", help="e.g. 8080, 5353/udp, 127.0.0.1:8080, [::1]:8080")
    for name, force, text in (
        ("stop", False, "stop a container (SIGTERM, then SIGKILL after --time s)"),
        ("kill", True, "kill a container (SIGKILL)"),
    ):
        stop = command(name, _stop(force), help=text, description=f"{text}. Exit 0 when stopped or already stopped.")
        stop.add_argument("container", metavar="ID|NAME")
        if not force:
            stop.add_argument(
                "-t", "--time", type=_seconds, default=10, help="seconds the daemon waits before SIGKILL (default 10)"
            )
    command("endpoints", cmd_endpoints, help="every endpoint tried, in order, and what each answered")
    return parser


# ---------------------------------------------------------------- entry point


def _env_from(environ: Mapping[str, str]) -> Env:
    """An Env for a mapping of variables: HOME and the XDG directories from it, the uid this process's."""
    getuid = getattr(os, "getuid", None)
    return Env(
        platform=_platform_family(sys.platform),
        uid=getuid() if getuid is not None else None,
        home=environ.get("HOME") or None,
        xdg_runtime_dir=environ.get("XDG_RUNTIME_DIR") or None,
        xdg_data_home=environ.get("XDG_DATA_HOME") or None,
        environ=environ,
    )


def _quiet(out: TextIO) -> None:
    """After a closed pipe (`dockspec ports | head`): `out`'s descriptor to /dev/null, for a quiet final flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _tolerant(stream: TextIO) -> TextIO:
    """The process's own stdout or stderr, writing what its encoding cannot hold as backslash escapes.

    An ASCII-only stream (PYTHONIOENCODING=ascii, LANG=C on old Pythons)
    met a container name in UTF-8 with UnicodeEncodeError; `wéb` is now
    printed `w\\xe9b`. JSON output is ASCII already (json.dumps escapes).
    """
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass
    return stream


def main(
    argv: Sequence[str] | None = None,
    env: Env | Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one `dockspec` command; returns its exit status.

    The console script and `python -m dockspec` call it with nothing: the
    process's arguments, environment, stdout and stderr. `env` may be an Env
    or a mapping of environment variables.
    """
    out = _tolerant(sys.stdout) if out is None else out
    err = _tolerant(sys.stderr) if err is None else err
    try:
        try:
            args = build_parser(out, err).parse_args(argv)
        except _Exit as done:
            return done.status
        if env is None:
            env = Env.from_os()
        elif not isinstance(env, Env):
            env = _env_from(env)
        status: int = args.func(args, env, out, err)
        out.flush()
        return status
    except BrokenPipeError:
        _quiet(out)
        return EXIT_NOT_FOUND
    except (Exception, KeyboardInterrupt) as exc:
        status_of = _status_of(exc)
        if status_of is None:
            raise
        if not isinstance(exc, KeyboardInterrupt):
            print(_safe(f"dockspec: {_message(exc)}"), file=err)
            if isinstance(exc, _HINTED):
                print(HINT, file=err)
        return status_of
