"""Hypothesis properties of the parser and the lookup (issue 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockspec import (
    Ambiguous,
    ContainerInfo,
    ContainerPortMap,
    Found,
    InvalidResponse,
    NotFound,
    Protocol,
    lookup_published_container,
    parse_containers_json_strict,
)
from dockspec.models import container_sort_key

pytestmark = pytest.mark.property

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Id", "Names", "Image", "Ports", "IP", "PublicPort", "Type", "host_port", "range", "x"]),
        inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_strict_parser_raises_only_invalid_response_on_text(data: bytes) -> None:
    try:
        parse_containers_json_strict(data)
    except InvalidResponse:
        pass


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, "docker", "libpod"]))
def test_strict_parser_raises_only_invalid_response_on_json(value: Any, shape: str | None) -> None:
    try:
        result = parse_containers_json_strict(json.dumps(value), shape)
    except InvalidResponse:
        return
    for (ip, port, proto), info in result.items():
        assert 1 <= port <= 65535
        assert isinstance(proto, Protocol)
        assert ip is None or isinstance(ip, str)
        assert isinstance(info, ContainerInfo)


containers = st.sampled_from([ContainerInfo(c * 64, c, "img") for c in "abcd"])
keys = st.tuples(st.sampled_from([None, "127.0.0.1", "10.0.0.1", "::1"]), st.integers(1, 6),
                 st.sampled_from(list(Protocol)))


def brute_force(bindings: dict[Any, ContainerInfo], ip: str, port: int, proto: Protocol, fallback: bool) -> Any:
    """The lookup rules written as plainly as possible: scan everything."""
    for (b_ip, b_port, b_proto), info in bindings.items():
        if (b_ip, b_port, b_proto) == (ip, port, proto):
            return Found(info)
    for (b_ip, b_port, b_proto), info in bindings.items():
        if b_ip is None and (b_port, b_proto) == (port, proto):
            return Found(info)
    if fallback:
        owners = sorted({info for (_, p, pr), info in bindings.items() if (p, pr) == (port, proto)},
                        key=container_sort_key)
        if len(owners) == 1:
            return Found(owners[0])
        if owners:
            return Ambiguous(tuple(owners))
    return NotFound()


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(keys, containers, max_size=20),
       st.sampled_from(["127.0.0.1", "10.0.0.1", "::1", "0.0.0.0"]), st.integers(1, 6),
       st.sampled_from(list(Protocol)), st.booleans())
def test_lookup_agrees_with_brute_force(bindings: dict[Any, ContainerInfo], ip: str, port: int,
                                        proto: Protocol, fallback: bool) -> None:
    expected = brute_force(bindings, ip, port, proto, fallback)
    assert expected == lookup_published_container(ContainerPortMap(bindings), (ip, port), proto, fallback)
