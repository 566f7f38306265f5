"""Finding the daemon the way docker and podman do, against real tools and daemons.

- docker contexts made by the real `docker context create/use`, podman
  connections made by the real `podman system connection add` (rootful with
  CONTAINERS_CONF, and as the rootless user), in temporary config dirs;
- TLS: a second, real dockerd with --tlsverify (scripts/discovery.sh):
  good certificates, a wrong CA, no client certificate; a relay between
  dockspec and the daemon records that only TLS records ever reach the port;
- ssh: a real sshd (scripts/discovery.sh) and `docker system dial-stdio`
  (and `podman system dial-stdio`) to the real daemons;
- macOS and other engines' socket paths: a temporary home where the real
  daemons' sockets are symlinked at each engine's path, with Env(platform="darwin").

Expected values come from the engines' own CLIs and scripts/daemons.sh's
container list, never from dockspec's rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from dockspec import DaemonNotFound, Env, InvalidResponse, Protocol, detect_containers, probe_endpoints
from dockspec.contexts import ContextError
from dockspec.detect import DaemonReport, resolve_endpoints
from dockspec.spec import builtin_spec
from tests.integration.conftest import Daemons

pytestmark = pytest.mark.live

DISCOVERY = Path(os.environ.get("DOCKSPEC_DISCOVERY_DIR", "/run/dockspec-discovery"))
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@attrs.frozen
class Discovery:
    """What scripts/discovery.sh up started (its env file)."""

    env: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.env[key]


@pytest.fixture(scope="session")
def discovery() -> Discovery:
    env_file = DISCOVERY / "env"
    if not env_file.exists():
        pytest.skip(f"the discovery components are not up ({env_file} missing): run `bash scripts/discovery.sh up`")
    values = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return Discovery(values)


@pytest.fixture(scope="session")
def daemons(debian12: Daemons) -> Daemons:
    """The Debian 12 bed: these tests run the host's docker 20.10 and podman 4.3 CLIs against its daemons."""
    return debian12


def run(argv: list[str], environ: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """A tool with exactly `environ` (plus PATH), from /."""
    result = subprocess.run(
        argv, env={"PATH": CLEAN_PATH, **environ}, capture_output=True, text=True, timeout=120, cwd="/", check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{argv} failed ({result.returncode}): {result.stderr}")
    return result


def docker_names(environ: dict[str, str], *args: str) -> set[str]:
    """Running container names as the real docker CLI lists them with `environ` and `args`."""
    out = run(["docker", *args, "ps", "--format", "{{.Names}}"], environ).stdout
    return {line for line in out.splitlines() if line}


def names(report: DaemonReport) -> set[str]:
    return {c.name for c in report.containers}


def report_of(reports: list[DaemonReport], origin: str) -> DaemonReport:
    found = [r for r in reports if r.endpoint.origin == origin]
    assert found, f"no endpoint with origin {origin!r}: {[r.endpoint.origin for r in reports]}"
    return found[0]


def bindings(daemons: Daemons, daemon: str) -> dict[tuple[str | None, int, Protocol], str]:
    return {
        (p["host_ip"], p["host_port"], Protocol(p["protocol"])): c["name"]
        for c in daemons.running(daemon)
        if c.get("network") != "host"  # a host-network container publishes nothing (its process listens itself)
        for p in c["ports"]
    }


def base_env(home: Path, **environ: str) -> Env:
    """root's uid and a temporary home; only the variables given."""
    return Env(platform="linux", uid=0, home=str(home), environ=environ)


@pytest.fixture()
def short_tmp() -> Iterator[Path]:
    """A short, world-traversable temporary directory: socket paths stay under AF_UNIX's 108 bytes
    and the rootless user can reach a home inside it."""
    path = Path(tempfile.mkdtemp(prefix="ds-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def docker_config(tmp_path: Path) -> Path:
    config = tmp_path / "docker-config"
    config.mkdir()
    return config


# ------------------------------------------------------------------ docker contexts


def test_current_context_from_docker_context_use(daemons: Daemons, docker_config: Path, tmp_path: Path) -> None:
    cli_env = {"DOCKER_CONFIG": str(docker_config)}
    sock = daemons.env["DOCKSPEC_DOCKER_SOCK"]
    run(["docker", "context", "create", "live", "--docker", f"host=unix://{sock}"], cli_env)
    run(["docker", "context", "use", "live"], cli_env)
    expected = docker_names(cli_env)  # the CLI follows currentContext
    assert expected == {c["name"] for c in daemons.running("docker")}

    env = base_env(tmp_path, DOCKER_CONFIG=str(docker_config))
    endpoints, explicit = resolve_endpoints(env, builtin_spec())
    assert not explicit
    assert (endpoints[0].origin, endpoints[0].url) == ("context:live", f"unix://{sock}")
    reports, _ = probe_endpoints(env=env)
    live = report_of(reports, "context:live")
    assert live.ok and live.engine == "docker"
    assert names(live) == expected
    # the table's entry for the same socket is the same daemon, probed once
    assert not any(r.endpoint.origin == "docker-rootful" for r in reports)
    port_map = detect_containers(env=env)
    for key, name in bindings(daemons, "docker").items():
        assert port_map[key].name == name
        assert port_map[key].daemon == f"unix://{sock}"


def test_docker_context_variable_names_the_one_daemon(daemons: Daemons, docker_config: Path, tmp_path: Path) -> None:
    cli_env = {"DOCKER_CONFIG": str(docker_config)}
    run(
        ["docker", "context", "create", "pod", "--docker", f"host=unix://{daemons.env['DOCKSPEC_PODMAN_SOCK']}"],
        cli_env,
    )
    run(
        ["docker", "context", "create", "dock", "--docker", f"host=unix://{daemons.env['DOCKSPEC_DOCKER_SOCK']}"],
        cli_env,
    )
    run(["docker", "context", "use", "dock"], cli_env)
    # DOCKER_CONTEXT beats currentContext, for the CLI and for dockspec
    expected = docker_names({**cli_env, "DOCKER_CONTEXT": "pod"})
    assert expected == {c["name"] for c in daemons.running("podman")}
    reports, explicit = probe_endpoints(env=base_env(tmp_path, DOCKER_CONFIG=str(docker_config), DOCKER_CONTEXT="pod"))
    assert explicit
    assert [r.endpoint.origin for r in reports] == ["context:pod"]
    assert reports[0].engine == "podman"  # the answer decides, not the context
    assert names(reports[0]) == expected
    # DOCKER_CONTEXT=default: the platform defaults, not currentContext
    endpoints, explicit = resolve_endpoints(
        base_env(tmp_path, DOCKER_CONFIG=str(docker_config), DOCKER_CONTEXT="default"), builtin_spec()
    )
    assert not explicit
    assert not any(e.origin.startswith("context:") for e in endpoints)


def test_missing_context_fails_like_the_cli(docker_config: Path, tmp_path: Path) -> None:
    cli_env = {"DOCKER_CONFIG": str(docker_config), "DOCKER_CONTEXT": "nowhere"}
    cli = run(["docker", "ps"], cli_env, check=False)
    assert cli.returncode != 0
    assert "nowhere" in cli.stderr
    with pytest.raises(ContextError, match="docker context 'nowhere'"):
        detect_containers(env=base_env(tmp_path, **cli_env))
    # a recorded currentContext whose store entry is gone
    run(
        ["docker", "context", "create", "gone", "--docker", "host=unix:///nonexistent.sock"],
        {"DOCKER_CONFIG": str(docker_config)},
    )
    run(["docker", "context", "use", "gone"], {"DOCKER_CONFIG": str(docker_config)})
    shutil.rmtree(docker_config / "contexts" / "meta")
    assert run(["docker", "ps"], {"DOCKER_CONFIG": str(docker_config)}, check=False).returncode != 0
    with pytest.raises(ContextError, match=r"currentContext in .*config.json"):
        detect_containers(env=base_env(tmp_path, DOCKER_CONFIG=str(docker_config)))


def test_tls_context_made_by_docker_context_create(discovery: Discovery, docker_config: Path, tmp_path: Path) -> None:
    certs = Path(discovery["DOCKSPEC_TLS_CLIENT_DIR"])
    host = discovery["DOCKSPEC_TLS_DOCKER_HOST"]
    cli_env = {"DOCKER_CONFIG": str(docker_config)}
    spec = f"host={host},ca={certs / 'ca.pem'},cert={certs / 'cert.pem'},key={certs / 'key.pem'}"
    run(["docker", "context", "create", "secure", "--docker", spec], cli_env)
    expected = docker_names({**cli_env, "DOCKER_CONTEXT": "secure"})
    assert discovery["DOCKSPEC_TLS_CONTAINER"] in expected
    env = base_env(tmp_path, DOCKER_CONFIG=str(docker_config), DOCKER_CONTEXT="secure")
    (endpoint,), explicit = resolve_endpoints(env, builtin_spec())
    assert explicit and endpoint.tls and endpoint.credentials is not None
    assert endpoint.credentials.verify
    reports, _ = probe_endpoints(env=env)
    assert reports[0].ok, reports[0].error
    assert names(reports[0]) == expected


def test_ssh_context_made_by_docker_context_create(
    daemons: Daemons, discovery: Discovery, docker_config: Path, tmp_path: Path
) -> None:
    cli_env = {"DOCKER_CONFIG": str(docker_config), "HOME": "/root"}
    run(["docker", "context", "create", "remote", "--docker", f"host=ssh://{discovery['DOCKSPEC_SSH_ALIAS']}"], cli_env)
    expected = docker_names({**cli_env, "DOCKER_CONTEXT": "remote"})
    assert expected == {c["name"] for c in daemons.running("docker")}
    reports, _ = probe_endpoints(env=base_env(tmp_path, DOCKER_CONFIG=str(docker_config), DOCKER_CONTEXT="remote"))
    assert reports[0].endpoint.transport == "ssh"
    assert reports[0].ok, reports[0].error
    assert names(reports[0]) == expected


def test_cli_endpoints_shows_the_context_origin(daemons: Daemons, docker_config: Path) -> None:
    """`dockspec endpoints` names where each endpoint came from: here the context docker made."""
    cli_env = {"DOCKER_CONFIG": str(docker_config)}
    run(
        ["docker", "context", "create", "shown", "--docker", f"host=unix://{daemons.env['DOCKSPEC_DOCKER_SOCK']}"],
        cli_env,
    )
    out = run([sys.executable, "-m", "dockspec", "endpoints", "--json"], {**cli_env, "DOCKER_CONTEXT": "shown"}).stdout
    (row,) = json.loads(out)
    assert (row["origin"], row["url"], row["ok"]) == (
        "context:shown",
        f"unix://{daemons.env['DOCKSPEC_DOCKER_SOCK']}",
        True,
    )


# ------------------------------------------------------------------ podman connections


def test_default_connection_from_podman_system_connection_add(daemons: Daemons, tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    conf.touch()  # root's podman writes /etc/containers/containers.conf unless CONTAINERS_CONF names a file
    cli_env = {"HOME": str(tmp_path), "CONTAINERS_CONF": str(conf)}
    sock = daemons.env["DOCKSPEC_PODMAN_SOCK"]
    run(["podman", "system", "connection", "add", "--default", "rootful", f"unix://{sock}"], cli_env)
    run(["podman", "system", "connection", "add", "other", "tcp://127.0.0.1:9"], cli_env)
    listed = run(["podman", "system", "connection", "list", "--format", "{{.Name}} {{.Default}}"], cli_env).stdout
    assert "rootful true" in listed
    expected = {
        line
        for line in run(["podman", "--remote", "ps", "--format", "{{.Names}}"], cli_env).stdout.splitlines()
        if line
    }
    assert expected == {c["name"] for c in daemons.running("podman")}

    env = base_env(tmp_path, CONTAINERS_CONF=str(conf))
    endpoints, explicit = resolve_endpoints(env, builtin_spec())
    assert not explicit
    assert (endpoints[0].origin, endpoints[0].url, endpoints[0].engine) == (
        "connection:rootful",
        f"unix://{sock}",
        "podman",
    )
    reports, _ = probe_endpoints(env=env)
    rootful = report_of(reports, "connection:rootful")
    assert rootful.ok and names(rootful) == expected

    # CONTAINER_CONNECTION picks another recorded connection; only that one is asked
    reports, explicit = probe_endpoints(env=base_env(tmp_path, CONTAINERS_CONF=str(conf), CONTAINER_CONNECTION="other"))
    assert explicit
    assert [(r.endpoint.origin, r.endpoint.url, r.ok) for r in reports] == [
        ("connection:other", "tcp://127.0.0.1:9", False)
    ]
    # ... as podman itself does
    assert run(["podman", "--remote", "ps"], {**cli_env, "CONTAINER_CONNECTION": "other"}, check=False).returncode != 0
    with pytest.raises(ContextError, match="podman connection 'ghost'"):
        resolve_endpoints(base_env(tmp_path, CONTAINERS_CONF=str(conf), CONTAINER_CONNECTION="ghost"), builtin_spec())


def test_rootless_users_connection_file(daemons: Daemons, short_tmp: Path) -> None:
    """The rootless user's own `podman system connection add` writes ~/.config/containers/containers.conf."""
    home = short_tmp / "home"
    home.mkdir()
    uid, gid = int(daemons.env["DOCKSPEC_ROOTLESS_UID"]), int(daemons.env["DOCKSPEC_ROOTLESS_GID"])
    os.chown(home, uid, gid)
    sock = daemons.env["DOCKSPEC_ROOTLESS_SOCK"]
    run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--init-groups",
            "env",
            "-i",
            f"HOME={home}",
            f"PATH={CLEAN_PATH}",
            f"XDG_RUNTIME_DIR={daemons.env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}",
            "podman",
            "system",
            "connection",
            "add",
            "mine",
            f"unix://{sock}",
        ],
        {},
    )
    assert (home / ".config" / "containers" / "containers.conf").exists()
    env = Env(platform="linux", uid=uid, home=str(home), environ={})
    reports, _ = probe_endpoints(env=env)
    mine = report_of(reports, "connection:mine")
    assert mine.ok, mine.error
    assert names(mine) == {c["name"] for c in daemons.running("podman-rootless")}


def test_podman_connection_over_ssh(daemons: Daemons, discovery: Discovery, tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    conf.touch()
    uri = f"ssh://root@{discovery['DOCKSPEC_SSH_ALIAS']}:{discovery['DOCKSPEC_SSH_PORT']}{daemons.env['DOCKSPEC_PODMAN_SOCK']}"
    run(
        ["podman", "system", "connection", "add", "--identity", discovery["DOCKSPEC_SSH_KEY"], "viassh", uri],
        {"HOME": str(tmp_path), "CONTAINERS_CONF": str(conf)},
    )
    reports, explicit = probe_endpoints(
        env=base_env(tmp_path, CONTAINERS_CONF=str(conf), CONTAINER_CONNECTION="viassh")
    )
    assert explicit
    (report,) = reports
    assert report.endpoint.credentials is not None
    assert report.endpoint.credentials.ssh_identity == discovery["DOCKSPEC_SSH_KEY"]
    assert report.ok, report.error
    assert report.engine == "podman"
    assert names(report) == {c["name"] for c in daemons.running("podman")}


# ------------------------------------------------------------------ TLS


def tls_env(discovery: Discovery, cert_dir: str, host: str | None = None) -> Env:
    return Env(
        uid=0,
        home="/nonexistent",
        environ={
            "DOCKER_HOST": host or discovery["DOCKSPEC_TLS_DOCKER_HOST"],
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": cert_dir,
        },
    )


def test_tls_good_path(discovery: Discovery) -> None:
    certs = discovery["DOCKSPEC_TLS_CLIENT_DIR"]
    expected = docker_names(
        {"DOCKER_HOST": discovery["DOCKSPEC_TLS_DOCKER_HOST"], "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs}
    )
    assert discovery["DOCKSPEC_TLS_CONTAINER"] in expected
    reports, explicit = probe_endpoints(env=tls_env(discovery, certs))
    assert explicit
    (report,) = reports
    assert report.endpoint.tls
    assert report.ok, report.error
    assert report.engine == "docker"
    assert names(report) == expected


@contextlib.contextmanager
def relay(target_port: int) -> Iterator[tuple[int, bytearray]]:
    """A TCP relay to 127.0.0.1:target_port recording every byte the client sends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.1)
    sent = bytearray()
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    sent.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", target_port))
            threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], sent
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def only_tls_records(data: bytes) -> bool:
    """Every byte belongs to a TLS record (content type 20-23, version 3.x, a length)."""
    offset = 0
    while offset < len(data):
        if offset + 5 > len(data):
            return False
        kind, major, length = data[offset], data[offset + 1], int.from_bytes(data[offset + 3 : offset + 5], "big")
        if kind not in (20, 21, 22, 23) or major != 3:
            return False
        offset += 5 + length
    return offset == len(data)


def test_tls_wrong_ca_is_a_clear_error_and_no_plaintext(discovery: Discovery) -> None:
    wrong = discovery["DOCKSPEC_TLS_WRONG_CA_DIR"]
    cli = run(
        ["docker", "ps"],
        {"DOCKER_HOST": discovery["DOCKSPEC_TLS_DOCKER_HOST"], "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": wrong},
        check=False,
    )
    assert cli.returncode != 0  # the docker CLI refuses too
    with relay(int(discovery["DOCKSPEC_TLS_PORT"])) as (port, sent):
        with pytest.raises(InvalidResponse, match=r"TLS handshake failed: \[SSL: CERTIFICATE_VERIFY_FAILED\]"):
            detect_containers(env=tls_env(discovery, wrong, host=f"tcp://127.0.0.1:{port}"))
        time.sleep(0.2)
    assert sent, "nothing reached the port"
    assert only_tls_records(bytes(sent))
    assert b"GET " not in sent and b"HTTP/1.1" not in sent


def test_tls_without_client_certificate_is_refused_and_no_plaintext(discovery: Discovery) -> None:
    nocert = discovery["DOCKSPEC_TLS_NOCERT_DIR"]
    with relay(int(discovery["DOCKSPEC_TLS_PORT"])) as (port, sent):
        with pytest.raises(InvalidResponse, match="no client certificate was offered") as info:
            detect_containers(env=tls_env(discovery, nocert, host=f"tcp://127.0.0.1:{port}"))
        time.sleep(0.2)
    assert "SSL" in str(info.value)  # ssl's own words are kept
    assert sent and only_tls_records(bytes(sent))
    assert b"GET " not in sent


def test_tls_missing_ca_file_is_a_clear_error(discovery: Discovery, tmp_path: Path) -> None:
    with pytest.raises(ContextError, match=r"the CA file .*ca.pem does not exist"):
        detect_containers(env=tls_env(discovery, str(tmp_path)))


# ------------------------------------------------------------------ ssh


def ssh_children() -> list[int]:
    """ssh processes (or zombies) whose parent is this test process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and comm == "ssh":
            found.append(int(entry))
    return found


@pytest.mark.parametrize("host_key", ["DOCKSPEC_SSH_ALIAS", "bare"])
def test_docker_over_ssh(daemons: Daemons, discovery: Discovery, host_key: str) -> None:
    if host_key == "bare":  # user and port from the URL: -l root -p PORT
        url = f"ssh://root@{discovery['DOCKSPEC_SSH_BARE_ALIAS']}:{discovery['DOCKSPEC_SSH_PORT']}"
    else:  # user and port from ssh_config
        url = f"ssh://{discovery[host_key]}"
    expected = docker_names({"DOCKER_HOST": url, "HOME": "/root"})
    assert expected == {c["name"] for c in daemons.running("docker")}
    env = Env(uid=0, home="/nonexistent", environ={"DOCKER_HOST": url})
    port_map = detect_containers(env=env)
    actual = {key: port_map[key].name for key in bindings(daemons, "docker") if key in port_map}
    assert actual == bindings(daemons, "docker")
    reports, _ = probe_endpoints(env=env)
    assert names(reports[0]) == expected
    assert ssh_children() == []  # every ssh was killed and reaped


def test_ssh_failures_carry_sshs_message(discovery: Discovery) -> None:
    bare = discovery["DOCKSPEC_SSH_BARE_ALIAS"]
    cases = {
        f"ssh://root@{bare}": "Connection refused",  # port 22: nothing listens
        f"ssh://nobody@{bare}:{discovery['DOCKSPEC_SSH_PORT']}": "Permission denied",
        f"ssh://root@{bare}:{discovery['DOCKSPEC_SSH_PORT']}/run/nothing.sock": "nothing.sock",
    }
    for url, message in cases.items():
        with pytest.raises(DaemonNotFound, match=message):
            detect_containers(env=Env(uid=0, home="/nonexistent", environ={"DOCKER_HOST": url}))
    assert ssh_children() == []


def test_container_host_over_ssh(daemons: Daemons, discovery: Discovery) -> None:
    url = f"ssh://root@{discovery['DOCKSPEC_SSH_BARE_ALIAS']}:{discovery['DOCKSPEC_SSH_PORT']}{daemons.env['DOCKSPEC_PODMAN_SOCK']}"
    env = Env(
        uid=0, home="/nonexistent", environ={"CONTAINER_HOST": url, "CONTAINER_SSHKEY": discovery["DOCKSPEC_SSH_KEY"]}
    )
    reports, explicit = probe_endpoints(env=env)
    assert explicit
    assert reports[0].ok, reports[0].error
    assert reports[0].engine == "podman"
    assert names(reports[0]) == {c["name"] for c in daemons.running("podman")}


# ------------------------------------------------------------------ engine socket paths


def link(home: Path, relative: str, target: str) -> None:
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def test_macos_engine_paths_are_found(daemons: Daemons, discovery: Discovery, short_tmp: Path) -> None:
    """Real sockets linked where Colima, OrbStack, Lima and Podman machine put theirs on a Mac."""
    home = short_tmp / "Users" / "me"
    link(home, ".colima/default/docker.sock", daemons.env["DOCKSPEC_DOCKER_SOCK"])
    link(home, ".orbstack/run/docker.sock", discovery["DOCKSPEC_TLS_SOCK"])  # the second, TLS-serving dockerd
    link(home, ".lima/docker/sock/docker.sock", daemons.env["DOCKSPEC_ROOTLESS_SOCK"])
    link(home, ".local/share/containers/podman/machine/podman.sock", daemons.env["DOCKSPEC_PODMAN_SOCK"])
    env = Env(platform="darwin", uid=501, home=str(home), environ={})
    reports, explicit = probe_endpoints(env=env)
    assert not explicit
    by_origin = {r.endpoint.origin: r for r in reports}
    # /var/run/docker.sock (docker-darwin-system) is the same socket as colima's link: probed once, as colima
    assert set(by_origin) == {"colima", "orbstack", "lima-docker", "podman-machine"}
    assert all(r.ok for r in reports), [r.error for r in reports]
    assert names(by_origin["colima"]) == {c["name"] for c in daemons.running("docker")}
    assert discovery["DOCKSPEC_TLS_CONTAINER"] in names(by_origin["orbstack"])
    assert names(by_origin["lima-docker"]) == {c["name"] for c in daemons.running("podman-rootless")}
    assert by_origin["podman-machine"].engine == "podman"
    assert names(by_origin["podman-machine"]) == {c["name"] for c in daemons.running("podman")}
    port_map = detect_containers(env=env)
    for daemon in ("docker", "podman", "podman-rootless"):
        for key, name in bindings(daemons, daemon).items():
            assert port_map[key].name == name


def test_linux_engine_paths_are_found(daemons: Daemons, discovery: Discovery, short_tmp: Path) -> None:
    home = short_tmp / "home"
    link(home, ".rd/docker.sock", discovery["DOCKSPEC_TLS_SOCK"])
    link(home, ".colima/default/docker.sock", daemons.env["DOCKSPEC_DOCKER_SOCK"])
    reports, _ = probe_endpoints(env=Env(platform="linux", uid=0, home=str(home), environ={}))
    origins = [r.endpoint.origin for r in reports]
    assert "rancher-desktop-linux" in origins
    assert "colima-linux" not in origins  # the same socket as docker-rootful, which comes first
    rancher = report_of(reports, "rancher-desktop-linux")
    assert rancher.ok and discovery["DOCKSPEC_TLS_CONTAINER"] in names(rancher)
