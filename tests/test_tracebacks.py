"""Issue 14's traceback list, one test each: every input ends in a documented outcome, never a traceback.

(CONTAINER_HOST values are the address grammar's, tested in test_addresses;
a NUL storage id, `"linux": []` and nested configuration files are in
tests/hostile/test_storage.py and tests/hostile/test_files.py.)
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from dockspec import ContainerInfo, ContainerPortMap, Env, Protocol, StopOutcome, builtin_spec, stop_container
from dockspec.cli import main
from dockspec.sockets import Attribution, HostSocket, attribute
from tests.fakedaemon import fake_daemon, http_response

SPEC = builtin_spec()
WEB = ContainerInfo("c" * 64, "web", "nginx:1")
PORT_MAP = ContainerPortMap({(None, 47080, Protocol.TCP): WEB})


@pytest.mark.parametrize("value", ["²", "٤٧٠٨٠", "47080 ", "+47080", "-1", "0", "65536", "9" * 20, ""])
def test_docker_proxy_host_port_that_is_not_a_port(value: str) -> None:
    """`-host-port ²` passed isdigit() and raised in int(): now no helper evidence (then the usual lookups)."""
    sock = HostSocket(Protocol.TCP, "0.0.0.0", 47999, 5, "docker-proxy", ("docker-proxy", "-host-port", value))
    assert Attribution(None, via=None) == attribute(sock, PORT_MAP, {WEB.id: WEB}, SPEC)
    sock = HostSocket(Protocol.TCP, "0.0.0.0", 47999, 5, "docker-proxy", ("docker-proxy", f"-host-port={value}"))
    assert Attribution(None, via=None) == attribute(sock, PORT_MAP, {WEB.id: WEB}, SPEC)


def test_docker_proxy_host_port_that_is_one() -> None:
    sock = HostSocket(Protocol.TCP, "0.0.0.0", 47999, 5, "docker-proxy", ("docker-proxy", "-host-port", "47080"))
    assert Attribution(WEB, via="cmdline-ports") == attribute(sock, PORT_MAP, {WEB.id: WEB}, SPEC)


# A Server header holding byte 0xB2 (latin-1 `²`): version_key refused `²` in int().
B2_HEADERS = [("Server", "Docker/\xb20.10.24 (linux)"), ("Api-Version", "1.41"), ("Content-Type", "application/json")]


def _b2(status: int, body: str = "") -> bytes:
    return http_response(status, body, B2_HEADERS).replace(b"\xc2\xb2", b"\xb2")


LIST = json.dumps([{"Id": WEB.id, "Names": ["/web"], "Image": "nginx:1", "State": "running",
                    "Ports": [{"IP": "0.0.0.0", "PublicPort": 47080, "PrivatePort": 80, "Type": "tcp"}]}])


def _run(*args: str, host: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), {"DOCKER_HOST": host, "HOME": "/nonexistent"}, out, err)
    return status, out.getvalue(), err.getvalue()


def test_version_header_with_byte_b2() -> None:
    routes = {
        ("GET", "/containers/json"): _b2(200, LIST),
        ("POST", "/containers/web/stop?t=10"): _b2(204),
        ("POST", "/containers/web/stop?t=1"): _b2(304),
    }
    with fake_daemon(routes) as fake:
        assert b"\xb2" in routes[("GET", "/containers/json")] and b"\xc2" not in routes[("GET", "/containers/json")]
        status, out, err = _run("ps", host=fake.url)
        assert (0, "") == (status, err)
        assert "web" in out
        assert (0, f"web: stopped (by DOCKER_HOST, {fake.url})\n", "") == _run("stop", "web", host=fake.url)
        env = Env(platform="linux", environ={"DOCKER_HOST": fake.url})
        assert StopOutcome.ALREADY_STOPPED == stop_container("web", timeout=1, env=env)


@pytest.mark.parametrize("value", ["-1", "99999999999999999999", "86401", "1.5", "²", "", " 3"])
def test_stop_time_out_of_range_is_a_usage_error(value: str) -> None:
    """`stop -t -1` and `-t 99999999999999999999`: exit 2 and one usage line, no request sent."""
    with fake_daemon({}) as fake:
        status, _, err = _run("stop", "-t", value, "web", host=fake.url)
        assert [] == fake.requests
    assert 2 == status
    assert "Traceback" not in err
    assert "-t/--time" in err or "--time" in err


@pytest.mark.parametrize("value", ["0", "86400"])
def test_stop_time_in_range_is_sent(value: str) -> None:
    with fake_daemon({("POST", f"/containers/web/stop?t={value}"): http_response(204, "", B2_HEADERS[1:])}) as fake:
        expected = (0, f"web: stopped (by DOCKER_HOST, {fake.url})\n", "")
        assert expected == _run("stop", "-t", value, "web", host=fake.url)


@pytest.mark.parametrize("command", [["ps"], ["ps", "--json"], ["who", "47080"], ["stop", "wéb"]])
def test_ascii_only_stdout(command: list[str]) -> None:
    """PYTHONIOENCODING=ascii and a non-ASCII container name: printed escaped, exit status as usual."""
    body = LIST.replace('"/web"', '"/wéb-名前"')
    routes = {
        ("GET", "/containers/json"): http_response(200, body, B2_HEADERS[1:]),
        ("POST", "/containers/w%C3%A9b/stop?t=10"): http_response(204, "", B2_HEADERS[1:]),
    }
    env = {**os.environ, "DOCKER_HOST": "", "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}
    env.pop("CONTAINER_HOST", None)
    with fake_daemon(routes) as fake:
        env["DOCKER_HOST"] = fake.url
        result = subprocess.run([sys.executable, "-m", "dockspec", *command], capture_output=True, env=env,
                                timeout=60, check=False)
    assert b"Traceback" not in result.stderr, result.stderr.decode("ascii", "replace")
    assert result.stdout.isascii() and result.stderr.isascii()
    if command[0] == "stop":
        return
    assert 0 == result.returncode, result
    if "--json" in command:
        assert "wéb-名前" == json.loads(result.stdout)[0]["name"]
    else:
        assert b"w\\xe9b-\\u540d\\u524d" in result.stdout
