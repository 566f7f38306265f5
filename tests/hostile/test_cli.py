"""`dockspec ps` against hostile daemons: `cli.main` with DOCKER_HOST set, in this process.

Whatever the daemon does, the command ends within its 3 s deadline (plus
slack for a loaded runner) with exit status 3, a one-line `dockspec: ...`
error (then the `hint:` line) on stderr, and no traceback. The scenarios run
in parallel threads, so the two that wait out the deadline cost it once; an
exception escaping main is recorded as a traceback on the run's stderr.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from dockspec import DEFAULT_LIMITS
from dockspec.cli import main
from tests.fakedaemon import DOCKER_HEADERS, http_response
from tests.hostile.daemon import Behaviour, HostileDaemon, black_hole, reply_with
from tests.hostile.scenarios import BODIES, WIRE

EXIT_NO_DAEMON = 3
SLACK = 2.5  # threads of other scenarios and agents on a loaded 2-core runner


@attrs.frozen
class Run:
    status: int
    stdout: str
    stderr: str
    elapsed: float


def _spawn(docker_host: str, home: str, *args: str) -> Callable[[], Run]:
    """Start `dockspec ps ...` now, in a thread; the returned call waits for it."""
    env = {"HOME": home, "DOCKER_HOST": docker_host, "LANG": "C.UTF-8"}
    result: list[Run] = []

    def work() -> None:
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        try:
            status = main(["ps", *args], env, out, err)
        except BaseException:
            err.write(traceback.format_exc())
            status = -1
        result.append(Run(status, out.getvalue(), err.getvalue(), time.monotonic() - started))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def join() -> Run:
        thread.join(40)
        return result[0]

    return join


WIRE_NAMES = [
    "accepts-never-answers", "closes-after-accept", "reset-mid-body", "status-line-garbage", "headers-over-cap",
    "content-length-5GiB-announced", "chunk-size-not-hex", "transfer-encoding-unknown", "http09-bare-body",
    "interim-101-unsolicited", "redirect-302", "error-500-html",
]
BODY_NAMES = ["body-not-utf8", "body-not-json", "body-nested-100000-deep", "body-json-object"]
WRONG_TYPE = reply_with(http_response(200, b'[{"Id": "a", "Ports": "x"}]', DOCKER_HEADERS))
PATH_KINDS = ["regular-file", "directory", "dangling-symlink", "socket-without-listener"]
CASES = [f"{n}/unix" for n in WIRE_NAMES + BODY_NAMES] + ["closes-after-accept/tcp", "reset-mid-body/tcp",
                                                          "wrong-type/unix", *PATH_KINDS, "tcp-black-hole"]
SLOW = ["accepts-never-answers/unix", "tcp-black-hole"]


def _make_path(kind: str, path: str) -> None:
    if kind == "regular-file":
        Path(path).write_text("not a socket\n")
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "dangling-symlink":
        os.symlink(path + ".nowhere", path)
    else:
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.close()


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    """Every case's run, started together."""
    behaviours: dict[str, Behaviour] = {s.name: s.behaviour for s in WIRE + BODIES}
    behaviours["wrong-type"] = WRONG_TYPE
    scratch = tempfile.mkdtemp(prefix="dockspec-cli-")
    daemons: list[HostileDaemon] = []
    waits: dict[str, Callable[[], Run]] = {}
    try:
        with black_hole() as port:
            urls: dict[str, str] = {}
            for case in CASES:
                name, _, transport = case.partition("/")
                if name in PATH_KINDS:
                    path = os.path.join(scratch, name + ".sock")
                    _make_path(name, path)
                    urls[case] = "unix://" + path
                elif name == "tcp-black-hole":
                    urls[case] = f"tcp://127.0.0.1:{port}"
                else:
                    daemon = HostileDaemon(behaviours[name], tcp=transport == "tcp")
                    daemons.append(daemon)
                    urls[case] = daemon.url
            # The two that wait out the deadline start first; the rest run two at a
            # time meanwhile, so contention does not count as their time.
            results: dict[str, Run] = {}
            for case in SLOW:
                waits[case] = _spawn(urls[case], scratch)
            fast = [c for c in CASES if c not in SLOW]
            for i in range(0, len(fast), 2):
                batch = {case: _spawn(urls[case], scratch) for case in fast[i : i + 2]}
                results.update({case: wait() for case, wait in batch.items()})
            results.update({case: wait() for case, wait in waits.items()})
        yield results
    finally:
        for daemon in daemons:
            daemon.close()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("case", CASES)
def test_cli_fails_cleanly(runs: dict[str, Run], case: str) -> None:
    run = runs[case]
    assert EXIT_NO_DAEMON == run.status, run
    assert "" == run.stdout
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert lines and lines[0].startswith("dockspec: "), run
    assert all(line.startswith("hint: ") for line in lines[1:]), run
    assert all(ch.isprintable() for ch in lines[0]), run
    assert run.elapsed < DEFAULT_LIMITS.deadline + SLACK, run


# -- names with control characters ----------------------------------------------------------------

HOSTILE_NAMES = ["we\x1b[31mb\x1b[0m", "a\r\nb", "bell\x07", "\u202eevil", "del\x7f", "c1\x9b2J"]


@pytest.fixture(scope="module")
def named() -> Iterator[dict[str, Run]]:
    body = json.dumps([
        {"Id": f"{i:064x}", "Names": ["/" + name], "Image": "img\x1b]0;title\x07",
         "Ports": [{"IP": "0.0.0.0", "PublicPort": 18500 + i, "Type": "tcp"}]}
        for i, name in enumerate(HOSTILE_NAMES)
    ]).encode()
    daemon = HostileDaemon(reply_with(http_response(200, body, DOCKER_HEADERS)))
    home = tempfile.mkdtemp(prefix="dockspec-cli-")
    try:
        text, as_json = _spawn(daemon.url, home), _spawn(daemon.url, home, "--json")
        yield {"text": text(), "json": as_json()}
    finally:
        daemon.close()
        shutil.rmtree(home, ignore_errors=True)


def test_cli_json_keeps_names_verbatim(named: dict[str, Run]) -> None:
    run = named["json"]
    assert 0 == run.status, run
    assert sorted(HOSTILE_NAMES) == sorted(row["name"] for row in json.loads(run.stdout))
    assert run.stdout.isascii()


def test_cli_text_output_escapes_control_characters(named: dict[str, Run]) -> None:
    """No C0/C1 control, DEL or bidi override reaches the terminal from a daemon's names or images."""
    run = named["text"]
    assert 0 == run.status, run
    bidi = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
    for line in run.stdout.splitlines():
        assert all(ch.isprintable() and ch not in bidi for ch in line), repr(line)
    assert len(run.stdout.splitlines()) == 1 + len(HOSTILE_NAMES)
