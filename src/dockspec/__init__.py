"""dockspec: which container owns this host port?

Talks to Docker and Podman daemons directly, maps every published
(host ip, port, protocol) to its container, stops or kills containers, and
names the helper processes (docker-proxy, conmon, rootlessport) that hold
published sockets. Everything in __all__ is the public API; modules with a
leading underscore are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockspec.containers import parse_containers_json, parse_containers_json_strict, short_container_id
from dockspec.env import Env
from dockspec.errors import (
    AmbiguousContainer,
    ContextError,
    DaemonNotFound,
    DockspecError,
    InvalidContainerId,
    InvalidDockerHost,
    InvalidResponse,
    SpecError,
)
from dockspec.models import (
    DEFAULT_LIMITS,
    Ambiguous,
    Compose,
    ContainerInfo,
    ContainerPortMap,
    Endpoint,
    Found,
    Limits,
    NotFound,
    PortKey,
    Protocol,
    PublishedContainerMatch,
    StopOutcome,
)
from dockspec.ports import lookup_published_container
from dockspec.spec import builtin_spec, load_spec

if TYPE_CHECKING:
    from dockspec._generated.models import Spec
    from dockspec.detect import (
        DaemonReport,
        Detection,
        DetectionHandle,
        StopReport,
        await_detection,
        begin_detection,
        detect_containers,
        detect_daemons,
        merge_reports,
        probe_endpoints,
        request_stop,
        start_detection,
        stop_container,
    )
    from dockspec.events import PortMapChange
    from dockspec.hosts import parse_docker_host
    from dockspec.live import Watch, watch
    from dockspec.podman import (
        RootlessPodmanResolver,
        is_podman_rootlessport_process,
        lookup_rootless_podman_container,
    )

# Names whose modules parsing and lookup do not need: imported at first use
# (PEP 562), so `import dockspec` loads no socket, thread or transport code,
# and neither the spec's record types nor its rules.
_LAZY = {
    "Spec": "dockspec._generated.models",
    "parse_docker_host": "dockspec.hosts",
    "DaemonReport": "dockspec.detect",
    "Detection": "dockspec.detect",
    "DetectionHandle": "dockspec.detect",
    "StopReport": "dockspec.detect",
    "await_detection": "dockspec.detect",
    "begin_detection": "dockspec.detect",
    "detect_containers": "dockspec.detect",
    "detect_daemons": "dockspec.detect",
    "merge_reports": "dockspec.detect",
    "probe_endpoints": "dockspec.detect",
    "request_stop": "dockspec.detect",
    "start_detection": "dockspec.detect",
    "stop_container": "dockspec.detect",
    "RootlessPodmanResolver": "dockspec.podman",
    "is_podman_rootlessport_process": "dockspec.podman",
    "lookup_rootless_podman_container": "dockspec.podman",
    "PortMapChange": "dockspec.events",
    "Watch": "dockspec.live",
    "watch": "dockspec.live",
}

__all__ = [
    "DEFAULT_LIMITS",
    "Ambiguous",
    "AmbiguousContainer",
    "Compose",
    "ContainerInfo",
    "ContainerPortMap",
    "ContextError",
    "DaemonNotFound",
    "DaemonReport",
    "Detection",
    "DetectionHandle",
    "DockspecError",
    "Endpoint",
    "Env",
    "Found",
    "InvalidContainerId",
    "InvalidDockerHost",
    "InvalidResponse",
    "Limits",
    "NotFound",
    "PortKey",
    "PortMapChange",
    "Protocol",
    "PublishedContainerMatch",
    "RootlessPodmanResolver",
    "Spec",
    "SpecError",
    "StopOutcome",
    "StopReport",
    "Watch",
    "__version__",
    "await_detection",
    "begin_detection",
    "builtin_spec",
    "detect_containers",
    "detect_daemons",
    "is_podman_rootlessport_process",
    "load_spec",
    "lookup_published_container",
    "lookup_rootless_podman_container",
    "merge_reports",
    "parse_containers_json",
    "parse_containers_json_strict",
    "parse_docker_host",
    "probe_endpoints",
    "request_stop",
    "short_container_id",
    "start_detection",
    "stop_container",
    "watch",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is not None:
        from importlib import import_module

        value = getattr(import_module(module_name), name)
        globals()[name] = value
        return value
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("dockspec")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0+unknown"
    raise AttributeError(f"module 'dockspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
