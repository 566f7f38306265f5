"""Real daemons for the `live` tests: the two test beds the scripts start.

- `debian12`: scripts/daemons.sh (Docker 20.10, rootful and rootless Podman
  4.3), its state in /run/dockspec-daemons;
- `forky`: scripts/engines.sh (Docker 28.5, rootful and rootless Podman 5.8),
  its state in /run/dockspec-engines.

The `daemons` fixture is parametrized over both beds, so every live test that
takes it runs once per bed, against that bed's three daemons. Each daemon is
reached the way its user would reach it: on the Debian 12 bed the default
endpoint table finds all three (the rootless one through XDG_RUNTIME_DIR);
on the forky bed Docker 28 and rootful Podman 5 sit at non-default paths, so
a docker context made by forky's own `docker context create` / `use` and a
default podman connection made by forky's own `podman system connection add
--default` name them (recorded, as a user's ~/.docker and
podman-connections.json would), and the table finds the rootless one through
XDG_RUNTIME_DIR. The table also finds the other bed's default-path daemons
then: tests compare the containers of the bed under test.

The tests skip on a machine without a bed; when CI is set, the root conftest
turns those skips into failures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec import Env

BEDS = {
    "debian12": Path(os.environ.get("DOCKSPEC_STATE_DIR", "/run/dockspec-daemons")),
    "forky": Path(os.environ.get("DOCKSPEC_ENGINES_STATE", "/run/dockspec-engines")),
}
UP = {"debian12": "bash scripts/daemons.sh up", "forky": "bash scripts/engines.sh up"}
DAEMONS = ("docker", "podman", "podman-rootless")
SOCKET_KEYS = {"docker": "DOCKSPEC_DOCKER_SOCK", "podman": "DOCKSPEC_PODMAN_SOCK",
               "podman-rootless": "DOCKSPEC_ROOTLESS_SOCK"}
CLI_KEYS = {"docker": "DOCKSPEC_DOCKER_CLI", "podman": "DOCKSPEC_PODMAN_CLI",
            "podman-rootless": "DOCKSPEC_ROOTLESS_CLI"}
# Variables that would choose a daemon on their own; the tests set their own.
CHOOSERS = ("DOCKER_HOST", "CONTAINER_HOST", "DOCKER_CONTEXT", "CONTAINER_CONNECTION", "DOCKER_CONFIG",
            "PODMAN_CONNECTIONS_CONF", "CONTAINERS_CONF")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@attrs.frozen
class Daemons:
    """One bed: the env file and container list its script wrote, and how its daemons are reached."""

    env: dict[str, str]
    containers: list[dict[str, Any]]
    bed: str = "debian12"
    reach: dict[str, str] = attrs.field(factory=dict)
    """Variables (a docker config dir, a podman connection file) that reach this bed's daemons."""

    def running(self, daemon: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.containers if c["state"] == "running" and daemon in (None, c["daemon"])]

    def prefix(self, daemon: str) -> str:
        """The container name prefix of a daemon of this bed (dsd, dsp, dsr; d28, p5, r5)."""
        prefixes = {c["name"].split("-", 1)[0] for c in self.containers if c["daemon"] == daemon}
        assert len(prefixes) == 1, (self.bed, daemon, prefixes)
        return prefixes.pop()

    def prefixes(self) -> tuple[str, ...]:
        return tuple(self.prefix(d) + "-" for d in DAEMONS)

    def named(self, daemon: str, suffix: str) -> dict[str, Any]:
        """The container `suffix` (web, udp, ...) of a daemon, from the bed's containers.json."""
        name = f"{self.prefix(daemon)}-{suffix}"
        return next(c for c in self.containers if c["name"] == name)

    def socket(self, daemon: str) -> str:
        return self.env[SOCKET_KEYS[daemon]]

    def environ(self, **extra: str) -> dict[str, str]:
        """This process's environment, with no daemon chosen but as this bed's users reach theirs."""
        env = {k: v for k, v in os.environ.items() if k not in CHOOSERS}
        env["XDG_RUNTIME_DIR"] = self.env["DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR"]
        env.update(self.reach)
        env.update(extra)
        return env

    def detection_env(self, **environ: str) -> Env:
        """root's Env, plus the rootless user's runtime dir (its socket is in the table) and the bed's reach."""
        base = Env.from_os()
        return attrs.evolve(
            base, xdg_runtime_dir=self.env["DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR"], environ=self.environ(**environ)
        )

    def cli_argv(self, daemon: str) -> list[str]:
        """The engine's own CLI: the bed's wrapper when it wrote one (forky), else the host's (Debian 12)."""
        wrapper = self.env.get(CLI_KEYS[daemon])
        if wrapper:
            return [wrapper]
        if daemon == "docker":
            return ["docker", "-H", "unix://" + self.env["DOCKSPEC_DOCKER_SOCK"]]
        if daemon == "podman":
            return ["podman"]
        return [
            "setpriv", f"--reuid={self.env['DOCKSPEC_ROOTLESS_UID']}",
            f"--regid={self.env['DOCKSPEC_ROOTLESS_GID']}", "--init-groups",
            "env", "-i", f"HOME={self.env['DOCKSPEC_ROOTLESS_HOME']}",
            f"USER={self.env['DOCKSPEC_ROOTLESS_USER']}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            f"XDG_RUNTIME_DIR={self.env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman",
        ]

    def cli(self, daemon: str, *args: str, check: bool = True) -> str:
        """Run the engine's own CLI (docker, podman, or podman as the rootless user)."""
        cmd = [*self.cli_argv(daemon), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/", check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd} failed: {result.stderr}")
        return result.stdout.strip()


def load_bed(bed: str) -> Daemons | None:
    state = BEDS[bed]
    env_file, containers_file = state / "env", state / "containers.json"
    if not env_file.exists() or not containers_file.exists():
        return None
    return Daemons(read_env_file(env_file), json.loads(containers_file.read_text()), bed)


def forky_reach(bed: Daemons, root: Path, where: str) -> dict[str, str]:
    """A docker context and a default podman connection for forky's daemons at non-default paths.

    Made by forky's own CLIs (chroot ROOT), in `where` under ROOT/tmp, so the
    files are what docker 28 and podman 5.8 write; the returned variables
    name them by their host paths.
    """
    inside = "/" + str(Path(where).relative_to(root))
    base = ["chroot", str(root), "env", "PODMAN_IGNORE_CGROUPSV1_WARNING=1", f"DOCKER_CONFIG={inside}/docker",
            f"PODMAN_CONNECTIONS_CONF={inside}/podman-connections.json"]
    for argv in (
        ["docker", "context", "create", "forky", "--docker", f"host=unix://{bed.socket('docker')}"],
        ["docker", "context", "use", "forky"],
        ["podman", "system", "connection", "add", "--default", "forky-rootful", f"unix://{bed.socket('podman')}"],
    ):
        subprocess.run([*base, *argv], capture_output=True, text=True, timeout=120, cwd="/", check=True)
    return {"DOCKER_CONFIG": f"{where}/docker", "PODMAN_CONNECTIONS_CONF": f"{where}/podman-connections.json"}


@pytest.fixture(scope="session", params=list(BEDS))
def daemons(request: pytest.FixtureRequest) -> Iterator[Daemons]:
    bed = load_bed(request.param)
    if bed is None:
        pytest.skip(f"the {request.param} bed is not up ({BEDS[request.param]}/env missing): run `{UP[request.param]}`")
    if bed.bed != "forky":
        yield bed
        return
    root = Path(bed.env["DOCKSPEC_ENGINES_ROOT"])
    where = tempfile.mkdtemp(prefix="dockspec-reach-", dir=root / "tmp")
    try:
        yield attrs.evolve(bed, reach=forky_reach(bed, root, where))
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _one_bed(name: str) -> Daemons:
    bed = load_bed(name)
    if bed is None:
        pytest.skip(f"the {name} bed is not up ({BEDS[name]}/env missing): run `{UP[name]}`")
    return bed


@pytest.fixture(scope="session")
def debian12() -> Daemons:
    """The Debian 12 bed alone (discovery tests: the host's docker and podman CLIs, discovery.sh's TLS and ssh)."""
    return _one_bed("debian12")


@pytest.fixture(scope="session")
def forky() -> Daemons:
    """The forky bed alone, as its script recorded it (no context or connection made)."""
    return _one_bed("forky")


def all_beds() -> list[Daemons]:
    """Every bed that is up (to tell another bed's daemons from foreign ones)."""
    return [b for b in (load_bed(name) for name in BEDS) if b is not None]
