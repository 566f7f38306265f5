"""Docker contexts, podman connections, and the TLS and ssh channels, without real daemons.

The selection rules themselves are vectors (spec/vectors/contexts.yaml); here:
resolve_endpoints over real temporary files, the file reader, the ssh command
line, the ssh channel over a stand-in program (deadline, failures, no zombie,
no leaked fd), and the TLS channel against a local TLS server with openssl-made
certificates (good path, wrong CA, host name, handshake deadline, no plaintext).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from dockspec import DaemonNotFound, Env, builtin_spec, detect_containers
from dockspec._http import Response
from dockspec._io.config_fs import MAX_CONFIG_BYTES, FsConfigFiles
from dockspec._io.exchange import exchange
from dockspec._io.ssh import SshChannel, parse_ssh_url, ssh_argv
from dockspec._io.tls import client_context, connect_tls
from dockspec._io.transport import Unreachable, open_channel
from dockspec.contexts import (
    ContextError,
    Credentials,
    StaticFiles,
    context_digest,
    podman_connection_endpoint,
    select,
    with_env_tls,
)
from dockspec.detect import resolve_endpoints
from dockspec.endpoints import table_endpoints
from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Endpoint, Limits
from dockspec.spec import Spec
from tests.fakedaemon import DOCKER_HEADERS, http_response

SPEC = builtin_spec()
POSIX = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX only")


# ------------------------------------------------------------------ contexts over real files


def write_context(config: Path, name: str, host: str, skip_verify: bool = False) -> Path:
    meta = config / "contexts" / "meta" / context_digest(name) / "meta.json"
    meta.parent.mkdir(parents=True)
    body = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}
    meta.write_text(json.dumps(body))
    return meta


def test_context_digest_is_the_store_directory_docker_wrote() -> None:
    # docker 28.2.2 `docker context create ctx1` made contexts/meta/8f9d61fa.../meta.json
    assert context_digest("ctx1") == "8f9d61fac39402898f831bfec31c774438bb77be6a0cbd47c83cf53d31858372"


def test_recorded_context_is_probed_first_then_the_table(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    config.mkdir()
    (config / "config.json").write_text('{"currentContext": "work"}')
    write_context(config, "work", "unix:///run/work.sock")
    env = Env(home=str(tmp_path), uid=1000, environ={})
    endpoints, explicit = resolve_endpoints(env, SPEC)
    assert not explicit
    assert endpoints[0].url == "unix:///run/work.sock"
    assert endpoints[0].origin == "context:work"
    assert endpoints[1:] == table_endpoints(env, SPEC)


def test_docker_context_variable_is_the_only_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    write_context(config, "ci", "tcp://10.1.2.3:2375")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "ci"})
    endpoints, explicit = resolve_endpoints(env, SPEC)
    assert explicit
    assert [(e.url, e.origin, e.tls) for e in endpoints] == [("tcp://10.1.2.3:2375", "context:ci", False)]


def test_missing_context_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "nope"})
    with pytest.raises(ContextError, match=r"'nope'.*does not exist"):
        resolve_endpoints(env, SPEC)
    with pytest.raises(ContextError):
        detect_containers(env=env)


def test_context_tls_files_are_found_in_the_store(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    write_context(config, "secure", "tcp://10.1.2.3:2376")
    tls = config / "contexts" / "tls" / context_digest("secure") / "docker"
    tls.mkdir(parents=True)
    (tls / "ca.pem").write_text("x")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "secure"})
    (endpoint,), _ = resolve_endpoints(env, SPEC)
    assert endpoint.credentials is not None
    assert endpoint.tls
    assert endpoint.credentials == Credentials(ca_file=str(tls / "ca.pem"))


def test_env_tls_uses_docker_cert_path_then_the_config_dir() -> None:
    tls_endpoint = Endpoint(url="tcp://h:2376", transport="tcp", address="h:2376", origin="DOCKER_HOST", tls=True)
    env = Env(home="/home/u", environ={"DOCKER_CERT_PATH": "/certs"})
    got = with_env_tls(tls_endpoint, env, SPEC)
    assert got.credentials is not None
    assert got.credentials == Credentials(
        ca_file="/certs/ca.pem", cert_file="/certs/cert.pem", key_file="/certs/key.pem"
    )
    assert got.origin == "DOCKER_HOST"
    got = with_env_tls(tls_endpoint, Env(home="/home/u"), SPEC)
    assert got.credentials is not None
    assert got.credentials.ca_file == "/home/u/.docker/ca.pem"
    got = with_env_tls(tls_endpoint, Env(home="/home/u", environ={"DOCKER_CONFIG": "/c"}), SPEC)
    assert got.credentials is not None
    assert got.credentials.ca_file == "/c/ca.pem"
    plain = attrs.evolve(tls_endpoint, tls=False)
    assert with_env_tls(plain, env, SPEC) is plain


def test_env_tls_checks_the_files_it_is_given() -> None:
    tls_endpoint = Endpoint(url="tcp://h:2376", transport="tcp", address="h:2376", origin="DOCKER_HOST", tls=True)
    env = Env(home="/home/u", environ={"DOCKER_CERT_PATH": "/certs"})
    with pytest.raises(ContextError, match=r"DOCKER_HOST uses TLS \(DOCKER_TLS_VERIFY\) but the CA file /certs/ca.pem"):
        with_env_tls(tls_endpoint, env, SPEC, StaticFiles({}))
    got = with_env_tls(tls_endpoint, env, SPEC, StaticFiles({"/certs/ca.pem": "x", "/certs/cert.pem": "x"}))
    assert got.credentials is not None
    assert got.credentials == Credentials(ca_file="/certs/ca.pem")  # no key.pem: no client certificate
    files = StaticFiles({"/certs/ca.pem": "x", "/certs/cert.pem": "x", "/certs/key.pem": "x"})
    got = with_env_tls(tls_endpoint, env, SPEC, files)
    assert got.credentials is not None
    assert got.credentials.key_file == "/certs/key.pem"


@pytest.mark.parametrize(
    ("uri", "url", "transport", "address"),
    [
        ("unix:///run/podman/podman.sock", "unix:///run/podman/podman.sock", "unix", "/run/podman/podman.sock"),
        ("tcp://127.0.0.1:8888", "tcp://127.0.0.1:8888", "tcp", "127.0.0.1:8888"),
        ("tcp://127.0.0.1:8888/", "tcp://127.0.0.1:8888", "tcp", "127.0.0.1:8888"),
        (
            "ssh://core@127.0.0.1:5022/run/user/501/podman/podman.sock?secure=True",
            "ssh://core@127.0.0.1:5022/run/user/501/podman/podman.sock",
            "ssh",
            "core@127.0.0.1:5022/run/user/501/podman/podman.sock",
        ),
    ],
)
def test_podman_uris(uri: str, url: str, transport: str, address: str) -> None:
    endpoint = podman_connection_endpoint(uri, "connection:x")
    assert (endpoint.url, endpoint.transport, endpoint.address, endpoint.engine) == (url, transport, address, "podman")


@pytest.mark.parametrize("uri", ["http://x", "unix://", "tcp://", "ssh:///path", "nothing"])
def test_bad_podman_uris_are_context_errors(uri: str) -> None:
    with pytest.raises(ContextError):
        podman_connection_endpoint(uri, "connection:x")


def test_static_files_select_nothing_without_files() -> None:
    assert select(Env(home="/h", uid=1000), SPEC, StaticFiles()).explicit == ()


# ------------------------------------------------------------------ the file reader


def test_fs_config_files(tmp_path: Path) -> None:
    files = FsConfigFiles()
    assert files.read_text(str(tmp_path / "missing")) is None
    assert files.read_text(str(tmp_path / "missing" / "deeper")) is None
    (tmp_path / "f").write_text("hello")
    assert files.read_text(str(tmp_path / "f")) == "hello"
    assert files.read_text(str(tmp_path / "f" / "not-a-dir")) is None
    with pytest.raises(ContextError, match="cannot read"):
        files.read_text(str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ContextError, match="larger than"):
        files.read_text(str(tmp_path / "big"))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ContextError, match="UTF-8"):
        files.read_text(str(tmp_path / "bin"))


# ------------------------------------------------------------------ the ssh command line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://host", (None, "host", None, "")),
        ("ssh://me@host:2222", ("me", "host", 2222, "")),
        ("ssh://me@[::1]:22/run/docker.sock", ("me", "::1", 22, "/run/docker.sock")),
        ("ssh://Build-Box", (None, "Build-Box", None, "")),
    ],
)
def test_parse_ssh_url(url: str, expected: tuple[object, ...]) -> None:
    target = parse_ssh_url(url)
    assert (target.user, target.host, target.port, target.path) == expected


@pytest.mark.parametrize("url", ["ssh://me:pw@host", "ssh://", "ssh://host:99999", "ssh://host?x=1", "tcp://host"])
def test_parse_ssh_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ssh_url(url)


def test_ssh_argv_is_the_docker_cli_one() -> None:
    def argv(url: str, engine: str | None = "docker", identity: str | None = None) -> list[str]:
        credentials = Credentials(ssh_identity=identity) if identity else None
        endpoint = Endpoint(url=url, transport="ssh", address=url[6:], engine=engine, credentials=credentials)
        return ssh_argv(endpoint, SPEC, 3)

    head = ["ssh", "-o", "ConnectTimeout=3", "-o", "BatchMode=yes", "-T"]
    assert argv("ssh://box") == [*head, "--", "box", "docker", "system", "dial-stdio"]
    assert argv("ssh://me@box:2222", engine=None) == [
        *head,
        "-l",
        "me",
        "-p",
        "2222",
        "--",
        "box",
        "docker",
        "system",
        "dial-stdio",
    ]
    assert argv("ssh://box/var/run/my docker.sock") == [
        *head,
        "--",
        "box",
        "docker",
        "'--host=unix:///var/run/my docker.sock'",
        "system",
        "dial-stdio",
    ]
    assert argv("ssh://core@m:5022/run/podman/podman.sock", engine="podman", identity="/k") == [
        *head,
        "-l",
        "core",
        "-p",
        "5022",
        "-i",
        "/k",
        "--",
        "m",
        "podman",
        "--url=unix:///run/podman/podman.sock",
        "system",
        "dial-stdio",
    ]
    with pytest.raises(ValueError, match="socket path"):
        argv("ssh://m", engine="podman")


# ------------------------------------------------------------------ the ssh channel over a stand-in


def fake_ssh(script: str) -> Spec:
    """A spec whose ssh program is `sh -c SCRIPT`: the usual ssh arguments become $0, $1, ..."""
    rules = attrs.evolve(SPEC.discovery.ssh, program="/bin/sh", options=("-c", script))
    return attrs.evolve(SPEC, discovery=attrs.evolve(SPEC.discovery, ssh=rules))


SSH_ENDPOINT = Endpoint(url="ssh://box", transport="ssh", address="box", origin="DOCKER_HOST")
ANSWER = http_response(200, b"[]", DOCKER_HEADERS).decode()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def state(pid: int) -> str:
    """The process state letter from /proc, or "gone" once it is reaped."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def gone(pid: int) -> bool:
    """Reaped: no process and no zombie left."""
    return state(pid) == "gone"


@POSIX
def test_ssh_channel_carries_the_exchange() -> None:
    # reads the request head, answers, then stays open as dial-stdio does
    script = (
        'while IFS= read -r line; do [ "$line" = "$(printf \'\\r\')" ] && break; done; '
        f"printf '%s' '{ANSWER}'; sleep 30"
    )
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=fake_ssh(script))
    try:
        channel.send(b"GET /containers/json HTTP/1.1\r\nHost: localhost\r\n\r\n", deadline)
        data = b""
        while b"[]" not in data:
            data += channel.recv(deadline)
    finally:
        channel.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert channel.proc.returncode is not None
    assert gone(channel.proc.pid)


@POSIX
def test_ssh_failure_is_unreachable_with_ssh_stderr() -> None:
    spec = fake_ssh("echo 'ssh: connect to host box port 22: Connection refused' >&2; exit 255")
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        refused = r"ssh failed \(exit 255\): ssh: connect to host box port 22: Connection refused"
        with pytest.raises(Unreachable, match=refused):
            # ssh may be gone before the request is written: send or recv reports it, the same way
            channel.send(b"GET / HTTP/1.1\r\n\r\n", deadline)
            channel.recv(deadline)
    finally:
        channel.close()


@POSIX
def test_remote_command_failure_is_reported_with_its_status() -> None:
    spec = fake_ssh("echo 'bash: docker: command not found' >&2; exit 127")
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        with pytest.raises(Unreachable, match=r"remote command failed \(exit 127\): bash: docker: command not found"):
            channel.send(b"x" * 1_000_000, deadline)  # a broken pipe, or the error on recv
            channel.recv(deadline)
    finally:
        channel.close()


@POSIX
def test_ssh_channel_honours_the_deadline_and_reaps() -> None:
    spec = fake_ssh("exec sleep 30")
    started = time.monotonic()
    deadline = started + 0.5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        channel.send(b"GET / HTTP/1.1\r\n\r\n", deadline)
        with pytest.raises(Unreachable, match="before the deadline"):
            channel.recv(deadline)
    finally:
        channel.close()
    assert time.monotonic() - started < 1.5
    assert gone(channel.proc.pid)


@POSIX
def test_exchange_over_ssh_times_out_as_invalid_response_after_bytes() -> None:
    # a daemon that sends half an answer and hangs: the deadline ends the exchange
    spec = fake_ssh("printf 'HTTP/1.1 200 OK\\r\\n'; exec sleep 30")
    started = time.monotonic()
    with pytest.raises(InvalidResponse, match="deadline"):
        exchange(SSH_ENDPOINT, "GET", "/containers/json", spec=spec, limits=DEFAULT_LIMITS, deadline=started + 0.5)
    assert time.monotonic() - started < 1.5


@POSIX
def test_the_callers_spec_reaches_the_ssh_channel() -> None:
    """detect_containers(spec=...) runs the ssh program of that spec, not the built-in one."""
    spec = fake_ssh("echo 'from the custom spec' >&2; exit 255")
    env = Env(home="/nonexistent", uid=1000, environ={"DOCKER_HOST": "ssh://box"})
    with pytest.raises(DaemonNotFound, match=r"ssh failed \(exit 255\): from the custom spec"):
        detect_containers(env=env, spec=spec, limits=Limits(deadline=2))


@POSIX
def test_ssh_close_kills_the_session_and_leaks_no_fd() -> None:
    spec = fake_ssh("sleep 30 & echo $! >&2; exec sleep 30")
    before = open_fds()
    pids = []
    for _ in range(10):
        deadline = time.monotonic() + 2
        channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
        while not channel.stderr:
            with pytest.raises(Unreachable):
                channel.recv(time.monotonic() + 0.2)
        pids.append(int(channel.stderr.decode().split()[0]))
        channel.close()
        pids.append(channel.proc.pid)
    assert open_fds() == before
    for pid in pids[1::2]:
        assert gone(pid)  # ssh itself: killed and reaped by close()
    time.sleep(0.2)
    for pid in pids[0::2]:
        assert state(pid) in ("gone", "Z")  # what it started in its session: killed (init reaps it)


@POSIX
def test_missing_ssh_program_is_unreachable() -> None:
    rules = attrs.evolve(SPEC.discovery.ssh, program="/nonexistent/ssh")
    spec = attrs.evolve(SPEC, discovery=attrs.evolve(SPEC.discovery, ssh=rules))
    with pytest.raises(Unreachable, match="cannot run /nonexistent/ssh"):
        SshChannel.connect(SSH_ENDPOINT, time.monotonic() + 1, spec=spec)


# ------------------------------------------------------------------ the TLS channel


@attrs.frozen
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    encrypted_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    for name in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(d / f"{name}-key.pem"),
            "-out",
            str(d / f"{name}.pem"),
        )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(d / f"{name}-key.pem"),
            "-out",
            str(d / f"{name}.csr"),
        )
        (d / f"{name}.ext").write_text(ext)
        _openssl(
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca-key.pem"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(d / f"{name}.ext"),
            "-out",
            str(d / f"{name}.pem"),
        )
    _openssl(
        "pkey",
        "-in",
        str(d / "client-key.pem"),
        "-aes256",
        "-passout",
        "pass:secret",
        "-out",
        str(d / "client-key-enc.pem"),
    )
    return Pki(
        d / "ca.pem",
        d / "server.pem",
        d / "server-key.pem",
        d / "client.pem",
        d / "client-key.pem",
        d / "other-ca.pem",
        d / "client-key-enc.pem",
    )


@pytest.fixture()
def tls_server(pki: Pki) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that needs a client certificate and answers one HTTP request."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(2)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    tls.sendall(http_response(200, b"[]", DOCKER_HEADERS))
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def tls_endpoint(port: int, host: str = "127.0.0.1", **credentials: object) -> Endpoint:
    return Endpoint(
        url=f"tcp://{host}:{port}",
        transport="tcp",
        address=f"{host}:{port}",
        tls=True,
        credentials=Credentials(**credentials),  # type: ignore[arg-type]
    )


def get(endpoint: Endpoint) -> Response:
    """One GET /containers/json within 3 s."""
    deadline = time.monotonic() + 3
    return exchange(endpoint, "GET", "/containers/json", spec=SPEC, limits=DEFAULT_LIMITS, deadline=deadline)


def test_tls_good_path(pki: Pki, tls_server: int) -> None:
    endpoint = tls_endpoint(
        tls_server, ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key)
    )
    response = get(endpoint)
    assert response.status == 200
    assert response.body == b"[]"


def test_tls_wrong_ca_fails_the_handshake(pki: Pki, tls_server: int) -> None:
    endpoint = tls_endpoint(
        tls_server, ca_file=str(pki.other_ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key)
    )
    with pytest.raises(InvalidResponse, match=r"TLS handshake failed: .*CERTIFICATE_VERIFY_FAILED"):
        get(endpoint)


def test_tls_host_name_is_checked(pki: Pki, tls_server: int) -> None:
    # the server certificate names IP:127.0.0.1 only
    endpoint = tls_endpoint(
        tls_server, host="localhost", ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key)
    )
    with pytest.raises((InvalidResponse, Unreachable), match=r"CERTIFICATE_VERIFY_FAILED|Hostname mismatch|refused"):
        get(endpoint)


def test_skip_tls_verify_still_encrypts(pki: Pki, tls_server: int) -> None:
    endpoint = tls_endpoint(
        tls_server,
        ca_file=str(pki.other_ca),
        cert_file=str(pki.client_cert),
        key_file=str(pki.client_key),
        verify=False,
    )
    assert get(endpoint).status == 200


def test_tls_without_client_cert_is_refused_clearly(pki: Pki, tls_server: int) -> None:
    endpoint = tls_endpoint(
        tls_server, ca_file=str(pki.ca), cert_file="/nonexistent/cert.pem", key_file="/nonexistent/key.pem"
    )
    with pytest.raises(InvalidResponse, match="no client certificate was offered"):
        get(endpoint)


def test_tls_files_problems_are_context_errors(pki: Pki) -> None:
    with pytest.raises(ContextError, match="does not exist"):
        client_context(Credentials(ca_file="/nonexistent/ca.pem"))
    with pytest.raises(ContextError, match="encrypted"):
        client_context(
            Credentials(ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.encrypted_key))
        )
    with pytest.raises(ContextError):
        client_context(Credentials(ca_file=str(pki.ca), cert_file=str(pki.client_key), key_file=str(pki.client_key)))


def test_tls_handshake_honours_the_deadline_and_sends_no_plaintext(pki: Pki) -> None:
    """A peer that accepts and never answers: Unreachable at the deadline; it saw only a TLS ClientHello."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    received = bytearray()

    def hold() -> None:
        conn, _ = listener.accept()
        conn.settimeout(2)
        try:
            while chunk := conn.recv(4096):
                received.extend(chunk)
        except OSError:
            pass
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    endpoint = tls_endpoint(port, ca_file=str(pki.ca))
    started = time.monotonic()
    try:
        with pytest.raises(Unreachable, match="timed out during the TLS handshake"):
            open_channel(endpoint, started + 0.5, SPEC)
        assert time.monotonic() - started < 1.0
        thread.join(3)
    finally:
        listener.close()
    assert received[:1] == b"\x16"  # a TLS handshake record: the ClientHello
    assert b"GET " not in received and b"HTTP/1.1" not in received


def test_connect_tls_refuses_nothing_listening(pki: Pki) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable):
        connect_tls(tls_endpoint(port, ca_file=str(pki.ca)), time.monotonic() + 1)


def test_daemon_not_found_names_the_context(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    write_context(config, "dead", f"unix://{tmp_path}/nothing.sock")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "dead"})
    with pytest.raises(DaemonNotFound, match="context:dead"):
        detect_containers(env=env)


# ------------------------------------------------------------------ the README's table of paths


def test_readme_paths_section_round_trip(tmp_path: Path) -> None:
    from tools import readme_paths

    section = readme_paths.render(SPEC)
    for rule in SPEC.endpoints:
        assert f"`{rule.id}`" in section
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nno section yet\n")
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 1  # no markers: stale
    readme.write_text(f"# x\n\n{readme_paths.BEGIN}\nold\n{readme_paths.END}\n\nafter\n")
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 1
    assert readme_paths.main(["--readme", str(readme)]) == 0
    assert readme_paths.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n\n<!-- paths:begin -->") and text.endswith("<!-- paths:end -->\n\nafter\n")
