"""Check a rootlessport's fds and unix socket lines (spec/vectors/rootlessport.yaml) against dockspec.podman."""

from __future__ import annotations

from typing import Any

from dockspec.podman import ids_of_unix_sockets, netns_from_links, socket_inodes
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    fds = [str(f) for f in case["fds"]]
    netns = netns_from_links(fds, builtin_spec().podman_storage.netns_marker)
    ids = ids_of_unix_sockets(str(case["unix"]).encode(), socket_inodes(fds))
    assert case["expect"] == {"netns": netns, "ids": sorted(ids)}
