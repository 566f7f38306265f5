"""The kernel's socket tables as owners (procnet.py), the holder's uid, /etc/subuid as trust_of reads it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from dockspec.detect import _subordinate_ids
from dockspec.models import Protocol
from dockspec.procnet import parse_socket_table
from dockspec.sockets import process_owner, socket_table_owners

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 11 1 0 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1 0 100 0 0 10 0
   2: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1001        0 13 1 0 100 0 0 10 0
   3: 0100007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000  \u0661        0 14
   4: zz:1F93 00000000:0000 0A 00000000:00000000 00:00000000 00000000  5        0 15
"""
ZERO6 = "0" * 32
TCP6 = (
    "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n"
    f"   0: {'0' * 24}01000000:1F90 {ZERO6}:0000 0A 00000000:00000000 00:00000000 00000000  1002  0 21\n"
    f"   1: {ZERO6}:0035 {ZERO6}:0000 07 00000000:00000000 00:00000000 00000000  0  0 22\n"
)


def test_listening_tcp_sockets_and_their_owners() -> None:
    assert {(Protocol.TCP, "127.0.0.1", 8080): {1001}, (Protocol.TCP, "0.0.0.0", 80): {0}} == parse_socket_table(
        TCP, Protocol.TCP
    )
    assert {(Protocol.TCP, "::1", 8080): {1002}} == parse_socket_table(TCP6, Protocol.TCP)
    assert {(Protocol.UDP, "::", 53): {0}} == parse_socket_table(TCP6, Protocol.UDP)
    assert {} == parse_socket_table(TCP, Protocol.TCP, max_lines=0)


def test_this_hosts_tables_hold_a_listener_of_this_process() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        assert {os.getuid()} == socket_table_owners()[(Protocol.TCP, "127.0.0.1", sock.getsockname()[1])]


def test_a_process_runs_as_the_uid_that_is_not_root_when_real_and_effective_differ() -> None:
    assert (0, 1000, 1000, 1000, 5) == (
        process_owner(0, 0), process_owner(1000, 1000), process_owner(1000, 0), process_owner(0, 1000),
        process_owner(5, 6),
    )


def test_subordinate_ids_by_name_or_uid_from_a_root_owned_file_only(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    path = tmp_path / "subuid"
    path.write_text(f"{me}:100000:65536\n{os.getuid()}:300000:10\nsomeoneelse:200000:65536\n")
    expected = {os.getuid(): [(100000, 65536), (300000, 10)]} if os.geteuid() == 0 else {}
    assert expected == _subordinate_ids({os.getuid()}, str(path))
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)  # a file a user owns is not believed
        assert {} == _subordinate_ids({os.getuid()}, str(path))
    assert {} == _subordinate_ids({os.getuid()}, str(tmp_path / "missing"))
