"""Compose labels (issue 13): hostile Labels never break a parse, and both decoders agree on them.

The label forms themselves are fixtures (spec/fixtures/hand-compose-*.yaml,
and the recorded answers' dsd-/dsp-/dsr-web); these are the shapes no daemon
sends: Labels of the wrong JSON type, label values that are not strings,
duplicate keys, huge numbers.
"""

from __future__ import annotations

import json

import pytest

from dockspec import Compose, ContainerInfo
from dockspec.containers import compose_of, parse_list

ID = "e" * 64
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
PODMAN_PROJECT = "io.podman.compose.project"


def one(labels_json: str, shape: str = "docker") -> list[ContainerInfo]:
    """The containers of a one-container body whose Labels is `labels_json`, by each decoder (they must agree)."""
    if shape == "docker":
        text = f'[{{"Id":"{ID}","Names":["/x"],"Image":"i","Labels":{labels_json},"Ports":[]}}]'
    else:
        text = f'[{{"Id":"{ID}","Names":["x"],"Image":"i","Labels":{labels_json},"Ports":null}}]'
    stdlib = parse_list(text.encode(), shape, decoder="stdlib")
    fast = parse_list(text.encode(), shape, decoder="fast")
    assert stdlib == fast
    assert parse_list(text, None, decoder="fast") == stdlib
    return list(stdlib.containers)


def compose(labels_json: str, shape: str = "docker") -> Compose | None:
    (info,) = one(labels_json, shape)
    return info.compose


@pytest.mark.parametrize("labels", ['[]', '"x"', "1", "true", "null", '[{"com.docker.compose.project":"p"}]'])
@pytest.mark.parametrize("shape", ["docker", "libpod"])
def test_labels_of_another_type_mean_no_compose(labels: str, shape: str) -> None:
    """A Labels that is not an object is no error: the container is kept, with compose None."""
    assert compose(labels, shape) is None


@pytest.mark.parametrize("value", ["1", "null", "true", '["p"]', '{"p":1}', '""'])
def test_a_project_label_that_is_not_a_non_empty_string_is_absent(value: str) -> None:
    """A wrong-typed or empty com.docker.compose.project falls through to io.podman.compose.project."""
    assert compose(f'{{"{PROJECT}":{value},"{PODMAN_PROJECT}":"pm"}}') == Compose("pm")
    assert compose(f'{{"{PROJECT}":{value}}}') is None


@pytest.mark.parametrize("value", ["1", "null", '["s"]'])
def test_service_and_number_of_another_type_are_none(value: str) -> None:
    assert compose(f'{{"{PROJECT}":"p","{SERVICE}":{value},"{NUMBER}":{value}}}') == Compose("p")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("1", 1),
        ("000000042", 42),
        ("999999999", 999999999),
        ("1000000000", None),  # 10 digits: more than max_number_digits
        ("9" * 100_000, None),  # int() would refuse it (int_max_str_digits); never tried
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("\\u0661", None),  # ARABIC-INDIC DIGIT ONE: str.isdigit, not ASCII
        ("\\u00b9", None),  # SUPERSCRIPT ONE
        ("", None),
    ],
)
def test_number_is_an_int_only_for_ascii_digits(number: str, expected: int | None) -> None:
    assert compose(f'{{"{PROJECT}":"p","{NUMBER}":"{number}"}}') == Compose("p", None, expected)


def test_duplicate_label_keys_decode_alike() -> None:
    """JSON objects with a key twice: both decoders keep the same one (json.loads and msgspec: the last)."""
    got = compose(f'{{"{PROJECT}":"a","{PROJECT}":"b","{SERVICE}":"s","{SERVICE}":"t"}}')
    assert got == Compose("b", "t")


def test_hostile_label_text_is_kept_verbatim() -> None:
    """Control characters and huge values stay as the daemon sent them (the CLI escapes them for a terminal)."""
    big = "p" * 200_000
    assert compose(json.dumps({PROJECT: big, SERVICE: "a\x1b[2Jb\r\n"})) == Compose(big, "a\x1b[2Jb\r\n")


def test_other_labels_are_not_decoded() -> None:
    """Labels dockspec does not read may hold anything, even deep nesting msgspec skips unchecked."""
    deep = "[" * 50 + "]" * 50
    assert compose(f'{{"other":{deep},"x":1.5e999,"{PROJECT}":"p"}}') == Compose("p")


def test_compose_of_reads_a_labels_mapping() -> None:
    assert compose_of({PROJECT: "p", SERVICE: "s", NUMBER: "3", "other": "x"}) == Compose("p", "s", 3)
    assert compose_of({PODMAN_PROJECT: "pm", "io.podman.compose.service": "w"}) == Compose("pm", "w")
    assert compose_of({SERVICE: "s"}) is None
    assert compose_of(None) is None
    assert compose_of(["p"]) is None


def test_compose_str_and_container_equality() -> None:
    assert str(Compose("p", "s", 1)) == "p/s"
    assert str(Compose("p")) == "p"
    assert ContainerInfo(ID, "x", "i") != ContainerInfo(ID, "x", "i", compose=Compose("p"))


@pytest.mark.parametrize("decoder", ["stdlib", "fast"])
def test_the_compose_cache_keeps_no_long_label_text(decoder: str) -> None:
    """Records are cached per wire table, bounded in entries, and only for short label texts."""
    from dockspec import builtin_spec
    from dockspec.containers import MAX_CACHED_LABEL_CHARS, MAX_COMPOSES, _keys

    keys = _keys(builtin_spec().wire, "docker")
    long_text = "L" * (MAX_CACHED_LABEL_CHARS + 1)
    items = [{"Id": f"{i:064x}", "Names": ["/x"], "Labels": {PROJECT: f"p{i}", PODMAN_PROJECT: long_text}}
             for i in range(3)]
    items.append({"Id": "f" * 64, "Names": ["/y"], "Labels": {PROJECT: long_text}})
    parsed = parse_list(json.dumps(items).encode(), "docker", decoder=decoder)
    assert [f"p{i}" for i in range(3)] + [long_text] == [c.compose.project for c in parsed.containers if c.compose]
    cached = list(keys.composes) + [getattr(k, "project_0", None) for k in keys.fast_composes]
    assert all(long_text not in (k if isinstance(k, tuple) else (k,)) for k in cached)
    assert not any(getattr(k, "project_1", None) == long_text for k in keys.fast_composes)
    assert len(keys.composes) <= MAX_COMPOSES and len(keys.fast_composes) <= MAX_COMPOSES
