"""The fast list decoder (`dockspec[fast]`): msgspec structs instead of json.loads + dicts.

The structs are generated from spec/wire.yaml's field table
(dockspec._generated.wire), so the wire names stay data. They hold only the
fields the parser reads; msgspec skips every other key while checking that
the JSON is well formed. The loop below applies the same rules as
containers._parse_stdlib, in the same order, to typed values.

Same result as the stdlib path for every body. `parse` returns None, and the
stdlib path then decides, whenever the two could disagree:

- msgspec refuses the body (a DecodeError or ValidationError, a wrong type,
  Unicode it cannot encode, nesting past its recursion budget). The stdlib
  rules then name what is wrong, or accept what they accept and msgspec does
  not (NaN or a BOM, a `"Ports": {}` the stdlib loop skips as empty, a
  wrongly typed field after the first usable name, ...).
- the body is not valid UTF-8 (msgspec does not check strings it skips;
  json.loads does), or is not plain bytes or str.

Where msgspec could accept what json.loads refuses, it is made not to:
bools and floats are not ints to msgspec either (strict mode); invalid UTF-8
is checked here; and msgspec decodes a few Python frames deeper than json's
scanner starts, so its recursion budget is never larger (CPython <= 3.11
counts Python frames and C recursion against one limit;
tests/test_fast_path.py checks the boundary).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

import msgspec

from dockspec._generated.models import Spec
from dockspec._generated.wire import DECODERS, DETECT
from dockspec.containers import (
    _INFO_SETTERS,
    MAX_PORT,
    SKIP,
    SKIP_UNKNOWN,
    ParsedList,
    _Keys,
    _keys,
    _no_set,
    _too_many,
    ip_key,
)
from dockspec.models import ContainerInfo, Limits, PortKey

__all__ = ["parse"]

_REFUSED = (msgspec.DecodeError, ValueError, TypeError, RecursionError)


def _decode_5(decode: Callable[[Any], Any], body: bytes | str) -> Any:
    return _decode_4(decode, body)


def _decode_4(decode: Callable[[Any], Any], body: bytes | str) -> Any:
    return _decode_3(decode, body)


def _decode_3(decode: Callable[[Any], Any], body: bytes | str) -> Any:
    return _decode_2(decode, body)


def _decode_2(decode: Callable[[Any], Any], body: bytes | str) -> Any:
    return _decode_1(decode, body)


def _decode_1(decode: Callable[[Any], Any], body: bytes | str) -> Any:
    return decode(body)


# From parse_list, json's C scanner starts 4 Python frames down (_parse_stdlib,
# json.loads, JSONDecoder.decode, raw_decode) and allows one level less than
# msgspec from the same depth. Starting msgspec 6 frames down (parse and these
# five) leaves it one level less than json.loads: deep bodies it refuses go to
# the stdlib path, and it never accepts one json.loads refuses (checked by
# tests/test_fast_path.py). Python 3.12+ counts C recursion apart from frames.
_decode: Callable[[Callable[[Any], Any], bytes | str], Any] = _decode_5 if sys.version_info < (3, 12) else _decode_1


def parse(body: bytes | str, shape: str | None, spec: Spec, limits: Limits, daemon: str | None) -> ParsedList | None:
    """The ParsedList of `body`, or None when the stdlib path must decide."""
    kind = type(body)
    if kind is bytes:
        if not body.isascii():
            try:
                cast(bytes, body).decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                return None
    elif kind is not str:
        return None
    try:
        if shape is None:
            shape = _detect(_decode(DETECT.decode, body))
        decoder: Any = DECODERS[shape]
        items = _decode(decoder.decode, body)
    except _REFUSED:
        return None
    except KeyError:  # a shape with no generated decoder: the stdlib path says what it is
        return None
    return _collect(items, _keys(spec.wire, shape), limits, daemon)


def _detect(items: list[Any]) -> str:
    """containers.detect_shape on the DETECT structs: the first container with a port list decides."""
    for item in items:
        ports = item.ports
        if ports:
            return "docker" if ports[0].libpod_host_port is msgspec.UNSET else "libpod"
    return "docker"


def _collect(items: list[Any], keys: _Keys, limits: Limits, daemon: str | None) -> ParsedList:
    """containers._parse_stdlib's loop on typed values (msgspec checked every type already).

    With the types known, the cheap skips come first; consecutive entries with
    the same key (Docker's 0.0.0.0 and :: twins) are inserted once, which is
    what setdefault would make of them. The binding cap bounds the expansion
    work, as in the stdlib loop: each usable entry adds its size (1 without a
    range, duplicates and twins included) to a count checked before the entry
    is expanded, so no answer costs more than max_bindings insertions.
    """
    prefix, short, default_proto = keys.name_prefix, keys.short_id_length, keys.default_protocol
    protocols_get = keys.protocols.get
    ip_keys_get = keys.ip_keys.get
    has_range = keys.range is not None
    max_bindings = limits.max_bindings
    work = 0  # bindings the usable entries so far expand to, duplicates included
    bindings: dict[PortKey, ContainerInfo] = {}
    setdefault = bindings.setdefault
    containers: list[ContainerInfo] = []
    append = containers.append
    new = object.__new__
    setters = _INFO_SETTERS
    set_id, set_name, set_image, set_daemon = setters or (_no_set,) * 4
    for item in items:
        container_id: str = item.id
        image = item.image
        if image is None:
            image = ""
        name = ""
        names = item.names
        if names:
            for raw in names:
                name = raw.removeprefix(prefix)
                if name:
                    break
        if not name:
            name = image or container_id[:short]
        if setters is None:
            info = ContainerInfo(container_id, name, image, daemon=daemon)
        else:
            info = new(ContainerInfo)
            set_id(info, container_id)
            set_name(info, name)
            set_image(info, image)
            set_daemon(info, daemon)
        append(info)
        ports = item.ports
        if not ports:
            continue
        last: Any = None
        for port in ports:
            host_port = port.host_port
            if host_port is None or host_port < 1:
                continue
            count = port.range if has_range else None
            if count is None or count == 1:
                if host_port > MAX_PORT:
                    continue
                count = 1
            elif count < 1 or host_port + count - 1 > MAX_PORT:
                continue
            proto_text = port.protocol
            protocol = protocols_get(default_proto if proto_text is None else proto_text)
            if protocol is None:
                continue
            ip = port.host_ip
            if ip is None:
                ip = ""
            key_ip = ip_keys_get(ip, SKIP_UNKNOWN)
            if key_ip is SKIP_UNKNOWN:
                key_ip = ip_key(keys, ip)
            if key_ip is SKIP:
                continue
            work += count
            if work > max_bindings:
                raise _too_many(max_bindings)
            if count == 1:
                key = (key_ip, host_port, protocol)
                if key != last:
                    last = key
                    setdefault(key, info)
            else:
                for number in range(host_port, host_port + count):
                    setdefault((key_ip, number, protocol), info)
    return ParsedList(tuple(containers), bindings)
