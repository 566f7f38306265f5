"""DOCKER_HOST edge cases: caret messages, env precedence, rules read from the spec."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockspec import Env, InvalidDockerHost, builtin_spec, parse_docker_host
from dockspec.hosts import endpoint_from_env


def test_caret_points_at_the_bad_port() -> None:
    with pytest.raises(InvalidDockerHost) as info:
        parse_docker_host("tcp://host:port")
    assert "invalid port \":port\" after host\n    tcp://host:port\n              ^" == str(info.value)


def test_caret_points_at_the_space() -> None:
    with pytest.raises(InvalidDockerHost) as info:
        parse_docker_host("  tcp://a b:1")
    assert 9 == info.value.position
    assert "  tcp://a b:1" == info.value.value


def test_unknown_scheme_caret_at_start() -> None:
    with pytest.raises(InvalidDockerHost) as info:
        parse_docker_host("udp://127.0.0.1")
    assert (0, "invalid bind address format: udp://127.0.0.1") == (info.value.position, info.value.message)


def test_env_empty_docker_host_counts_as_unset() -> None:
    assert endpoint_from_env(Env(environ={"DOCKER_HOST": "  "})) is None
    assert endpoint_from_env(Env(environ={})) is None


def test_env_docker_host_with_tls() -> None:
    endpoint = endpoint_from_env(Env(environ={"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"}))
    assert endpoint is not None
    assert ("tcp://h:2376", "h:2376", True, "DOCKER_HOST") == (
        endpoint.url, endpoint.address, endpoint.tls, endpoint.origin)


def test_env_platform_decides_the_default_host() -> None:
    endpoint = endpoint_from_env(Env(platform="windows", environ={"DOCKER_HOST": "tcp://"}))
    assert endpoint is not None
    assert "tcp://127.0.0.1:2375" == endpoint.url


def test_rules_come_from_the_spec() -> None:
    """Another default port or variable in the spec changes the result: nothing is hard-coded."""
    spec = builtin_spec()
    custom = attrs.evolve(spec, docker_host=attrs.evolve(spec.docker_host, default_tcp_port=9999,
                                                         env_vars=("MY_HOST",)))
    assert "tcp://localhost:9999" == parse_docker_host("tcp://", spec=custom).url
    assert endpoint_from_env(Env(environ={"DOCKER_HOST": "tcp://x:1"}), custom) is None
    found = endpoint_from_env(Env(environ={"MY_HOST": "tcp://x:1"}), custom)
    assert found is not None and "MY_HOST" == found.origin


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"(tcp|unix|npipe|ssh|fd|udp)?(://)?[\[\]a-z0-9:./ @%-]{0,20}"))
def test_parse_raises_only_invalid_docker_host(value: str) -> None:
    try:
        endpoint = parse_docker_host(value)
    except InvalidDockerHost:
        return
    assert endpoint.url == parse_docker_host(endpoint.url).url
