"""Check one recorded answer of a Docker daemon to a versioned (or unversioned) request.

Docker serves `/vX.Y/...` only between its minimum and maximum API versions
(20.10: 1.12-1.41, 28.5: 1.24-1.51, as recorded; 29.0-29.2: from 1.44, their
release notes, no bed runs them); an unversioned path is served at the
daemon's own version. dockspec sends unversioned paths only (spec/daemons.yaml).
"""

from __future__ import annotations

import re
from typing import Any

from dockspec._http import Response
from dockspec.daemons import engine_of, profile_for
from dockspec.spec import builtin_spec

VERSIONED = re.compile(r"/v[0-9]+\.[0-9]+/")


def check(case: dict[str, Any]) -> None:
    spec = builtin_spec()
    headers = tuple((str(k).lower(), str(v)) for k, v in case["headers"])
    response = Response(status=int(case["status"]), headers=headers, body=str(case["body"]).encode())
    # The answer, a refusal included, names its daemon: dockspec tells engine and version from it.
    profile, version = engine_of(response, spec)
    assert profile is not None and profile.engine == case["engine"]
    assert version == case["version"]
    docker = profile_for("docker", spec)
    sent = (docker.list.path, docker.stop_path, docker.kill_path)
    assert not any(VERSIONED.match(path) for path in sent), sent  # no daemon's floor or ceiling applies
    method, _, path = str(case["request"]).partition(" ")
    assert method == "GET"
    if VERSIONED.match(path) is None:
        assert case["expect"] == "answered"  # what dockspec sends is served by every recorded Docker
    else:
        assert case["expect"] in ("answered", "refused")
