"""Shared test helpers: feeding bytes to the sans-IO reader three ways."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from dockspec import Spec, builtin_spec
from dockspec._http import Response, ResponseReader
from dockspec.models import DEFAULT_LIMITS, Limits


def _run(chunks: list[bytes], limits: Limits, method: str) -> Response:
    reader = ResponseReader(method, limits)
    for chunk in [*chunks, b""]:
        result = reader.feed(chunk)
        if result is not None:
            return result
    raise AssertionError("reader wanted more data after EOF")


def split_ways(data: bytes) -> Iterator[list[bytes]]:
    """The same bytes whole, byte by byte, and in two uneven halves (h11's tr())."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    yield [data[: len(data) // 3], data[len(data) // 3 :]]


def feed_three_ways(data: bytes, limits: Limits = DEFAULT_LIMITS, method: str = "GET") -> Response:
    """Feed `data` whole, byte by byte and split; all three must give the same Response."""
    results = [_run(chunks, limits, method) for chunks in split_ways(data)]
    assert results[0] == results[1] == results[2]
    return results[0]


def spec_with_endpoints_under(*prefixes: str) -> Spec:
    """The builtin spec with only the table entries whose template starts with a prefix.

    Unit tests keep the machine's real daemons (/var/run/docker.sock, ...) out
    by keeping only entries under {home} or {xdg_runtime_dir}.
    """
    spec = builtin_spec()
    return attrs.evolve(spec, endpoints=tuple(e for e in spec.endpoints if e.template.startswith(prefixes)))
