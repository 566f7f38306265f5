"""Lookup: exact, wildcard, proxy fallback; three outcomes a caller can tell apart."""

from __future__ import annotations

import ipaddress

import pytest

from dockspec import Ambiguous, ContainerInfo, ContainerPortMap, Found, NotFound, Protocol, lookup_published_container

A = ContainerInfo("a" * 64, "a", "img")
B = ContainerInfo("b" * 64, "b", "img")
TCP, UDP = Protocol.TCP, Protocol.UDP

MAP = ContainerPortMap({
    ("127.0.0.1", 8080, TCP): A,
    (None, 9090, TCP): B,
    ("::1", 7070, TCP): A,
    ("10.0.0.1", 6060, TCP): A,
    ("10.0.0.2", 6060, TCP): B,
    (None, 53, UDP): B,
})


def test_exact_binding_wins() -> None:
    assert Found(A) == lookup_published_container(MAP, ("127.0.0.1", 8080), TCP)


def test_wildcard_binding_matches_any_address() -> None:
    assert Found(B) == lookup_published_container(MAP, ("192.168.1.5", 9090), TCP)
    assert Found(B) == lookup_published_container(MAP, ("::", 9090), TCP)


def test_protocol_must_match() -> None:
    assert NotFound() == lookup_published_container(MAP, ("0.0.0.0", 53), TCP, allow_proxy_fallback=True)
    assert Found(B) == lookup_published_container(MAP, ("0.0.0.0", 53), UDP)


def test_other_address_needs_the_fallback() -> None:
    """A proxy on 0.0.0.0 for a loopback binding matches only with the fallback."""
    assert NotFound() == lookup_published_container(MAP, ("0.0.0.0", 8080), TCP)
    assert Found(A) == lookup_published_container(MAP, ("0.0.0.0", 8080), TCP, allow_proxy_fallback=True)


def test_fallback_reports_every_candidate() -> None:
    """Two containers on one port: Ambiguous carries both, sorted."""
    assert Ambiguous((A, B)) == lookup_published_container(MAP, ("0.0.0.0", 6060), TCP, allow_proxy_fallback=True)


def test_non_canonical_ipv6_and_mapped_ipv4_match() -> None:
    assert Found(A) == lookup_published_container(MAP, ("0:0:0:0:0:0:0:1", 7070), TCP)
    assert Found(A) == lookup_published_container(MAP, ("::ffff:127.0.0.1", 8080), TCP)


def test_map_is_a_mapping() -> None:
    assert len(MAP) == 6
    assert MAP[("127.0.0.1", 8080, TCP)] == A
    assert MAP.containers() == (A, B)
    assert ContainerPortMap(dict(MAP)) == MAP


def test_addresses_may_be_ipaddress_objects() -> None:
    """What a caller holding ipaddress values passes works as the text would (issue 11's AttributeError)."""
    assert Found(A) == lookup_published_container(MAP, (ipaddress.ip_address("127.0.0.1"), 8080), TCP)
    assert Found(A) == lookup_published_container(MAP, (ipaddress.ip_address("::ffff:127.0.0.1"), 8080), TCP)
    assert Found(A) == lookup_published_container(MAP, (ipaddress.ip_address("10.9.9.9"), 8080), TCP,
                                                  allow_proxy_fallback=True)
    assert NotFound() == lookup_published_container(MAP, (ipaddress.ip_address("10.9.9.9"), 8080), TCP)


@pytest.mark.parametrize("ip", [5, b"127.0.0.1", ["127.0.0.1"], object()])
def test_other_address_types_are_type_errors(ip: object) -> None:
    with pytest.raises(TypeError, match="socket address"):
        lookup_published_container(MAP, (ip, 8080), TCP)  # type: ignore[arg-type]


def test_the_index_is_built_by_the_first_lookup() -> None:
    port_map = ContainerPortMap(dict(MAP))
    assert port_map._index is None
    lookup_published_container(port_map, ("127.0.0.1", 8080), TCP)
    assert port_map._index is not None
