"""dockspec.events: event lines, the line cap, one container's bindings replaced, the merged view."""

from __future__ import annotations

import json

import pytest

from dockspec.errors import InvalidResponse
from dockspec.events import (
    EventLines,
    MergedView,
    apply_bindings,
    events_target,
    late_headers,
    parse_event,
    relist_target,
)
from dockspec.models import ContainerInfo, ContainerPortMap, Limits, Protocol

TCP, UDP = Protocol.TCP, Protocol.UDP
ID = "a" * 64


def line(action: str, cid: str = ID, name: str | None = "web", kind: str = "container") -> bytes:
    attrs = {"image": "bb"} if name is None else {"image": "bb", "name": name}
    event = {"Type": kind, "Action": action, "Actor": {"ID": cid, "Attributes": attrs}, "timeNano": 5}
    return json.dumps(event).encode()


def test_docker_1_52_shape_without_legacy_fields() -> None:
    event = parse_event(line("start"))
    assert event is not None
    assert (event.action, event.effect, event.id, event.name, event.time_nano) == ("start", "relist", ID, "web", 5)


@pytest.mark.parametrize(
    ("action", "effect"),
    [("die", "drop"), ("died", "drop"), ("destroy", "drop"), ("remove", "drop"), ("stop", "drop"),
     ("kill", "ignore"), ("rename", "relist"), ("pause", "relist"), ("unpause", "relist"),
     ("exec_died", "ignore"), ("exec_die", "ignore"), ("health_status: healthy", "ignore"), ("create", "ignore")],
)
def test_effects(action: str, effect: str) -> None:
    event = parse_event(line(action))
    assert event is not None and event.effect == effect


def test_other_types_are_none() -> None:
    assert parse_event(line("pull", kind="image")) is None


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[1]", b'"x"', b'{"Type":"container","Action":1,"Actor":{"ID":"x"}}',
     b'{"Type":"container","Action":"die","Actor":{"ID":""}}', b'{"Type":"container","Action":"die"}',
     b"[" * 40 + b"]" * 40, b'{"Type":"container","a":' + b"[" * 17 + b"]" * 17 + b"}"],
)
def test_broken_lines_are_invalid_response(raw: bytes) -> None:
    with pytest.raises(InvalidResponse):
        parse_event(raw)


def test_brackets_inside_strings_do_not_count() -> None:
    assert parse_event(line("start", name="[" * 100)) is not None


def test_line_cap() -> None:
    limits = Limits(max_event_bytes=100)
    with pytest.raises(InvalidResponse):
        parse_event(line("start", name="x" * 200), limits=limits)
    lines = EventLines(limits)
    assert lines.feed(b"ab") == []
    assert lines.feed(b"c\n\nde") == [b"abc"]
    assert lines.feed(b"f\n") == [b"def"]
    with pytest.raises(InvalidResponse):
        for _ in range(200):
            lines.feed(b"x")
    with pytest.raises(InvalidResponse):
        EventLines(limits).feed(b"x" * 101 + b"\n")


def test_targets() -> None:
    target = events_target()
    assert target.startswith("/events?filters=%7B%22type%22%3A%5B%22container%22%5D")
    assert "died" in target and "destroy" in target and "remove" in target
    assert relist_target("/containers/json", "ab") == "/containers/json?filters=%7B%22id%22%3A%5B%22ab%22%5D%7D"
    assert relist_target("/x?all=1", "ab").startswith("/x?all=1&filters=")


def test_late_headers_ranges() -> None:
    assert late_headers("podman", "5.2.1")
    assert late_headers("podman", "2.0.4")
    assert not late_headers("podman", "4.3.1")
    assert not late_headers("podman", "5.8.6")
    assert not late_headers("docker", "5.2.1")
    assert not late_headers("podman", None)


def info(cid: str, name: str, daemon: str = "d1") -> ContainerInfo:
    return ContainerInfo(cid, name, "bb", daemon=daemon)


def test_apply_bindings_adds_replaces_and_drops() -> None:
    a, b = info("a", "web"), info("b", "db")
    base = ContainerPortMap({(None, 80, TCP): a, (None, 81, TCP): a, (None, 5432, TCP): b})
    dropped = apply_bindings(base, "d1", "a", {})
    assert dict(dropped.port_map) == {(None, 5432, TCP): b}
    assert dropped.removed == (((None, 80, TCP), a), ((None, 81, TCP), a)) and dropped.added == ()
    assert dict(base) == {(None, 80, TCP): a, (None, 81, TCP): a, (None, 5432, TCP): b}  # immutable
    renamed = info("a", "web2")
    back = apply_bindings(dropped.port_map, "d1", "a", {(None, 80, TCP): renamed, (None, 5432, TCP): renamed})
    assert dict(back.port_map) == {(None, 80, TCP): renamed, (None, 5432, TCP): b}  # b keeps its key
    assert back.added == (((None, 80, TCP), renamed),) and back.removed == ()
    again = apply_bindings(back.port_map, "d1", "a", {(None, 80, TCP): renamed})
    assert again.added == () and again.removed == ()
    same = apply_bindings(again.port_map, "d1", "zzz", {})
    assert same.port_map is again.port_map
    other_daemon = apply_bindings(again.port_map, "d2", "a", {})
    assert dict(other_daemon.port_map) == dict(again.port_map)


def test_merged_view_earlier_daemon_wins_and_shadowed_claims_return() -> None:
    view = MergedView(("d1", "d2"))
    a, b = info("a", "web", "d1"), info("b", "web", "d2")
    first = view.set_daemon("d2", {(None, 80, TCP): b, (None, 53, UDP): b})
    assert len(first.added) == 2
    second = view.set_daemon("d1", {(None, 80, TCP): a})
    assert second.added == (((None, 80, TCP), a),) and second.removed == (((None, 80, TCP), b),)
    third = view.apply("d1", "a", {})
    assert third.added == (((None, 80, TCP), b),) and third.removed == (((None, 80, TCP), a),)
    assert dict(view.merged) == {(None, 80, TCP): b, (None, 53, UDP): b}
    gone = view.set_daemon("d2", {})
    assert dict(gone.port_map) == {} and len(gone.removed) == 2
