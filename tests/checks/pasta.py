"""Check pasta command lines and -t/-u values (spec/vectors/pasta.yaml) against dockspec.pasta and sockets."""

from __future__ import annotations

from typing import Any

import pytest

from dockspec.errors import InvalidAddress
from dockspec.models import Protocol
from dockspec.pasta import flag_values, parse_forward
from dockspec.sockets import HostSocket, helper_for, pasta_publishes
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    if "forward" in case:
        _check_forward(str(case["forward"]), case["expect"])
        return
    spec = builtin_spec()
    cmdline = tuple(str(a) for a in case["cmdline"])
    for name in ("pasta", "pasta.avx2", "pasta.avx512"):
        helper = helper_for(name, spec)
        assert helper is not None and helper.netns_flag
        netns = flag_values(cmdline, [helper.netns_flag])
        assert case["netns"] == (netns[0] if len(netns) == 1 else None)
        for sock in case["sockets"]:
            host = HostSocket(Protocol(sock["protocol"]), str(sock["ip"]), int(sock["port"]), 1, name, cmdline)
            assert sock["publishes"] == pasta_publishes(helper, host), sock


def _check_forward(text: str, expect: dict[str, Any]) -> None:
    if "error" in expect:
        with pytest.raises(InvalidAddress) as info:
            parse_forward(text)
        assert (expect["error"], expect["position"]) == (info.value.message, info.value.position)
        return
    got = parse_forward(text)
    assert expect == {
        "address": got.address,
        **({"interface": got.interface} if got.interface is not None else {}),
        "every": got.every,
        "include": [[r.first, r.last] for r in got.include],
        "exclude": [[r.first, r.last] for r in got.exclude],
    }
