"""The trust rule (dockspec.trust) and attribution under it (sockets.attribute(trust=)): pure, literal values."""

from __future__ import annotations

from collections.abc import Mapping

from dockspec.cgroups import CgroupMatch
from dockspec.models import ContainerInfo, ContainerPortMap, Found, PortKey, Protocol
from dockspec.sockets import Attribution, HostSocket, attribute, lookup_trusted
from dockspec.spec import builtin_spec
from dockspec.trust import DaemonFacts, Trust, is_local_address, is_local_name, parse_subordinate_ids

SPEC = builtin_spec()
ROOTFUL = "unix:///run/podman/podman.sock"
USER = "unix:///run/user/1000/podman/podman.sock"
OTHER = "unix:///run/user/2000/docker.sock"
REMOTE = "tcp://198.51.100.7:2375"
TCP = Protocol.TCP

WEB = ContainerInfo("a" * 64, "web", "nginx:1", daemon=ROOTFUL)
MINE = ContainerInfo("b" * 64, "mine", "app:1", daemon=USER)
FAKE = ContainerInfo("c" * 64, "fake", "evil:1", daemon=OTHER)
FAR = ContainerInfo("d" * 64, "far", "far:1", daemon=REMOTE)
SUBUIDS = {1000: [(100000, 65536)], 2000: [(165536, 65536)]}


def facts(
    url: str, served_by: int | None, bindings: Mapping[PortKey, ContainerInfo], local: bool = True
) -> DaemonFacts:
    return DaemonFacts(url, served_by, local, dict(bindings), tuple(set(bindings.values())))


def trust(*daemons: DaemonFacts, caller: int = 0) -> Trust:
    return Trust(daemons, SUBUIDS, caller)


BED = trust(
    facts(ROOTFUL, 0, {(None, 8080, TCP): WEB}),
    facts(USER, 1000, {(None, 9000, TCP): MINE, (None, 8080, TCP): ContainerInfo("e" * 64, "liar", "", daemon=USER)}),
    facts(OTHER, 2000, {(None, 9000, TCP): FAKE, (None, 7000, TCP): FAKE}),
    facts(REMOTE, None, {(None, 6000, TCP): FAR}, local=False),
)


def attribution(process: str | None, uid: int | None, port: int, cmdline: tuple[str, ...] = (),
                t: Trust = BED, cgroup: CgroupMatch | None = None, pid: int | None = 7) -> Attribution:
    sock = HostSocket(TCP, "0.0.0.0", port, pid, process, cmdline, uid)
    return attribute(sock, ContainerPortMap(), {}, SPEC, None, (lambda _pid: cgroup) if cgroup else None, t)


def name(a: Attribution) -> tuple[str | None, tuple[str, ...]]:
    return (a.container.name if a.container else None), tuple(sorted(c.name for c in a.candidates))


def test_a_daemon_served_by_root_speaks_for_every_uid() -> None:
    for uid in (0, 1000, 100005, 2000, None):
        assert BED.speaks_for(ROOTFUL, uid), uid


def test_a_users_daemon_speaks_for_that_user_and_its_subordinate_ids_only() -> None:
    assert BED.speaks_for(USER, 1000) and BED.speaks_for(USER, 100000) and BED.speaks_for(USER, 165535)
    for uid in (0, 2000, 165536, 99999, None):
        assert not BED.speaks_for(USER, uid), uid


def test_a_users_daemon_speaks_for_unheld_sockets_only_when_the_caller_is_that_user() -> None:
    assert not BED.speaks_for(USER, None)
    assert trust(facts(USER, 1000, {}), caller=1000).speaks_for(USER, None)


def test_a_remote_or_unknown_daemon_speaks_for_nobody() -> None:
    for uid in (0, 1000, None):
        assert not BED.speaks_for(REMOTE, uid)
        assert not BED.speaks_for("unix:///nowhere.sock", uid)
    assert trust(facts("tcp://127.0.0.1:2375", None, {})).speaks_for("tcp://127.0.0.1:2375", 1000)


def test_a_users_daemon_cannot_name_a_socket_root_holds() -> None:
    assert ("web", ()) == name(attribution("python3", 0, 8080))  # the user daemon's claim on 8080 is not believed


def test_a_users_daemon_names_its_users_socket_and_two_claims_are_ambiguous() -> None:
    assert ("mine", ()) == name(attribution("python3", 1000, 9000))
    assert ("mine", ()) == name(attribution("python3", 100001, 9000))  # a subordinate id: a rootless container's
    assert (None, ()) == name(attribution("python3", 3000, 9000))  # nobody's daemon speaks for uid 3000
    both = trust(facts(ROOTFUL, 0, {(None, 9000, TCP): WEB}), facts(USER, 1000, {(None, 9000, TCP): MINE}))
    assert (None, ("mine", "web")) == name(attribution("python3", 1000, 9000, t=both))
    assert "binding" == attribution("python3", 1000, 9000, t=both).via


def test_one_container_seen_through_two_endpoints_is_not_ambiguous() -> None:
    again = ContainerInfo(WEB.id, WEB.name, WEB.image, daemon="tcp://127.0.0.1:2375")
    loopback = facts("tcp://127.0.0.1:2375", None, {(None, 8080, TCP): again})
    twice = trust(facts(ROOTFUL, 0, {(None, 8080, TCP): WEB}), loopback)
    assert ("web", ()) == name(attribution("python3", 0, 8080, t=twice))


def test_a_remote_daemon_names_no_local_socket() -> None:
    assert (None, ()) == name(attribution("python3", 0, 6000))
    assert (None, ()) == name(attribution("docker-proxy", 0, 6000, ("docker-proxy", "-host-port", "6000")))


def test_rootful_helpers_count_only_when_run_by_root() -> None:
    proxy = ("docker-proxy", "-proto", "tcp", "-host-ip", "0.0.0.0", "-host-port", "8080")
    assert ("web", ()) == name(attribution("docker-proxy", 0, 8080, proxy))
    assert (None, ()) == name(attribution("docker-proxy", 1000, 8080, proxy))
    assert (None, ()) == name(attribution("docker-proxy", None, 8080, proxy))
    conmon = ("conmon", "-c", WEB.id)
    assert ("web", ()) == name(attribution("conmon", 0, 1, conmon))
    assert (None, ()) == name(attribution("conmon", 1000, 8080, conmon))  # not even the binding


def test_conmon_needs_a_full_id() -> None:
    assert (None, ()) == name(attribution("conmon", 0, 1, ("conmon", "-c", "a")))
    assert (None, ()) == name(attribution("conmon", 0, 1, ("conmon", "-c", WEB.id[:12])))
    assert (None, ()) == name(attribution("conmon", 0, 1, ("conmon", "-c", WEB.id.upper())))


def test_a_rootless_helper_counts_only_for_its_own_uids_daemon() -> None:
    # pasta (port-fallback) run by 1000: 9000 is MINE's (1000's daemon), not FAKE's (2000's)
    assert ("mine", ()) == name(attribution("pasta", 1000, 9000))
    assert ("fake", ()) == name(attribution("pasta", 2000, 9000))
    assert (None, ()) == name(attribution("pasta", 2000, 8080))  # root's container, not 2000's daemon's
    assert (None, ()) == name(attribution("pasta", 1000, 7000))  # another user's daemon's port
    assert (None, ()) == name(attribution("pasta", 100001, 9000))  # a subordinate id is not the daemon's own uid


def test_cgroup_evidence_from_roots_paths_names_the_id_with_a_trusted_record_only() -> None:
    rootful = CgroupMatch(WEB.id, "podman", "libpod-cgroupfs")
    assert ("web", ()) == name(attribution("httpd", 0, 1, cgroup=rootful))
    # FAKE's own daemon is not trusted for a root-held socket: the id alone, never FAKE's name
    forged = CgroupMatch(FAKE.id, "docker", "docker-cgroupfs")
    assert (FAKE.id[:12], ()) == name(attribution("httpd", 0, 1, cgroup=forged))


def test_delegated_cgroup_evidence_counts_only_for_that_users_own_daemon() -> None:
    mine = CgroupMatch(MINE.id, "podman", "libpod-systemd", delegated=1000)
    assert ("mine", ()) == name(attribution("httpd", 100001, 1, cgroup=mine))
    claimed = CgroupMatch(WEB.id, "podman", "libpod-systemd", delegated=1000)  # a user's subtree naming root's id
    assert (None, ()) == name(attribution("httpd", 1000, 1, cgroup=claimed))
    unlisted = CgroupMatch("f" * 64, "podman", "libpod-systemd", delegated=1000)
    assert (None, ()) == name(attribution("httpd", 1000, 1, cgroup=unlisted))


def test_lookup_trusted_sees_only_daemons_that_speak_for_an_unheld_socket() -> None:
    found = lookup_trusted(BED, None, 8080, TCP, fallback=True)
    assert isinstance(found, Found) and "web" == found.container.name
    assert not hasattr(lookup_trusted(BED, None, 9000, TCP, fallback=True), "container")
    assert not hasattr(lookup_trusted(BED, None, 6000, TCP, fallback=True), "container")


def test_subordinate_ids_parse_ascii_digits_and_skip_the_rest() -> None:
    text = "alice:100000:65536\n# c\n\n1001:165536:65536\nbad\nbob:x:1\ncarol:1:0\neve:\u0661:5\n:1:1\n"
    assert [("alice", 100000, 65536), ("1001", 165536, 65536)] == parse_subordinate_ids(text)
    assert [("alice", 100000, 65536)] == parse_subordinate_ids(text, max_lines=1)
    assert 10 == len(parse_subordinate_ids("u:1:1\n" * 10**5, max_lines=10))


def test_local_addresses_and_names() -> None:
    host = {"192.0.2.2", "fd00::2"}
    for ip in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "0.0.0.0", "192.0.2.2", "fd00::2", "::ffff:192.0.2.2"):
        assert is_local_address(ip, host), ip
    for ip in ("198.51.100.7", "fd00::3", "example.com", "", "fe80::1%eth0"):
        assert not is_local_address(ip, host), ip
    assert is_local_name("localhost") and is_local_name("LOCALHOST.") and is_local_name("a.localhost")
    assert not is_local_name("localhost.example.com")
