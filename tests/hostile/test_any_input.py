"""The CLI under any input and any output encoding (issue 14, "The CLI").

Every command runs as `python -m dockspec` with PYTHONIOENCODING=ascii (or
latin-1) and LANG=C against a daemon whose answer is parseable but built to
hurt a terminal or an encoder: lone surrogates in names, ids and labels,
bidi overrides, NUL and ESC, 5000 combining marks, astral characters, a
fullwidth IP and a port above 65535 in a binding; and with arguments that
are not UTF-8 (argv bytes 0xff). No traceback, only the encoding's own bytes
on stdout and stderr, a documented exit status, and the good container's
row is printed beside the bad ones. One socket whose attribution raises
leaves that row unnamed, not the table.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakedaemon import DOCKER_HEADERS, FakeDaemon, fake_daemon, http_response

GOOD = {"Id": "a" * 64, "Names": ["/good"], "Image": "bb",
        "Ports": [{"IP": "0.0.0.0", "PublicPort": 47080, "PrivatePort": 80, "Type": "tcp"}]}
HOSTILE = [
    {"Id": "b" * 64, "Names": ["/\ud800surrogate"], "Image": "\udfff",
     "Ports": [{"IP": "0.0.0.0", "PublicPort": 47081, "PrivatePort": 80, "Type": "tcp"}],
     "Labels": {"com.docker.compose.project": "\ud800", "com.docker.compose.service": "\u202eevil"}},
    {"Id": "e" * 64, "Names": ["/x\x00y\x1b[31m"], "Image": "i\r\nj",
     "Ports": [{"IP": "::", "PublicPort": 70000, "Type": "tcp"},
               {"IP": "\uff11\uff12\uff17.0.0.1", "PublicPort": 47083, "Type": "udp"}]},
    {"Id": "f" * 64, "Names": ["/" + "\u0301" * 5000], "Image": "\U0001f600" * 300,
     "Labels": {"com.docker.compose.project": "p", "com.docker.compose.container-number": "\u00b2"}},
    {"Id": "\ud800" * 64, "Names": ["/s"], "Ports": [{"IP": "\ud800", "PublicPort": 47084, "Type": "tcp"}]},
]
STOP = http_response(204, b"", DOCKER_HEADERS)
COMMANDS: list[list[str | bytes]] = [
    ["ps"], ["ps", "--json"], ["who", "47080"], ["who", "47081"], ["who", "127.0.0.1:47083/udp"],
    ["stop", "good"], ["kill", "good"], ["endpoints"], ["endpoints", "--json"], ["ports", "--containers-only"],
    ["ports", "--json"], ["who", "\u00b2"], ["who", b"\xff\xfe"], ["stop", "g\u00f6\u00f6d"],
    ["kill", "--daemon", b"\xff", "good"], [b"\xff"], ["ps", b"--\xff"],
]
DOCUMENTED = {0, 1, 2, 3, 5}


@pytest.fixture(scope="module")
def daemon() -> Iterator[FakeDaemon]:
    routes = {
        ("GET", "/containers/json"): http_response(200, json.dumps([GOOD, *HOSTILE]), DOCKER_HEADERS),
        ("POST", "/containers/good/stop?t=10"): STOP,
        ("POST", "/containers/good/kill"): STOP,
    }
    with fake_daemon(routes) as fake:
        yield fake


def _label(command: list[str | bytes]) -> str:
    return " ".join(part if isinstance(part, str) else repr(part) for part in command)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("command", COMMANDS, ids=_label)
def test_no_traceback_whatever_the_encoding(daemon: FakeDaemon, command: list[str | bytes], encoding: str) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "DOCKER_HOST": daemon.url,
           "PYTHONIOENCODING": encoding, "LANG": "C", "LC_ALL": "C"}
    result = subprocess.run([sys.executable, "-m", "dockspec", *command], capture_output=True, env=env,
                            timeout=60, check=False)
    assert b"Traceback" not in result.stderr, result.stderr.decode("ascii", "backslashreplace")
    assert result.returncode in DOCUMENTED, result
    result.stdout.decode(encoding)  # only the encoding's own bytes
    result.stderr.decode(encoding)
    if encoding == "ascii":
        assert result.stdout.isascii() and result.stderr.isascii()
    if command in (["ps"], ["ps", "--json"]):
        assert 0 == result.returncode
        out = result.stdout.decode(encoding)
        assert "good" in out and "\\ud800surrogate" in out  # the good row and the escaped bad ones
        if command == ["ps"]:
            assert len(out.splitlines()) == 1 + 1 + len(HOSTILE)
            assert "\\u202e" in out and "\\x1b" in out and "\x1b" not in out
    if command == ["who", "47081"]:
        assert (0, True) == (result.returncode, b"\\ud800surrogate" in result.stdout)


def test_one_socket_whose_attribution_raises_is_an_unnamed_row(
    daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket whose evidence cannot be read (attribute() raising for one socket) stays unnamed; the rest print."""
    pytest.importorskip("psutil")
    import dockspec.sockets
    from dockspec.cli import main
    from dockspec.models import Protocol
    from dockspec.sockets import HostSocket

    sockets = [HostSocket(Protocol.TCP, "0.0.0.0", port, 4242, "docker-proxy", uid=0) for port in (47080, 47081, 47099)]
    real = dockspec.sockets.attribute

    def attribute(sock: HostSocket, *args: object, **kwargs: object) -> object:
        if sock.port == 47081:
            raise RuntimeError("evidence that cannot be read")
        return real(sock, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dockspec.sockets, "host_sockets", lambda: sockets)
    monkeypatch.setattr(dockspec.sockets, "attribute", attribute)
    for args in (["ports"], ["ports", "--json"]):
        out, err = io.StringIO(), io.StringIO()
        assert 0 == main(args, {"DOCKER_HOST": daemon.url, "HOME": "/nonexistent"}, out, err), err.getvalue()
        if args == ["ports"]:
            rows = [line.split() for line in out.getvalue().splitlines()[1:]]
            assert [["tcp", "0.0.0.0:47080", "4242", "root", "docker-proxy", "good", "bb"],
                    ["tcp", "0.0.0.0:47081", "4242", "root", "docker-proxy", "-", "-"],
                    ["tcp", "0.0.0.0:47099", "4242", "root", "docker-proxy", "-", "-"]] == rows
        else:
            assert [("good",), None, None] == [
                (r["container"]["name"],) if r["container"] else None for r in json.loads(out.getvalue())]
