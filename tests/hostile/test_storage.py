"""Forged rootless Podman storage (issue 14): the resolver's budgets, owner rule and caches.

A local user controls their own storage (containers.json, each container's
userdata/config.json) and their processes. Here a fake /proc (a pid
directory owned by the user, an fd link naming a netns, a stat line with a
start time) and storage in a temporary directory, chowned to the
unprivileged uid 65534 ('nobody'), are resolved by root through the real
FsReader. Each ends in an unnamed result (None) or the right container,
within the resolution's deadline plus the suite's margin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from dockspec import Env
from dockspec._io.podman_fs import FsReader
from dockspec.models import ContainerInfo, Limits
from dockspec.podman import RootlessPodmanResolver, parse_storage_index
from tests.hostile.measure import MARGIN, measure

NOBODY = 65534
LIMITS = Limits(resolve_deadline=0.5)
NETNS = "/run/user/65534/netns/netns-4d0c2a"
ID = "a" * 64


class Bed:
    """A fake /proc and a storage directory; files are owned by `uid` unless said otherwise."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = root / "proc"
        self.storage = root / "data" / "containers" / "storage" / "vfs-containers"
        self.storage.mkdir(parents=True)
        self.env = Env(platform="linux", uid=0, home=str(root / "roothome"), xdg_data_home=str(root / "data"))

    def process(self, pid: int, uid: int = NOBODY, netns: str = NETNS, start: int = 1000) -> None:
        pid_dir = self.proc / str(pid)
        (pid_dir / "fd").mkdir(parents=True, exist_ok=True)
        link = pid_dir / "fd" / "3"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(netns)
        fields = ["S"] + ["0"] * 18 + [str(start)] + ["0"] * 30
        (pid_dir / "stat").write_text(f"{pid} (rootlessport) " + " ".join(fields) + "\n")
        os.chown(pid_dir, uid, uid)

    def index(self, entries: list[dict[str, object]] | bytes, uid: int = NOBODY) -> Path:
        path = self.storage / "containers.json"
        path.write_bytes(entries if isinstance(entries, bytes) else json.dumps(entries).encode())
        os.chown(path, uid, uid)
        return path

    def config(self, container_id: str, netns: str = NETNS, uid: int = NOBODY, doc: object = None) -> Path:
        path = self.storage / container_id / "userdata" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if doc is None:
            doc = {"linux": {"namespaces": [{"type": "network", "path": netns}]}}
        path.write_text(json.dumps(doc))
        os.chown(path, uid, uid)
        return path

    def zero(self, container_id: str) -> None:
        path = self.storage / container_id / "userdata" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to("/dev/zero")
        os.lchown(path, NOBODY, NOBODY)

    def resolver(self, limits: Limits = LIMITS) -> RootlessPodmanResolver:
        return RootlessPodmanResolver(reader=FsReader(proc=str(self.proc)), limits=limits)


def entry(container_id: str, name: str = "web") -> dict[str, object]:
    return {"id": container_id, "names": [name], "metadata": json.dumps({"image-name": "bb:latest"})}


@pytest.fixture
def bed(tmp_path: Path) -> Bed:
    return Bed(tmp_path)


def test_good_storage_names_the_container(bed: Bed) -> None:
    bed.process(100)
    bed.index([entry(ID)])
    bed.config(ID)
    assert ContainerInfo(ID, "web", "bb:latest") == bed.resolver().resolve(100, bed.env)


@pytest.mark.parametrize("distinct", [False, True], ids=["one id repeated", "distinct ids"])
def test_3000_entries_pointing_at_dev_zero(bed: Bed, distinct: bool) -> None:
    """3000 index entries whose config.json is a symlink to /dev/zero (it was 32 s of 16 MiB reads)."""
    bed.process(100)
    ids = [f"{i:064x}" for i in range(3000)] if distinct else [ID] * 3000
    bed.index([entry(i) for i in ids])
    for i in dict.fromkeys(ids):
        bed.zero(i)
    resolver = bed.resolver()
    got = measure(f"rootless resolve: 3000 entries, config -> /dev/zero ({'distinct' if distinct else 'repeated'})",
                  lambda: resolver.resolve(100, bed.env))
    assert got.error is None and got.value is None
    assert got.elapsed < LIMITS.resolve_deadline + MARGIN
    links = [r for r in resolver.reader.refusals if "symbolic link" in r]
    assert len(links) == len(dict.fromkeys(ids))  # each path once, refused without being read


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink to /dev/zero"])
def test_storage_index_that_is_not_a_file(bed: Bed, kind: str) -> None:
    bed.process(100)
    path = bed.storage / "containers.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    os.lchown(path, NOBODY, NOBODY)
    resolver = bed.resolver()
    got = measure(f"rootless resolve: containers.json is a {kind}", lambda: resolver.resolve(100, bed.env))
    assert got.error is None and got.value is None
    assert got.elapsed < LIMITS.resolve_deadline + MARGIN


def test_storage_of_another_owner_is_not_accepted(bed: Bed) -> None:
    """A match only from storage owned by the process's owner: root's or another user's files do not count."""
    bed.process(100)
    bed.index([entry(ID)], uid=0)
    bed.config(ID, uid=0)
    resolver = bed.resolver()
    assert resolver.resolve(100, bed.env) is None
    assert any("owned by uid 0" in r for r in resolver.reader.refusals)
    bed.process(101, uid=0)  # the same storage, for a process root runs, does count
    assert ContainerInfo(ID, "web", "bb:latest") == resolver.resolve(101, bed.env)


def test_netns_cache_is_per_owner(bed: Bed) -> None:
    """One user's storage naming a netns path does not name another user's process with that path."""
    bed.process(100, uid=NOBODY)
    bed.process(101, uid=0)
    bed.index([entry(ID)])
    bed.config(ID)
    resolver = bed.resolver()
    assert resolver.resolve(100, bed.env) is not None
    assert resolver.resolve(101, bed.env) is None  # root's storage (owned by nobody here) is not nobody's


def test_cached_pid_is_checked_against_its_start_time(bed: Bed) -> None:
    bed.process(100)
    bed.index([entry(ID), entry("b" * 64, "other")])
    bed.config(ID)
    bed.config("b" * 64, netns="/run/user/65534/netns/netns-other")
    resolver = bed.resolver()
    assert "web" == getattr(resolver.resolve(100, bed.env), "name", None)
    reads = resolver.reader.reads
    assert "web" == getattr(resolver.resolve(100, bed.env), "name", None)
    assert reads == resolver.reader.reads  # a hit reads no storage
    bed.process(100, netns="/run/user/65534/netns/netns-other", start=2000)  # the pid reused
    assert "other" == getattr(resolver.resolve(100, bed.env), "name", None)


@pytest.mark.parametrize(
    "bad",
    ["a" * 63 + "\0", "../" + "a" * 61, "A" * 64, "a" * 65, "", 5, None],
    ids=["nul", "dotdot", "upper", "long", "empty", "int", "null"],
)
def test_ids_that_are_not_64_hex_are_skipped(bed: Bed, bad: object) -> None:
    assert [] == parse_storage_index(json.dumps([{"id": bad, "names": ["x"]}]).encode())
    bed.process(100)
    bed.index([{"id": bad, "names": ["x"]}, entry(ID)])
    bed.config(ID)
    assert "web" == getattr(bed.resolver().resolve(100, bed.env), "name", None)


@pytest.mark.parametrize(
    "doc", [{"linux": []}, {"linux": {"namespaces": {}}}, [], {"linux": {"namespaces": [[]]}}, "[" * 5000]
)
def test_config_of_the_wrong_shape_is_no_match(bed: Bed, doc: object) -> None:
    bed.process(100)
    bed.index([entry(ID)])
    bed.config(ID, doc=doc)
    assert bed.resolver().resolve(100, bed.env) is None


def test_deeply_nested_index_is_no_match(bed: Bed) -> None:
    bed.process(100)
    bed.index(b"[" * 100_000 + b"]" * 100_000)
    assert bed.resolver().resolve(100, bed.env) is None


def test_entries_past_the_cap_are_not_looked_at(bed: Bed) -> None:
    bed.process(100)
    others = [f"{i:064x}" for i in range(1, 11)]
    bed.index([*(entry(i) for i in others), entry(ID)])
    for i in others:
        bed.config(i, netns=f"/run/user/65534/netns/netns-{i[-4:]}")
    bed.config(ID)
    assert bed.resolver(attrs.evolve(LIMITS, max_index_entries=10)).resolve(100, bed.env) is None
    assert bed.resolver(attrs.evolve(LIMITS, max_index_entries=11)).resolve(100, bed.env) is not None


def test_bytes_per_resolution_are_capped(bed: Bed) -> None:
    bed.process(100)
    others = [f"{i:064x}" for i in range(1, 11)]
    bed.index([*(entry(i) for i in others), entry(ID)])
    for i in others:
        bed.config(i, netns="/run/user/65534/netns/netns-x", doc={"pad": "x" * 10_000})
    bed.config(ID)
    budget = (bed.storage / "containers.json").stat().st_size + 35_000
    resolver = bed.resolver(attrs.evolve(LIMITS, max_resolve_bytes=budget))
    got: list[int] = []
    read = resolver.reader.read

    def counted(path: str, limit: int, owner: int) -> bytes | None:
        data = read(path, limit, owner)
        got.append(len(data or b""))
        return data

    resolver.reader.read = counted
    resolver.resolve(100, bed.env)
    assert 0 < sum(got) <= budget
    assert any("larger than" in r for r in resolver.reader.refusals)


def test_oci_config_over_its_cap_is_skipped(bed: Bed) -> None:
    bed.process(100)
    bed.index([entry(ID)])
    path = bed.config(ID)
    size = path.stat().st_size
    assert bed.resolver(attrs.evolve(LIMITS, max_oci_config_bytes=size - 1)).resolve(100, bed.env) is None
    assert bed.resolver(attrs.evolve(LIMITS, max_oci_config_bytes=size)).resolve(100, bed.env) is not None


def test_resolution_past_its_deadline_gives_up(bed: Bed) -> None:
    bed.process(100)
    bed.index([entry(ID)])
    bed.config(ID)
    resolver = bed.resolver(attrs.evolve(LIMITS, resolve_deadline=-1.0))
    assert resolver.resolve(100, bed.env) is None
    assert resolver.reader.expired()
