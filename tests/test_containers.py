"""Parsing list answers: the rules of issue 2 on hand-made bodies."""

from __future__ import annotations

import json

import pytest

from dockspec import (
    ContainerInfo,
    InvalidResponse,
    Limits,
    Protocol,
    parse_containers_json,
    parse_containers_json_strict,
    short_container_id,
)
from dockspec.containers import parse_list

ID = "f" * 64


def body(*ports: dict[str, object], names: object = ("/web",), image: object = "img:1") -> bytes:
    return json.dumps([{"Id": ID, "Names": names, "Image": image, "Ports": list(ports)}]).encode()


def test_short_container_id_is_twelve_characters() -> None:
    """The short id is the first 12 characters, or the whole id when shorter."""
    assert short_container_id("abcdef0123456789") == "abcdef012345"
    assert short_container_id("abc") == "abc"


def test_wildcard_twins_collapse_to_one_key() -> None:
    """0.0.0.0 and :: for one port are one binding on every address."""
    result = parse_containers_json(body({"IP": "0.0.0.0", "PublicPort": 80, "Type": "tcp"},
                                        {"IP": "::", "PublicPort": 80, "Type": "tcp"}))
    assert {(None, 80, Protocol.TCP): ContainerInfo(ID, "web", "img:1")} == dict(result)


def test_ipv6_addresses_are_stored_compressed() -> None:
    """An expanded IPv6 host address is stored in its compressed form."""
    result = parse_containers_json(body({"IP": "0:0:0:0:0:0:0:1", "PublicPort": 80, "Type": "tcp"}))
    assert list(result) == [("::1", 80, Protocol.TCP)]


@pytest.mark.parametrize(
    "port",
    [
        {"IP": "0.0.0.0", "PrivatePort": 80, "Type": "tcp"},
        {"IP": "0.0.0.0", "PublicPort": 0, "Type": "tcp"},
        {"IP": "0.0.0.0", "PublicPort": 70000, "Type": "tcp"},
        {"IP": "0.0.0.0", "PublicPort": -5, "Type": "tcp"},
        {"IP": "0.0.0.0", "PublicPort": 80, "Type": "sctp"},
        {"IP": "not-an-ip", "PublicPort": 80, "Type": "tcp"},
    ],
    ids=["unpublished", "zero", "too-high", "negative", "sctp", "bad-ip"],
)
def test_unusable_entries_are_skipped(port: dict[str, object]) -> None:
    """Entries without a usable public port, protocol or address are skipped, not errors."""
    assert dict(parse_containers_json_strict(body(port))) == {}


def test_missing_protocol_means_tcp() -> None:
    assert list(parse_containers_json(body({"PublicPort": 80}))) == [(None, 80, Protocol.TCP)]


@pytest.mark.parametrize(
    ("names", "image", "expected"),
    [(["/a", "/b"], "img", "a"), ([], "img", "img"), (None, "", ID[:12]), (["/"], None, ID[:12])],
)
def test_name_falls_back_to_image_then_short_id(names: object, image: object, expected: str) -> None:
    result = parse_containers_json(body({"PublicPort": 80}, names=names, image=image))
    assert expected == result[(None, 80, Protocol.TCP)].name


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b'{"Id": "x"}',
        b"[1, 2]",
        b'[{"Names": ["/x"]}]',
        b'[{"Id": 5}]',
        b'[{"Id": "x", "Ports": {"a": 1}}]',
        b'[{"Id": "x", "Ports": [{"PublicPort": "80"}]}]',
        b'[{"Id": "x", "Ports": [{"PublicPort": true}]}]',
        b'[{"Id": "x", "Ports": [{"PublicPort": 80, "IP": 5}]}]',
        b'[{"Id": "x", "Names": "x"}]',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["empty", "not-json", "not-utf8", "object", "numbers", "no-id", "int-id", "ports-object",
         "port-string", "port-bool", "ip-int", "names-string", "deep"],
)
def test_unusable_bodies_are_invalid_strict_and_empty_lenient(text: bytes) -> None:
    """Strict raises InvalidResponse; lenient returns an empty map."""
    with pytest.raises(InvalidResponse):
        parse_containers_json_strict(text)
    assert dict(parse_containers_json(text)) == {}


def test_libpod_range_expands_and_stops_at_65535() -> None:
    """A range expands to every port; one that would pass 65535 is skipped."""
    data = json.dumps([{"Id": ID, "Names": ["r"], "Image": "i", "Ports": [
        {"host_ip": "", "host_port": 100, "range": 3, "protocol": "udp"},
        {"host_ip": "", "host_port": 65534, "range": 5, "protocol": "tcp"},
    ]}])
    expected = [(None, 100, Protocol.UDP), (None, 101, Protocol.UDP), (None, 102, Protocol.UDP)]
    assert expected == sorted(parse_containers_json_strict(data, "libpod"), key=lambda k: k[1])


def test_binding_cap_bounds_range_expansion() -> None:
    """Ranges that would expand past the binding cap make the answer invalid."""
    ports = [{"host_ip": f"10.0.{i}.1", "host_port": 1, "range": 60000, "protocol": "tcp"} for i in range(10)]
    data = json.dumps([{"Id": ID, "Names": ["r"], "Image": "i", "Ports": ports}])
    with pytest.raises(InvalidResponse, match="bindings"):
        parse_containers_json_strict(data, "libpod", limits=Limits(max_bindings=100_000))


def libpod_body(*entries: tuple[str, int, int]) -> bytes:
    """One libpod container publishing (host_ip, host_port, range) entries over tcp."""
    ports = [{"host_ip": ip, "host_port": first, "range": count, "protocol": "tcp"} for ip, first, count in entries]
    return json.dumps([{"Id": ID, "Names": ["r"], "Image": "i", "Ports": ports}]).encode()


@pytest.mark.parametrize("decoder", ["stdlib", "fast"])
def test_binding_cap_counts_expansion_work_duplicates_included(decoder: str) -> None:
    """The cap counts what the usable entries expand to, before expanding: overlaps and repeats count."""
    limits = Limits(max_bindings=10)
    at_cap = parse_list(libpod_body(("", 100, 6), ("", 100, 4)), "libpod", limits=limits, decoder=decoder)
    assert len(at_cap.bindings) == 6
    for over in (libpod_body(("", 100, 6), ("", 100, 5)),  # 6 distinct bindings, 11 to expand
                 libpod_body(*[("", 100, 1)] * 11),  # one binding, listed 11 times
                 libpod_body(("", 1, 65535))):  # one entry far past the cap: refused before expanding
        with pytest.raises(InvalidResponse, match="more than 10 bindings"):
            parse_list(over, "libpod", limits=limits, decoder=decoder)


@pytest.mark.parametrize("decoder", ["stdlib", "fast"])
def test_binding_cap_counts_docker_twins(decoder: str) -> None:
    """Docker's 0.0.0.0 and :: twins are one binding but two entries: both count."""
    twins = body({"IP": "0.0.0.0", "PublicPort": 80}, {"IP": "::", "PublicPort": 80})
    assert len(parse_list(twins, "docker", limits=Limits(max_bindings=2), decoder=decoder).bindings) == 1
    with pytest.raises(InvalidResponse, match="bindings"):
        parse_list(twins, "docker", limits=Limits(max_bindings=1), decoder=decoder)


@pytest.mark.parametrize("decoder", ["stdlib", "fast"])
def test_binding_cap_ignores_skipped_entries(decoder: str) -> None:
    """Entries that are skipped (a range past 65535, an address that is not one) cost nothing against the cap."""
    skipped = libpod_body(("", 2, 65535), ("not-an-ip", 1, 65535), ("", 100, 2))
    assert len(parse_list(skipped, "libpod", limits=Limits(max_bindings=2), decoder=decoder).bindings) == 2


def test_conflicting_bindings_keep_the_first() -> None:
    """Two containers claiming one binding: the first in the answer keeps it."""
    data = json.dumps([
        {"Id": "a" * 64, "Names": ["/first"], "Ports": [{"PublicPort": 80}]},
        {"Id": "b" * 64, "Names": ["/second"], "Ports": [{"PublicPort": 80}]},
    ])
    assert parse_containers_json(data)[(None, 80, Protocol.TCP)].name == "first"


def test_parse_list_keeps_containers_without_ports() -> None:
    """Every running container is listed, published ports or not."""
    data = b'[{"Id": "x1", "Names": ["/a"], "Image": "i"}, {"Id": "x2", "Names": ["/b"], "Ports": []}]'
    assert [c.name for c in parse_list(data).containers] == ["a", "b"]


def test_container_info_str() -> None:
    assert str(ContainerInfo("id", "web", "nginx:1")) == "web (nginx:1)"
    assert str(ContainerInfo("id", "web", "")) == "web"
