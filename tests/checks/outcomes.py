"""Check one observed stop/kill answer against the outcome rules."""

from __future__ import annotations

from typing import Any

from dockspec import StopOutcome
from dockspec._http import Response
from dockspec.daemons import outcome_of, profile_for
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    spec = builtin_spec()
    profile = profile_for(case["engine"], spec)
    assert profile.engine == case["engine"]
    response = Response(status=int(case["status"]), headers=(), body=str(case.get("body", "")).encode())
    expected = StopOutcome[case["expect"]]
    assert expected == outcome_of(profile, str(case["version"]), case["action"], response)
