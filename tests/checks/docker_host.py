"""Check one DOCKER_HOST vector: the docker CLI's answer, literal in the YAML."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dockspec import InvalidDockerHost, parse_docker_host
from dockspec._generated.models import PlatformValue
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    spec = builtin_spec()
    defaults = case.get("defaults")
    if defaults:
        rules = attrs.evolve(
            spec.docker_host,
            default_tcp_port=int(defaults["tcp_port"]),
            default_tcp_host=tuple(PlatformValue(platform=p.platform, value=defaults["tcp_host"])
                                   for p in spec.docker_host.default_tcp_host),
        )
        spec = attrs.evolve(spec, docker_host=rules)
    kwargs = {"platform": case.get("platform", "linux"), "tls": bool(case.get("tls", False)), "spec": spec}
    if "error" in case:
        with pytest.raises(InvalidDockerHost) as info:
            parse_docker_host(case["input"], **kwargs)
        assert case["error"] in info.value.message
        if "caret" in case:
            assert case["caret"] == info.value.position
        return
    endpoint = parse_docker_host(case["input"], **kwargs)
    expected = case["expect"]
    actual = {key: getattr(endpoint, key) for key in expected}
    assert expected == actual
