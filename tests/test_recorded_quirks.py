"""The version-keyed quirks of spec/daemons.yaml, on both sides of each change, from recorded fixtures.

Every fixture used here was recorded from a real daemon by
tools/record_fixtures.py (Debian 12's Podman 4.3.1, forky's Podman 5.8.6 and
Docker 28.5.2); a test fails when a side has no recording.

- Podman's compat list drops the extra ports of a published range before
  5.6.0 (`compat_list_complete_since`): on 4.3.1 the compat body is short of
  the libpod body of the same daemon and the list plan re-asks libpod; on
  5.8.6 both bodies give the same bindings and the plan keeps the compat answer.
- Podman answers kill of a stopped container with 500 before 4.7.0 and 409
  since: each recorded answer means ALREADY_STOPPED at its own version and
  not at a version on the other side of 4.7.0.
- Docker's API version floor: Docker 29.0-29.2 refuse client versions below
  1.44 (their release notes; documented only, no bed runs 29). The recorded
  20.10 refuses everything above 1.41 and 28.5 everything below 1.24, so no
  versioned path is served by 20.10 and 29 alike; the unversioned path
  dockspec sends is served by both recorded Dockers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dockspec import StopOutcome
from dockspec._http import Response
from dockspec.daemons import ListPlan, outcome_of, profile_for
from dockspec.spec import builtin_spec

FIXTURES = Path(__file__).resolve().parent.parent / "spec" / "fixtures"


def recorded(pattern: str) -> list[dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob(pattern))]
    return [d for d in docs if d["source"].get("recorded_by") == "tools/record_fixtures.py"]


def response_of(doc: dict[str, Any]) -> Response:
    r = doc["response"]
    headers = tuple((str(k).lower(), str(v)) for k, v in r["headers"])
    return Response(status=int(r["status"]), headers=headers, body=r["body"].encode("utf-8"))


def bindings(doc: dict[str, Any]) -> set[tuple[str | None, int, str, str]]:
    return {(e["ip"], int(e["port"]), e["protocol"], e["id"]) for e in doc["expect"]}


def podman_pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(compat, libpod) fixtures recorded from one Podman daemon."""
    compat = {(d["source"]["version"], d["source"]["mode"]): d for d in recorded("podman-*-compat-containers.yaml")}
    libpod = {(d["source"]["version"], d["source"]["mode"]): d for d in recorded("podman-*-libpod-containers.yaml")}
    assert set(compat) == set(libpod)
    return [(compat[k], libpod[k]) for k in sorted(compat)]


PAIRS = podman_pairs()


def test_both_sides_of_podman_5_6_are_recorded() -> None:
    threshold = profile_for("podman", builtin_spec()).compat_list_complete_since
    assert threshold == "5.6.0"
    versions = {tuple(int(x) for x in c["source"]["version"].split(".")[:2]) for c, _ in PAIRS}
    assert any(v < (5, 6) for v in versions) and any(v >= (5, 6) for v in versions), versions


@pytest.mark.parametrize(("compat", "libpod"), PAIRS, ids=[c["id"] for c, _ in PAIRS])
def test_podman_compat_ranges_follow_the_version_rule(compat: dict[str, Any], libpod: dict[str, Any]) -> None:
    """Short compat body (re-asked) below 5.6.0, complete compat body (kept) from 5.6.0, as recorded."""
    complete = bindings(compat) == bindings(libpod)
    assert bindings(compat) <= bindings(libpod)
    plan = ListPlan(builtin_spec())
    assert plan.request is not None and "libpod" not in plan.request.path  # the compat list is asked first
    plan.answer(response_of(compat))
    assert plan.version == compat["source"]["version"]
    reasked = plan.request is not None and "libpod" in plan.request.path
    assert reasked == (not complete), (compat["id"], complete, reasked)
    # Only a range is under-reported: the 4.3 bodies have one, and lose its extra ports.
    if not complete:
        assert "notes" in compat and "range" in compat["notes"]


KILL_STOPPED = [
    case for doc in recorded("observed-outcomes*.yaml") for case in doc["outcomes"]
    if case["engine"] == "podman" and case["action"] == "kill" and case["state"] == "stopped"
]


def test_both_sides_of_podman_4_7_are_recorded() -> None:
    statuses = {(tuple(int(x) for x in c["version"].split(".")[:2]) >= (4, 7), c["status"]) for c in KILL_STOPPED}
    assert {(False, 500), (True, 409)} == statuses


@pytest.mark.parametrize("case", KILL_STOPPED, ids=[c["id"] for c in KILL_STOPPED])
def test_podman_kill_of_a_stopped_container_means_already_stopped_at_its_own_version(case: dict[str, Any]) -> None:
    profile = profile_for("podman", builtin_spec())
    response = Response(status=int(case["status"]), headers=(), body=str(case["body"]).encode())
    assert StopOutcome.ALREADY_STOPPED == outcome_of(profile, case["version"], "kill", response)
    # across 4.7.0 the same answer is a failure: the version key is what tells them apart
    other_side = "4.3.1" if case["status"] == 409 else "5.8.6"
    assert StopOutcome.FAILED == outcome_of(profile, other_side, "kill", response)


DOCKER_29_FLOOR = (1, 44)  # Docker 29.0 release notes (documented only: no bed runs 29)


def api_cases() -> list[dict[str, Any]]:
    return [case for doc in recorded("docker-*-api-versions.yaml") for case in doc["vectors"]]


def api_version(request: str) -> tuple[int, ...]:
    """(1, 41) from "GET /v1.41/version"."""
    return tuple(int(x) for x in request.removeprefix("GET /v").split("/")[0].split("."))


def test_no_versioned_path_serves_docker_20_10_and_docker_29() -> None:
    cases = api_cases()
    assert {"20.10", "28.5"} == {".".join(c["version"].split(".")[:2]) for c in cases}
    served_by_20_10 = {c["request"] for c in cases if c["version"].startswith("20.10.") and c["expect"] == "answered"}
    versioned = [r for r in served_by_20_10 if r != "GET /version"]
    assert versioned
    below_29_floor = [r for r in versioned if api_version(r) < DOCKER_29_FLOOR]
    assert sorted(versioned) == sorted(below_29_floor)
    assert all(c["expect"] == "answered" for c in cases if c["request"] == "GET /version")
