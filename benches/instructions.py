"""Instruction-count gate: the code under test against a reference commit, measured side by side in one run.

    .venv/bin/python benches/instructions.py                  # measure head and reference, exit 1 on a regression
    .venv/bin/python benches/instructions.py --accept REASON  # record each operation past the threshold as accepted
    .venv/bin/python benches/instructions.py --advance        # make HEAD the reference (commit the files it writes)

The reference is the commit named in benches/gate-reference.txt. The gate
exports it (`git archive`) into a temporary directory and measures its
src/dockspec and the checkout's src/dockspec in the same run, on the same
machine, with the checkout's drivers (benches/ops.py, make_inputs.py,
lean_daemon.py) in the same pinned venv. Instruction counts depend on the
processor (glibc picks its string and memory routines by CPU feature), the
Python build, libc and valgrind; measured in one run, both sides share all of
them, so the comparison holds on any machine. benches/baseline.json is the
record of the reference's counts and the environment they were measured
under: when that environment is this one exactly and it measured the
reference commit, its counts stand in for measuring the reference again.

How one side is counted: each operation of benches/ops.py runs in its own
interpreter under `valgrind --tool=callgrind`, twice: with N calls and with
2N calls, after the same setup and warm-up call. The two processes are
identical up to the loop, so (count(2N) - count(N)) / N is what N more calls
cost, with start-up, imports and input set-up gone. The generated loop's own
cost per call (an empty function of the same arity, measured the same way on
the same side) is subtracted. `import dockspec` is a fresh interpreter that
imports it, less one that imports nothing.

Determinism: the measured processes see nothing of the checkout or of the
venv that runs this script. They run a pinned venv of their own (under WORK,
built once from benches/gate-requirements.txt: exact versions, hash-checked
wheels), the two sides' src/dockspec copied to fixed paths of the same length
(WORK/code-h and WORK/code-r), the drivers at a fixed path, all
byte-compiled before the runs, PYTHONHASHSEED=0, no bytecode writes, a fixed
locale and a minimal fixed environment. The inputs are written to fixed paths
and checked against make_inputs.py's committed digests; the detect
operation's lean daemon runs in a separate, unmeasured process.

A regression is an operation whose count on the head is above the
reference's by more than the threshold (THRESHOLD_PCT, see
docs/performance.md). It passes only when benches/gate-accepted.json accepts
it: an entry for that operation and this reference, with the change measured
when it was accepted and the reason; the head may then be at most the
threshold above the accepted change. An operation that runs on one side only
(new, removed, or needing what the reference's code lacks) is reported, not
failed.
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
import tarfile
import tempfile
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
REFERENCE = HERE / "gate-reference.txt"
ACCEPTED = HERE / "gate-accepted.json"
REQUIREMENTS = HERE / "gate-requirements.txt"
DRIVERS = ("ops.py", "make_inputs.py", "lean_daemon.py")
# A fixed path (not $TMPDIR): the measured processes see the same paths on every machine and checkout.
WORK = Path("/tmp/dockspec-instructions")
# The two sides' code, at paths of the same length (a path's length can move what the interpreter allocates).
SIDES = {"head": WORK / "code-h", "reference": WORK / "code-r"}
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
    """The processor's model and a digest of its feature flags."""
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
    """What instruction counts depend on besides dockspec's code; a recorded count stands only for the same."""
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
        "drivers_sha256": hashlib.sha256(b"".join((HERE / name).read_bytes() for name in DRIVERS)).hexdigest(),
    }


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def read_reference() -> str:
    """The commit id benches/gate-reference.txt names (its first line that is not a comment)."""
    for raw in REFERENCE.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            return line
    raise SystemExit(f"{REFERENCE.relative_to(REPO)} names no commit")


def resolve(rev: str) -> str:
    """The full commit id of `rev`; in a clone that lacks it, one fetch from origin is tried."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        pass
    with contextlib.suppress(subprocess.CalledProcessError):
        git("fetch", "--quiet", "origin", rev)
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"the reference {rev} is not in this clone (and origin did not have it)") from None


def export_src(commit: str, target: Path) -> None:
    """src/dockspec of `commit`, written to target/dockspec (git archive: no worktree metadata left behind)."""
    with tempfile.TemporaryDirectory(prefix="dockspec-gate-ref-") as tmp:
        archive = Path(tmp) / "src.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), commit,
                        "src/dockspec"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        shutil.copytree(Path(tmp) / "src" / "dockspec", target / "dockspec",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


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


def stage_code(python: Path, sources: dict[str, str | None]) -> None:
    """Each side's src/dockspec (None: this checkout's; else a commit's) and the drivers at fixed paths, compiled."""
    for path in (*SIDES.values(), WORK / "drivers"):
        shutil.rmtree(path, ignore_errors=True)
    for side, commit in sources.items():
        target = SIDES[side]
        target.mkdir(parents=True)
        if commit is None:
            shutil.copytree(REPO / "src" / "dockspec", target / "dockspec",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            export_src(commit, target)
    (WORK / "drivers").mkdir()
    for name in DRIVERS:
        shutil.copy2(HERE / name, WORK / "drivers" / name)
    dirs = [str(SIDES[side]) for side in sources] + [str(WORK / "drivers")]
    subprocess.run([str(python), "-m", "compileall", "-q", *dirs], check=True)


def child_env(side: str, perturb: int = 0) -> dict[str, str]:
    """The measured processes' whole environment; `perturb` adds a variable of that many bytes."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONPATH": str(SIDES[side]),
    }
    if perturb:
        env["DOCKSPEC_GATE_PERTURB"] = "x" * perturb
    return env


class RunFailed(Exception):
    """A measured process exited with an error (on the reference: what the head's drivers need is missing)."""


def callgrind(argv: list[str], env: dict[str, str]) -> int:
    """Instructions executed by argv under callgrind (the whole process)."""
    cmd = [VALGRIND or "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=str(WORK))
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        lines = [line for line in proc.stderr.splitlines() if not line.startswith("==")]
        raise RunFailed(lines[-1] if lines else f"exit {proc.returncode}")
    return int(found.group(1))


def run_argv(python: Path, name: str, empty: bool, calls: int, inputs: Path, socket_path: str) -> list[str]:
    """One run: the setup, a warm-up call, then `calls` calls of the operation (or of an empty function)."""
    if name == ops.IMPORT_OP:  # a fresh interpreter that imports dockspec, or nothing
        return [str(python), "-c", "pass" if empty else "import dockspec"]
    argv = [str(python), str(WORK / "drivers" / "ops.py"), name, str(calls), "--inputs", str(inputs)]
    return [*argv, "--socket", socket_path, *(["--empty"] if empty else [])]


@contextlib.contextmanager
def workspace(sources: dict[str, str | None]) -> Iterator[tuple[Path, Path, str]]:
    """The gate's python, fixed paths (code, inputs, the daemon socket); one run at a time on a machine."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = gate_venv() / "bin" / "python"
        stage_code(python, sources)
        inputs = WORK / "inputs"
        shutil.rmtree(inputs, ignore_errors=True)
        if make_inputs.main(["--out", str(inputs), "--check"]) != 0:
            raise SystemExit("benches/make_inputs.py no longer makes the inputs its digests name")
        socket_path = str(WORK / "daemon.sock")
        with start(socket_path, make_inputs.body("docker", 100), inputs / "docker-100.json", eager=True):
            yield python, inputs, socket_path


Run = tuple[str, str, bool, int]  # side, operation, empty, calls


def plan(sides: list[str], names: list[str]) -> list[Run]:
    """Every callgrind run: N and 2N calls of each operation and of its harness, on each side, interleaved."""
    runs: list[Run] = []
    for name in names:
        if name == ops.IMPORT_OP:
            wanted = [(name, False, 1), (name, True, 1)]
        else:
            n = iterations(name)
            wanted = [(name, False, n), (name, False, 2 * n)]
            harness = harness_for(name)
            if harness is not None:
                wanted += [(harness, True, n), (harness, True, 2 * n)]
        for op, empty, calls in wanted:
            for side in sides:
                if (side, op, empty, calls) not in runs:
                    runs.append((side, op, empty, calls))
    return runs


def per_call(side: str, name: str, counts: dict[Run, int | RunFailed]) -> int | RunFailed:
    """Instructions per call: what N more calls cost, less the loop's own cost per call."""
    if name == ops.IMPORT_OP:
        needed = [(side, name, False, 1), (side, name, True, 1)]
    else:
        n = iterations(name)
        needed = [(side, name, False, 2 * n), (side, name, False, n)]
        harness = harness_for(name)
        if harness is not None:
            needed += [(side, harness, True, 2 * n), (side, harness, True, n)]
    values = [counts[run] for run in needed]
    failed = next((v for v in values if isinstance(v, RunFailed)), None)
    if failed is not None:
        return failed
    ints = [v for v in values if isinstance(v, int)]
    if name == ops.IMPORT_OP:
        return ints[0] - ints[1]
    total = ints[0] - ints[1] - (ints[2] - ints[3] if len(ints) == 4 else 0)
    return round(total / iterations(name))


Results = dict[str, int | RunFailed]


def measure(sources: dict[str, str | None], names: list[str], jobs: int, perturb: int = 0) -> dict[str, Results]:
    """Instructions per call of each operation on each side; all runs spread over `jobs` processes."""
    sides = list(sources)
    runs = plan(sides, names)
    counts: dict[Run, int | RunFailed] = {}
    print(f"callgrind: {len(names)} operations on {' and '.join(sides)}, {len(runs)} runs, {jobs} at a time",
          flush=True)
    with workspace(sources) as (python, inputs, socket_path), concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {
            pool.submit(callgrind, run_argv(python, op, empty, calls, inputs, socket_path),
                        child_env(side, perturb)): (side, op, empty, calls)
            for side, op, empty, calls in runs
        }
        for future in concurrent.futures.as_completed(futures):
            try:
                counts[futures[future]] = future.result()
            except RunFailed as exc:
                counts[futures[future]] = exc
    return {side: {name: per_call(side, name, counts) for name in names} for side in sides}


def load_accepted(reference: str) -> tuple[dict[str, dict[str, object]], list[str]]:
    """The acceptances for this reference, by operation, and notes on entries that do not apply."""
    if not ACCEPTED.exists():
        return {}, []
    data = json.loads(ACCEPTED.read_text())
    accepted: dict[str, dict[str, object]] = {}
    notes = []
    for entry in data.get("accepted", []):
        if entry.get("reference") != reference:
            notes.append(f"ignored: {entry.get('op')} was accepted against {entry.get('reference')}, "
                         f"not the reference {reference[:12]}")
            continue
        accepted[str(entry["op"])] = entry
    return accepted, notes


def compare(head: Results, ref: Results, accepted: dict[str, dict[str, object]], threshold: float,
            ref_label: str) -> tuple[int, dict[str, float]]:
    """Print the table; the number of unaccepted regressions and failed head runs, and every change in percent."""
    failures = 0
    changes: dict[str, float] = {}
    print(f"\n{'operation':32} {ref_label:>14} {'head':>14} {'change':>8}")
    for name in sorted(set(head) | set(ref), key=lambda n: (n not in head, n)):
        now, before = head.get(name), ref.get(name)
        if isinstance(now, RunFailed) or now is None:
            if isinstance(now, RunFailed):
                failures += 1
                print(f"{name:32} FAILED on the head: {now}")
            else:
                print(f"{name:32} reference only (no longer measured)")
            continue
        if not isinstance(before, int):
            why = f" ({before})" if isinstance(before, RunFailed) else ""
            print(f"{name:32} {'-':>14} {now:>14,}    head only{why}")
            continue
        change = (now - before) / before * 100
        changes[name] = change
        verdict = ""
        if change > threshold:
            entry = accepted.get(name)
            if entry is not None and change <= float(entry["change_pct"]) + threshold:  # type: ignore[arg-type]
                verdict = f"  accepted ({float(entry['change_pct']):+.2f}%: {entry['reason']})"  # type: ignore[arg-type]
            else:
                failures += 1
                verdict = "  REGRESSION" + (f" (accepted only up to {entry['change_pct']}%)" if entry else "")
        elif change < -threshold:
            verdict = "  faster"
        print(f"{name:32} {before:>14,} {now:>14,} {change:>+7.2f}%{verdict}")
    return failures, changes


def recorded_reference(reference: str, env: dict[str, str], names: list[str]) -> Results | None:
    """baseline.json's counts, when it measured `reference` under exactly this environment."""
    if not BASELINE.exists():
        return None
    data = json.loads(BASELINE.read_text())
    if data.get("commit") != reference or data.get("environment") != env:
        return None
    recorded = {name: data["ops"][name]["instructions"] for name in names
                if data["ops"].get(name, {}).get("n") == iterations(name)}
    return recorded if len(recorded) == len(names) else None


def write_baseline(commit: str, env: dict[str, str], results: Results, threshold: float) -> None:
    data = {
        "about": "instructions per call under callgrind of the reference commit's code; written by "
                 "`python benches/instructions.py --advance`",
        "commit": commit,
        "threshold_pct": threshold,
        "environment": env,
        "ops": {name: {"n": iterations(name), "instructions": n} for name, n in results.items() if isinstance(n, int)},
    }
    BASELINE.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--accept", metavar="REASON",
                        help="record every operation past the threshold in benches/gate-accepted.json, with REASON")
    action.add_argument("--advance", action="store_true",
                        help="make HEAD the reference: measure it, rewrite gate-reference.txt and baseline.json, "
                             "clear gate-accepted.json")
    parser.add_argument("--reference", metavar="REV", help="compare against REV instead (an experiment)")
    parser.add_argument("--measure-reference", action="store_true",
                        help="measure the reference even when baseline.json's record could stand in for it")
    parser.add_argument("--only", help="a regular expression: measure the matching operations only")
    parser.add_argument("--threshold", type=float, default=THRESHOLD_PCT, help="percent (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, help="also write this run's counts here (JSON)")
    parser.add_argument("--perturb", type=int, default=0, metavar="BYTES",
                        help="noise check: give the measured processes an extra variable of BYTES bytes")
    args = parser.parse_args(argv)
    if VALGRIND is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    names = [n for n in gated_ops() if not args.only or re.search(args.only, n)]
    env = environment()
    started = time.monotonic()
    if args.advance:
        if args.only or args.perturb or args.reference:
            raise SystemExit("--advance measures every operation of HEAD as it is")
        if git("status", "--porcelain", "--", "src/dockspec", "benches"):
            raise SystemExit("--advance: commit src/dockspec and benches first (HEAD is what it records)")
        commit = resolve("HEAD")
        results = measure({"head": commit}, names, args.jobs)["head"]
        failed = {n: r for n, r in results.items() if isinstance(r, RunFailed)}
        if failed:
            raise SystemExit(f"--advance: operations failed on HEAD: {failed}")
        REFERENCE.write_text(
            "# The commit the instruction-count gate measures the code under test against, in the same run.\n"
            "# Moved forward by `python benches/instructions.py --advance` (then commit this file, baseline.json\n"
            "# and gate-accepted.json). See docs/performance.md.\n"
            f"{commit}\n")
        write_baseline(commit, env, results, args.threshold)
        ACCEPTED.write_text(json.dumps({"about": ACCEPTED_ABOUT, "accepted": []}, indent=2) + "\n")
        print(f"reference is now {commit}; measured in {time.monotonic() - started:.0f} s; commit "
              f"{REFERENCE.relative_to(REPO)}, {BASELINE.relative_to(REPO)} and {ACCEPTED.relative_to(REPO)}")
        return 0
    reference = resolve(args.reference or read_reference())
    recorded = None if args.measure_reference or args.perturb else recorded_reference(reference, env, names)
    print(f"reference: {reference[:12]}"
          + (" (baseline.json's record: it measured this commit in this environment)" if recorded else
             " (measured now, beside the head)"), flush=True)
    sources: dict[str, str | None] = {"head": None}
    if recorded is None:
        sources["reference"] = reference
    results = measure(sources, names, args.jobs, args.perturb)
    ref_results: Results = recorded if recorded is not None else results["reference"]
    print(f"measured in {time.monotonic() - started:.0f} s")
    if args.output:
        args.output.write_text(json.dumps(
            {side: {n: (v if isinstance(v, int) else str(v)) for n, v in r.items()}
             for side, r in {"head": results["head"], "reference": ref_results}.items()}, indent=2) + "\n")
    accepted, notes = load_accepted(reference)
    failures, changes = compare(results["head"], ref_results, accepted, args.threshold,
                                "reference" if recorded is None else "recorded")
    for note in notes:
        print(note)
    if args.accept:
        if any(isinstance(v, RunFailed) for v in results["head"].values()):
            raise SystemExit("--accept: an operation failed on the head; nothing written")
        kept = [e for e in (json.loads(ACCEPTED.read_text()).get("accepted", []) if ACCEPTED.exists() else [])
                if e.get("reference") == reference]
        moved = {n: c for n, c in changes.items() if c > args.threshold}
        kept = [e for e in kept if e["op"] not in moved]
        kept += [{"op": n, "reference": reference, "change_pct": round(c, 2), "reason": args.accept}
                 for n, c in sorted(moved.items())]
        ACCEPTED.write_text(json.dumps({"about": ACCEPTED_ABOUT, "accepted": kept}, indent=2) + "\n")
        print(f"\naccepted {len(moved)} operation(s) in {ACCEPTED.relative_to(REPO)}: commit it with the change")
        return 0
    if failures:
        print(f"\n{failures} operation(s) regressed by more than {args.threshold}% in instructions per call "
              "against the reference, unaccepted, or failed on the head")
        return 1
    print(f"\nno operation regressed by more than {args.threshold}% against the reference, unaccepted")
    return 0


ACCEPTED_ABOUT = (
    "Count changes accepted against the reference commit (benches/gate-reference.txt), each with the change "
    "measured when it was accepted and why; written by `python benches/instructions.py --accept REASON` in the "
    "commit that makes the change, cleared by --advance. The gate lets an operation's count rise at most the "
    "threshold above its accepted change."
)


if __name__ == "__main__":
    sys.exit(main())
