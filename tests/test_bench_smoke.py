"""bench/run.py runs (quick mode, the two benchmarks that need no CPU stack) and reports ratios; the light
commands import nothing heavy; no matrix signature is slow on an ordinary log."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_quick_mode_runs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--only",
            "startup,explain",
            "--log-sizes",
            "4M",
            "--no-write",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(REPO),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "start-up: `edgedoctor --version`" in out and "start-up: `edgedoctor explain TEXT`" in out
    assert "MB/s" in out and "grep" in out
    assert "| benchmark |" in out and "x |" in out
    assert list(tmp_path.iterdir()) == []  # the generated logs are removed


def test_light_commands_import_nothing_heavy():
    """`--version` and `explain TEXT` start fast: no requests, rich, numpy, packaging or TOML parser (the
    compiled matrix comes from the cache after the first run)."""
    code = """
import io, contextlib, sys
from edgedoctor.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["explain", "warm the compiled matrix cache"])
for name in [m for m in sys.modules if m.split(".")[0] in ("packaging", "tomllib", "tomli")]:
    del sys.modules[name]
import edgedoctor.matrix as matrix
matrix.engine._load_cached.cache_clear()
with contextlib.redirect_stdout(io.StringIO()):
    main(["--version"])
    main(["explain", "RuntimeError: Internal: Unsupported data type in custom op handler: 0Node number 1"])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"requests", "rich", "numpy", "packaging", "tomllib",
                                                        "tomli", "PIL", "flatbuffers", "urllib3", "usb"})
print(",".join(heavy))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"heavy imports on the light path: {done.stdout}"


SLOW_SIGNATURE_MS_PER_MB = 80.0  # the slowest today take about 30; a loaded CI machine gets headroom


def test_no_signature_is_slow_on_an_ordinary_log(tmp_path):
    """Every signature costs at most SLOW_SIGNATURE_MS_PER_MB on a megabyte of realistic noise (a Coral user's
    syslog and Frigate log without any error): the guard that keeps explain fast as the matrix grows. A new
    entry that fails it needs a distinctive literal, or a shape the matcher can search cheaply (bench/README)."""
    import time

    sys.path.insert(0, str(REPO / "bench"))
    import genlog

    from edgedoctor import matrix
    from edgedoctor.matrix import engine, signatures, wordindex

    log = tmp_path / "noise.log"
    genlog.generate(log, 1 << 20, errors_every=1 << 40, seed=11)
    text = engine._normalise(log.read_text())
    lowered = signatures._fold(text)
    index = wordindex.token_index(lowered)  # made once per block in a scan, shared by every signature
    assert index is not None
    slow = []
    for entry in matrix.load().entries:
        for sig in entry.signatures:
            present = wordindex.Presence(lowered)
            present.tokens = index
            start = time.process_time()  # CPU time: a machine loaded by other work does not count against it
            if all(present.any(group) for group in sig.groups):
                signatures._search(sig, text, lowered, present)
            spent = (time.process_time() - start) * 1000 * (1 << 20) / max(1, len(text))
            if spent > SLOW_SIGNATURE_MS_PER_MB:
                slow.append(f"{entry.id} ({entry.file}): {spent:.0f} ms/MB: {sig.pattern[:90]}")
    assert not slow, "signatures too slow for big logs:\n" + "\n".join(slow)
