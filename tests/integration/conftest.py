"""Real daemons for the `live` tests: what scripts/daemons.sh up started.

The tests skip on a machine without them; when CI is set, the root conftest
turns those skips into failures.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec import Env

STATE = Path(os.environ.get("DOCKSPEC_STATE_DIR", "/run/dockspec-daemons"))


@attrs.frozen
class Daemons:
    """The env file and container list written by scripts/daemons.sh up."""

    env: dict[str, str]
    containers: list[dict[str, Any]]

    def running(self, daemon: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.containers if c["state"] == "running" and daemon in (None, c["daemon"])]

    def detection_env(self, **environ: str) -> Env:
        """root's Env, plus the rootless user's runtime dir so its socket is in the table."""
        base = Env.from_os()
        clean = {k: v for k, v in base.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST")}
        clean.update(environ)
        return attrs.evolve(
            base, xdg_runtime_dir=self.env["DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR"], environ=clean
        )

    def cli(self, daemon: str, *args: str, check: bool = True) -> str:
        """Run the engine's own CLI (docker, podman, or podman as the rootless user)."""
        if daemon == "docker":
            cmd = ["docker", "-H", "unix://" + self.env["DOCKSPEC_DOCKER_SOCK"], *args]
        elif daemon == "podman":
            cmd = ["podman", *args]
        else:
            cmd = [
                "setpriv", f"--reuid={self.env['DOCKSPEC_ROOTLESS_UID']}",
                f"--regid={self.env['DOCKSPEC_ROOTLESS_GID']}", "--init-groups",
                "env", "-i", f"HOME={self.env['DOCKSPEC_ROOTLESS_HOME']}",
                f"USER={self.env['DOCKSPEC_ROOTLESS_USER']}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                f"XDG_RUNTIME_DIR={self.env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman", *args,
            ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/", check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd} failed: {result.stderr}")
        return result.stdout.strip()


@pytest.fixture(scope="session")
def daemons() -> Daemons:
    env_file = STATE / "env"
    containers_file = STATE / "containers.json"
    if not env_file.exists() or not containers_file.exists():
        pytest.skip(f"real daemons are not up ({env_file} missing): run `bash scripts/daemons.sh up`")
    env = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return Daemons(env, json.loads(containers_file.read_text()))
