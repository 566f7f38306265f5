"""Other labels, for callers who ask (issue 13): off by default, all of them, or the names asked for.

Both decoders must agree on every body; the expected labels are read from
the body with json.loads here (the test's own reading, not the parser's).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockspec import ContainerInfo, Env, aio, detect_containers, parse_containers_json, parse_containers_json_strict
from dockspec.containers import parse_list
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response
from tests.helpers import spec_with_endpoints_under

ID = "e" * 64
FIXTURES = Path(__file__).resolve().parents[1] / "spec" / "fixtures"


def body_with(labels_json: str, shape: str = "docker") -> bytes:
    if shape == "docker":
        text = f'[{{"Id":"{ID}","Names":["/x"],"Image":"i","Labels":{labels_json},"Ports":[]}}]'
    else:
        text = f'[{{"Id":"{ID}","Names":["x"],"Image":"i","Labels":{labels_json},"Ports":null}}]'
    return text.encode()


def parsed(body: bytes, shape: str | None, labels: Any) -> tuple[ContainerInfo, ...]:
    """The containers by each decoder, bytes and text alike (they must agree)."""
    stdlib = parse_list(body, shape, decoder="stdlib", labels=labels)
    fast = parse_list(body, shape, decoder="fast", labels=labels)
    assert stdlib == fast
    assert parse_list(body.decode(), None, decoder="fast", labels=labels) == stdlib
    return stdlib.containers


def string_labels(labels: object) -> dict[str, str]:
    return {k: v for k, v in labels.items() if isinstance(v, str)} if isinstance(labels, dict) else {}


def recorded_bodies() -> list[tuple[str, str, bytes]]:
    found = []
    for path in sorted(FIXTURES.glob("*-containers.yaml")):
        doc = yaml.safe_load(path.read_text())
        found.append((doc["id"], doc["shape"], doc["response"]["body"].encode()))
    return found


@pytest.mark.parametrize(("name", "shape", "body"), recorded_bodies(), ids=[r[0] for r in recorded_bodies()])
def test_recorded_answers_carry_the_labels_asked_for(name: str, shape: str, body: bytes) -> None:
    items = json.loads(body)
    every = {item["Id"]: string_labels(item.get("Labels")) for item in items}
    assert all(info.labels == () for info in parsed(body, shape, False))  # the default reads no other label
    for info in parsed(body, shape, True):
        assert dict(info.labels) == every[info.id]
        assert [k for k, _ in info.labels] == sorted(every[info.id])
    wanted = ["com.docker.compose.service", "no.such.label"]
    for info in parsed(body, shape, wanted):
        assert dict(info.labels) == {k: v for k, v in every[info.id].items() if k in wanted}
        assert info.label("com.docker.compose.service") == every[info.id].get("com.docker.compose.service")
        assert info.label("no.such.label") is None


def test_the_default_map_equals_the_one_before_labels() -> None:
    """Asking for no label (False, or no names) gives the ContainerInfo of the default parse, equal and hashable."""
    body = body_with('{"a":"1","com.docker.compose.project":"p"}')
    default = parsed(body, "docker", False)
    assert parsed(body, "docker", []) == default
    assert parsed(body, "docker", ()) == default
    (info,) = default
    assert (info.labels, info.compose is not None) == ((), True)
    (labelled,) = parsed(body, "docker", True)
    assert labelled != info  # the labels take part in equality, as compose does
    assert len({labelled, info}) == 2  # and stay hashable


@pytest.mark.parametrize("shape", ["docker", "libpod"])
@pytest.mark.parametrize(
    "labels_json",
    [
        "null", "[]", '"x"', "1", '{}',
        '{"n":1,"f":1.5,"b":true,"z":null,"o":{"k":"v"},"l":["v"],"s":"kept"}',
        '{"deep":' + "[" * 200 + "]" * 200 + ',"s":"kept"}',
        '{"s":"a","s":"b"}',  # a key twice: json.loads and msgspec both keep the last
        '{"ctl":"a\\u001b[2Jb\\r\\n","uni":"\\u00e9\\ud83d\\ude00"}',
        '{"lone":"\\ud800"}',  # a lone surrogate: msgspec refuses it, the stdlib path decides
    ],
)
def test_hostile_labels_never_break_a_parse(labels_json: str, shape: str) -> None:
    expected = string_labels(json.loads(labels_json))
    (info,) = parsed(body_with(labels_json, shape), shape, True)
    assert dict(info.labels) == expected
    (info,) = parsed(body_with(labels_json, shape), shape, ["s", "n"])
    assert dict(info.labels) == {k: v for k, v in expected.items() if k in ("s", "n")}


@pytest.mark.parametrize("bad", ["com.docker.compose.project", [1], [None], 3, [("a", "1")], None])
def test_a_bad_choice_is_a_type_error(bad: Any) -> None:
    """A bare string (one name, not a collection of them), non-string names, anything but a bool or a collection."""
    body = body_with('{"a":"1"}')
    with pytest.raises(TypeError):
        parse_list(body, "docker", labels=bad)
    with pytest.raises(TypeError):
        parse_containers_json(body, "docker", labels=bad)  # the lenient parse forgives bodies, not its caller


def test_the_public_parsers_and_detection_carry_labels() -> None:
    items = [{"Id": ID, "Names": ["/web"], "Image": "bb", "Labels": {"team": "db", "tier": "1"},
              "Ports": [{"IP": "0.0.0.0", "PublicPort": 18099, "PrivatePort": 80, "Type": "tcp"}]}]
    body = json.dumps(items)
    for port_map in (parse_containers_json(body, labels=["team"]), parse_containers_json_strict(body, labels=["team"])):
        assert [info.labels for info in port_map.values()] == [(("team", "db"),)]
    spec = spec_with_endpoints_under("{home}")
    with fake_daemon({("GET", "/containers/json"): http_response(200, body, DOCKER_HEADERS)}) as daemon:
        env = Env(platform="linux", uid=None, home=None, environ={"DOCKER_HOST": daemon.url})
        assert [i.labels for i in detect_containers(env=env, spec=spec).values()] == [()]
        sync = detect_containers(env=env, spec=spec, labels=True)
        ours = asyncio.run(aio.detect_containers(env=env, spec=spec, labels=True))
    assert sync == ours
    assert [i.labels for i in sync.values()] == [(("team", "db"), ("tier", "1"))]
