"""Who serves a daemon: the peer credentials of the connection that carried its answer (issue 12)."""

from __future__ import annotations

import os
import tempfile

from dockspec.detect import probe_endpoints
from dockspec.env import Env
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response, served_as
from tests.users import spoof_user

EMPTY = {("GET", "/containers/json"): http_response(200, "[]", DOCKER_HEADERS)}


def _report(url: str):  # type: ignore[no-untyped-def]
    reports, _ = probe_endpoints(env=Env(uid=os.getuid(), environ={"DOCKER_HOST": url}))
    assert 1 == len(reports) and reports[0].ok, reports
    return reports[0]


def test_a_unix_daemon_is_served_by_the_uid_of_its_process() -> None:
    with fake_daemon(EMPTY) as fake:
        assert os.getuid() == _report(fake.url).served_by


def test_a_daemon_another_user_serves_is_served_by_that_uid() -> None:
    user = spoof_user()
    directory = tempfile.mkdtemp(prefix="dockspec-peer-")
    os.chown(directory, user.pw_uid, user.pw_gid)
    try:
        with served_as(user.pw_uid, user.pw_gid, EMPTY, path=os.path.join(directory, "docker.sock")) as url:
            assert user.pw_uid == _report(url).served_by
    finally:
        os.rmdir(directory)


def test_tcp_carries_no_peer_uid_but_the_address_it_reached() -> None:
    with fake_daemon(EMPTY, tcp=True) as fake:
        report = _report(fake.url)
    assert (None, "127.0.0.1") == (report.served_by, report.peer_ip)
