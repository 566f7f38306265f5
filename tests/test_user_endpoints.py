"""Run as root, every user's rootless sockets are probed too, after root's own (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

from dockspec._io.userdirs import user_ids_in
from dockspec.endpoints import table_endpoints, user_directories
from dockspec.env import Env
from dockspec.spec import builtin_spec

SPEC = builtin_spec()
ROOT = Env(uid=0, home="/root")


def _users(*uids: int) -> dict[str, list[int]]:
    return {directory: list(uids) for directory in user_directories(ROOT, SPEC)}


def test_root_probes_each_users_docker_and_podman_socket_after_every_rootful_one() -> None:
    urls = [e.url for e in table_endpoints(ROOT, SPEC, _users(1001, 1002))]
    every = [u for u in urls if "/run/user/100" in u]
    assert every == [
        "unix:///run/user/1001/docker.sock",
        "unix:///run/user/1002/docker.sock",
        "unix:///run/user/1001/podman/podman.sock",
        "unix:///run/user/1002/podman/podman.sock",
    ]
    assert urls.index("unix:///run/podman/podman.sock") < urls.index(every[0])
    assert urls.index("unix:///var/run/docker.sock") < urls.index(every[0])


def test_only_root_probes_other_users_and_never_its_own_uid_twice() -> None:
    user = Env(uid=1001, home="/home/u")
    assert {} == user_directories(user, SPEC)
    assert not [e for e in table_endpoints(user, SPEC, _users(1002)) if "1002" in e.url]
    urls = [e.url for e in table_endpoints(ROOT, SPEC, _users(0, 1001))]
    assert 1 == urls.count("unix:///run/user/0/docker.sock")


def test_the_user_cap_bounds_the_endpoints() -> None:
    cap = next(r.max_users for r in SPEC.endpoints if r.scope == "every-user")
    assert cap is not None
    endpoints = table_endpoints(ROOT, SPEC, _users(*range(1000, 1000 + 3 * cap)))
    assert cap == len([e for e in endpoints if e.origin == "docker-rootless-users"])


def test_user_dirs_are_ascii_digit_names_lowest_first_and_capped(tmp_path: Path) -> None:
    for name in ("1002", "1001", "x", "\u0661\u0662", "12345678901", "0"):
        (tmp_path / name).mkdir()
    assert [0, 1001, 1002] == user_ids_in(str(tmp_path), 8)
    assert [0, 1001] == user_ids_in(str(tmp_path), 2)
    assert [] == user_ids_in(str(tmp_path / "missing"), 8)
    assert [] == user_ids_in(os.devnull, 8)


def test_root_orders_the_sockets_root_owns_first(tmp_path: Path) -> None:
    from dockspec.detect import _root_owned_first
    from dockspec.models import Endpoint

    mine, theirs = tmp_path / "root.sock", tmp_path / "user.sock"
    mine.write_text("")
    theirs.write_text("")
    if os.geteuid() == 0:
        os.chown(theirs, 65534, 65534)
    first, second = (Endpoint(f"unix://{p}", "unix", str(p)) for p in (theirs, mine))
    expected = [second, first] if os.geteuid() == 0 else [first, second]
    assert expected == _root_owned_first([first, second])
