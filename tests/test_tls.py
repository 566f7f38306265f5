"""The TLS channel against a local TLS server with openssl-made certificates.

Good path, wrong CA, host name, SkipTLSVerify, no client certificate, files
that cannot be used, the handshake deadline, and no plaintext before it.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from dockspec import builtin_spec
from dockspec._http import Response
from dockspec._io.exchange import exchange
from dockspec._io.tls import client_context, connect_tls
from dockspec._io.transport import Unreachable, open_channel
from dockspec.errors import ContextError, InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Credentials, Endpoint
from tests.fakedaemon import DOCKER_HEADERS, http_response

SPEC = builtin_spec()


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
