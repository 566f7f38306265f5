"""The one address grammar (dockspec.addresses) and every place that reads an address through it.

Each hostile value must be an InvalidAddress (a DockspecError) whose str()
puts a caret under the offending character: never a traceback, a port
wrapped modulo 65536, or a host the resolver quietly normalises.
"""

from __future__ import annotations

import time

import pytest

from dockspec import DockspecError, Env
from dockspec._io.net import connect_tcp
from dockspec._io.ssh import parse_ssh_url
from dockspec._io.transport import Unreachable
from dockspec.addresses import (
    HostPort,
    InvalidAddress,
    join_host_port,
    parse_authority,
    parse_host_port,
    parse_port,
    parse_port_target,
    split_host_port,
)
from dockspec.contexts import StaticFiles, select
from dockspec.errors import ContextError, InvalidConnectionAddress
from dockspec.models import Protocol
from dockspec.spec import builtin_spec

FULLWIDTH_2375 = "\uff12\uff13\uff17\uff15"
FULLWIDTH_127 = "\uff11\uff12\uff17.0.0.1"


def caret_at(exc: InvalidAddress) -> int:
    """The column of the caret in str(exc), within the value line."""
    _, value_line, caret_line = str(exc).split("\n")
    assert value_line.startswith("    ") and caret_line.startswith("    ")
    return len(caret_line) - len("    ") - 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:2375", HostPort("localhost", 2375)),
        ("[::1]:2376", HostPort("::1", 2376)),
        ("10.0.0.1:1", HostPort("10.0.0.1", 1)),
        ("h:65535", HostPort("h", 65535)),
        ("[fe80::1%eth0]:22", HostPort("fe80::1%eth0", 22)),
        ("my_host.example-1:08", HostPort("my_host.example-1", 8)),
    ],
)
def test_host_port(text: str, expected: HostPort) -> None:
    assert expected == parse_host_port(text)
    assert (expected.host, expected.port) == split_host_port(text)


@pytest.mark.parametrize(
    ("text", "message", "caret"),
    [
        ("h:70000", "port 70000 is out of range (1-65535)", 2),
        ("h:0", "port 0 is out of range (1-65535)", 2),
        ("h:12345678901234567890", "port 12345678901234567890 is out of range (1-65535)", 2),
        ("h:" + FULLWIDTH_2375, "non-ASCII character '\uff12' in port", 2),
        ("h:\u0663", "non-ASCII character '\u0663' in port", 2),  # ARABIC-INDIC DIGIT THREE
        (FULLWIDTH_127 + ":2375", "non-ASCII character '\uff11' in host name", 0),
        ("h:2375 ", "invalid character ' ' in port", 6),
        ("h:2375\r\n", "invalid character '\\r' in port", 6),
        ("a b:1", "invalid character ' ' in host name", 1),
        ("a\tb:1", "invalid character '\\t' in host name", 1),
        ("h:port", 'invalid port ":port" after host', 1),
        ("h", "missing port", 1),
        ("h:", "missing port", 2),
        (":80", "missing host", 0),
        ("[::1:2375", "missing ']' in host", 0),
        ("[::1]x", 'invalid port "x" after host', 5),
        ("[zz]:1", "invalid character 'z' in IPv6 address", 1),
        ("[1.2.3.4]:1", "invalid IPv6 address '1.2.3.4'", 1),
        ("a:b:c", 'invalid port ":b:c" after host', 1),
    ],
)
def test_invalid_host_port_has_a_caret(text: str, message: str, caret: int) -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_host_port(text)
    assert isinstance(info.value, DockspecError) and isinstance(info.value, ValueError)
    assert message == info.value.message
    assert caret == info.value.position
    def shown(part: str) -> str:
        return part.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")

    assert str(info.value).split("\n")[1] == "    " + shown(text)
    assert caret_at(info.value) == len(shown(text[:caret]))


def test_the_caret_counts_escaped_characters() -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_host_port("a\rb:1x")
    assert "invalid character '\\r' in host name\n    a\\rb:1x\n     ^" == str(info.value)
    with pytest.raises(InvalidAddress) as info:
        parse_host_port("a:1\r\nx")
    assert "    a:1\\r\\nx\n       ^" == "\n".join(str(info.value).split("\n")[1:])


def test_defaults_fill_what_is_missing() -> None:
    assert HostPort("localhost", 2375) == parse_host_port("", default_host="localhost", default_port=2375)
    assert HostPort("localhost", 1) == parse_host_port(":1", default_host="localhost")
    assert HostPort("h", 2375) == parse_host_port("h:", default_port=2375)
    assert HostPort("::1", 2375) == parse_host_port("[::1]", default_port=2375)
    assert ("h", None) == parse_authority("h")
    assert ("::1", 22) == parse_authority("[::1]:22")


def test_the_caret_is_placed_in_the_longer_value() -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_host_port("h:99999", source="tcp://h:99999/x", start=6)
    assert ("tcp://h:99999/x", 8) == (info.value.value, info.value.position)
    assert "port 99999 is out of range (1-65535) (character 9 of 'tcp://h:99999/x')" == info.value.summary()


@pytest.mark.parametrize(("text", "port"), [("1", 1), ("65535", 65535), ("080", 80)])
def test_port(text: str, port: int) -> None:
    assert port == parse_port(text)


@pytest.mark.parametrize("text", ["", "0", "65536", "99999999999999999999", "٣", FULLWIDTH_2375, " 80", "80 ", "+80"])
def test_bad_port(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_port(text)


def test_join_is_the_inverse_of_split() -> None:
    for address in ("h:1", "[::1]:2", "10.0.0.1:65535"):
        assert address == join_host_port(*split_host_port(address))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", (None, 8080, Protocol.TCP)),
        ("53/udp", (None, 53, Protocol.UDP)),
        ("53/UDP", (None, 53, Protocol.UDP)),
        ("127.0.0.1:80", ("127.0.0.1", 80, Protocol.TCP)),
        ("[0:0::1]:80/tcp", ("::1", 80, Protocol.TCP)),
    ],
)
def test_port_target(text: str, expected: tuple[object, ...]) -> None:
    assert expected == parse_port_target(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("80/sctp", "unknown protocol (tcp or udp)"),
        ("::1:80", "put an IPv6 address in brackets: [ADDR]:PORT"),
        ("host:80", "not an IP address: 'host'"),
        (FULLWIDTH_127 + ":80", "non-ASCII character '\uff11' in host name"),
        ("70000", "port 70000 is out of range (1-65535)"),
        ("\uff18\uff10", "invalid port '\uff18\uff10' (1-65535, ASCII digits)"),
    ],
)
def test_bad_port_target(text: str, message: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_port_target(text)
    assert message == info.value.message


# ------------------------------------------------------------------ the readers that use the grammar


@pytest.mark.parametrize(
    ("value", "message", "caret"),
    [
        ("tcp://127.0.0.1:2375 ", "CONTAINER_HOST: invalid character ' ' in port", 20),
        ("tcp://127.0.0.1:2375\r\n", "CONTAINER_HOST: invalid character '\\r' in port", 20),
        ("tcp://127.0.0.1:" + FULLWIDTH_2375, "CONTAINER_HOST: non-ASCII character '\uff12' in port", 16),
        ("tcp://" + FULLWIDTH_127 + ":2375", "CONTAINER_HOST: non-ASCII character '\uff11' in host name", 6),
        ("tcp://127.0.0.1:12345678901234567890", "CONTAINER_HOST: port 12345678901234567890 is out of range", 16),
        ("tcp://127.0.0.1:70000", "CONTAINER_HOST: port 70000 is out of range", 16),
        ("tcp://me@h", "CONTAINER_HOST: missing port", 10),
        ("ssh://core@h:\u0663/run/podman/podman.sock", "CONTAINER_HOST: non-ASCII character '\u0663' in port", 13),
        ("ssh://a b/run/podman/podman.sock", "CONTAINER_HOST: invalid character ' ' in host name", 7),
    ],
)
def test_container_host_is_read_with_the_grammar(value: str, message: str, caret: int) -> None:
    env = Env(home="/home/u", uid=1000, environ={"CONTAINER_HOST": value})
    with pytest.raises(InvalidConnectionAddress) as info:
        select(env, builtin_spec(), StaticFiles())
    assert isinstance(info.value, ContextError) and isinstance(info.value, InvalidAddress)
    assert info.value.message.startswith(message)
    assert (value, caret) == (info.value.value, info.value.position)


def test_a_context_host_error_keeps_the_caret() -> None:
    meta = "/home/u/.docker/contexts/meta/ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb/meta.json"
    files = StaticFiles({meta: '{"Endpoints": {"docker": {"Host": "tcp://h:99999"}}}'})
    env = Env(home="/home/u", uid=1000, environ={"DOCKER_CONTEXT": "a"})
    with pytest.raises(InvalidConnectionAddress) as info:
        select(env, builtin_spec(), files)
    assert "docker context 'a': invalid Host in " in info.value.message
    assert ("tcp://h:99999", 8) == (info.value.value, info.value.position)


@pytest.mark.parametrize(
    ("url", "caret"),
    [("ssh://h:99999", 8), ("ssh://me@h:" + FULLWIDTH_2375, 11), ("ssh://me@[::1/x", 9), ("ssh://a\tb", 7)],
)
def test_ssh_urls_are_read_with_the_grammar(url: str, caret: int) -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_ssh_url(url)
    assert (url, caret) == (info.value.value, info.value.position)


@pytest.mark.parametrize(
    "address", ["127.0.0.1:70000", "127.0.0.1:12345678901234567890", "127.0.0.1:" + FULLWIDTH_2375]
)
def test_the_tcp_channel_refuses_an_address_outside_the_grammar(address: str) -> None:
    """A hand-built Endpoint is not parsed before: the channel says why, it does not wrap or crash."""
    with pytest.raises(Unreachable, match=r"(out of range|non-ASCII).*\(character 11 of "):
        connect_tcp(address, time.monotonic() + 1)
