"""Check one observed holder (spec/vectors/holders.yaml) through dockspec.sockets.attribute."""

from __future__ import annotations

from typing import Any

from dockspec.models import ContainerInfo, ContainerPortMap, PortKey, Protocol
from dockspec.sockets import HostSocket, attribute
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    sock = case["socket"]
    infos: dict[str, ContainerInfo] = {}

    def info(name: str) -> ContainerInfo:
        return infos.setdefault(name, ContainerInfo(f"{len(infos) + 1:064x}", name, "bb:latest", daemon="unix:///d"))

    bindings: dict[PortKey, ContainerInfo] = {
        (ip, int(port), Protocol(proto)): info(str(name)) for ip, port, proto, name in case["bindings"]
    }
    stored = case.get("storage")
    stored_info = info(str(stored)) if stored else None
    host = HostSocket(Protocol(sock["protocol"]), str(sock["ip"]), int(sock["port"]), 4242, str(sock["process"]),
                      tuple(str(a) for a in case["cmdline"]))

    def rootless(pid: int, name: str) -> ContainerInfo | None:
        assert (pid, name) == (4242, host.process)
        return stored_info

    got = attribute(host, ContainerPortMap(bindings), {i.id: i for i in infos.values()}, builtin_spec(), rootless)
    expect = case["expect"]
    assert expect == (None if got.container is None else {"container": got.container.name, "via": got.via})
