"""Remote daemons never name local sockets (issue 12), against a daemon in a network namespace the test makes.

The test (run as root) makes a network namespace and a veth pair: the host
side gets 10.250.N.1, an address of this host's interfaces, the namespace
side 10.250.N.2, which is no address of this host (another host, as far as
this one's network stack knows). A fake daemon in the namespace (remote)
and one on the host side's address (local, the control) both list a
container publishing a port a root listener of this test holds.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from dockspec._io.hostaddrs import host_addresses
from dockspec.cli import main
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response, served_as
from tests.hostile.measure import measure

DEADLINE = 3.0 + 2.5


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _drop(*args: str) -> None:
    subprocess.run(["ip", *args], check=False, capture_output=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[tuple[str, str, str]]:
    """(namespace name, this host's side address, the namespace's address); removed afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    n = 1 + os.getpid() % 250
    name, host_if, ns_if = f"dstrust{n}", f"dsvh{n}", f"dsvn{n}"
    local, remote = f"10.250.{n}.1", f"10.250.{n}.2"
    _drop("netns", "del", name)  # an earlier run's leftovers
    _drop("link", "del", host_if)
    try:
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{local}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{remote}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        host_addresses.cache_clear()  # the host side's address is new
        yield name, local, remote
    finally:
        _drop("link", "del", host_if)
        _drop("netns", "del", name)
        host_addresses.cache_clear()


def _routes(port: int) -> dict[tuple[str, str], bytes]:
    body = [{"Id": "7" * 64, "Names": ["/far"], "Image": "img:1", "State": "running", "Labels": {},
             "Ports": [{"IP": "", "PublicPort": port, "PrivatePort": 80, "Type": "tcp"}]}]
    return {("GET", "/containers/json"): http_response(200, json.dumps(body), DOCKER_HEADERS)}


def _cli(label: str, args: list[str], url: str) -> tuple[int, Any]:
    out, err = io.StringIO(), io.StringIO()
    got = measure(label, lambda: main([*args, "--json"], {"DOCKER_HOST": url}, out, err), default_limits=True)
    assert got.elapsed < DEADLINE, got
    assert isinstance(got.value, int) and "Traceback" not in err.getvalue(), (got, err.getvalue())
    return got.value, json.loads(out.getvalue())


def _outcomes(url: str, port: int) -> tuple[Any, ...]:
    _, endpoints = _cli("endpoints: a tcp daemon", ["endpoints"], url)
    _, ps = _cli("ps: a tcp daemon", ["ps"], url)
    who, found = _cli("who: a tcp daemon", ["who", str(port)], url)
    _, rows = _cli("ports: a tcp daemon", ["ports"], url)
    (row,) = [r for r in rows if r["port"] == port and r["pid"] == os.getpid()]
    named = row["container"]["name"] if row["container"] else None
    return endpoints[0]["local"], [c["name"] for c in ps], who, [c["name"] for c in found], named


def test_a_remote_daemon_is_listed_but_names_no_local_socket(netns: tuple[str, str, str], root_listener: int) -> None:
    name, _, remote = netns
    with served_as(0, 0, _routes(root_listener), netns=name, tcp=True, host=remote) as url:
        assert url.startswith(f"tcp://{remote}:")
        assert (False, ["far"], 1, [], None) == _outcomes(url, root_listener)


def test_a_tcp_daemon_on_an_address_of_this_host_is_local(netns: tuple[str, str, str], root_listener: int) -> None:
    _, local, _ = netns
    with fake_daemon(_routes(root_listener), tcp=True, host=local) as daemon:
        assert (True, ["far"], 0, ["far"], "far") == _outcomes(daemon.url, root_listener)
    with fake_daemon(_routes(root_listener), tcp=True) as loopback:
        assert (True, ["far"], 0, ["far"], "far") == _outcomes(loopback.url, root_listener)
