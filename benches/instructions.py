"""Instruction-count gate: every benchmarked operation under callgrind, against benches/baseline.json.

    .venv/bin/python benches/instructions.py            # measure, compare, exit 1 on a regression
    .venv/bin/python benches/instructions.py --update   # measure and rewrite benches/baseline.json

Each operation of benches/ops.py runs in its own interpreter under
`valgrind --tool=callgrind`, twice: with N calls and with 2N calls, after
the same setup and warm-up call. The two processes are identical up to the
loop, so (count(2N) - count(N)) / N is exactly what N more calls cost, with
the interpreter's start-up, the imports and the input set-up gone. The
generated loop's own cost per call (calling an empty function of the same
arity, measured the same way once per kind of operation) is subtracted.
(An earlier form subtracted one run of N empty calls from one run of N
calls; those two processes differ before the loop, and a lookup's per-call
count moved by 0.4% with nothing but an environment variable's length,
where this form moves by none: see docs/performance.md.) `import dockspec`
is a fresh interpreter that imports it, less one that imports nothing.
Instruction counts do not depend on the machine's load, so two runs agree
exactly.

Determinism: the measured processes see nothing of the checkout they came
from or of the venv that runs this script. They run a pinned interpreter
environment of their own (a venv under WORK built once from
benches/gate-requirements.txt: exact versions, hash-checked wheels, nothing
else installed), a copy of src/dockspec and of the drivers at fixed paths
under WORK (byte-compiled before the runs), PYTHONHASHSEED=0, no bytecode
writes, a fixed locale and a minimal fixed environment. The inputs are
written to fixed paths and checked against make_inputs.py's committed
digests, and the detect operation's lean daemon runs in a separate,
unmeasured process. So a fresh clone anywhere on the machine (as CI makes)
measures what the baseline measured. Counts still depend on the Python
build, the C library and valgrind, so baseline.json records those (and the
requirements' digest) and a run under another environment stops with exit 1
and asks for --update rather than comparing.

A regression is a per-operation count above the baseline by more than
THRESHOLD_PCT percent (see docs/performance.md for why 1%).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_inputs  # noqa: E402
import ops  # noqa: E402
from lean_daemon import start  # noqa: E402

REPO = HERE.parent
BASELINE = HERE / "baseline.json"
REQUIREMENTS = HERE / "gate-requirements.txt"
DRIVERS = ("ops.py", "make_inputs.py", "lean_daemon.py")
# A fixed path (not $TMPDIR): the measured processes see the same paths on every machine and checkout.
WORK = Path("/tmp/dockspec-instructions")
THRESHOLD_PCT = 1.0
VALGRIND = shutil.which("valgrind")

# N, calls in the shorter of an operation's two runs (the longer makes 2N): enough
# that gc passes average out over the N calls, few enough for a CI run of a few minutes.
ITERATIONS = {"parse.docker-10": 40, "parse.docker-100": 8, "parse.docker-1000": 2, "parse.libpod-1000": 2,
              "lookup.": 2000, "detect.": 8, ops.IMPORT_OP: 1}


def iterations(name: str) -> int:
    return next(n for prefix, n in ITERATIONS.items() if name.startswith(prefix))


# The generated loop's cost per call is measured with an empty function of the
# arity of each kind of operation, on this operation's setup.
HARNESS = {"parse.": "parse.docker-10.stdlib", "lookup.": "lookup.500.exact", "detect.": "detect.docker-100"}


def harness_for(name: str) -> str | None:
    return next((h for prefix, h in HARNESS.items() if name.startswith(prefix)), None)


def gated_ops() -> list[str]:
    """Every dockspec operation of benches/ops.py (the baselines are json.loads, dict.get... not ours)."""
    return [name for name, spec in ops.SPECS.items() if spec.baseline is not None] + [ops.IMPORT_OP]


def base_python() -> str:
    """The interpreter this script's venv was made from: the gate's venv is made from it too."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def cpu() -> str:
    """The processor's model and a digest of its feature flags: glibc picks its string and memory
    routines by CPU feature, so the same code can count differently on another processor."""
    model, flags = "unknown", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = " ".join(sorted(value.split()))
    return f"{model}; flags sha256:{hashlib.sha256(flags.encode()).hexdigest()[:16]}"


def environment() -> dict[str, str]:
    """What instruction counts depend on besides dockspec's code; a baseline is valid only for the same."""
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_build": " ".join(platform.python_build()),
        "python_compiler": platform.python_compiler(),
        "python_executable": base_python(),
        "machine": platform.machine(),
        "libc": " ".join(platform.libc_ver()),
        "valgrind": valgrind,
        "cpu": cpu(),
        "gate_requirements_sha256": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
    }


def gate_venv() -> Path:
    """WORK/venv-<key>: the base interpreter plus exactly benches/gate-requirements.txt, made once."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + base_python().encode() + sys.version.encode()).hexdigest()[:12]
    venv = WORK / f"venv-{key}"
    if (venv / "complete").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    print(f"making the gate's venv {venv} from {REQUIREMENTS.relative_to(REPO)}", flush=True)
    subprocess.run([base_python(), "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
         "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:", "--require-hashes",
         "-r", str(REQUIREMENTS)],
        check=True,
    )
    (venv / "complete").write_text("")
    return venv


def stage_code(python: Path) -> None:
    """Copy src/dockspec and the drivers to fixed paths under WORK and byte-compile them."""
    for sub in ("src", "drivers"):
        shutil.rmtree(WORK / sub, ignore_errors=True)
    shutil.copytree(REPO / "src" / "dockspec", WORK / "src" / "dockspec",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (WORK / "drivers").mkdir()
    for name in DRIVERS:
        shutil.copy2(HERE / name, WORK / "drivers" / name)
    subprocess.run([str(python), "-m", "compileall", "-q", str(WORK / "src"), str(WORK / "drivers")], check=True)


def child_env(perturb: int = 0) -> dict[str, str]:
    """The measured processes' whole environment; `perturb` adds a variable of that many bytes."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONPATH": str(WORK / "src"),
    }
    if perturb:
        env["DOCKSPEC_GATE_PERTURB"] = "x" * perturb
    return env


def callgrind(argv: list[str], env: dict[str, str]) -> int:
    """Instructions executed by argv under callgrind (the whole process)."""
    cmd = [VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=str(WORK))
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(argv)} failed under callgrind:\n{proc.stderr[-3000:]}")
    return int(found.group(1))


def run_argv(python: Path, name: str, empty: bool, calls: int, inputs: Path, socket_path: str) -> list[str]:
    """One run: the setup, a warm-up call, then `calls` calls of the operation (or of an empty function)."""
    if name == ops.IMPORT_OP:  # a fresh interpreter that imports dockspec, or nothing
        return [str(python), "-c", "pass" if empty else "import dockspec"]
    argv = [str(python), str(WORK / "drivers" / "ops.py"), name, str(calls), "--inputs", str(inputs)]
    return [*argv, "--socket", socket_path, *(["--empty"] if empty else [])]


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, Path, str]]:
    """The gate's python, fixed paths (code, inputs, the daemon socket); one run at a time on a machine."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = gate_venv() / "bin" / "python"
        stage_code(python)
        inputs = WORK / "inputs"
        shutil.rmtree(inputs, ignore_errors=True)
        if make_inputs.main(["--out", str(inputs), "--check"]) != 0:
            raise SystemExit("benches/make_inputs.py no longer makes the inputs the baseline was measured on")
        socket_path = str(WORK / "daemon.sock")
        with start(socket_path, make_inputs.body("docker", 100), inputs / "docker-100.json"):
            yield python, inputs, socket_path


Run = tuple[str, bool, int]  # operation, empty, calls


def plan(names: list[str]) -> list[Run]:
    """Every callgrind run the names need: N and 2N calls of each, the same of each harness."""
    runs: list[Run] = []
    for name in names:
        if name == ops.IMPORT_OP:
            runs += [(name, False, 1), (name, True, 1)]
            continue
        n = iterations(name)
        runs += [(name, False, n), (name, False, 2 * n)]
        harness = harness_for(name)
        if harness is not None and (harness, True, n) not in runs:
            runs += [(harness, True, n), (harness, True, 2 * n)]
    return runs


def per_call(name: str, counts: dict[Run, int]) -> int:
    """Instructions per call: what N more calls cost, less the loop's own cost per call."""
    if name == ops.IMPORT_OP:
        return counts[name, False, 1] - counts[name, True, 1]
    n = iterations(name)
    total = counts[name, False, 2 * n] - counts[name, False, n]
    harness = harness_for(name)
    if harness is not None:
        total -= counts[harness, True, 2 * n] - counts[harness, True, n]
    return round(total / n)


def run_all(names: list[str], jobs: int, env: dict[str, str]) -> dict[str, int]:
    """Instructions per call of each operation; the runs spread over `jobs` processes."""
    runs = plan(names)
    counts: dict[Run, int] = {}
    print(f"callgrind: {len(names)} operations, {len(runs)} runs, {jobs} at a time", flush=True)
    with workspace() as (python, inputs, socket_path), concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {
            pool.submit(callgrind, run_argv(python, name, empty, calls, inputs, socket_path), env): (name, empty, calls)
            for name, empty, calls in runs
        }
        for future in concurrent.futures.as_completed(futures):
            counts[futures[future]] = future.result()
    results = {name: per_call(name, counts) for name in names}
    for name, count in results.items():
        print(f"  {name:36} {count:>14,} instructions/call")
    return results


def compare(results: dict[str, int], baseline: dict[str, object], threshold: float) -> int:
    base_ops: dict[str, dict[str, int]] = baseline["ops"]  # type: ignore[assignment]
    worst = 0
    print(f"\n{'operation':36} {'baseline':>14} {'now':>14} {'change':>8}")
    for name, count in results.items():
        entry = base_ops.get(name)
        if entry is None or entry.get("n") != iterations(name):
            print(f"{name:36} {'(none)':>14} {count:>14,}    new: run --update")
            continue
        change = (count - entry["instructions"]) / entry["instructions"] * 100
        flag = "  REGRESSION" if change > threshold else ("  faster" if change < -threshold else "")
        print(f"{name:36} {entry['instructions']:>14,} {count:>14,} {change:>+7.2f}%{flag}")
        if change > threshold:
            worst += 1
    if worst:
        print(f"\n{worst} operation(s) regressed by more than {threshold}% in instructions per call")
        return 1
    print(f"\nno operation regressed by more than {threshold}%")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--update", action="store_true", help="rewrite benches/baseline.json with this run")
    parser.add_argument("--only", help="a regular expression: measure the matching operations only")
    parser.add_argument("--threshold", type=float, help=f"percent (default: baseline's, else {THRESHOLD_PCT})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, help="also write this run's counts here (JSON)")
    parser.add_argument("--perturb", type=int, default=0, metavar="BYTES",
                        help="noise check: give the measured processes an extra variable of BYTES bytes")
    args = parser.parse_args(argv)
    if VALGRIND is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if args.update and args.perturb:
        raise SystemExit("--perturb is a noise check: a baseline is measured without it")
    names = [n for n in gated_ops() if not args.only or re.search(args.only, n)]
    env = environment()
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    if not args.update:
        if baseline is None:
            raise SystemExit(f"no {BASELINE.name}: run `python benches/instructions.py --update` first")
        recorded = baseline["environment"]
        if recorded != env:
            diff = {k: (recorded.get(k), v) for k, v in env.items() if recorded.get(k) != v}
            print(f"baseline measured under another environment: {diff}")
            print("counts are not comparable: run `python benches/instructions.py --update` on the CI machine")
            return 1
    started = time.monotonic()
    results = run_all(names, args.jobs, child_env(args.perturb))
    print(f"measured in {time.monotonic() - started:.0f} s")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.update:
        threshold = args.threshold or (baseline or {}).get("threshold_pct", THRESHOLD_PCT)
        old_ops = (baseline or {}).get("ops", {}) if args.only else {}
        data = {
            "about": "instructions per call under callgrind; written by `python benches/instructions.py --update`",
            "threshold_pct": threshold,
            "environment": env,
            "ops": {**old_ops, **{name: {"n": iterations(name), "instructions": n} for name, n in results.items()}},
        }
        BASELINE.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {BASELINE.relative_to(HERE.parent)}")
        return 0
    assert baseline is not None
    return compare(results, baseline, args.threshold or float(baseline.get("threshold_pct", THRESHOLD_PCT)))


if __name__ == "__main__":
    sys.exit(main())
