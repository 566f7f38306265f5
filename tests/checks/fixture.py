"""Check one recorded or hand-checked /containers/json fixture."""

from __future__ import annotations

from typing import Any

from dockspec import ContainerInfo, Protocol
from dockspec.containers import parse_list


def expected_bindings(case: dict[str, Any]) -> dict[tuple[str | None, int, Protocol], ContainerInfo]:
    """The fixture's literal expect list as a port-map dict."""
    return {
        (e["ip"], int(e["port"]), Protocol(e["protocol"])): ContainerInfo(e["id"], e["name"], e["image"])
        for e in case["expect"]
    }


def check(case: dict[str, Any]) -> None:
    body = case["response"]["body"]
    expected = expected_bindings(case)
    actual = parse_list(body.encode("utf-8"), case["shape"]).bindings
    assert expected == actual
