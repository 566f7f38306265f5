"""Check one recorded /events line (spec/fixtures/*-events.yaml) against what the recorder did."""

from __future__ import annotations

from typing import Any

from dockspec.events import parse_event


def check(case: dict[str, Any]) -> None:
    event = parse_event(str(case["line"]).encode())
    assert event is not None, "a container event"
    assert {"action": event.action, "id": event.id, "name": event.name} == case["expect"]
