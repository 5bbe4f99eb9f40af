#!/usr/bin/env python3
"""edgedoctor's benchmarks, each against the least work that could do the same job, measured in the same run.

    python bench/run.py [--quick] [--python VENV] [--models-dir DIR] [--only NAME,...] [--no-write]

Benchmarks (they measure and report; they do not assert):

  startup   `edgedoctor --version` and `edgedoctor explain "text"` vs `python -c pass`           goal <= 4x
  check     `edgedoctor check --offline` (working CPU stack, embedded model) vs a bare script that
            imports numpy and the TFLite interpreter and runs the smallest Coral model once         goal <= 3x
  explain   `edgedoctor explain --file LOG` over 100 MB and 1 GB logs with scattered real errors,
            vs `grep -F -i -c -f KEYWORDS LOG` with the matrix's own literal keywords            goal >= 50 MB/s,
                                                                                              peak <= 150 MB
  latency   edgedoctor's reported CPU median for mobilenet_v2_1.0_224_inat_bird_quant.tflite vs a bare
            loop of invoke() on the same model                                                   goal within 10%

Each ratio is of medians of several runs of subject and baseline, alternating, in one process. A working
CPU stack is a venv with tflite-runtime==2.14.0 and numpy<2: pass one with --python, or let this script
build it once under bench/.cache/ (needs PyPI). Results are printed and, unless --no-write, added to
bench/RESULTS.md with the date and this command.

Standard library only (plus GNU grep for the explain baseline).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED_MODELS = REPO.parent / "shared" / "models"
RESULTS = BENCH / "RESULTS.md"
CACHE = BENCH / ".cache"
SEED_MODEL = "mobilenet_v2_1.0_224_inat_bird_quant.tflite"
SMALLEST_MODEL = "mobilenet_v1_0.25_128_quant.tflite"
CPU_STACK = ["tflite-runtime==2.14.0", "numpy<2"]
EXPLAIN_TEXT = (
    "RuntimeError: Internal: Unsupported data type in custom op handler: 0Node number 1 "
    "(EdgeTpuDelegateForCustomOp) failed to prepare."
)

sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))


# --- measuring -----------------------------------------------------------------------------------------------
class Run:
    """One finished command: wall seconds, exit code, stdout, peak RSS (KiB) of the process (from wait4: the
    largest single process of its tree) and, sampled every 20 ms, the peak of the whole tree's summed RSS
    (children it forks included; shared pages counted once per process, so an over-estimate)."""

    def __init__(
        self, seconds: float, returncode: int, stdout: bytes, stderr: bytes, maxrss_kib: int, tree_kib: int = 0
    ):
        self.seconds = seconds
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.maxrss_kib = maxrss_kib
        self.tree_kib = max(tree_kib, maxrss_kib)


def tree_rss_kib(pid: int) -> int:
    """The summed VmRSS of a process and all its descendants (Linux /proc), 0 elsewhere."""
    total, todo, seen = 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{current}/task/{current}/children") as handle:
                todo.extend(int(x) for x in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def run(
    argv: Sequence[str],
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = 900.0,
    sample_tree: bool = False,
    stdin: Optional[str] = None,
) -> Run:
    """Run a command, timing it and reading its peak RSS from wait4 (Linux/macOS). `stdin`: a file to read
    standard input from."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        open(stdin if stdin else os.devnull, "rb") as given,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=given, stdout=out, stderr=err, env=env, cwd=cwd)
        maxrss = tree = 0
        if hasattr(os, "wait4"):
            deadline = start + timeout
            next_sample = start + 0.02
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                now = time.perf_counter()
                if now > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                if sample_tree and now >= next_sample:
                    tree = max(tree, tree_rss_kib(proc.pid))
                    next_sample = now + 0.02
                time.sleep(0.002)
            seconds = time.perf_counter() - start
            proc.returncode = (
                os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else (status >> 8)
            )
            maxrss = int(usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1))
        else:  # pragma: no cover - Windows
            proc.wait(timeout)
            seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Run(seconds, proc.returncode, out.read(), err.read(), maxrss, tree)


def alternate(
    cases: Dict[str, Sequence[str]],
    runs: int,
    env: Optional[Dict[str, str]] = None,
    warmup: int = 1,
    sample_tree: bool = False,
    stdins: Optional[Dict[str, str]] = None,
) -> Dict[str, List[Run]]:
    """Run every case `runs` times, interleaved (a, b, c, b, c, a, ...), after `warmup` untimed rounds.
    `stdins`: per case, a file for its standard input."""
    names = list(cases)
    stdins = stdins or {}
    for _ in range(warmup):
        for name in names:
            run(cases[name], env=env, stdin=stdins.get(name))
    results: Dict[str, List[Run]] = {name: [] for name in names}
    for index in range(runs):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            results[name].append(run(cases[name], env=env, sample_tree=sample_tree, stdin=stdins.get(name)))
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def edgedoctor_argv() -> Tuple[List[str], str]:
    """How a user runs edgedoctor: its console script when it belongs to this interpreter, else -m."""
    script = shutil.which("edgedoctor")
    if script:
        try:
            first = Path(script).read_text(errors="replace").splitlines()[0]
        except (OSError, IndexError):
            first = ""
        if first.startswith("#!") and Path(first[2:].strip().split()[0]).resolve() == Path(sys.executable).resolve():
            return [script], script
    return [sys.executable, "-m", "edgedoctor"], f"{sys.executable} -m edgedoctor"


def compile_bytecode() -> str:
    """Byte-compile the edgedoctor being measured, as `pip install` does. An editable or source checkout has
    no .pyc files, and with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every run would compile
    every module again: a cost that installed users never pay."""
    import compileall

    import edgedoctor

    package = Path(edgedoctor.__file__).resolve().parent
    try:
        ok = compileall.compile_dir(str(package), quiet=1)
    except OSError as exc:
        return f"bytecode not compiled: {exc}"
    return "bytecode compiled beforehand, as pip install does" if ok else "bytecode partly compiled"


def quiet_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env["PYTHONPATH"]) if p)
    env.update(extra or {})
    return env


# --- the CPU stack -------------------------------------------------------------------------------------------
def cpu_stack_python(given: Optional[str]) -> Tuple[Optional[str], str]:
    """(python of a venv with tflite-runtime 2.14.0 and numpy<2, how it was found), or (None, why not)."""
    if given:
        path = Path(given).expanduser()
        for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe", path):
            if candidate.is_file():
                return str(candidate), f"--python {given}"
        return None, f"--python {given}: no interpreter there"
    folder = CACHE / f"venv-cpu-py{sys.version_info[0]}{sys.version_info[1]}"
    python = folder / "bin" / "python"
    if (folder / ".ready").exists() and python.exists():
        return str(python), f"bench/.cache/{folder.name} ({' '.join(CPU_STACK)})"
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([sys.executable, "-m", "venv", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:
        return None, f"python -m venv failed: {made.stderr.strip()[-300:]}"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:", *CPU_STACK],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        return None, f"pip install {' '.join(CPU_STACK)} failed: {pip.stderr.strip()[-300:]}"
    (folder / ".ready").write_text(" ".join(CPU_STACK))
    return str(python), f"bench/.cache/{folder.name} ({' '.join(CPU_STACK)}, built by this script)"


# --- the benchmarks ------------------------------------------------------------------------------------------
def bench_startup(ed: List[str], runs: int) -> List[Dict[str, Any]]:
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "edgedoctor --version": ed + ["--version"],
        "edgedoctor explain TEXT": ed + ["explain", EXPLAIN_TEXT],
    }
    results = alternate(cases, runs, env=quiet_env())
    base = median([r.seconds for r in results["python -c pass"]])
    rows = []
    for name in ("edgedoctor --version", "edgedoctor explain TEXT"):
        value = median([r.seconds for r in results[name]])
        failed = [r for r in results[name] if r.returncode != 0]
        rows.append(
            {
                "name": f"start-up: `{name}`",
                "subject": f"{value * 1000:.0f} ms",
                "baseline": f"`python -c pass` {base * 1000:.0f} ms",
                "ratio": value / base,
                "goal": "<= 4x",
                "met": value / base <= 4 and not failed,
                "note": f"median of {runs}" + (f"; {len(failed)} runs failed" if failed else ""),
            }
        )
    return rows


def bench_check(ed: List[str], python: str, models_dir: Optional[Path], runs: int, work: Path) -> List[Dict[str, Any]]:
    model = (models_dir / SMALLEST_MODEL) if models_dir else None
    if model is None or not model.exists():
        return [{"name": "check --offline", "skipped": f"{SMALLEST_MODEL} not found (give --models-dir)"}]
    empty_cache = work / "empty-cache"
    empty_cache.mkdir(exist_ok=True)
    cases = {
        "bare": [python, str(BENCH / "bare_check.py"), str(model)],
        "check": ed
        + ["check", "--offline", "--python", python, "--cache-dir", str(empty_cache), "--format", "json", "--quiet"],
    }
    results = alternate(cases, runs, env=quiet_env({"CI": "1"}))
    base = median([r.seconds for r in results["bare"]])
    value = median([r.seconds for r in results["check"]])
    note = f"median of {runs}"
    concurrency = ""
    try:
        report = json.loads(results["check"][-1].stdout)
        facts = report["facts"]
        cpu = (facts.get("inference") or {}).get("cpu") or {}
        independent = {
            name: (facts.get(name) or {}).get("probe_ms") for name in ("python_env", "usb", "pcie", "runtime")
        }
        known = {k: v for k, v in independent.items() if isinstance(v, (int, float))}
        if known:
            concurrency = (
                f"; independent probes ran concurrently: sum {sum(known.values()):.0f} ms, longest "
                f"{max(known.values()):.0f} ms ({', '.join(f'{k} {v:.0f}' for k, v in known.items())})"
            )
        note += f"; model run: {cpu.get('model')} {cpu.get('status')}"
        if cpu.get("status") != "pass":
            note += " (the CPU stack did not pass: check the venv)"
    except (ValueError, KeyError, TypeError, IndexError):
        note += "; the report could not be read"
    if any(r.returncode not in (0, 1) for r in results["check"]):
        note += f"; exit codes {sorted({r.returncode for r in results['check']})}"
    return [
        {
            "name": "`check --offline` (CPU stack + embedded model)",
            "subject": f"{value * 1000:.0f} ms",
            "baseline": f"bare numpy+TFLite, {SMALLEST_MODEL} once: {base * 1000:.0f} ms",
            "ratio": value / base,
            "goal": "<= 3x",
            "met": value / base <= 3,
            "note": note + concurrency,
        }
    ]


def matrix_keywords() -> List[str]:
    from edgedoctor import matrix

    table = matrix.load()
    return sorted(
        {literal for entry in table.entries for sig in entry.signatures for group in sig.groups for literal in group}
    )


def bench_explain(ed: List[str], sizes: Sequence[int], runs: int, work: Path) -> List[Dict[str, Any]]:
    import genlog

    rows = []
    keywords = work / "keywords.txt"
    keywords.write_text("\n".join(matrix_keywords()) + "\n", encoding="utf-8")
    grep = shutil.which("grep")
    from edgedoctor import matrix

    everything = genlog.load_real_errors()
    text_entries = {entry.id for entry in matrix.load().entries if entry.signatures}
    half = set(sorted(text_entries)[::2])
    cases = [(size, None) for size in sizes]
    # explain stops reading once every text entry has matched, which a log holding errors of them all allows.
    # A log with errors of only half the entries is read to its end: the rate of a full pass.
    cases.append((max(sizes), [e for e in everything if e[0] in half]))
    for number, (size, errors) in enumerate(cases):
        log = work / f"log-{size >> 20}M.log"
        inserted = genlog.generate(log, size, errors=errors)
        real = log.stat().st_size
        label = "" if errors is None else ", errors of half the entries (read to the end)"
        commands = {"explain": ed + ["explain", "--file", str(log), "--format", "json"]}
        if number == 0:  # the same log through standard input (`journalctl | edgedoctor explain -`)
            commands["stdin"] = ed + ["explain", "-", "--format", "json"]
        if grep:
            commands["grep"] = [grep, "-F", "-i", "-c", "-f", str(keywords), str(log)]
        results = alternate(
            commands, runs, env=quiet_env({"LC_ALL": "C"}), warmup=0, sample_tree=True, stdins={"stdin": str(log)}
        )
        base = median([r.seconds for r in results["grep"]]) if grep else float("nan")
        stop = (
            "reading may stop early: errors of every text entry are in it"
            if text_entries <= set(inserted)
            else "read to the end: some text entries never match"
        )
        for subject, title in (
            ("explain", f"`explain --file` {real / 1e6:.0f} MB log{label}"),
            ("stdin", f"`explain -` {real / 1e6:.0f} MB log on standard input"),
        ):
            if subject not in results:
                continue
            value = median([r.seconds for r in results[subject]])
            peak = max(r.tree_kib for r in results[subject]) / 1024
            single = max(r.maxrss_kib for r in results[subject]) / 1024
            rate = real / value / 1e6
            found = []
            try:
                found = [m["entry"] for m in json.loads(results[subject][-1].stdout)["matches"]]
            except (ValueError, KeyError):
                pass
            note = (
                f"median of {runs}; {len(inserted)} real errors ({len(set(inserted))} entries) inserted, "
                f"{stop}; {len(found)} matches reported (top 10); peak RSS {peak:.0f} MB for the process tree "
                f"(summed, sampled every 20 ms; largest single process {single:.0f} MB)"
            )
            rows.append(
                {
                    "name": title,
                    "subject": f"{value:.2f} s = {rate:.0f} MB/s, peak {peak:.0f} MB",
                    "baseline": (
                        f"`grep -F -i -c -f` ({len(keywords.read_text().split(chr(10))) - 1} "
                        f"keywords) {base:.2f} s = {real / base / 1e6:.0f} MB/s"
                    )
                    if grep
                    else "grep not found",
                    "ratio": value / base if grep else None,
                    "goal": ">= 50 MB/s, peak <= 150 MB",
                    "met": rate >= 50 and peak <= 150,
                    "note": note,
                }
            )
        log.unlink()
    return rows


def bench_latency(
    ed: List[str], python: str, models_dir: Optional[Path], runs: int, work: Path
) -> List[Dict[str, Any]]:
    model = (models_dir / SEED_MODEL) if models_dir else None
    if model is None or not model.exists():
        return [{"name": "latency fidelity", "skipped": f"{SEED_MODEL} not found (give --models-dir)"}]
    empty_cache = work / "latency-cache"
    empty_cache.mkdir(exist_ok=True)
    iterations = 10
    reported: List[float] = []
    bare: List[float] = []
    notes = []
    env = quiet_env({"CI": "1"})
    for index in range(runs):
        order = ("check", "bare") if index % 2 == 0 else ("bare", "check")
        for name in order:
            if name == "check":
                result = run(
                    ed
                    + [
                        "check",
                        "--offline",
                        "--python",
                        python,
                        "--models-dir",
                        str(models_dir),
                        "--cache-dir",
                        str(empty_cache),
                        "--model-set",
                        "inat-bird",
                        "--iterations",
                        str(iterations),
                        "--format",
                        "json",
                        "--quiet",
                    ],
                    env=env,
                )
                try:
                    cpu = json.loads(result.stdout)["facts"]["inference"]["cpu"]
                    if cpu.get("model") != SEED_MODEL or not (cpu.get("latency_ms") or {}).get("median"):
                        notes.append(f"run {index}: cpu run {cpu.get('model')} {cpu.get('status')}: {cpu.get('error')}")
                    else:
                        reported.append(float(cpu["latency_ms"]["median"]))
                except (ValueError, KeyError, TypeError) as exc:
                    notes.append(f"run {index}: report unreadable ({exc}); {result.stderr[-200:]!r}")
            else:
                result = run([python, str(BENCH / "bare_invoke.py"), str(model), str(iterations), "1"], env=env)
                try:
                    bare.append(float(json.loads(result.stdout)["median_ms"]))
                except (ValueError, KeyError) as exc:
                    notes.append(f"run {index}: bare loop failed ({exc}); {result.stderr[-200:]!r}")
    if not reported or not bare:
        return [{"name": "latency fidelity", "skipped": "; ".join(notes) or "no measurements"}]
    value, base = median(reported), median(bare)
    return [
        {
            "name": f"latency fidelity: reported CPU median, {SEED_MODEL}",
            "subject": f"{value:.1f} ms",
            "baseline": f"bare `invoke()` loop {base:.1f} ms",
            "ratio": value / base,
            "goal": "within 10%",
            "met": abs(value / base - 1) <= 0.10,
            "note": f"median of {len(reported)} check runs x {iterations} inferences vs {len(bare)} bare runs; "
            f"each: {', '.join(f'{v:.1f}' for v in reported)} vs {', '.join(f'{v:.1f}' for v in bare)}"
            + (f"; {'; '.join(notes)}" if notes else ""),
        }
    ]


# --- reporting -----------------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}"
    )


def table(rows: List[Dict[str, Any]]) -> str:
    lines = ["| benchmark | edgedoctor | baseline (same run) | ratio | goal | met |", "|---|---|---|---|---|---|"]
    notes = []
    for row in rows:
        if row.get("skipped"):
            lines.append(f"| {row['name']} | skipped | | | | |")
            notes.append(f"- {row['name']}: skipped: {row['skipped']}")
            continue
        ratio = "" if row.get("ratio") is None else f"{row['ratio']:.2f}x"
        lines.append(
            f"| {row['name']} | {row['subject']} | {row['baseline']} | {ratio} | {row['goal']} | "
            f"{'yes' if row['met'] else '**no**'} |"
        )
        if row.get("note"):
            notes.append(f"- {row['name']}: {row['note']}")
    return "\n".join(lines + [""] + notes) + "\n"


def write_results(text: str) -> None:
    header = "# edgedoctor benchmark results\n\nNewest first. Produced by `bench/run.py` (see bench/README.md).\n\n"
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else header
    if old.startswith(header):
        old = old[len(header) :]
    RESULTS.write_text(header + text + "\n" + old, encoding="utf-8")


def parse_sizes(text: str) -> List[int]:
    import genlog

    return [genlog.parse_size(part) for part in text.split(",") if part.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="edgedoctor benchmarks against bare baselines")
    parser.add_argument("--quick", action="store_true", help="fewer runs and only the 100 MB log (about a minute)")
    parser.add_argument(
        "--python",
        metavar="VENV",
        help="a venv (or its python) with a working CPU stack; "
        "default: build bench/.cache/venv-cpu-* with " + " ".join(CPU_STACK),
    )
    parser.add_argument(
        "--models-dir",
        default=str(SHARED_MODELS) if SHARED_MODELS.is_dir() else None,
        help="folder with Coral's test models (default: ../shared/models)",
    )
    parser.add_argument(
        "--only",
        default="startup,check,explain,latency",
        help="comma-separated benchmarks to run (startup, check, explain, latency)",
    )
    parser.add_argument("--log-sizes", help="log sizes for explain (default 100M,1G; --quick: 100M)")
    parser.add_argument("--workdir", help="where the generated logs go (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not add to bench/RESULTS.md")
    args = parser.parse_args(argv)

    only = {x.strip() for x in args.only.split(",") if x.strip()}
    quick = args.quick
    sizes = parse_sizes(args.log_sizes or ("100M" if quick else "100M,1G"))
    ed, ed_text = edgedoctor_argv()
    compiled = compile_bytecode()
    models_dir = Path(args.models_dir) if args.models_dir else None
    rows: List[Dict[str, Any]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="edgedoctor-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        python, python_text = (None, "")
        if only & {"check", "latency"}:
            python, python_text = cpu_stack_python(args.python)
            print(f"CPU stack: {python_text}", file=sys.stderr)
        if "startup" in only:
            print("start-up ...", file=sys.stderr)
            rows += bench_startup(ed, 7 if quick else 21)
        if "check" in only:
            print("check ...", file=sys.stderr)
            rows += (
                bench_check(ed, python, models_dir, 3 if quick else 7, work)
                if python
                else [{"name": "check --offline", "skipped": python_text}]
            )
        if "explain" in only:
            print("explain over logs ...", file=sys.stderr)
            rows += bench_explain(ed, sizes, 1 if quick else 3, work)
        if "latency" in only:
            print("latency fidelity ...", file=sys.stderr)
            rows += (
                bench_latency(ed, python, models_dir, 2 if quick else 5, work)
                if python
                else [{"name": "latency fidelity", "skipped": python_text}]
            )
    command = "python " + " ".join(
        shlex.quote(a) for a in ["bench/run.py"] + list(argv if argv is not None else sys.argv[1:])
    )
    text = (
        f"## {datetime.date.today().isoformat()}: `{command}`\n\n"
        f"Machine: {machine()}. edgedoctor run as `{ed_text}` ({compiled})"
        + (f"; CPU stack: {python_text}" if python_text else "")
        + f". Took {time.time() - started:.0f} s.\n\n"
        + table(rows)
    )
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"added to {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
