"""The value classes: plain attrs classes (attrs writes their methods), hashable, sorted with a key."""

from __future__ import annotations

import attrs
import pytest

from dockspec.containers import ParsedList
from dockspec.env import Env
from dockspec.models import (
    Ambiguous,
    ContainerInfo,
    ContainerPortMap,
    Endpoint,
    Found,
    Limits,
    NotFound,
    Protocol,
    container_sort_key,
)

A = ContainerInfo("a" * 64, "web", "nginx:1")
B = ContainerInfo("b" * 64, "db", "", daemon="unix:///var/run/docker.sock")
C = ContainerInfo("a" * 64, "web", "nginx:1", daemon="unix:///run/podman/podman.sock")
D = ContainerInfo("a" * 64, "api", "nginx:1")


@pytest.mark.parametrize("cls", [ContainerInfo, Found, NotFound, Ambiguous, Endpoint, Limits, ParsedList, Env])
def test_methods_are_the_ones_attrs_writes(cls: type) -> None:
    for method in ("__init__", "__repr__", "__eq__", "__hash__"):
        assert cls.__dict__[method].__code__.co_filename.startswith("<attrs generated"), method
    assert not {"__lt__", "__le__", "__gt__", "__ge__"} & set(vars(cls))


def test_hashing_and_sorting_of_container_info() -> None:
    """The hot path's uses: dict keys, set membership, and sorting by container_sort_key."""
    same = ContainerInfo("a" * 64, "web", "nginx:1")
    assert {A: 1}[same] == 1
    assert len({A, same, C, D}) == 3
    assert sorted([A, C, D, B], key=container_sort_key) == [D, A, C, B]  # daemon None sorts before a URL
    with pytest.raises(TypeError):
        sorted([A, D])  # type: ignore[type-var]  # not ordered
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        A.name = "x"  # type: ignore[misc]


def test_maps_list_their_containers_sorted_by_key() -> None:
    port_map = ContainerPortMap({(None, 1, Protocol.TCP): C, (None, 2, Protocol.TCP): A, ("::1", 3, Protocol.UDP): C})
    assert port_map.containers() == (A, C)


def test_outcomes_compare_by_value() -> None:
    assert Found(A) == Found(same := ContainerInfo("a" * 64, "web", "nginx:1")) and hash(Found(A)) == hash(Found(same))
    assert NotFound() == NotFound()
    assert Ambiguous((A, B)) != Ambiguous((B, A))
    assert repr(Found(A)).startswith("Found(container=ContainerInfo(id='aaaa")
