"""Check one recorded or hand-checked /containers/json fixture, through both decoders."""

from __future__ import annotations

from typing import Any

from dockspec import DEFAULT_LIMITS, Compose, ContainerInfo, Protocol, builtin_spec
from dockspec.containers import parse_list


def expected_compose(entry: dict[str, Any]) -> Compose | None:
    """An expect entry's `compose: {project, service, number}`; no key means the labels name no project."""
    compose = entry.get("compose")
    if compose is None:
        return None
    assert set(compose) == {"project", "service", "number"}, compose
    return Compose(compose["project"], compose["service"], compose["number"])


def expected_bindings(case: dict[str, Any]) -> dict[tuple[str | None, int, Protocol], ContainerInfo]:
    """The fixture's literal expect list as a port-map dict."""
    return {
        (e["ip"], int(e["port"]), Protocol(e["protocol"])): ContainerInfo(
            e["id"], e["name"], e["image"], compose=expected_compose(e)
        )
        for e in case["expect"]
    }


def check(case: dict[str, Any]) -> None:
    """The stdlib and the msgspec decoder both give the fixture's expected map, and the same containers."""
    body = case["response"]["body"].encode("utf-8")
    expected = expected_bindings(case)
    stdlib = parse_list(body, case["shape"], decoder="stdlib")
    assert expected == stdlib.bindings
    from dockspec.containers import _fast_wire, _parse_fast

    fast = _parse_fast(_fast_wire(), body, case["shape"], builtin_spec(), DEFAULT_LIMITS, None)
    assert fast is not None, "the fast decoder handed a recorded answer back to the stdlib path"
    assert expected == fast.bindings
    assert stdlib == fast
    assert list(stdlib.bindings) == list(fast.bindings), "same bindings in the same order"
    assert parse_list(body, case["shape"], decoder="fast") == stdlib
    # Telling the shape from the body: both decoders tell it alike.
    assert parse_list(body, decoder="fast") == parse_list(body, decoder="stdlib")

