"""Compose labels on the real Docker, rootful and rootless Podman (issue 13).

scripts/containers.txt labels `web` as `docker compose` does and `lo4` as
podman-compose does (com.docker.compose.* with io.podman.compose.project
alongside) on every daemon. Expected values come from the labels recorded in
/run/dockspec-daemons/containers.json, never from dockspec's rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Daemons
from tests.integration.test_cli_live import run, run_json

pytestmark = pytest.mark.live

DAEMONS = ("docker", "podman", "podman-rootless")


def labelled(daemons: Daemons) -> list[dict[str, Any]]:
    return [c for c in daemons.running() if "com.docker.compose.project" in c["labels"]]


def test_every_daemon_runs_both_label_forms(daemons: Daemons) -> None:
    """The container set itself: each daemon has a docker-compose-style and a podman-compose-style container."""
    for daemon in DAEMONS:
        mine = [c for c in labelled(daemons) if c["daemon"] == daemon]
        assert any("io.podman.compose.project" not in c["labels"] for c in mine), daemon
        assert any("io.podman.compose.project" in c["labels"] for c in mine), daemon


def test_ps_json_carries_compose_project_and_service(daemons: Daemons) -> None:
    """ps --json: compose {project, service, number} for each labelled container, null for the others."""
    status, rows = run_json(daemons, "ps")
    assert 0 == status
    by_id = {row["id"]: row for row in rows}
    want = labelled(daemons)
    assert {"docker", "podman", "podman-rootless"} == {c["daemon"] for c in want}
    for c in want:
        labels = c["labels"]
        if "io.podman.compose.project" in labels:  # podman-compose sets the project twice, alike
            assert labels["io.podman.compose.project"] == labels["com.docker.compose.project"]
        number = labels.get("com.docker.compose.container-number")
        expected = {
            "project": labels["com.docker.compose.project"],
            "service": labels["com.docker.compose.service"],
            "number": None if number is None else int(number),
        }
        assert expected == by_id[c["id"]]["compose"], c["name"]
    others = [c for c in daemons.running() if c not in want and c["id"] in by_id]
    assert others, "the container set has unlabelled running containers"
    assert all(by_id[c["id"]]["compose"] is None for c in others)


def test_ps_and_who_print_project_and_service(daemons: Daemons) -> None:
    """ps's COMPOSE column and who's line name project/service on every engine."""
    result = run(daemons, "ps")
    assert 0 == result.returncode, result.stderr
    lines = result.stdout.splitlines()
    column = lines[0].index("COMPOSE")
    rows = {line.split()[0]: line for line in lines[1:]}
    for c in labelled(daemons):
        text = f"{c['labels']['com.docker.compose.project']}/{c['labels']['com.docker.compose.service']}"
        assert rows[c["name"]][column:].split()[0] == text, c["name"]
        port = next((p for p in c["ports"] if p.get("host_ip") == "127.0.0.1"), None)
        if port is not None:  # lo4 publishes on 127.0.0.1 only: an exact address names one container
            who = run(daemons, "who", f"127.0.0.1:{port['host_port']}")
            assert 0 == who.returncode, who
            assert who.stdout.rstrip().endswith(f", compose {text}"), who.stdout
