"""Root's `dockspec ports` and `who` against what an unprivileged user controls (issues 12 and 14: trust by owner).

Run as root: the test makes the user `dsspoof` (tests/users.py) and runs its
processes as that user (setpriv). Each attack is a real process or a fake
daemon (tests/fakedaemon.py, a real socket server speaking real HTTP) run
by the user, next to a control run by root that shows the same bed *is*
named when its owner fits (so each test can fail). Each call is measured
(the hostile summary) and ends in a documented outcome: an unnamed row (or
the root daemon's container, never the user's).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dockspec.cli import main
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response, served_as
from tests.hostile.measure import measure
from tests.users import spoof_user

DEADLINE = 3.0 + 2.5  # the CLI's default deadline, plus a loaded 2-core runner's slack
NOBODY = 65534

LISTENER = r"""
import os, socket, sys
with open("/proc/self/comm", "w") as comm:
    comm.write(os.environ["DS_COMM"])
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1)
print(sock.getsockname()[1], flush=True)
sys.stdin.read()
"""


def _listing(*containers: tuple[str, str, list[tuple[str, int]]]) -> dict[tuple[str, str], bytes]:
    body = [
        {"Id": cid, "Names": ["/" + name], "Image": "img:1", "State": "running", "Labels": {},
         "Ports": [{"IP": ip, "PublicPort": port, "PrivatePort": 80, "Type": "tcp"} for ip, port in ports]}
        for cid, name, ports in containers
    ]
    return {("GET", "/containers/json"): http_response(200, json.dumps(body), DOCKER_HEADERS)}


def _cli(label: str, args: list[str], env: dict[str, str]) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    got = measure(label, lambda: main([*args, "--json"], env, out, err), default_limits=True)
    assert got.elapsed < DEADLINE, got
    assert isinstance(got.value, int), got
    assert "Traceback" not in err.getvalue()
    return got.value, json.loads(out.getvalue()), err.getvalue()


def _row(rows: list[dict[str, Any]], port: int) -> dict[str, Any]:
    (row,) = [r for r in rows if r["port"] == port and r["ip"] == "127.0.0.1"]
    return row


def _named(row: dict[str, Any]) -> str | None:
    return row["container"]["name"] if row["container"] else None


@contextmanager
def _listener(uid: int, gid: int, comm: str, *args: str, pass_fds: tuple[int, ...] = ()) -> Iterator[tuple[int, int]]:
    """A process run as uid:gid, named `comm`, with `args` on its command line, listening on 127.0.0.1: (pid, port)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(LISTENER)
    os.chmod(script.name, 0o644)
    command = [sys.executable, script.name, *args]
    if uid != 0:
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={"DS_COMM": comm, "PATH": os.environ.get("PATH", "")}, pass_fds=pass_fds)
    try:
        assert child.stdout is not None
        yield child.pid, int(child.stdout.readline())
    finally:
        child.kill()
        child.wait(5)
        os.unlink(script.name)


@pytest.fixture
def user() -> Any:
    return spoof_user()


@pytest.fixture
def user_dir(user: Any) -> Iterator[Path]:
    """A directory the user owns (for its sockets)."""
    path = Path(tempfile.mkdtemp(prefix="dockspec-trust-"))
    os.chmod(path, 0o755)
    os.chown(path, user.pw_uid, user.pw_gid)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def test_a_users_daemon_cannot_claim_a_port_root_holds(user: Any, user_dir: Path, root_listener: int) -> None:
    """issue 12: a fake daemon served by another uid claims a port a root-owned listener holds: not believed."""
    routes = _listing(("f" * 64, "spoofed", [("127.0.0.1", root_listener)]))
    with served_as(user.pw_uid, user.pw_gid, routes, path=str(user_dir / "docker.sock")) as url:
        status, rows, err = _cli("ports: a user's daemon claims root's port", ["ports"], {"DOCKER_HOST": url})
    assert 0 == status, err
    row = _row(rows, root_listener)
    assert (os.getpid(), "root", None, []) == (row["pid"], row["user"], row["container"], row["candidates"])
    with fake_daemon(routes) as root_daemon:  # control: the same claim from a daemon root serves is believed
        _, rows, _ = _cli("ports: root's daemon claims root's port", ["ports"], {"DOCKER_HOST": root_daemon.url})
    assert ("spoofed", "binding") == (_named(_row(rows, root_listener)), _row(rows, root_listener)["via"])


def test_a_users_conmon_with_an_id_prefix_names_nothing(user: Any) -> None:
    """issue 14: an unprivileged `conmon -c a` listener was shown as the container whose id starts with `a`."""
    full = "a" + "0" * 63
    with fake_daemon(_listing((full, "victim", [("", 1)]))) as daemon:
        env = {"DOCKER_HOST": daemon.url}
        with _listener(user.pw_uid, user.pw_gid, "conmon", "-c", "a") as (pid, port):
            _, rows, _ = _cli("ports: a user's conmon -c a", ["ports"], env)
            row = _row(rows, port)
            assert (pid, "conmon", None) == (row["pid"], row["process"], row["container"])
        with _listener(user.pw_uid, user.pw_gid, "conmon", "-c", full) as (pid, port):
            _, rows, _ = _cli("ports: a user's conmon -c FULLID", ["ports"], env)
            assert (user.pw_name, None) == (_row(rows, port)["user"], _row(rows, port)["container"])
        with _listener(0, 0, "conmon", "-c", full) as (pid, port):  # control: root's conmon with the full id
            _, rows, _ = _cli("ports: root's conmon -c FULLID", ["ports"], env)
            assert ("victim", "cmdline-id") == (_named(_row(rows, port)), _row(rows, port)["via"])


def test_a_users_docker_proxy_names_nothing(user: Any) -> None:
    """issue 14: a user's `docker-proxy -host-port 47080` was shown as the container publishing 47080."""
    with fake_daemon(_listing(("9" * 64, "published", [("", 47080)]))) as daemon:
        env = {"DOCKER_HOST": daemon.url}
        with _listener(user.pw_uid, user.pw_gid, "docker-proxy", "-host-port", "47080") as (pid, port):
            _, rows, _ = _cli("ports: a user's docker-proxy -host-port", ["ports"], env)
            assert (pid, user.pw_name, None, []) == (
                _row(rows, port)["pid"], _row(rows, port)["user"], _row(rows, port)["container"],
                _row(rows, port)["candidates"])
        with _listener(0, 0, "docker-proxy", "-host-port", "47080") as (pid, port):  # control: run by root
            _, rows, _ = _cli("ports: root's docker-proxy -host-port", ["ports"], env)
            assert ("published", "cmdline-ports") == (_named(_row(rows, port)), _row(rows, port)["via"])


def test_a_users_socket_ranked_above_roots_cannot_take_roots_port(
    user: Any, user_dir: Path, root_listener: int, tmp_path: Path
) -> None:
    """issue 14: with a user's XDG_RUNTIME_DIR, the user's socket ranked above root's daemon and `who` named the
    user's fake container. Root's daemon here is the table's ~/.docker/run/docker.sock (HOME a root-owned
    directory); the user's is $XDG_RUNTIME_DIR/docker.sock, an earlier table entry."""
    home = tmp_path / "home"
    (home / ".docker" / "run").mkdir(parents=True)
    real = _listing(("1" * 64, "real", [("127.0.0.1", root_listener)]))
    fake = _listing(("2" * 64, "fake", [("127.0.0.1", root_listener)]))
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(user_dir), "DOCKER_CONFIG": str(home / ".docker")}
    with fake_daemon(real, path=str(home / ".docker" / "run" / "docker.sock")), \
            served_as(user.pw_uid, user.pw_gid, fake, path=str(user_dir / "docker.sock")):
        status, found, _ = _cli("who: a user's socket ranked above root's", ["who", str(root_listener)], env)
        assert (0, ["real"]) == (status, [c["name"] for c in found])
        _, rows, _ = _cli("ports: a user's socket ranked above root's", ["ports"], env)
        assert "real" == _named(_row(rows, root_listener))
        _, endpoints, _ = _cli("endpoints: a user's socket and root's", ["endpoints"], env)
    served = {e["address"]: e["served_by"] for e in endpoints if e["ok"]}
    assert (0, user.pw_uid) == (served[str(home / ".docker/run/docker.sock")], served[str(user_dir / "docker.sock")])


@pytest.mark.live
def test_a_users_daemon_cannot_claim_a_rootful_podman_containers_port(user: Any, user_dir: Path) -> None:
    """issue 14: `who 28080` named the user's fake container; rootful Podman's dsp-web holds 28080 (conmon)."""
    if not os.path.exists("/run/podman/podman.sock"):
        pytest.skip("needs the Debian 12 bed's rootful Podman (scripts/daemons.sh)")
    (user_dir / "podman").mkdir()
    os.chown(user_dir / "podman", user.pw_uid, user.pw_gid)
    fake = _listing(("3" * 64, "dsp-web-fake", [("", 28080)]))
    env = {"HOME": "/root", "XDG_RUNTIME_DIR": str(user_dir)}
    with served_as(user.pw_uid, user.pw_gid, fake, path=str(user_dir / "podman" / "podman.sock")):
        status, found, _ = _cli("who 28080: a user's daemon claims rootful Podman's port", ["who", "28080"], env)
        _, rows, _ = _cli("ports: a user's daemon claims rootful Podman's port", ["ports"], env)
    assert (0, ["dsp-web"]) == (status, [c["name"] for c in found])
    held = [r for r in rows if r["port"] == 28080 and r["protocol"] == "tcp"]
    assert held and all("dsp-web" == _named(r) for r in held), held


def test_the_rootless_resolvers_cache_is_not_shared_across_users(user: Any, tmp_path: Path) -> None:
    """issue 14: one user's forged storage could rename another user's socket through the shared netns cache.

    Both users' `rootlessport` hold an fd on the same netns path; only the first user's storage maps it."""
    from dockspec.env import Env
    from dockspec.podman import RootlessPodmanResolver

    netns = tmp_path / "run" / "netns" / "netns-shared"
    netns.parent.mkdir(parents=True)
    netns.write_text("")
    data = tmp_path / "data"
    storage = data / "containers" / "storage" / "vfs-containers"
    cid = "5" * 64
    (storage / cid / "userdata").mkdir(parents=True)
    (storage / "containers.json").write_text(json.dumps([{"id": cid, "names": ["spoofcache"]}]))
    config = {"linux": {"namespaces": [{"type": "network", "path": str(netns)}]}}
    (storage / cid / "userdata" / "config.json").write_text(json.dumps(config))
    for path in [data, *data.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(tmp_path, 0o755)
    fd = os.open(netns, os.O_RDONLY)
    env = {"DOCKER_HOST": "unix:///nonexistent.sock", "HOME": "/nonexistent", "XDG_DATA_HOME": str(data)}
    try:
        with _listener(user.pw_uid, user.pw_gid, "rootlessport", pass_fds=(fd,)) as (mine, mine_port), \
                _listener(NOBODY, NOBODY, "rootlessport", pass_fds=(fd,)) as (theirs, theirs_port):
            resolver = RootlessPodmanResolver()
            root_env = Env(uid=0, home="/nonexistent", xdg_data_home=str(data))
            first = resolver.resolve(mine, root_env)
            assert first is not None and "spoofcache" == first.name
            assert resolver.resolve(theirs, root_env) is None  # the cached (uid, netns) answer is the first user's
            _, rows, _ = _cli("ports: two users' rootlessport on one netns path", ["ports"], env)
    finally:
        os.close(fd)
    assert "spoofcache" == _named(_row(rows, mine_port))
    assert _row(rows, theirs_port)["container"] is None
