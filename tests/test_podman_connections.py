"""Podman connection URIs (CONTAINER_HOST, containers.conf, podman-connections.json) as endpoints.

The selection rules are vectors (spec/vectors/contexts.yaml); the address
grammar's hostile values are in test_addresses.py.
"""

from __future__ import annotations

import pytest

from dockspec import Env, builtin_spec
from dockspec.contexts import ContextError, StaticFiles, podman_connection_endpoint, select

SPEC = builtin_spec()


@pytest.mark.parametrize(
    ("uri", "url", "transport", "address"),
    [
        ("unix:///run/podman/podman.sock", "unix:///run/podman/podman.sock", "unix", "/run/podman/podman.sock"),
        ("tcp://127.0.0.1:8888", "tcp://127.0.0.1:8888", "tcp", "127.0.0.1:8888"),
        ("tcp://127.0.0.1:8888/", "tcp://127.0.0.1:8888", "tcp", "127.0.0.1:8888"),
        (
            "ssh://core@127.0.0.1:5022/run/user/501/podman/podman.sock?secure=True",
            "ssh://core@127.0.0.1:5022/run/user/501/podman/podman.sock",
            "ssh",
            "core@127.0.0.1:5022/run/user/501/podman/podman.sock",
        ),
    ],
)
def test_podman_uris(uri: str, url: str, transport: str, address: str) -> None:
    endpoint = podman_connection_endpoint(uri, "connection:x")
    assert (endpoint.url, endpoint.transport, endpoint.address, endpoint.engine) == (url, transport, address, "podman")


@pytest.mark.parametrize("uri", ["http://x", "unix://", "tcp://", "ssh:///path", "nothing"])
def test_bad_podman_uris_are_context_errors(uri: str) -> None:
    with pytest.raises(ContextError):
        podman_connection_endpoint(uri, "connection:x")


def test_static_files_select_nothing_without_files() -> None:
    assert select(Env(home="/h", uid=1000), SPEC, StaticFiles()).explicit == ()
