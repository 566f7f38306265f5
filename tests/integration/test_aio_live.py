"""dockspec.aio against the real daemons: the same maps as the sync calls, and a real stop.

Expected values come from what the beds' scripts started (containers.json)
and from the engines' own CLIs; the sync calls are the second reference.
"""

from __future__ import annotations

import asyncio

import pytest

from dockspec import Env, StopOutcome, aio, detect_containers, short_container_id
from dockspec.detect import detect_daemons
from tests.integration.conftest import Daemons
from tests.integration.test_discovery_live import Discovery, discovery, ssh_children, tls_env  # noqa: F401
from tests.integration.test_live import DAEMONS, expected_bindings, is_running, run_throwaway

pytestmark = pytest.mark.live

def test_aio_detection_equals_sync_on_each_bed(daemons: Daemons) -> None:
    """No DOCKER_HOST: all three daemons of the bed (as its users reach them), asked at once, give the sync map."""
    env = daemons.detection_env()
    ours = asyncio.run(aio.detect_containers(env=env))
    sync = detect_containers(env=env)
    assert ours == sync
    expected = expected_bindings(daemons)
    assert len(expected) >= 27
    assert {key: ours[key].name for key in expected if key in ours} == expected
    assert {info.daemon for info in ours.values()} >= {
        "unix://" + daemons.env[k] for k in ("DOCKSPEC_DOCKER_SOCK", "DOCKSPEC_PODMAN_SOCK", "DOCKSPEC_ROOTLESS_SOCK")
    }
    detection = asyncio.run(aio.detect_daemons(env=env))
    assert detection.engines == detect_daemons(env=env).engines


@pytest.mark.parametrize(
    ("daemon", "sock"),
    [("docker", "DOCKSPEC_DOCKER_SOCK"), ("podman", "DOCKSPEC_PODMAN_SOCK"),
     ("podman-rootless", "DOCKSPEC_ROOTLESS_SOCK")],
)
def test_aio_detection_equals_sync_on_the_forky_bed(forky: Daemons, daemon: str, sock: str) -> None:
    """Docker 28.5 and Podman 5.8 rootful and rootless, each named by DOCKER_HOST."""
    env = Env(uid=0, home="/nonexistent", environ={"DOCKER_HOST": "unix://" + forky.env[sock]})
    ours = asyncio.run(aio.detect_containers(env=env))
    assert ours == detect_containers(env=env)
    expected = expected_bindings(forky, daemon)
    assert expected
    assert {key: ours[key].name for key in expected if key in ours} == expected


@pytest.mark.parametrize("daemon", DAEMONS)
def test_aio_stop_and_kill_a_throwaway_container(daemons: Daemons, daemon: str) -> None:
    env = daemons.detection_env()
    full_id, name = run_throwaway(daemons, daemon)
    try:
        assert is_running(daemons, daemon, name)
        assert asyncio.run(aio.stop_container(name, env=env)) is StopOutcome.STOPPED
        assert not is_running(daemons, daemon, name)
        assert asyncio.run(aio.stop_container(name, env=env)) is StopOutcome.ALREADY_STOPPED
        daemons.cli(daemon, "start", name)
        assert asyncio.run(aio.stop_container(short_container_id(full_id), force=True, env=env)) is (
            StopOutcome.STOPPED
        )
        assert asyncio.run(aio.stop_container(f"no-such-{name}", env=env)) is StopOutcome.NOT_FOUND
    finally:
        daemons.cli(daemon, "rm", "-f", name, check=False)


def test_aio_over_tls_equals_sync(discovery: Discovery) -> None:  # noqa: F811
    env = tls_env(discovery, discovery["DOCKSPEC_TLS_CLIENT_DIR"])
    ours = asyncio.run(aio.detect_daemons(env=env))
    sync = detect_daemons(env=env)
    assert (ours.port_map, ours.containers, ours.engines) == (sync.port_map, sync.containers, sync.engines)
    assert discovery["DOCKSPEC_TLS_CONTAINER"] in {info.name for info in ours.containers.values()}
    nocert = asyncio.run(aio.detect_daemons(env=tls_env(discovery, discovery["DOCKSPEC_TLS_NOCERT_DIR"])))
    assert not nocert.ok
    assert "no client certificate was offered" in (nocert.reports[0].error or "")


def test_aio_over_ssh_equals_sync(debian12: Daemons, discovery: Discovery) -> None:  # noqa: F811
    """discovery.sh's sshd dials the host's Docker (the Debian 12 bed's)."""
    daemons = debian12
    url = f"ssh://root@{discovery['DOCKSPEC_SSH_BARE_ALIAS']}:{discovery['DOCKSPEC_SSH_PORT']}"
    env = Env(uid=0, home="/nonexistent", environ={"DOCKER_HOST": url})
    ours = asyncio.run(aio.detect_containers(env=env))
    assert ours == detect_containers(env=env)
    expected = expected_bindings(daemons, "docker")
    assert {key: ours[key].name for key in expected if key in ours} == expected
    assert ssh_children() == []
