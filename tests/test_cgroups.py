"""Cgroup attribution: the bounded /proc reader on real files, and sockets.attribute's cgroup step.

The path forms themselves are checked by the vectors (spec/vectors/cgroups.yaml).
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockspec import ContainerInfo, ContainerPortMap, Protocol, builtin_spec
from dockspec._io.procs import read_cgroup
from dockspec.cgroups import CgroupMatch, container_of_cgroup, is_container_id
from dockspec.sockets import Attribution, CgroupLookup, HostSocket, attribute, cgroup_lookup

SPEC = builtin_spec()
RULES = SPEC.cgroups
KNOWN_ID = "1" * 64
OTHER_ID = "2" * 64
UNKNOWN_ID = "e" * 64
KNOWN = ContainerInfo(KNOWN_ID, "web", "nginx:1", daemon="unix:///d.sock")
OTHER = ContainerInfo(OTHER_ID, "other", "other:1", daemon="unix:///d.sock")
CONTAINERS = {c.id: c for c in (KNOWN, OTHER)}
PORT_MAP = ContainerPortMap({(None, 8080, Protocol.TCP): OTHER})


def proc_with(tmp_path: Path, pid: int, text: str) -> str:
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "cgroup").write_text(text)
    return str(tmp_path)


def sock(pid: int | None, process: str | None = "httpd", port: int = 18086) -> HostSocket:
    return HostSocket(Protocol.TCP, "0.0.0.0", port, pid, process)


def lookup(table: dict[int, str]) -> CgroupLookup:
    def find(pid: int) -> CgroupMatch | None:
        return container_of_cgroup(table.get(pid, ""), RULES)

    return find


def test_reader_reads_a_real_file_and_this_process() -> None:
    assert read_cgroup(os.getpid(), RULES.max_bytes) == Path(f"/proc/{os.getpid()}/cgroup").read_text()


def test_reader_refuses_what_is_not_a_small_regular_file(tmp_path: Path) -> None:
    proc = proc_with(tmp_path, 7, "0::/docker/" + KNOWN_ID + "\n")
    assert "0::/docker/" + KNOWN_ID + "\n" == read_cgroup(7, RULES.max_bytes, proc)
    big = "4:memory:/" + "x" * 200 + "\n"
    proc_with(tmp_path, 8, big)
    assert read_cgroup(8, len(big) - 1, proc) is None
    assert big == read_cgroup(8, len(big), proc)
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "cgroup").symlink_to(tmp_path / "7" / "cgroup")
    assert read_cgroup(9, RULES.max_bytes, proc) is None
    (tmp_path / "10").mkdir()
    os.mkfifo(tmp_path / "10" / "cgroup")  # no writer: a blocking open would hang
    assert read_cgroup(10, RULES.max_bytes, proc) is None
    (tmp_path / "11").mkdir()
    (tmp_path / "11" / "cgroup").mkdir()
    assert read_cgroup(11, RULES.max_bytes, proc) is None
    assert read_cgroup(12, RULES.max_bytes, proc) is None  # gone
    (tmp_path / "13").mkdir()
    (tmp_path / "13" / "cgroup").write_bytes(b"4:memory:/docker/\xff\xfe\n")
    assert read_cgroup(13, RULES.max_bytes, proc) == "4:memory:/docker/\ufffd\ufffd\n"


def test_cgroup_lookup_reads_each_pid_once(tmp_path: Path) -> None:
    proc = proc_with(tmp_path, 7, "9:name=systemd:/docker/" + KNOWN_ID + "\n")
    find = cgroup_lookup(SPEC, proc)
    assert CgroupMatch(KNOWN_ID, "docker", "docker-cgroupfs") == find(7)
    (tmp_path / "7" / "cgroup").write_text("0::/\n")
    assert CgroupMatch(KNOWN_ID, "docker", "docker-cgroupfs") == find(7)  # cached
    assert find(8) is None


def test_id_is_exactly_the_spec_length_of_lowercase_hex() -> None:
    assert is_container_id(KNOWN_ID, 64)
    assert not is_container_id(KNOWN_ID[:-1], 64)
    assert not is_container_id("conmon-" + KNOWN_ID[7:], 64)
    assert not is_container_id("A" * 64, 64)


def test_a_known_id_names_the_detected_container() -> None:
    find = lookup({5: "0::/docker/" + KNOWN_ID})
    assert Attribution(KNOWN, via="cgroup", engine="docker") == attribute(sock(5), PORT_MAP, CONTAINERS, SPEC,
                                                                          cgroup=find)


def test_an_unknown_id_is_shown_as_its_short_id_and_engine() -> None:
    find = lookup({5: "0::/machine.slice/libpod-" + UNKNOWN_ID + ".scope/container"})
    found = attribute(sock(5), PORT_MAP, {}, SPEC, cgroup=find)
    assert Attribution(ContainerInfo(UNKNOWN_ID, UNKNOWN_ID[:12], ""), via="cgroup", engine="podman") == found


def test_cgroup_evidence_wins_over_a_binding_for_a_plain_process() -> None:
    """A process inside container `web`'s cgroup holds the socket, whatever the port map says of 8080."""
    find = lookup({5: "0::/docker/" + KNOWN_ID})
    assert KNOWN == attribute(sock(5, port=8080), PORT_MAP, CONTAINERS, SPEC,
                              cgroup=find).container
    # no id in the cgroup: the binding as before
    plain = attribute(sock(6, port=8080), PORT_MAP, CONTAINERS, SPEC, cgroup=find)
    assert (OTHER, "binding") == (plain.container, plain.via)


def test_helpers_and_invisible_processes_are_not_looked_up() -> None:
    asked: list[int] = []

    def find(pid: int) -> CgroupMatch | None:
        asked.append(pid)
        return CgroupMatch(KNOWN_ID, "docker", "docker-cgroupfs")

    proxy = attribute(sock(5, "docker-proxy"), PORT_MAP, CONTAINERS, SPEC, cgroup=find)
    assert "cgroup" != proxy.via
    assert attribute(sock(None, None), PORT_MAP, CONTAINERS, SPEC, cgroup=find).via is None
    assert [] == asked


def test_forms_come_from_the_spec() -> None:
    """Without the docker-cgroupfs form /docker/<id> names nothing."""
    rules = attrs.evolve(RULES, forms=tuple(f for f in RULES.forms if f.id != "docker-cgroupfs"))
    assert container_of_cgroup("4:memory:/docker/" + KNOWN_ID, rules) is None
    assert container_of_cgroup("4:memory:/docker/" + KNOWN_ID, RULES) is not None


ID_TEXT = st.sampled_from([KNOWN_ID, OTHER_ID, KNOWN_ID[:12], "conmon-" + KNOWN_ID])
PIECES = st.sampled_from(["/", ":", "\n", "0", "4:memory", "docker", "libpod-", ".scope", "pod1", "default", "crio-",
                          ":cri-containerd:", "container", "\x00", "\u202e"])


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(ID_TEXT, PIECES, st.text(max_size=6)), max_size=40))
def test_any_text_gives_a_match_of_a_full_id_or_none(parts: list[str]) -> None:
    """Hostile cgroup text never raises; what it names is always a 64-hex id that occurs in the text."""
    text = "".join(parts)
    found = container_of_cgroup(text, RULES)
    assert found is None or (is_container_id(found.id, RULES.id_length) and found.id in text)
