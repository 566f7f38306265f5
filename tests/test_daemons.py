"""dockspec.daemons without sockets: literal responses in, engines, versions, list requests and outcomes out."""

from __future__ import annotations

import pytest

from dockspec import InvalidContainerId, StopOutcome, builtin_spec
from dockspec._http import Response
from dockspec.daemons import (
    ListPlan,
    build_stop_target,
    check_stop_timeout,
    engine_of,
    outcome_of,
    profile_for,
    validate_container_id,
    version_key,
)

SPEC = builtin_spec()
COMPAT = profile_for("docker", SPEC).list
LIBPOD = profile_for("podman", SPEC).list
DOCKER = (("server", "Docker/20.10.24+dfsg1 (linux)"), ("api-version", "1.41"))
PODMAN = (("libpod-api-version", "4.3.1"), ("server", "Libpod/4.3.1 (linux)"))


def answer(status: int = 200, headers: tuple[tuple[str, str], ...] = (), body: bytes = b"[]") -> Response:
    return Response(status=status, headers=headers, body=body)


def run_plan(expected: str | None, answers: dict[str, Response]) -> tuple[list[str], ListPlan]:
    """Drive a plan with `answers` by path, as detect does with a socket; the paths asked, in order."""
    plan = ListPlan(SPEC, expected)
    asked = []
    while plan.request is not None:
        asked.append(plan.request.path)
        assert len(asked) <= 3, asked
        plan.answer(answers.get(plan.request.path, answer(404)))
    return asked, plan


@pytest.mark.parametrize(
    ("text", "key"),
    [("4.3.1", (4, 3, 1)), ("20.10.24+dfsg1", (20, 10, 24)), ("5.6.0-dev", (5, 6, 0)), ("1.2 (linux)", (1, 2)),
     ("", ()), (None, ()), ("v4", ()), ("4.x.1", (4,)), ("\u0664.3", ())],
)
def test_version_key(text: str | None, key: tuple[int, ...]) -> None:
    assert key == version_key(text)


def test_engine_and_version_from_headers() -> None:
    profile, version = engine_of(answer(headers=DOCKER), SPEC)
    assert (profile and profile.engine, version) == ("docker", "20.10.24+dfsg1")
    profile, version = engine_of(answer(headers=PODMAN), SPEC)
    assert (profile and profile.engine, version) == ("podman", "4.3.1")
    # a Server header of something else, or no header at all: unknown
    assert (None, None) == engine_of(answer(headers=(("server", "nginx/1.25"),)), SPEC)
    assert (None, None) == engine_of(answer(), SPEC)


def test_profile_for_unknown_engine_is_the_compat_profile() -> None:
    assert "podman" == profile_for("podman", SPEC).engine
    assert "docker" == profile_for(None, SPEC).engine == profile_for("nerdctl", SPEC).engine


def test_docker_answers_the_compat_list_once() -> None:
    asked, plan = run_plan(None, {COMPAT.path: answer(headers=DOCKER)})
    assert [COMPAT.path] == asked
    assert ("docker", "docker", "20.10.24+dfsg1", COMPAT.path) == (plan.shape, plan.engine, plan.version, plan.path)


def test_podman_where_podman_is_expected_is_asked_libpod_once() -> None:
    asked, plan = run_plan("podman", {LIBPOD.path: answer(headers=PODMAN)})
    assert [LIBPOD.path] == asked
    assert ("libpod", "podman", "4.3.1") == (plan.shape, plan.engine, plan.version)


def test_docker_where_podman_was_expected_falls_back_to_compat_on_404() -> None:
    asked, plan = run_plan("podman", {COMPAT.path: answer(headers=DOCKER)})
    assert [LIBPOD.path, COMPAT.path] == asked
    assert ("docker", "docker") == (plan.shape, plan.engine)


def test_old_podman_compat_answer_is_reasked_on_libpod() -> None:
    asked, plan = run_plan(None, {COMPAT.path: answer(headers=PODMAN), LIBPOD.path: answer(headers=PODMAN)})
    assert [COMPAT.path, LIBPOD.path] == asked
    assert ("libpod", "podman") == (plan.shape, plan.engine)


@pytest.mark.parametrize(("version", "reasked"), [("5.6.0", False), ("5.6.1", False), ("6.0", False), ("5.5.9", True),
                                                  ("garbage", True), ("", True)])
def test_compat_list_is_complete_from_podman_5_6(version: str, reasked: bool) -> None:
    """Below 5.6, or an unreadable version, the compat answer is re-asked on libpod; from 5.6 it is kept."""
    headers = (("libpod-api-version", version),)
    asked, plan = run_plan(None, {COMPAT.path: answer(headers=headers), LIBPOD.path: answer(headers=headers)})
    assert ([COMPAT.path, LIBPOD.path] if reasked else [COMPAT.path]) == asked
    assert ("libpod" if reasked else "docker") == plan.shape


def test_a_404_with_no_table_hint_is_final() -> None:
    """Only an endpoint the table expects podman at falls back; elsewhere a 404 is the answer."""
    asked, plan = run_plan(None, {})
    assert [COMPAT.path] == asked
    assert plan.response is not None and 404 == plan.response.status


def test_podman_404_on_libpod_and_compat_stops_after_three_requests() -> None:
    """An old Podman that 404s libpod is asked compat, then re-asked libpod: three requests at most."""
    asked, plan = run_plan("podman", {LIBPOD.path: answer(404, PODMAN), COMPAT.path: answer(headers=PODMAN)})
    assert [LIBPOD.path, COMPAT.path, LIBPOD.path] == asked
    assert plan.response is not None and 404 == plan.response.status


def test_a_done_plan_refuses_another_answer() -> None:
    _, plan = run_plan(None, {COMPAT.path: answer(headers=DOCKER)})
    with pytest.raises(RuntimeError):
        plan.answer(answer())


@pytest.mark.parametrize("good", ["web", "a" * 64, "my_app.1-x", "9", "A" * 256])
def test_safe_ids(good: str) -> None:
    assert good == validate_container_id(good)


@pytest.mark.parametrize("bad", ["", "-x", "_x", ".x", "a/b", "a b", "a\nb", "a%2f", "é", "\u0661", "a" * 257])
def test_unsafe_ids(bad: str) -> None:
    with pytest.raises(InvalidContainerId):
        validate_container_id(bad)


def test_stop_targets() -> None:
    docker = profile_for("docker", SPEC)
    assert "/containers/web/stop?t=3" == build_stop_target(docker, "web", False, 3)
    assert "/containers/web/kill" == build_stop_target(docker, "web", True, 3)
    with pytest.raises(InvalidContainerId):
        build_stop_target(docker, "a?b", True, 3)


QUIRK = b'{"cause":"container state improper","message":"can only kill running containers"}'


@pytest.mark.parametrize(
    ("version", "status", "body", "outcome"),
    [
        ("4.3.1", 500, QUIRK, StopOutcome.ALREADY_STOPPED),  # the quirk before 4.7
        ("4.7.0", 500, QUIRK, StopOutcome.FAILED),  # ... not from 4.7
        (None, 500, QUIRK, StopOutcome.FAILED),  # a before-rule needs a known version
        ("4.7.0", 409, b"", StopOutcome.ALREADY_STOPPED),  # since 4.7
        ("4.3.1", 409, b"", StopOutcome.FAILED),
        ("4.3.1", 500, b"other", StopOutcome.FAILED),  # body_contains must match
        ("4.3.1", 404, b"", StopOutcome.NOT_FOUND),
        ("4.3.1", 204, b"", StopOutcome.STOPPED),
    ],
)
def test_podman_kill_outcomes_by_version(version: str | None, status: int, body: bytes, outcome: StopOutcome) -> None:
    assert outcome == outcome_of(profile_for("podman", SPEC), version, "kill", answer(status, body=body))


@pytest.mark.parametrize("timeout", [0, 10, 86_400])
def test_stop_timeouts_in_range_pass(timeout: int) -> None:
    check_stop_timeout(timeout)


@pytest.mark.parametrize("timeout", [-1, 86_401, 10**20, 1.5, True, "10"])
def test_stop_timeouts_out_of_range_are_refused_before_any_io(timeout: object) -> None:
    with pytest.raises(ValueError, match="whole seconds from 0 to 86400"):
        check_stop_timeout(timeout)  # type: ignore[arg-type]
