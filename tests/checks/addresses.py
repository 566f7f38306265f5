"""Check one boundary vector (spec/vectors/addresses.yaml): the value read, or the InvalidAddress and its caret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dockspec import Env
from dockspec._io.ssh import parse_ssh_url
from dockspec.addresses import parse_host_port, parse_port, parse_port_target
from dockspec.contexts import StaticFiles, select
from dockspec.errors import ContextError, InvalidAddress
from dockspec.spec import builtin_spec


def _port(text: str) -> dict[str, Any]:
    return {"port": parse_port(text)}


def _port_target(text: str) -> dict[str, Any]:
    ip, port, protocol = parse_port_target(text)
    return {"ip": ip, "port": port, "protocol": protocol.value}


def _host_port(text: str) -> dict[str, Any]:
    parsed = parse_host_port(text)
    return {"host": parsed.host, "port": parsed.port}


def _ssh_url(text: str) -> dict[str, Any]:
    target = parse_ssh_url(text)
    return {"user": target.user, "host": target.host, "port": target.port, "path": target.path}


def _container_host(text: str) -> dict[str, Any]:
    env = Env(home="/home/u", uid=1000, environ={"CONTAINER_HOST": text})
    (endpoint,) = select(env, builtin_spec(), StaticFiles()).explicit
    return {"url": endpoint.url, "transport": endpoint.transport}


BOUNDARIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "port": _port,
    "port_target": _port_target,
    "host_port": _host_port,
    "ssh_url": _ssh_url,
    "container_host": _container_host,
}


def check(case: dict[str, Any]) -> None:
    read = BOUNDARIES[case["boundary"]]
    if "error" not in case:
        got = read(case["input"])
        assert case["expect"] == {key: got[key] for key in case["expect"]}
        return
    with pytest.raises((InvalidAddress, ContextError)) as info:
        read(case["input"])
    error = info.value
    message = error.message if isinstance(error, InvalidAddress) else str(error)
    assert case["error"] in message, message
    if "caret" in case:
        assert isinstance(error, InvalidAddress), error
        assert (case["input"], case["caret"]) == (error.value, error.position)
        assert str(error).split("\n")[2].endswith("^")  # the caret line
