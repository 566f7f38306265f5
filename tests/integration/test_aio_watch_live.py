"""dockspec.aio.watch on the real daemons of both beds (issue 13), as tests/integration/test_watch_live.py does for
`dockspec events --json` (its helpers: the daemons, their CLIs, the throwaway container's command).

Run under the lock: flock /tmp/dockspec-live.lock .venv/bin/python -m pytest -q -m live
A daemon whose bed is not up is skipped (a failure when CI is set).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from dockspec import Env, Protocol, aio
from dockspec.aio import AioWatch
from dockspec.models import ContainerInfo, PortKey
from tests.integration.conftest import DAEMONS as KEYS
from tests.integration.conftest import Daemons
from tests.integration.test_watch_live import CMD, DAEMONS, _restart_rootless, daemon

pytestmark = pytest.mark.live


async def wait_for(live: AioWatch, change: str, port: int, timeout: float = 10.0) -> tuple[PortKey, ContainerInfo]:
    """The first binding on `port` that is `change` (added or removed); fails after `timeout` s."""
    end = asyncio.get_running_loop().time() + timeout
    while (left := end - asyncio.get_running_loop().time()) > 0:
        found = await live.get(left)
        if found is None:
            break
        for key, info in found.added if change == "added" else found.removed:
            if key[1] == port:
                return key, info
    raise AssertionError(f"no {change} binding for port {port} within {timeout} s; errors: {live.errors}")


async def throwaway(cli: tuple[str, ...], *args: str) -> str:
    """Run the engine's CLI without blocking the loop (the watch's task reads meanwhile)."""
    proc = await asyncio.create_subprocess_exec(*cli, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, cwd="/")
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"{cli} {args}: {err.decode()}"
    return out.decode().strip()


@pytest.mark.parametrize(("bed", "key"), DAEMONS, ids=[f"{b}-{k}" for b, k in DAEMONS])
def test_a_started_container_appears_and_its_bindings_leave_when_it_dies(bed: str, key: str) -> None:
    d = daemon(bed, key)
    name = f"dsaiowatch-{os.getpid()}-{key}"
    d.run("rm", "-f", name, check=False)
    url = "unix://" + d.sock

    async def main() -> None:
        async with aio.watch(env=Env(platform="linux", environ={"DOCKER_HOST": url})) as live:
            first = await live.get(5)  # the list: the bed's containers
            assert first is not None and first.added, live.errors
            await throwaway(d.cli, "run", "-d", "--name", name, "-p", f"127.0.0.1:{d.port}:80", d.image, "sh", "-c",
                            CMD)
            cid = await throwaway(d.cli, "inspect", "-f", "{{.Id}}", name)
            key_added, info = await wait_for(live, "added", d.port)
            assert key_added == ("127.0.0.1", d.port, Protocol.TCP)
            assert (info.id, info.name, info.daemon) == (cid, name, url)
            assert live.engines[url] == key.split("-", maxsplit=1)[0]
            assert live.port_map[key_added] == info
            await throwaway(d.cli, "kill", name)
            _, gone = await wait_for(live, "removed", d.port)
            assert gone.id == cid and key_added not in live.port_map
            started = time.monotonic()
            await live.aclose()
            assert time.monotonic() - started < 0.1

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        d.run("rm", "-f", name, check=False)


def test_one_watch_follows_the_three_daemons_of_a_bed_as_its_users_reach_them(daemons: Daemons) -> None:
    """No DOCKER_HOST: the endpoints detection finds (three tasks at least); a throwaway on each daemon appears."""
    ds = {k: daemon(daemons.bed, k) for k in KEYS}
    names = {k: f"dsaiowatch-{os.getpid()}-all-{k}" for k in KEYS}
    for k, d in ds.items():
        d.run("rm", "-f", names[k], check=False)

    async def main() -> None:
        async with aio.watch(env=daemons.detection_env()) as live:
            urls = {e.url for e in live.endpoints}
            assert {"unix://" + d.sock for d in ds.values()} <= urls
            await asyncio.sleep(1.0)  # subscribed and listed
            for k, d in ds.items():
                await throwaway(d.cli, "run", "-d", "--name", names[k], "-p", f"127.0.0.1:{d.port}:80", d.image,
                                "sh", "-c", CMD)
            waiting = {d.port: k for k, d in ds.items()}
            end = asyncio.get_running_loop().time() + 15
            while waiting and (left := end - asyncio.get_running_loop().time()) > 0:
                change = await live.get(left)
                for (_, port, _), info in change.added if change else ():
                    if port in waiting and info.name == names[waiting[port]]:
                        assert info.daemon == "unix://" + ds[waiting.pop(port)].sock
            assert not waiting, (waiting, live.errors)

    try:
        asyncio.run(asyncio.wait_for(main(), 90))
    finally:
        for k, d in ds.items():
            d.run("rm", "-f", names[k], check=False)


@pytest.mark.parametrize("bed", ["debian12", "forky"])
def test_a_watch_follows_a_daemon_killed_and_restarted(bed: str) -> None:
    """The rootless Podman service killed and started again (test_watch_live's helper) under a running aio.watch."""
    d = daemon(bed, "podman-rootless")
    name = f"dsaiowatch-{os.getpid()}-restart"
    d.run("rm", "-f", name, check=False)
    url = "unix://" + d.sock

    async def main() -> None:
        async with aio.watch(env=Env(platform="linux", environ={"DOCKER_HOST": url})) as live:
            assert await live.get(5) is not None, live.errors  # listed
            await asyncio.to_thread(_restart_rootless, d)  # the test's thread (the helper blocks), not the watch's
            # the old subscription died with the service: the new container's events can only come over a new one
            await throwaway(d.cli, "run", "-d", "--name", name, "-p", f"127.0.0.1:{d.port}:80", d.image, "sh", "-c",
                            CMD)
            _, info = await wait_for(live, "added", d.port, timeout=15)
            assert info.name == name
            await throwaway(d.cli, "rm", "-f", name)
            await wait_for(live, "removed", d.port)

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        d.run("rm", "-f", name, check=False)
