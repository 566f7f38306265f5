"""The `dockspec` command against fake daemons, and sockets.py's pure attribution.

Commands run in this process through `cli.main(argv, env, out, err)`, with
DOCKER_HOST naming a fake daemon (a real socket server, tests/fakedaemon.py);
exit statuses, stdout and stderr are what main hands back. A few tests run
the console script pip installed, as a subprocess: that it is installed,
passes the status to the shell, handles Ctrl-C, and works with no psutil.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import dockspec
from dockspec import ContainerInfo, ContainerPortMap, Env, Protocol, builtin_spec
from dockspec._generated import SPEC_DIGEST
from dockspec._generated.models import HelperProcess
from dockspec.cli import EXIT_STATUSES, _port_ranges, main, parse_target
from dockspec.sockets import (
    Attribution,
    HostSocket,
    attribute,
    find_container,
    flag_value,
    helper_for,
    sort_key,
)
from tests.fakedaemon import DOCKER_HEADERS, PODMAN_HEADERS, FakeDaemon, fake_daemon, hang, http_response

DOCKSPEC = shutil.which("dockspec", path=os.path.dirname(sys.executable))
LIBPOD_PATH = "/v4.0.0/libpod/containers/json"

WEB_ID = "a" * 64
API_ID = "b" * 64
DNS_ID = "c" * 64


def docker_container(
    cid: str, name: str, image: str, ports: list[tuple[str, int, str]], labels: dict[str, str] | None = None
) -> dict[str, object]:
    return {
        "Id": cid,
        "Names": ["/" + name],
        "Image": image,
        "State": "running",
        "Labels": labels or {},
        "Ports": [{"IP": ip, "PublicPort": port, "PrivatePort": 80, "Type": proto} for ip, port, proto in ports],
    }


def docker_list(*containers: dict[str, object]) -> bytes:
    return http_response(200, json.dumps(list(containers)), DOCKER_HEADERS)


# Two containers publish tcp 18080 on different addresses (ambiguous without ADDR);
# only web publishes 18081 (on 127.0.0.1); api publishes a range and a udp port
# on every address; dns publishes nothing. web is labelled as `docker compose`
# labels, api as podman-compose's io.podman.compose.project alone; dns has none.
WEB_LABELS = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
              "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
API_LABELS = {"io.podman.compose.project": "pm", "io.podman.compose.service": "api"}
STANDARD = docker_list(
    docker_container(WEB_ID, "web", "nginx:1", [("127.0.0.1", 18080, "tcp"), ("127.0.0.1", 18081, "tcp")], WEB_LABELS),
    docker_container(
        API_ID, "api", "api:2", [("10.9.9.9", 18080, "tcp"), ("0.0.0.0", 18200, "tcp"), ("0.0.0.0", 18201, "tcp"),
                                 ("::", 18200, "tcp"), ("0.0.0.0", 18053, "udp")], API_LABELS
    ),
    docker_container(DNS_ID, "dns", "dns:3", []),
)
WEB_COMPOSE = {"project": "shop", "service": "web", "number": 1}
API_COMPOSE = {"project": "pm", "service": "api", "number": None}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that picks a daemon, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST", "DOCKER_TLS_VERIFY")}
    env.update(extra)
    return env


@attrs.frozen
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, host: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`dockspec ARGS` in this process, with `env` (default: this one's, less what picks a daemon)."""
    environ = env if env is not None else clean_env()
    if host is not None:
        environ = {**environ, "DOCKER_HOST": host}
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), environ, out, err)
    return Result(status, out.getvalue(), err.getvalue())


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a subprocess."""
    assert DOCKSPEC is not None, "the dockspec console script is not installed next to this python"
    environ = env if env is not None else clean_env()
    return subprocess.run([DOCKSPEC, *args], capture_output=True, text=True, env=environ, timeout=60, check=False)


def run_json(*args: str, host: str) -> tuple[int, list[dict[str, object]]]:
    result = run(*args, "--json", host=host)
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return result.returncode, data


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    with fake_daemon({("GET", "/containers/json"): STANDARD}) as fake:
        yield fake


@pytest.fixture
def missing_socket() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield "unix://" + os.path.join(tmp, "nobody-here.sock")


def assert_clean_error(result: Result | subprocess.CompletedProcess[str], status: int) -> None:
    assert status == result.returncode, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("dockspec: ")


# ---------------------------------------------------------------- script basics


def test_console_script_is_installed() -> None:
    assert DOCKSPEC is not None and os.access(DOCKSPEC, os.X_OK)


def test_version_prints_package_version_and_spec_digest() -> None:
    result = run_script("--version")
    assert 0 == result.returncode
    assert f"dockspec {dockspec.__version__} (spec {SPEC_DIGEST})" == result.stdout.strip()


def test_help_lists_every_command_with_examples() -> None:
    result = run("--help")
    assert 0 == result.returncode
    for command in ("ports", "ps", "who", "stop", "kill", "endpoints"):
        assert command in result.stdout
    assert "examples:" in result.stdout
    assert "dockspec who 8080" in result.stdout


def test_no_command_is_a_usage_error() -> None:
    for result in (run(), run_script()):
        assert 2 == result.returncode
        assert "usage:" in result.stderr
        assert "" == result.stdout


def test_version_and_help_in_process() -> None:
    assert (0, f"dockspec {dockspec.__version__} (spec {SPEC_DIGEST})\n", "") == attrs.astuple(run("--version"))
    result = run("who", "--help")
    assert (0, "") == (result.returncode, result.stderr)
    assert result.stdout.startswith("usage: dockspec who")


def test_help_lists_every_exit_status_the_docs_list() -> None:
    """--help prints EXIT_STATUSES, and its statuses are those of docs/cli.md's table."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    table = docs.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    documented = [int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)]
    assert documented == [status for status, _, _ in EXIT_STATUSES]
    text = run("--help").stdout.split("exit status:", 1)[1]
    for status, meaning, _ in EXIT_STATUSES:
        assert re.search(rf"^  {status} +{re.escape(meaning)}$", text, re.MULTILINE), (status, text)


def test_main_takes_an_env_or_a_mapping(daemon: FakeDaemon) -> None:
    """The same command with an Env value and with a mapping of variables; out and err are the streams given."""
    results = []
    for env in (Env(environ={"DOCKER_HOST": daemon.url}), {"DOCKER_HOST": daemon.url}):
        out, err = io.StringIO(), io.StringIO()
        results.append((main(["who", "127.0.0.1:18080"], env, out, err), out.getvalue(), err.getvalue()))
    assert results[0] == results[1]
    assert (0, "") == (results[0][0], results[0][2])
    assert "web (nginx:1)" in results[0][1]


def test_script_passes_the_status_to_the_shell(daemon: FakeDaemon) -> None:
    found = run_script("who", "127.0.0.1:18080", env=clean_env(DOCKER_HOST=daemon.url))
    ambiguous = run_script("who", "18080", env=clean_env(DOCKER_HOST=daemon.url))
    assert (0, 2) == (found.returncode, ambiguous.returncode)
    assert "web (nginx:1)" in found.stdout


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockspec", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert 0 == result.returncode
    assert SPEC_DIGEST in result.stdout


def test_import_dockspec_loads_neither_cli_nor_psutil() -> None:
    code = (
        "import sys, dockspec\n"
        "print(sorted(m for m in ('dockspec.cli', 'dockspec.sockets', 'psutil') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert 0 == result.returncode, result.stderr
    assert "[]" == result.stdout.strip()


# ---------------------------------------------------------------- who


def test_who_found_by_address(daemon: FakeDaemon) -> None:
    result = run("who", "127.0.0.1:18080", host=daemon.url)
    assert 0 == result.returncode, result
    assert "web (nginx:1)" in result.stdout
    assert "api" not in result.stdout
    assert result.stdout.rstrip().endswith(", compose shop/web")


def test_who_prints_and_json_carries_compose(daemon: FakeDaemon) -> None:
    """who names the compose project/service in text and carries `compose` (or null) in --json."""
    status, data = run_json("who", "18080", host=daemon.url)
    assert 2 == status
    assert {"api": API_COMPOSE, "web": WEB_COMPOSE} == {c["name"]: c["compose"] for c in data}
    text = run("who", "18080", host=daemon.url).stdout
    assert "api (api:2)" in text and "compose pm/api" in text
    status, data = run_json("who", "18201", host=daemon.url)
    assert (0, [API_COMPOSE]) == (status, [c["compose"] for c in data])


def test_who_port_alone_matches_any_address(daemon: FakeDaemon) -> None:
    status, data = run_json("who", "18201", host=daemon.url)
    assert 0 == status
    assert [("api", API_ID, "api:2", daemon.url, "docker")] == [
        (c["name"], c["id"], c["image"], c["daemon"], c["engine"]) for c in data
    ]
    # only bound on 127.0.0.1: found by the proxy fallback without ADDR, not on another address
    status, data = run_json("who", "18081", host=daemon.url)
    assert (0, ["web"]) == (status, [c["name"] for c in data])
    status, data = run_json("who", "0.0.0.0:18081", host=daemon.url)
    assert (1, []) == (status, data)


def test_who_wildcard_binding_matches_any_address(daemon: FakeDaemon) -> None:
    status, data = run_json("who", "[::1]:18200", host=daemon.url)
    assert (0, ["api"]) == (status, [c["name"] for c in data])


def test_who_udp(daemon: FakeDaemon) -> None:
    status, data = run_json("who", "18053/udp", host=daemon.url)
    assert (0, ["api"]) == (status, [c["name"] for c in data])
    status, data = run_json("who", "18053", host=daemon.url)
    assert (1, []) == (status, data)


def test_who_not_found(daemon: FakeDaemon) -> None:
    result = run("who", "127.0.0.2:18080", host=daemon.url)
    assert 1 == result.returncode
    assert "no container publishes tcp 127.0.0.2:18080" == result.stdout.strip()
    result = run("who", "9/udp", host=daemon.url)
    assert 1 == result.returncode
    assert "no container publishes udp port 9" == result.stdout.strip()


def test_who_ambiguous_lists_candidates(daemon: FakeDaemon) -> None:
    result = run("who", "18080", host=daemon.url)
    assert 2 == result.returncode
    assert "2 containers" in result.stdout
    assert "web (nginx:1)" in result.stdout and "api (api:2)" in result.stdout
    status, data = run_json("who", "18080", host=daemon.url)
    assert (2, ["api", "web"]) == (status, sorted(str(c["name"]) for c in data))


@pytest.mark.parametrize("target", ["http", "70000", "0", "1.2.3:80", "::1:80", "[::1]80", "80/sctp", "host:80"])
def test_who_bad_target_is_a_usage_error(daemon: FakeDaemon, target: str) -> None:
    result = run("who", target, host=daemon.url)
    assert_clean_error(result, 2)
    assert [] == daemon.requests


# ---------------------------------------------------------------- ps


def test_ps_lists_every_container_with_ports_and_daemon(daemon: FakeDaemon) -> None:
    result = run("ps", host=daemon.url)
    assert 0 == result.returncode, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "IMAGE", "COMPOSE", "PORTS", "DAEMON"]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert ["api", "dns", "web"] == sorted(by_name)
    column = lines[0].index("COMPOSE")
    assert {"api": "pm/api", "dns": "-", "web": "shop/web"} == {
        name: line[column:].split()[0] for name, line in by_name.items()
    }
    assert "127.0.0.1:18080-18081/tcp" in by_name["web"]
    assert "*:18200-18201/tcp" in by_name["api"] and "*:18053/udp" in by_name["api"]
    assert f"{daemon.url} (docker)" in by_name["dns"]
    # aligned: every row's DAEMON column starts where the header's does
    column = lines[0].index("DAEMON")
    assert all(line[column:].startswith(daemon.url) for line in lines[1:])


def test_ps_json_shape(daemon: FakeDaemon) -> None:
    status, data = run_json("ps", host=daemon.url)
    assert 0 == status
    assert all({"id", "name", "image", "daemon", "engine", "version", "compose", "ports"} == set(row) for row in data)
    assert {"api": API_COMPOSE, "dns": None, "web": WEB_COMPOSE} == {row["name"]: row["compose"] for row in data}
    api = next(row for row in data if row["name"] == "api")
    assert (API_ID, "api:2", daemon.url, "docker", "20.10.24") == (
        api["id"], api["image"], api["daemon"], api["engine"], api["version"]
    )
    assert sorted([(None, 18200, "tcp"), (None, 18201, "tcp"), ("10.9.9.9", 18080, "tcp"), (None, 18053, "udp")],
                  key=str) == sorted(((p["ip"], p["port"], p["protocol"]) for p in api["ports"]), key=str)
    dns = next(row for row in data if row["name"] == "dns")
    assert [] == dns["ports"]


def test_ps_against_podman_uses_libpod_list() -> None:
    compat = http_response(200, "[]", PODMAN_HEADERS)
    libpod = http_response(200, json.dumps([{"Id": "d" * 64, "Names": ["ranged"], "Image": "localhost/bb:latest",
                                             "Ports": [{"host_ip": "", "host_port": 28200, "container_port": 8200,
                                                        "range": 3, "protocol": "tcp"}]}]), PODMAN_HEADERS)
    with fake_daemon({("GET", "/containers/json"): compat, ("GET", LIBPOD_PATH): libpod}) as fake:
        status, data = run_json("ps", host=fake.url)
    assert 0 == status
    assert [("ranged", "podman", [28200, 28201, 28202])] == [
        (row["name"], row["engine"], [p["port"] for p in row["ports"]]) for row in data
    ]


# ---------------------------------------------------------------- no daemon, bad DOCKER_HOST, Ctrl-C


@pytest.mark.parametrize("args", [["ps"], ["who", "80"], ["stop", "web"], ["kill", "web"], ["ps", "--json"]])
def test_no_daemon_is_one_line_and_a_hint(missing_socket: str, args: list[str]) -> None:
    result = run(*args, host=missing_socket)
    assert_clean_error(result, 3)
    lines = result.stderr.strip().splitlines()
    assert 2 == len(lines)
    assert missing_socket in lines[0]
    assert "run `dockspec endpoints` to see what was tried" in lines[1]
    assert "" == result.stdout


def test_daemon_answering_garbage_counts_as_no_daemon() -> None:
    with fake_daemon({("GET", "/containers/json"): http_response(200, "{not json", DOCKER_HEADERS)}) as fake:
        result = run("ps", host=fake.url)
    assert_clean_error(result, 3)
    assert "dockspec endpoints" in result.stderr


@pytest.mark.parametrize("args", [["ps"], ["who", "80"], ["stop", "web"], ["endpoints"], ["ports"]])
@pytest.mark.parametrize("value", ["foo://bar", "tcp://host:notaport"])
def test_invalid_docker_host_is_a_clean_error(args: list[str], value: str) -> None:
    result = run(*args, host=value)
    assert_clean_error(result, 3)
    assert 1 == len(result.stderr.strip().splitlines())
    assert "DOCKER_HOST" in result.stderr and repr(value) in result.stderr


# A shell's background job (CI) starts with SIGINT ignored, and exec keeps it
# ignored; a terminal's Ctrl-C reaches a process whose SIGINT is the default.
RESET_SIGINT_AND_EXEC = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def test_ctrl_c_exits_130_without_traceback() -> None:
    assert DOCKSPEC is not None
    with fake_daemon({("GET", "/containers/json"): lambda conn: hang(conn, 20)}) as fake:
        proc = subprocess.Popen(
            [sys.executable, "-c", RESET_SIGINT_AND_EXEC, DOCKSPEC, "ps"],
            env=clean_env(DOCKER_HOST=fake.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            limit = time.monotonic() + 10
            while not fake.requests and time.monotonic() < limit and proc.poll() is None:
                time.sleep(0.01)
            assert fake.requests, "dockspec never asked the daemon"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert 130 == proc.returncode, (out, err)
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


# ---------------------------------------------------------------- stop and kill


def stop_daemon(status: int, *, action: str = "stop", body: str = "", name: str = "web") -> FakeDaemon:
    target = f"/containers/{name}/stop?t=10" if action == "stop" else f"/containers/{name}/kill"
    return FakeDaemon({
        ("POST", target): http_response(status, body, DOCKER_HEADERS),
        ("GET", "/containers/json"): STANDARD,
    })


@pytest.mark.parametrize(
    ("action", "status", "outcome", "exit_status"),
    [
        ("stop", 204, "stopped", 0),
        ("stop", 304, "already_stopped", 0),
        ("stop", 404, "not_found", 1),
        ("stop", 500, "failed", 1),
        ("kill", 204, "stopped", 0),
        ("kill", 409, "already_stopped", 0),
        ("kill", 404, "not_found", 1),
        ("kill", 500, "failed", 1),
    ],
)
def test_stop_and_kill_outcomes(action: str, status: int, outcome: str, exit_status: int) -> None:
    fake = stop_daemon(status, action=action)
    try:
        result = run(action, "web", "--json", host=fake.url)
        text = run(action, "web", host=fake.url)
    finally:
        fake.close()
    assert exit_status == result.returncode, result
    acted = None if outcome == "not_found" else fake.url
    assert [{"container": "web", "action": action, "outcome": outcome, "daemon": acted,
             "origin": acted and "DOCKER_HOST"}] == json.loads(result.stdout)
    assert exit_status == text.returncode
    assert text.stdout.startswith("web: ")
    assert (acted is not None) == (f"DOCKER_HOST, {fake.url}" in text.stdout)
    assert "Traceback" not in result.stderr + text.stderr


def test_stop_passes_the_timeout() -> None:
    with fake_daemon({("POST", "/containers/web/stop?t=3"): http_response(204, "", DOCKER_HEADERS)}) as fake:
        result = run("stop", "-t", "3", "web", host=fake.url)
    assert 0 == result.returncode, result
    assert f"web: stopped (by DOCKER_HOST, {fake.url})" == result.stdout.strip()


def test_a_failed_stop_is_one_round_of_requests() -> None:
    """A refusal is the answer: no list is asked afterwards to find out whether a daemon is there."""
    fake = stop_daemon(500)
    try:
        result = run("stop", "web", host=fake.url)
    finally:
        fake.close()
    assert (1, f"web: stop failed at DOCKER_HOST, {fake.url} (it refused or answered badly)\n") == (
        result.returncode, result.stdout)
    assert [("POST", "/containers/web/stop?t=10")] == [(m, t) for m, t, _ in fake.requests]


def test_stop_with_no_usable_answer_is_no_daemon() -> None:
    """A daemon that answers stop with garbage counts as none: exit 3, one line and the hint."""
    with fake_daemon({("POST", "/containers/web/stop?t=10"): b"garbage\r\n\r\n"}) as fake:
        result = run("stop", "web", host=fake.url)
        assert 1 == len(fake.requests)
    assert_clean_error(result, 3)
    first, hint = result.stderr.splitlines()
    assert first.startswith(f"dockspec: the daemon named by DOCKER_HOST ({fake.url}) gave no usable answer: ")
    assert hint.startswith("hint: ")


@pytest.mark.parametrize("seconds", ["-1", "x", "\u0663"])
def test_stop_time_must_be_seconds(daemon: FakeDaemon, seconds: str) -> None:
    result = run("stop", "-t", seconds, "web", host=daemon.url)
    assert (2, "") == (result.returncode, result.stdout)
    assert "usage:" in result.stderr
    assert [] == daemon.requests


@pytest.mark.parametrize("bad", ["a/b", "x y", "../etc", "-rf"])
def test_unsafe_id_is_refused_before_any_request(daemon: FakeDaemon, bad: str) -> None:
    result = run("stop", "--", bad, host=daemon.url)
    assert_clean_error(result, 2)
    assert [] == daemon.requests


# ---------------------------------------------------------------- endpoints


def test_endpoints_with_docker_host(daemon: FakeDaemon) -> None:
    status, data = run_json("endpoints", host=daemon.url)
    assert 0 == status
    assert 1 == len(data)
    row = data[0]
    assert {"url", "transport", "address", "origin", "expected_engine", "reachable", "ok", "engine", "version",
            "elapsed_ms", "containers", "local", "served_by", "error"} == set(row)
    assert (True, os.getuid()) == (row["local"], row["served_by"])
    assert (daemon.url, "unix", daemon.path, "DOCKER_HOST", True, True, "docker", 3, None) == (
        row["url"], row["transport"], row["address"], row["origin"], row["reachable"], row["ok"], row["engine"],
        row["containers"], row["error"],
    )
    assert isinstance(row["elapsed_ms"], float) and row["elapsed_ms"] >= 0


def test_endpoints_says_why_not_and_exits_3(missing_socket: str) -> None:
    result = run("endpoints", host=missing_socket)
    assert 3 == result.returncode
    assert "unreachable:" in result.stdout and missing_socket in result.stdout
    status, data = run_json("endpoints", host=missing_socket)
    assert 3 == status
    assert [(False, False)] == [(row["reachable"], row["ok"]) for row in data]
    assert isinstance(data[0]["error"], str) and data[0]["error"]


def test_endpoints_lists_the_table_in_order_and_honours_xdg_runtime_dir(tmp_path: Path) -> None:
    """Without DOCKER_HOST every table entry is listed; the one under XDG_RUNTIME_DIR answers."""
    runtime = tmp_path / "run"
    (runtime / "podman").mkdir(parents=True)
    libpod = http_response(200, "[]", PODMAN_HEADERS)
    with fake_daemon({("GET", LIBPOD_PATH): libpod, ("GET", "/containers/json"): libpod}) as fake:
        (runtime / "podman" / "podman.sock").symlink_to(fake.path)
        env = clean_env(XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path))
        result = run("endpoints", "--json", env=env)
    data = json.loads(result.stdout)
    expected = [e.id for e in builtin_spec().endpoints if e.platform == "linux" and e.scope == "caller"]
    origins = [row["origin"] for row in data]
    if os.geteuid() == 0:  # root: root-owned sockets first, then every user's (tests/test_user_endpoints.py)
        assert set(expected) == set(origins) - {"docker-rootless-users", "podman-rootless-users"}
    else:
        assert expected == origins
    mine = [row for row in data if row["address"] == str(runtime / "podman" / "podman.sock")]
    assert [("podman-rootless-xdg", True, "podman")] == [(r["origin"], r["ok"], r["engine"]) for r in mine]
    assert 0 == result.returncode


# ---------------------------------------------------------------- ports (real host sockets)


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """A TCP listener and a bound UDP socket of this test process, on free ports."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        yield tcp.getsockname()[1], udp.getsockname()[1]
    finally:
        tcp.close()
        udp.close()


def test_ports_names_the_container_of_a_real_socket(listeners: tuple[int, int]) -> None:
    tcp_port, udp_port = listeners
    body = docker_list(docker_container(WEB_ID, "web", "nginx:1", [("127.0.0.1", tcp_port, "tcp"),
                                                                    ("0.0.0.0", udp_port, "udp")], WEB_LABELS))
    with fake_daemon({("GET", "/containers/json"): body}) as fake:
        status, rows = run_json("ports", host=fake.url)
        text = run("ports", host=fake.url)
        only_status, only = run_json("ports", "--containers-only", host=fake.url)
    assert 0 == status == only_status == text.returncode
    assert {"protocol", "ip", "port", "pid", "process", "user", "container", "candidates", "via"} == set(rows[0])
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    assert {me} == {r["user"] for r in rows if r["pid"] == os.getpid()}
    mine = [(r["protocol"], r["ip"], r["port"], r["pid"], r["container"]["name"], r["via"])
            for r in rows if r["pid"] == os.getpid()]
    assert all(WEB_COMPOSE == r["container"]["compose"] for r in rows if r["pid"] == os.getpid())
    assert all(c["compose"] is None for r in rows for c in [r["container"], *r["candidates"]]
               if c is not None and c["id"] != WEB_ID)
    assert sorted([("tcp", "127.0.0.1", tcp_port, os.getpid(), "web", "binding"),
                   ("udp", "127.0.0.1", udp_port, os.getpid(), "web", "binding")]) == sorted(mine)
    keys = [(r["port"], r["protocol"]) for r in rows]
    assert sorted(keys, key=lambda k: (k[0], str(k[1]))) == keys
    # --containers-only keeps exactly the rows that have a container
    assert [r for r in rows if r["container"] or r["candidates"]] == only
    # the terminal table is aligned on its header
    lines = text.stdout.splitlines()
    header = lines[0]
    row = next(line for line in lines if f"127.0.0.1:{tcp_port} " in line)
    assert row[header.index("CONTAINER"):].startswith("web ")
    assert row[header.index("USER"):].startswith(me + " ")
    assert row[header.index("IMAGE"):].strip() == "nginx:1"


def test_ports_without_a_daemon_lists_every_socket_and_exits_0(missing_socket: str, listeners: tuple[int, int]) -> None:
    """The command's job is the socket list: no daemon costs the daemons' names, one line on stderr, exit 0."""
    tcp_port, udp_port = listeners
    status, rows = run_json("ports", host=missing_socket)
    text = run("ports", host=missing_socket)
    assert 0 == status == text.returncode
    mine = sorted(
        (r["protocol"], r["port"], r["pid"], r["container"], r["via"]) for r in rows if r["pid"] == os.getpid()
    )
    assert [("tcp", tcp_port, os.getpid(), None, None), ("udp", udp_port, os.getpid(), None, None)] == mine
    assert f"127.0.0.1:{tcp_port} " in text.stdout
    lines = [line for line in text.stderr.splitlines() if "not visible to this user" not in line]
    assert 1 == len(lines), text.stderr
    assert lines[0].startswith("dockspec: no daemon answered")
    assert "run `dockspec endpoints` to see what was tried" in lines[0]
    assert "Traceback" not in text.stderr


def test_ports_without_a_daemon_keeps_only_container_rows_with_containers_only(missing_socket: str) -> None:
    status, rows = run_json("ports", "--containers-only", host=missing_socket)
    assert 0 == status
    # this machine's containers may be named by the host's own evidence (cgroup, rootless storage via
    # rootlessport or pasta), never by a daemon's list: no binding, no fallback, no daemon url
    host_evidence = ("cgroup", "rootless-netns", "pasta")
    assert all(r["via"] in host_evidence and r["container"]["daemon"] is None for r in rows), rows


def test_ports_without_psutil_says_how_to_get_it(daemon: FakeDaemon, tmp_path: Path) -> None:
    """A psutil that cannot be imported (shadowed on PYTHONPATH) is a clean error, exit 4."""
    (tmp_path / "psutil.py").write_text("raise ImportError('psutil is not installed here')\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    result = run_script("ports", env=clean_env(PYTHONPATH=path, DOCKER_HOST=daemon.url))
    assert_clean_error(result, 4)
    assert "dockspec[cli]" in result.stderr
    assert [] == daemon.requests


# ---------------------------------------------------------------- parse_target, port ranges


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", (None, 8080, Protocol.TCP)),
        ("53/udp", (None, 53, Protocol.UDP)),
        ("53/TCP", (None, 53, Protocol.TCP)),
        ("127.0.0.1:80", ("127.0.0.1", 80, Protocol.TCP)),
        ("[::1]:8080/udp", ("::1", 8080, Protocol.UDP)),
        ("[0:0::1]:8080", ("::1", 8080, Protocol.TCP)),
        ("65535", (None, 65535, Protocol.TCP)),
    ],
)
def test_parse_target(text: str, expected: tuple[str | None, int, Protocol]) -> None:
    assert expected == parse_target(text)


@pytest.mark.parametrize(
    "text",
    ["", "0", "65536", "x", "::1:80", "[::1]", "[::1]:", "a.b:80", "80/icmp", "-1", "\uff18\uff10", "8080 ",
     "1" * 20, "127.0.0.1:113036", "\u00b2"],
)
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


def test_port_ranges_fold_consecutive_ports_per_address() -> None:
    keys = [(None, 8202, Protocol.TCP), (None, 8200, Protocol.TCP), (None, 8201, Protocol.TCP),
            (None, 8205, Protocol.TCP), ("::1", 80, Protocol.TCP), (None, 8201, Protocol.UDP)]
    assert "*:8200-8202/tcp, *:8205/tcp, [::1]:80/tcp, *:8201/udp" == _port_ranges(keys)


# ---------------------------------------------------------------- sockets.py: pure attribution

SPEC = builtin_spec()
WEB = ContainerInfo(WEB_ID, "web", "nginx:1", daemon="unix:///d.sock")
API = ContainerInfo(API_ID, "api", "api:2", daemon="unix:///d.sock")
ROOTLESS = ContainerInfo(DNS_ID, "dns", "localhost/dns:3", daemon="unix:///run/user/1000/podman/podman.sock")
CONTAINERS = {c.id: c for c in (WEB, API, ROOTLESS)}
PORT_MAP = ContainerPortMap({
    ("127.0.0.1", 8080, Protocol.TCP): WEB,
    ("10.0.0.1", 8080, Protocol.TCP): API,
    (None, 9000, Protocol.TCP): API,
    ("192.168.1.5", 9100, Protocol.TCP): API,
    (None, 5353, Protocol.UDP): ROOTLESS,
})


def sock(ip: str, port: int, process: str | None = None, cmdline: tuple[str, ...] = (), *,
         protocol: Protocol = Protocol.TCP, pid: int | None = 42) -> HostSocket:
    return HostSocket(protocol, ip, port, pid, process, cmdline)


def names(attribution: Attribution) -> tuple[str | None, tuple[str, ...], str | None]:
    container = attribution.container.name if attribution.container else None
    return container, tuple(c.name for c in attribution.candidates), attribution.via


def test_plain_process_matches_exact_and_wildcard_bindings_only() -> None:
    assert ("web", (), "binding") == names(attribute(sock("127.0.0.1", 8080, "nginx"), PORT_MAP, CONTAINERS, SPEC))
    assert ("api", (), "binding") == names(attribute(sock("::", 9000, "nginx"), PORT_MAP, CONTAINERS, SPEC))
    assert ("web", (), "binding") == names(attribute(sock("::ffff:127.0.0.1", 8080, None, pid=None), PORT_MAP,
                                                     CONTAINERS, SPEC))
    # not a helper: a socket on another address of a published port is not the container's
    assert (None, (), None) == names(attribute(sock("0.0.0.0", 9100, "nginx"), PORT_MAP, CONTAINERS, SPEC))
    assert (None, (), None) == names(attribute(sock("0.0.0.0", 9000, "nginx", protocol=Protocol.UDP), PORT_MAP,
                                               CONTAINERS, SPEC))


def test_helper_without_evidence_gets_the_proxy_fallback() -> None:
    assert ("api", (), "port-fallback") == names(attribute(sock("0.0.0.0", 9100, "slirp4netns"), PORT_MAP,
                                                           CONTAINERS, SPEC))
    assert (None, ("web", "api"), "port-fallback") == names(attribute(sock("0.0.0.0", 8080, "pasta"), PORT_MAP,
                                                                      CONTAINERS, SPEC))
    assert (None, (), None) == names(attribute(sock("0.0.0.0", 1, "pasta"), PORT_MAP, CONTAINERS, SPEC))


def test_helpers_come_from_the_spec_not_from_names_in_code() -> None:
    mine = attrs.evolve(SPEC, helpers=(HelperProcess(name="my-forwarder", resolve="port-fallback"),))
    forwarded = sock("0.0.0.0", 9100, "my-forwarder")
    assert ("api", (), "port-fallback") == names(attribute(forwarded, PORT_MAP, CONTAINERS, mine))
    assert (None, (), None) == names(attribute(forwarded, PORT_MAP, CONTAINERS, SPEC))
    assert (None, (), None) == names(attribute(sock("0.0.0.0", 9100, "slirp4netns"), PORT_MAP, CONTAINERS, mine))
    assert helper_for("my-forwarder", mine) is not None and helper_for("my-forwarder", SPEC) is None


def test_conmon_is_resolved_by_its_container_id_flag() -> None:
    cmdline = ("/usr/bin/conmon", "--api-version", "1", "-c", WEB_ID, "-u", WEB_ID, "-n", "web")
    # the id wins even where the port map names another container for the port
    assert ("web", (), "cmdline-id") == names(attribute(sock("0.0.0.0", 9000, "conmon", cmdline), PORT_MAP,
                                                        CONTAINERS, SPEC))
    unknown = ("/usr/bin/conmon", "-c", "f" * 64)
    assert ("api", (), "binding") == names(attribute(sock("0.0.0.0", 9000, "conmon", unknown), PORT_MAP,
                                                     CONTAINERS, SPEC))
    assert ("api", (), "port-fallback") == names(attribute(sock("0.0.0.0", 9100, "conmon", unknown), PORT_MAP,
                                                           CONTAINERS, SPEC))


def test_docker_proxy_is_resolved_by_its_host_port_flag() -> None:
    cmdline = ("/usr/sbin/docker-proxy", "-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", "8080",
               "-container-ip", "172.17.0.2", "-container-port", "80")
    assert ("web", (), "cmdline-ports") == names(attribute(sock("127.0.0.1", 8080, "docker-proxy", cmdline),
                                                           PORT_MAP, CONTAINERS, SPEC))
    other = ("/usr/sbin/docker-proxy", "--host-ip=0.0.0.0", "--host-port=9000")
    assert ("api", (), "cmdline-ports") == names(attribute(sock("::", 9000, "docker-proxy", other), PORT_MAP,
                                                           CONTAINERS, SPEC))
    # no usable flag: binding, then fallback, like any helper
    assert (None, ("web", "api"), "port-fallback") == names(
        attribute(sock("0.0.0.0", 8080, "docker-proxy", ("docker-proxy",)), PORT_MAP, CONTAINERS, SPEC))


def test_rootlessport_is_resolved_by_the_rootless_lookup() -> None:
    asked: list[tuple[int, str]] = []

    def lookup(pid: int, name: str) -> ContainerInfo | None:
        asked.append((pid, name))
        # storage metadata: right id, but no daemon url and another image spelling
        return ContainerInfo(DNS_ID, "dns", "dns-image-id") if pid == 7 else None

    found = attribute(sock("::", 8080, "rootlessport", ("rootlessport",), pid=7), PORT_MAP, CONTAINERS, SPEC, lookup)
    assert Attribution(ROOTLESS, via="rootless-netns") == found
    unknown = attribute(sock("::", 9100, "rootlessport", ("rootlessport",), pid=8), PORT_MAP, CONTAINERS, SPEC,
                        lookup)
    assert ("api", (), "port-fallback") == names(unknown)
    assert [(7, "rootlessport"), (8, "rootlessport")] == asked
    # a storage-only container (no daemon listed it) is still named
    stored = ContainerInfo("e" * 64, "orphan", "img")
    assert Attribution(stored, via="rootless-netns") == attribute(
        sock("::", 1, "rootlessport", pid=9), PORT_MAP, CONTAINERS, SPEC, lambda pid, name: stored)


def test_flag_value() -> None:
    cmdline = ["prog", "-c", "abc", "-host-port=80", "--x", "1", "-last"]
    assert "abc" == flag_value(cmdline, "-c")
    assert "80" == flag_value(cmdline, "-host-port")
    assert "1" == flag_value(cmdline, "--x")
    assert "80" == flag_value(["--host-port", "80"], "-host-port")
    assert flag_value(cmdline, "-last") is None
    assert flag_value(cmdline, "-u") is None
    assert flag_value(["-cabc"], "-c") is None


def test_find_container_by_id_or_unique_prefix() -> None:
    assert WEB == find_container(CONTAINERS, WEB_ID)
    assert WEB == find_container(CONTAINERS, WEB_ID[:12])
    assert find_container(CONTAINERS, "") is None
    assert find_container(CONTAINERS, "f" * 12) is None
    twins = {"ab" + "0" * 62: WEB, "ab" + "1" * 62: API}
    assert find_container(twins, "ab") is None


def test_sort_key_orders_by_port_protocol_then_address() -> None:
    socks = [sock("::", 80), sock("10.0.0.2", 80), sock("9.0.0.1", 80), sock("0.0.0.0", 80, protocol=Protocol.UDP),
             sock("0.0.0.0", 22)]
    ordered = sorted(socks, key=sort_key)
    assert [(22, "tcp", "0.0.0.0"), (80, "tcp", "9.0.0.1"), (80, "tcp", "10.0.0.2"), (80, "tcp", "::"),
            (80, "udp", "0.0.0.0")] == [(s.port, s.protocol.value, s.ip) for s in ordered]


def test_text_output_escapes_control_characters_json_keeps_them() -> None:
    """A daemon-chosen name cannot repaint the terminal or forge a row; --json keeps it verbatim."""
    hostile = ["we\x1b[31mb", "a\r\nb", "\u202eevil", "c1\x9b2J"]
    body = docker_list(*[docker_container(f"{i:064x}", name, "img\x07", [("0.0.0.0", 18500 + i, "tcp")],
                                          {"com.docker.compose.project": name, "com.docker.compose.service": "s"})
                         for i, name in enumerate(hostile)])
    with fake_daemon({("GET", "/containers/json"): body}) as fake:
        text = run("ps", host=fake.url)
        who = run("who", "18501", host=fake.url)
        status, data = run_json("ps", host=fake.url)
    assert (0, 0, 0) == (text.returncode, who.returncode, status)
    lines = text.stdout.splitlines()
    assert 1 + len(hostile) == len(lines)
    assert all(ch.isprintable() and ch not in "\u202e" for line in lines for ch in line)
    assert "we\\x1b[31mb" in text.stdout and "a\\x0d\\x0ab" in text.stdout and "\\u202eevil" in text.stdout
    assert "a\\x0d\\x0ab (img\\x07)" in who.stdout and 1 == len(who.stdout.splitlines())
    assert "compose a\\x0d\\x0ab/s" in who.stdout
    assert sorted(hostile) == sorted(str(row["name"]) for row in data)
    assert sorted(hostile) == sorted(row["compose"]["project"] for row in data)  # type: ignore[index]


def test_missing_docker_context_is_a_clean_error(tmp_path: Path) -> None:
    """DOCKER_CONTEXT naming no context: one line, the endpoints hint, exit 3, no traceback."""
    result = run("endpoints", env={**clean_env(), "DOCKER_CONTEXT": "nope", "DOCKER_CONFIG": str(tmp_path)})
    assert 3 == result.returncode
    assert "Traceback" not in result.stderr
    assert "nope" in result.stderr
