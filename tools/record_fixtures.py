#!/usr/bin/env python3
"""Record real daemon answers into spec/fixtures/ (observations for the tests).

Needs the daemons of a test bed: ``scripts/daemons.sh up`` (Debian 12's
engines; reads /run/dockspec-daemons/env and containers.json) or, with
``--env /run/dockspec-engines/env``, ``scripts/engines.sh up`` (forky's Docker
28.5 and Podman 5.8, driven through the CLI wrappers that env names).
Standalone on purpose: stdlib + PyYAML, and it does NOT import ``dockspec``,
so the fixtures stay independent of the code they test.

For each daemon it records the container list (Docker: compat; Podman rootful
and rootless: compat and libpod) with the raw body and headers, plus an
``expect`` port map computed from what ``daemons.sh up`` declared it published
(containers.json) cross-checked against the real CLI (``docker port`` /
``podman port``, run as the rootless user for rootless Podman) -- never by
parsing the body; a compat body must mention every expected port, and none
of those a pre-5.6 Podman drops. It also records the real status codes of
stop/kill on throwaway containers into observed-outcomes.yaml (the forky
bed's: observed-outcomes-forky.yaml).

    tools/record_fixtures.py [--out spec/fixtures] [--env /run/dockspec-daemons/env]
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HEADER = "# Recorded from a real daemon by tools/record_fixtures.py. Observation: read only by tests.\n"
RECORDED_BY = "tools/record_fixtures.py"
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIBPOD_LIST = "/v4.0.0/libpod/containers/json"
COMPAT_LIST = "/containers/json"
# Podman's compat list reports a published range as one entry before 5.6.0
# (shared/daemons.md; Podman's release notes).
PODMAN_COMPAT_RANGE_COMPLETE_SINCE = (5, 6, 0)
WILDCARD_IPS = {"", "0.0.0.0", "::"}


class RecordError(Exception):
    pass


# ------------------------------------------------------------------ HTTP
class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection over an AF_UNIX stream socket."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def http_request(sock_path: str, method: str, path: str, timeout: float = 60.0) -> tuple[int, list[list[str]], bytes]:
    """Return (status, [(name, value), ...] as received, body bytes)."""
    conn = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, [[k, v] for k, v in resp.getheaders()], body
    finally:
        conn.close()


# ------------------------------------------------------------------ daemons
def load_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        env[key] = value
    return env


class Daemon:
    def __init__(self, key: str, engine: str, mode: str, sock: str, cli: list[str], lists: list[tuple[str, str]]):
        self.key = key  # docker | podman | podman-rootless (as in containers.json)
        self.engine = engine
        self.mode = mode
        self.sock = sock
        self.cli_prefix = cli
        self.lists = lists  # [(kind, path)]
        self.version = ""

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split("+")[0].split(".")[:2])

    @property
    def version_tuple(self) -> tuple[int, ...]:
        parts = []
        for p in self.version.split("+")[0].split("-")[0].split("."):
            parts.append(int(p) if p.isdigit() else 0)
        return tuple(parts)

    def cli(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            [*self.cli_prefix, *args], cwd="/", capture_output=True, text=True, timeout=120, check=False
        )
        if check and proc.returncode != 0:
            raise RecordError(f"{self.key}: {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout


def make_daemons(env: dict[str, str]) -> list[Daemon]:
    if env.get("DOCKSPEC_DOCKER_CLI"):  # the forky bed: its own CLIs, run as each daemon's user runs them
        docker_cli = [env["DOCKSPEC_DOCKER_CLI"]]
        podman_cli = [env["DOCKSPEC_PODMAN_CLI"]]
        rootless = [env["DOCKSPEC_ROOTLESS_CLI"]]
    else:
        docker_cli, podman_cli, rootless = debian_clis(env)
    both = [("compat", COMPAT_LIST), ("libpod", LIBPOD_LIST)]
    return [
        Daemon("docker", "docker", "rootful", env["DOCKSPEC_DOCKER_SOCK"], docker_cli, [("compat", COMPAT_LIST)]),
        Daemon("podman", "podman", "rootful", env["DOCKSPEC_PODMAN_SOCK"], podman_cli, both),
        Daemon("podman-rootless", "podman", "rootless", env["DOCKSPEC_ROOTLESS_SOCK"], rootless, both),
    ]


def debian_clis(env: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """The host's docker and podman (Debian 12's), the rootless one as its user."""
    rootless_cli = [
        "setpriv", f"--reuid={env['DOCKSPEC_ROOTLESS_UID']}", f"--regid={env['DOCKSPEC_ROOTLESS_GID']}",
        "--init-groups", "env", "-i", f"HOME={env['DOCKSPEC_ROOTLESS_HOME']}",
        f"USER={env['DOCKSPEC_ROOTLESS_USER']}", f"LOGNAME={env['DOCKSPEC_ROOTLESS_USER']}",
        f"PATH={STD_PATH}", f"XDG_RUNTIME_DIR={env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman",
    ]
    root_env = ["env", "-u", "DOCKER_HOST", "-u", "CONTAINER_HOST", "-u", "DOCKER_CONTEXT"]
    return [*root_env, "docker", "-H", "unix://" + env["DOCKSPEC_DOCKER_SOCK"]], [*root_env, "podman"], rootless_cli


def engine_version(d: Daemon) -> str:
    status, _, body = http_request(d.sock, "GET", "/version")
    if status != 200:
        raise RecordError(f"{d.key}: GET /version answered {status}")
    version: str = json.loads(body)["Version"]
    return version


# ------------------------------------------------------------------ expect
def cli_bindings(d: Daemon, name: str) -> set[tuple[str | None, int, str]]:
    """(ip or None for all addresses, host port, protocol) from `<cli> port NAME`."""
    out = d.cli("port", name)
    found: set[tuple[str | None, int, str]] = set()
    for raw in out.splitlines():
        line = raw.strip()
        if not line:
            continue
        # "80/tcp -> 0.0.0.0:18080", "80/tcp -> [::]:18080", "80/tcp -> ::1:28082"
        left, right = line.split(" -> ")
        _cport, proto = left.split("/")
        host, port = right.rsplit(":", 1)
        host = host.strip("[]")
        found.add((None if host in WILDCARD_IPS else host, int(port), proto))
    return found


def published(c: dict[str, Any]) -> list[dict[str, Any]]:
    """The ports a container publishes: none for a host-network one (its process listens on the host port itself)."""
    return [] if c.get("network") == "host" else list(c["ports"])


def declared_bindings(c: dict[str, Any]) -> set[tuple[str | None, int, str]]:
    return {(p["host_ip"], p["host_port"], p["protocol"]) for p in published(c)}


def declared_compose(labels: dict[str, str]) -> dict[str, Any] | None:
    """compose {project, service, number} from the labels `up` set (docker compose's, podman-compose's)."""
    project = labels.get("com.docker.compose.project") or labels.get("io.podman.compose.project")
    if not project:
        return None
    number = labels.get("com.docker.compose.container-number", "")
    return {
        "project": project,
        "service": labels.get("com.docker.compose.service") or labels.get("io.podman.compose.service"),
        "number": int(number) if number.isascii() and number.isdigit() else None,
    }


def expect_key(e: dict[str, Any]) -> tuple[int, str, str]:
    return (e["port"], e["protocol"], e["ip"] or "")


def build_expect(d: Daemon, declared: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], str | None]:
    """The port map the recorded list body must produce, and notes if any.

    From containers.json (what `up` asked for) cross-checked with the CLI's
    `port` (what the daemon publishes); the body is not parsed here.
    """
    running = [c for c in declared if c["state"] == "running"]
    # The daemon must run exactly the declared containers, or the body would
    # hold containers the expectation does not know.
    names_running = set(d.cli("ps", "--format", "{{.Names}}").split())
    if names_running != {c["name"] for c in running}:
        raise RecordError(
            f"{d.key}: running containers {sorted(names_running)} differ from containers.json "
            f"{sorted(c['name'] for c in running)}; run scripts/daemons.sh up on a quiet daemon"
        )
    images = {}
    for line in d.cli("ps", "--no-trunc", "--format", "{{.Names}} {{.Image}} {{.ID}}").splitlines():
        name, image, cid = line.split()
        images[name] = (image, cid)
    compat_drops_range = (
        kind == "compat" and d.engine == "podman" and d.version_tuple < PODMAN_COMPAT_RANGE_COMPLETE_SINCE
    )
    expect: list[dict[str, Any]] = []
    dropped: list[tuple[str, dict[str, Any]]] = []
    for c in running:
        want = declared_bindings(c)
        have = cli_bindings(d, c["name"])
        if want != have:
            raise RecordError(f"{d.key}: {c['name']} publishes {sorted(have, key=str)}, "
                              f"containers.json declares {sorted(want, key=str)}")
        image, cid = images[c["name"]]
        if image != c["image"] or cid != c["id"]:
            raise RecordError(f"{d.key}: {c['name']} is {cid} {image}, containers.json says {c['id']} {c['image']}")
        for p in published(c):
            if compat_drops_range and p["host_port"] != p["range_start"]:
                dropped.append((c["name"], p))
                continue
            entry = {"ip": p["host_ip"], "port": p["host_port"], "protocol": p["protocol"],
                     "id": c["id"], "name": c["name"], "image": c["image"]}
            compose = declared_compose(c.get("labels") or {})
            if compose is not None:
                entry["compose"] = FlowMap(compose)
            if entry not in expect:
                expect.append(entry)
    expect.sort(key=expect_key)
    notes = None
    if dropped:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for name, p in dropped:
            by_name.setdefault(name, []).append(p)
        parts = []
        for name, ports in by_name.items():
            first = ports[0]["range_start"]
            last = first + ports[0]["range_count"] - 1
            parts.append(
                f"{name} publishes the range {first}-{last}/{ports[0]['protocol']} "
                f"(`podman port {name}` lists all {ports[0]['range_count']} ports), but this compat body "
                f"reports only {first} and drops " + ", ".join(str(p["host_port"]) for p in ports)
            )
        notes = (f"Podman {d.version} compat GET /containers/json under-reports published ranges: "
                 + "; ".join(parts) + ". expect lists what this body shows (the first port of each range); "
                 "the libpod list of the same daemon reports the range in full (range field).")
    return expect, notes


def sanity_check_body(
    key: str, body: str, expect: list[dict[str, Any]], group_starts: set[int], notes_dropped: list[int],
    compat: bool = False,
) -> None:
    """Textual spot check (no JSON parsing): every expected id and the first
    port of every published group are in the body (in a compat body every
    expected port); dropped ports are not."""
    squeezed = body.replace(" ", "")
    for e in expect:
        if e["id"] not in body:
            raise RecordError(f"{key}: body does not mention id {e['id']}")
        if compat and f'"PublicPort":{e["port"]}' not in squeezed:
            raise RecordError(f"{key}: body does not mention port {e['port']}")
    for port in group_starts:
        if str(port) not in body:
            raise RecordError(f"{key}: body does not mention port {port}")
    for port in notes_dropped:
        if f'"PublicPort":{port}' in body.replace(" ", ""):
            raise RecordError(f"{key}: body mentions {port}, which expect treats as dropped")


# ------------------------------------------------------------------ YAML
class Flow(list[Any]):
    pass


class FlowMap(dict[str, Any]):
    pass


class Body(str):
    pass


class Dumper(yaml.SafeDumper):
    pass


Dumper.add_representer(Flow, lambda dm, v: dm.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
Dumper.add_representer(FlowMap, lambda dm, v: dm.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_BODY_STYLE = {"style": "|"}
Dumper.add_representer(Body, lambda dm, v: dm.represent_scalar("tag:yaml.org,2002:str", v, style=_BODY_STYLE["style"]))


class Short(str):
    """A short string inside a flow mapping: double-quoted when it holds a line break."""


Dumper.add_representer(
    Short, lambda dm, v: dm.represent_scalar("tag:yaml.org,2002:str", v, style='"' if "\n" in v or "\r" in v else None)
)


def plain(obj: Any) -> Any:
    """Strip the style marker classes (for round-trip comparison)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    if isinstance(obj, str):
        return str(obj)
    return obj


def dump(doc: dict[str, Any]) -> str:
    """YAML text whose load equals doc exactly; literal block for bodies when it round-trips."""
    for style in ("|", '"'):
        _BODY_STYLE["style"] = style
        text = HEADER + yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True,
                                  width=1_000_000, default_flow_style=False)
        if yaml.safe_load(text) == plain(doc):
            return text
    raise RecordError(f"{doc.get('id')}: YAML does not round-trip")


def write(out_dir: Path, doc: dict[str, Any]) -> Path:
    text = dump(doc)
    path = out_dir / f"{doc['id']}.yaml"
    path.write_text(text, encoding="utf-8")
    # Assert the file on disk gives back the body byte for byte.
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert loaded == plain(doc), path
    return path


# ------------------------------------------------------------------ recordings
def record_lists(d: Daemon, declared: list[dict[str, Any]], out_dir: Path, today: str) -> list[Path]:
    written = []
    for kind, path in d.lists:
        expect, notes = build_expect(d, declared, kind)
        status, headers, raw = http_request(d.sock, "GET", path)
        if status != 200:
            raise RecordError(f"{d.key}: GET {path} answered {status}: {raw[:200]!r}")
        body = raw.decode("utf-8")
        assert body.encode("utf-8") == raw
        dropped_ports = []
        if notes:
            dropped_ports = [p["host_port"] for c in declared if c["state"] == "running" for p in published(c)
                             if p["host_port"] != p["range_start"]]
        group_starts = {p["range_start"] for c in declared if c["state"] == "running" for p in published(c)}
        sanity_check_body(f"{d.key} {kind}", body, expect, group_starts, dropped_ports, compat=kind == "compat")
        fid = f"{d.engine}-{d.major_minor}-{d.mode}-{kind}-containers"
        doc = {
            "id": fid,
            "source": {
                "recorded_by": RECORDED_BY,
                "recorded_at": today,
                "engine": d.engine,
                "version": d.version,
                "mode": d.mode,
                "request": f"GET {path}",
            },
            "shape": "docker" if kind == "compat" else "libpod",
            "response": {
                "status": status,
                "headers": [Flow(h) for h in headers],
                "body": Body(body),
            },
            "expect": [FlowMap(e) for e in expect],
        }
        if notes:
            doc["notes"] = notes
        written.append(write(out_dir, doc))
    return written


# The truth of each recorded call, from the state the container was put in.
OUTCOME_BY_STATE = {"running": "STOPPED", "stopped": "ALREADY_STOPPED", "created": "ALREADY_STOPPED",
                    "unknown": "NOT_FOUND"}


def wait_state(d: Daemon, name: str, not_state: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = d.cli("inspect", "-f", "{{.State.Status}}", name).strip()
        if state != not_state or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def record_outcomes(d: Daemon, image: str, cmd: str) -> list[dict[str, Any]]:
    tag = secrets.token_hex(3)
    prefix = f"dsrec-{d.key}-{tag}"
    made: list[str] = []

    def new(name: str, run: bool) -> str:
        full = f"{prefix}-{name}"
        verb = ["run", "-d"] if run else ["create"]
        cid = d.cli(*verb, "--name", full, image, "sh", "-c", cmd).strip().splitlines()[-1]
        made.append(full)
        return d.cli("inspect", "-f", "{{.Id}}", full).strip() or cid

    outcomes: list[dict[str, Any]] = []
    label = d.engine + "-" + d.major_minor + ("" if d.engine == "docker" else "-" + d.mode)

    def post(action: str, state: str, cid: str) -> None:
        status, _headers, raw = http_request(d.sock, "POST", f"/containers/{cid}/{action}")
        # expect: what the call truly did, from the container's state before it
        # (known because we made it so), not from the status code.
        expect = OUTCOME_BY_STATE[state]
        case = {
            "id": f"{label}-{action}-{state}",
            "engine": d.engine,
            "version": d.version,
            "mode": d.mode,
            "action": action,
            "state": state,
            "request": f"POST /containers/{{id}}/{action}",
            "status": status,
            "body": Short(raw.decode("utf-8", "replace")[:200]),
            "expect": expect,
        }
        if 200 <= status < 300 and state != "running":
            case["xfail"] = (
                f"{d.engine} {d.version} answers {action} of a {state} (not running) container with {status}, "
                f"the same answer as for a running one: the status code cannot tell {expect}"
            )
        outcomes.append(FlowMap(case))

    try:
        a = new("stop", run=True)
        post("stop", "running", a)
        wait_state(d, a, "running")
        post("stop", "stopped", a)
        c = new("stopcreated", run=False)
        post("stop", "created", c)
        b = new("kill", run=True)
        post("kill", "running", b)
        state = wait_state(d, b, "running")
        if state == "running":
            raise RecordError(f"{d.key}: {b} still running after kill")
        post("kill", "stopped", b)
        c2 = new("killcreated", run=False)
        post("kill", "created", c2)
        unknown = secrets.token_hex(32)
        post("stop", "unknown", unknown)
        post("kill", "unknown", unknown)
    finally:
        for name in made:
            d.cli("rm", "-f", name, check=False)
    return outcomes


# Version prefixes around each recorded Docker's floor and ceiling (20.10:
# 1.12-1.41; 28.5: 1.24-1.51, as recorded) and Docker 29's floor (1.44, its release notes;
# no bed runs 29), plus none: the unversioned path dockspec sends.
API_PREFIXES = ("", "/v1.11", "/v1.12", "/v1.23", "/v1.24", "/v1.41", "/v1.42", "/v1.43", "/v1.44", "/v1.51", "/v1.52")


def refusal(body: str) -> bool:
    """A version refusal: Docker 20.10 sends {"message": TEXT}, 28.5 TEXT alone (text/plain)."""
    text = body.strip()
    if text.startswith("{"):
        message = json.loads(text).get("message")
        text = message if isinstance(message, str) else ""
    return text.startswith("client version ") and ("too old" in text or "too new" in text)


def record_api_versions(d: Daemon, today: str) -> dict[str, Any]:
    """GET {prefix}/version at each API_PREFIXES entry: answered (the version document) or refused (too old/new)."""
    cases = []
    for prefix in API_PREFIXES:
        path = f"{prefix}/version"
        status, headers, raw = http_request(d.sock, "GET", path)
        body = raw.decode("utf-8", "replace")
        if status == 200 and '"ApiVersion"' in body:
            expect = "answered"
        elif status == 400 and refusal(body):
            expect = "refused"
        else:
            raise RecordError(f"{d.key}: GET {path} answered {status} {body[:200]!r}")
        server = [Flow(h) for h in headers if h[0].lower() in ("server", "api-version")]
        cases.append(FlowMap({
            "id": f"{d.engine}-{d.major_minor}-{prefix.strip('/') or 'unversioned'}",
            "engine": d.engine, "version": d.version, "request": f"GET {path}", "status": status,
            "headers": Flow(server), "body": Short(body), "expect": expect,
        }))
    return {
        "id": f"{d.engine}-{d.major_minor}-api-versions",
        "source": FlowMap({"recorded_by": RECORDED_BY, "recorded_at": today, "engine": d.engine, "version": d.version}),
        "check": "api_versions",
        "vectors": cases,
    }


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=repo / "spec" / "fixtures")
    ap.add_argument("--env", type=Path, default=Path("/run/dockspec-daemons/env"))
    ap.add_argument("--no-outcomes", action="store_true", help="skip observed-outcomes.yaml")
    args = ap.parse_args(argv)

    env = load_env(args.env)
    containers_json = Path(env.get("DOCKSPEC_CONTAINERS_JSON", "/run/dockspec-daemons/containers.json"))
    declared_all = json.loads(containers_json.read_text())
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    daemons = make_daemons(env)
    cmd = 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'
    written: list[Path] = []
    outcomes: list[dict[str, Any]] = []
    try:
        for d in daemons:
            d.version = engine_version(d)
            declared = [c for c in declared_all if c["daemon"] == d.key]
            written += record_lists(d, declared, args.out, today)
            if d.engine == "docker":
                written.append(write(args.out, record_api_versions(d, today)))
        if not args.no_outcomes:
            for d in daemons:
                image = "bb:latest" if d.engine == "docker" else "localhost/bb:latest"
                outcomes += record_outcomes(d, image, cmd)
            bed = env.get("DOCKSPEC_BED")
            doc = {
                "id": "observed-outcomes" if bed in (None, "debian12") else f"observed-outcomes-{bed}",
                "source": FlowMap({"recorded_by": RECORDED_BY, "recorded_at": today}),
                "outcomes": outcomes,
            }
            written.append(write(args.out, doc))
    except RecordError as exc:
        print(f"record_fixtures: {exc}", file=sys.stderr)
        return 1
    for p in written:
        print(p.relative_to(repo) if p.is_relative_to(repo) else p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
