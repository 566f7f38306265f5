"""Deterministic benchmark inputs: Docker- and libpod-shaped list bodies, lookup maps.

Everything here is a pure function of its arguments and a fixed seed, so the
pytest-codspeed benches, benches/instructions.py (the instruction-count gate)
and benches/compare.py all measure the very same bytes. The bodies are shaped
like the answers recorded in spec/fixtures/ (Docker 20.10 compat, Podman 4.3
libpod), with what real hosts add on top: compose labels, several networks,
volume and bind mounts, IPv4/IPv6 twins of one published port, udp,
loopback-only and unpublished ports; libpod bodies have port ranges.

    python benches/make_inputs.py              # sizes and sha256 of every input
    python benches/make_inputs.py --out DIR    # also write them to DIR
    python benches/make_inputs.py --check      # exit 1 unless the digests match DIGESTS

The digests are committed (DIGESTS): a change to the generator changes what
the instruction baseline measured, so it must show up in review.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockspec import ContainerInfo, PortKey

SEED = 20261123

# (shape, containers): every list body the benches use.
BODIES: tuple[tuple[str, int], ...] = (("docker", 10), ("docker", 100), ("docker", 1000), ("libpod", 1000))
# Lookup maps: number of bindings.
LOOKUP_SIZES: tuple[int, ...] = (500, 4096)
LOOKUP_CASES: tuple[str, ...] = ("exact", "wildcard", "fallback_unique", "fallback_ambiguous", "miss")

DIGESTS = {
    "docker-10": "b8ff9ca8fab86a7b478bc5c67a67d0f6477586c7879c0e8eb57065c52f01150b",
    "docker-100": "93c22c98bd3b728fca7bb3dbcb80a05b855a82eace218a31e1b3f68ad41c4ec4",
    "docker-1000": "68f0de05a8893008f937ab2ff2b793176db1c4635d5c6c08fb302feb222fc941",
    "libpod-1000": "052645e90937f2d44729d29bc798960275af4d9013886ae3a1b58d3800f27d83",
}

_WORDS = (
    "api", "web", "worker", "db", "cache", "queue", "auth", "billing", "search", "gateway", "metrics", "mail",
    "admin", "static", "cron", "ingest", "export", "report", "proxy", "ledger",
)
_IMAGES = (
    "postgres:16", "redis:7-alpine", "nginx:1.27", "registry.example.com/team/{w}:{v}", "ghcr.io/acme/{w}:{v}",
    "rabbitmq:3-management", "grafana/grafana:11.2.0", "prom/prometheus:v2.54.1", "{w}:latest",
)
_COMMANDS = (
    '"docker-entrypoint.sh postgres"', '"/docker-entrypoint.sh nginx -g \'daemon off;\'"',
    '"/app/server --config /etc/app.yaml"', '"sh -c \'exec worker\'"',
)
_PRIVATE_PORTS = (80, 443, 3000, 5432, 6379, 8080, 8443, 9000, 9090, 5672, 15672, 27017)


def _hex(rng: random.Random, chars: int = 64) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _image(rng: random.Random, word: str) -> str:
    return rng.choice(_IMAGES).format(w=word, v=f"{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}")


class _PortAllocator:
    """Host ports as a real host hands them out: unique per address, some shared across addresses."""

    def __init__(self, rng: random.Random, start: int = 20000) -> None:
        self.rng = rng
        self.next = start
        self.specific: list[int] = []

    def take(self, count: int = 1) -> int:
        port = self.next
        self.next += count + self.rng.randint(0, 2)
        return port


def _docker_ports(rng: random.Random, alloc: _PortAllocator) -> list[dict[str, Any]]:
    if rng.random() < 0.15:
        return []
    ports: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 4)):
        private = rng.choice(_PRIVATE_PORTS)
        proto = "udp" if rng.random() < 0.1 else "tcp"
        kind = rng.random()
        if kind < 0.25:  # exposed, not published
            ports.append({"PrivatePort": private, "Type": proto})
        elif kind < 0.80:  # published on every address: Docker 20.10+ lists an IPv4 and an IPv6 twin
            public = alloc.take()
            ports.append({"IP": "0.0.0.0", "PrivatePort": private, "PublicPort": public, "Type": proto})
            ports.append({"IP": "::", "PrivatePort": private, "PublicPort": public, "Type": proto})
        elif kind < 0.90:  # loopback only
            ip = "127.0.0.1" if rng.random() < 0.7 else "::1"
            ports.append({"IP": ip, "PrivatePort": private, "PublicPort": alloc.take(), "Type": proto})
        else:  # one host address; sometimes a port another container publishes on another address
            if alloc.specific and rng.random() < 0.3:
                public = rng.choice(alloc.specific)
                ip = f"10.0.1.{rng.randint(1, 250)}"
            else:
                public = alloc.take()
                alloc.specific.append(public)
                ip = f"10.0.0.{rng.randint(1, 250)}"
            ports.append({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": proto})
    return ports


def _labels(rng: random.Random, project: str, service: str, number: int, image: str) -> dict[str, str]:
    if rng.random() < 0.4:
        picked = rng.sample(["title", "version", "vendor"], 2)
        return {f"org.opencontainers.image.{k}": f"{service}-{k}" for k in picked}
    return {
        "com.docker.compose.config-hash": _hex(rng),
        "com.docker.compose.container-number": str(number),
        "com.docker.compose.depends_on": "",
        "com.docker.compose.image": "sha256:" + _hex(rng),
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project": project,
        "com.docker.compose.project.config_files": f"/srv/{project}/compose.yaml",
        "com.docker.compose.project.working_dir": f"/srv/{project}",
        "com.docker.compose.service": service,
        "com.docker.compose.version": "2.29.7",
        "org.opencontainers.image.source": f"https://git.example.com/{project}/{image.split(':', maxsplit=1)[0]}",
    }


def _network(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "NetworkID": _hex(rng),
        "EndpointID": _hex(rng),
        "Gateway": f"172.{18 + index}.0.1",
        "IPAddress": f"172.{18 + index}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
        "IPPrefixLen": 16,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "02:42:" + ":".join(f"{rng.randint(0, 255):02x}" for _ in range(4)),
        "DriverOpts": None,
    }


def _mounts(rng: random.Random, project: str, service: str) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = []
    for i in range(rng.choice((0, 1, 1, 2, 3))):
        if i % 2 == 0:
            name = f"{project}_{service}-data{i}"
            mounts.append({
                "Type": "volume", "Name": name, "Source": f"/var/lib/docker/volumes/{name}/_data",
                "Destination": f"/var/lib/{service}", "Driver": "local", "Mode": "z", "RW": True, "Propagation": "",
            })
        else:
            mounts.append({
                "Type": "bind", "Source": f"/srv/{project}/config/{service}.conf",
                "Destination": f"/etc/{service}/{service}.conf", "Mode": "ro", "RW": False, "Propagation": "rprivate",
            })
    return mounts


def docker_containers(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`n` running containers as Docker's GET /containers/json lists them."""
    rng = random.Random(f"docker-{n}-{seed}")
    alloc = _PortAllocator(rng)
    out = []
    for i in range(n):
        project = f"proj{i // 8}"
        service = f"{rng.choice(_WORDS)}{i % 8}"
        image = _image(rng, service)
        networks = {f"{project}_default": _network(rng, 0)}
        if rng.random() < 0.3:
            networks[f"{project}_backend"] = _network(rng, 1)
        out.append({
            "Id": _hex(rng),
            "Names": [f"/{project}-{service}-1"],
            "Image": image,
            "ImageID": "sha256:" + _hex(rng),
            "Command": rng.choice(_COMMANDS),
            "Created": 1795392000 + i * 37,
            "Ports": _docker_ports(rng, alloc),
            "Labels": _labels(rng, project, service, 1 + i % 3, image),
            "State": "running",
            "Status": f"Up {rng.randint(2, 59)} minutes",
            "HostConfig": {"NetworkMode": f"{project}_default"},
            "NetworkSettings": {"Networks": networks},
            "Mounts": _mounts(rng, project, service),
        })
    return out


def libpod_containers(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`n` running containers as Podman's GET /libpod/containers/json lists them (ranges included)."""
    rng = random.Random(f"libpod-{n}-{seed}")
    alloc = _PortAllocator(rng, 30000)
    out = []
    for i in range(n):
        project = f"pod{i // 6}"
        service = f"{rng.choice(_WORDS)}{i % 6}"
        ports = []
        if rng.random() >= 0.15:
            for _ in range(rng.randint(1, 3)):
                span = rng.choice((1, 1, 1, 1, 1, 1, 1, 2, 4, 10)) if rng.random() < 0.5 else 1
                ip = rng.choice(("", "", "", "", "127.0.0.1", "::1", f"10.0.0.{rng.randint(1, 250)}"))
                ports.append({
                    "host_ip": ip, "container_port": rng.choice(_PRIVATE_PORTS), "host_port": alloc.take(span),
                    "range": span, "protocol": "udp" if rng.random() < 0.1 else "tcp",
                })
        labels = _labels(rng, project, service, 1, service) if rng.random() < 0.6 else None
        out.append({
            "AutoRemove": False,
            "Command": ["sh", "-c", f"exec /usr/bin/{service} --listen :{rng.choice(_PRIVATE_PORTS)}"],
            "Created": f"2026-11-23T00:{i % 60:02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999999):09d}Z",
            "CreatedAt": "",
            "Exited": False,
            "ExitedAt": -62135596800,
            "ExitCode": 0,
            "Id": _hex(rng),
            "Image": "localhost/" + _image(rng, service),
            "ImageID": _hex(rng),
            "IsInfra": False,
            "Labels": labels,
            "Mounts": [f"/var/lib/{service}"] if rng.random() < 0.5 else [],
            "Names": [f"{project}-{service}"],
            "Namespaces": {},
            "Networks": ["podman"] + ([f"{project}_net"] if rng.random() < 0.3 else []),
            "Pid": 20000 + i,
            "Pod": "",
            "PodName": "",
            "Ports": ports,
            "Size": None,
            "StartedAt": 1795393049 + i,
            "State": "running",
            "Status": "",
        })
    return out


_BODY_CACHE: dict[tuple[str, int, int], bytes] = {}


def body(shape: str, n: int, seed: int = SEED) -> bytes:
    """The list body of `n` containers in `shape` (docker or libpod), as the daemon sends it."""
    key = (shape, n, seed)
    cached = _BODY_CACHE.get(key)
    if cached is None:
        items = docker_containers(n, seed) if shape == "docker" else libpod_containers(n, seed)
        cached = _BODY_CACHE[key] = json.dumps(items, separators=(",", ":")).encode() + b"\n"
    return cached


def lookup_map(size: int, seed: int = SEED) -> tuple[dict[PortKey, ContainerInfo], dict[str, tuple[str, int, bool]]]:
    """`size` bindings shaped like a parsed host, and one query per LOOKUP_CASES entry.

    A query is (socket ip, socket port, allow_proxy_fallback); all are tcp.
    exact: a loopback binding asked for on its address. wildcard: a binding on
    every address asked for on 0.0.0.0. fallback_unique: a loopback-only
    binding seen from docker-proxy on 0.0.0.0. fallback_ambiguous: one port
    published by two containers on two host addresses. miss: an unbound port.
    """
    from dockspec import ContainerInfo, Protocol

    rng = random.Random(f"lookup-{size}-{seed}")
    tcp, udp = Protocol.TCP, Protocol.UDP
    infos = [
        ContainerInfo(_hex(rng), f"proj{i // 8}-{rng.choice(_WORDS)}-1", f"img{i % 17}:latest")
        for i in range(max(2, size // 3))
    ]
    special = {"exact": 100, "wildcard": 101, "fallback_unique": 102, "fallback_ambiguous": 103, "miss": 104}
    bindings: dict[PortKey, ContainerInfo] = {
        ("127.0.0.1", special["exact"], tcp): infos[0],
        (None, special["wildcard"], tcp): infos[1 % len(infos)],
        ("127.0.0.1", special["fallback_unique"], tcp): infos[0],
        ("10.0.0.1", special["fallback_ambiguous"], tcp): infos[0],
        ("10.0.0.2", special["fallback_ambiguous"], tcp): infos[1],
    }
    port = 20000
    while len(bindings) < size:
        info = rng.choice(infos)
        kind = rng.random()
        key: PortKey
        if kind < 0.7:
            key = (None, port, udp if rng.random() < 0.1 else tcp)
        elif kind < 0.85:
            key = (rng.choice(("127.0.0.1", "::1")), port, tcp)
        else:
            key = (f"10.0.0.{rng.randint(1, 250)}", port, tcp)
        bindings[key] = info
        port += rng.randint(1, 3)
    queries = {
        "exact": ("127.0.0.1", special["exact"], False),
        "wildcard": ("0.0.0.0", special["wildcard"], False),
        "fallback_unique": ("0.0.0.0", special["fallback_unique"], True),
        "fallback_ambiguous": ("0.0.0.0", special["fallback_ambiguous"], True),
        "miss": ("0.0.0.0", special["miss"], True),
    }
    return bindings, queries


def digests() -> dict[str, str]:
    return {f"{shape}-{n}": hashlib.sha256(body(shape, n)).hexdigest() for shape, n in BODIES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the benchmark inputs.")
    parser.add_argument("--out", type=Path, help="write <shape>-<n>.json files here")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the bodies match DIGESTS")
    args = parser.parse_args(argv)
    bad = 0
    for name, digest in digests().items():
        shape, n = name.split("-")
        data = body(shape, int(n))
        status = "ok" if DIGESTS.get(name) == digest else "DIFFERS"
        bad += status != "ok"
        print(f"{name:12} {len(data):>9} bytes  {len(data) // int(n):>5} B/container  sha256:{digest}  {status}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}.json").write_bytes(data)
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
