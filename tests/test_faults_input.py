"""Bad input never kills edgedoctor: `explain` on empty, binary, invalid UTF-8, truncated gzip, a single 50 MB
line and (with EDGEDOCTOR_SLOW=1) a 1 GB log; a malformed matrix file is named by `matrix validate` while
`check` runs with what is valid; a malformed report given to `diagnose`, `summarize` or `explain --report` is
named, not a traceback."""

import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edgedoctor import exitcodes, matrix
from edgedoctor.matrix import engine, signatures

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import genlog  # noqa: E402  (bench/genlog.py: the realistic log generator)

SLOW = os.environ.get("EDGEDOCTOR_SLOW", "") not in ("", "0")
FIXTURE_ROOT = REPO / "tests" / "fixtures" / "platform" / "ubuntu-22.04"
DELEGATE_ERROR = "ValueError: Failed to load delegate from libedgetpu.so.1"
MISMATCH = (
    "RuntimeError: Internal: Unsupported data type in custom op handler: 0Node number 1 "
    "(EdgeTpuDelegateForCustomOp) failed to prepare."
)


def peak_rss_mib(argv, env=None, timeout=600):
    """Run a command to its end and return (exit code, stdout bytes, peak RSS of the process in MiB)."""
    import tempfile

    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})),
            cwd=str(REPO),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, out.read(), usage.ru_maxrss / 1024


def entries(result_json):
    return [m["entry"] for m in json.loads(result_json)["matches"]]


# --- explain -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [[""], ["   \n\t "], ["\x00\x01\x02"], ["\ufffd" * 10]])
def test_explain_text_that_is_nothing(run_cli, argv):
    code, out, err = run_cli("explain", *argv)
    assert code == exitcodes.SUCCESS and "No known Coral Edge TPU cause" in out and not err


@pytest.mark.parametrize(
    "content", [b"", b"\n" * 1000, bytes(range(256)) * 400, b"\xff\xfe\x00\x00" * 5000, os.urandom(300_000)]
)
def test_explain_files_of_nothing_binary_or_garbage(run_cli, tmp_path, content):
    log = tmp_path / "log"
    log.write_bytes(content)
    code, out, err = run_cli("explain", "--file", log, "--format", "json")
    assert code == exitcodes.SUCCESS, err
    assert json.loads(out)["schema_version"] == 1


def test_errors_inside_invalid_utf8_and_binary_are_still_found(run_cli, tmp_path):
    log = tmp_path / "log"
    log.write_bytes(
        os.urandom(200_000)
        + b"\n\xff\xfe"
        + DELEGATE_ERROR.encode()
        + b"\xc3\x28\n"
        + os.urandom(100_000)
        + b"\r\n"
        + MISMATCH.encode("utf-16-le")
        + b"\n"
        + MISMATCH.encode()
        + b"\r\n"
    )
    code, out, err = run_cli("explain", "--file", log, "--format", "json", "--limit", "50")
    assert code == exitcodes.SUCCESS, err
    found = entries(out)
    assert "tflite-runtime-libedgetpu-mismatch" in found
    assert any("delegate" in e for e in found)


def test_explain_reads_standard_input_as_bytes(tmp_path):
    data = os.urandom(50_000) + b"\n" + MISMATCH.encode() + b"\n\xff\n"
    proc = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "explain", "-", "--format", "json"],
        input=data,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=str(REPO),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tflite-runtime-libedgetpu-mismatch" in entries(proc.stdout)


@pytest.mark.parametrize("argv", [["explain"], ["explain", "-"]])
def test_explain_without_any_standard_input_is_a_usage_error(argv):
    proc = subprocess.run(
        [sys.executable, "-m", "edgedoctor", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=str(REPO),
        timeout=60,
        close_fds=True,
        preexec_fn=lambda: os.close(0),
    )
    assert proc.returncode == exitcodes.USAGE_ERROR, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_truncated_and_corrupt_gzip_logs_are_explained_as_far_as_they_go(run_cli, tmp_path):
    body = ("INFO all good\n" * 5000 + MISMATCH + "\n" + "INFO more\n" * 200_000).encode()
    packed = gzip.compress(body)
    truncated = tmp_path / "truncated.log.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    corrupt = tmp_path / "corrupt.log.gz"
    corrupt.write_bytes(packed[: len(packed) // 2] + bytes(64) + packed[len(packed) // 2 + 64 :])
    header_only = tmp_path / "header.gz"
    header_only.write_bytes(b"\x1f\x8b\x08\x00\x00\x00")
    code, out, err = run_cli(
        "explain", "--file", truncated, "--file", corrupt, "--file", header_only, "--format", "json"
    )
    assert code == exitcodes.SUCCESS and "Traceback" not in err
    assert "tflite-runtime-libedgetpu-mismatch" in entries(out)
    for path in (truncated, header_only):
        assert str(path) in err
    assert json.loads(out)["problems"]
    # Each broken file alone: what it decoded before the break is explained (a truncated gzip once lost the
    # whole last read, here all of it).
    for path in (truncated, corrupt):
        code, out, err = run_cli("explain", "--file", path, "--format", "json")
        assert code == exitcodes.SUCCESS and "tflite-runtime-libedgetpu-mismatch" in entries(out), (path, err)


@pytest.mark.parametrize("cut", ["whole", "truncated", "corrupt"])
def test_gzip_on_standard_input_is_unpacked_and_a_broken_one_explained_as_far_as_it_goes(cut):
    """`cat syslog.2.gz | edgedoctor explain -`: gzip is told by its magic bytes; one that breaks off is a
    problem line, and what came before it is still explained, never a traceback."""
    body = ("INFO all good\n" * 5000 + MISMATCH + "\n" + "INFO more\n" * 200_000).encode()
    packed = gzip.compress(body)
    data = {
        "whole": packed,
        "truncated": packed[: len(packed) // 2],
        "corrupt": packed[: len(packed) // 2] + bytes(64) + packed[len(packed) // 2 + 64 :],
    }[cut]
    done = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "explain", "-", "--format", "json"],
        input=data,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == exitcodes.SUCCESS and b"Traceback" not in done.stderr, done.stderr[-2000:]
    assert "tflite-runtime-libedgetpu-mismatch" in entries(done.stdout)
    if cut == "whole":
        assert not json.loads(done.stdout).get("problems")
    else:
        assert b"standard input" in done.stderr and json.loads(done.stdout)["problems"]


def test_a_log_that_is_a_pipe_is_read_once_from_its_start(run_cli, tmp_path):
    """`edgedoctor explain --file <(zcat old.log.gz)`: nothing may be read from the pipe before the scan."""
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as handle:
            handle.write(MISMATCH.encode() + b"\n" + b"noise\n" * 100_000)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    code, out, err = run_cli("explain", "--file", fifo, "--format", "json")
    writer.join(10)
    assert code == 0 and entries(out)[0] == "tflite-runtime-libedgetpu-mismatch"
    assert json.loads(out)["matches"][0]["matched_text"].startswith("RuntimeError")


def test_a_log_that_is_missing_or_a_folder_is_a_usage_error(run_cli, tmp_path):
    for target in (tmp_path / "nope.log", tmp_path):
        code, out, err = run_cli("explain", "--file", target)
        assert code == exitcodes.USAGE_ERROR and str(target) in err and "Traceback" not in err


def test_a_single_50_mb_line(tmp_path):
    """One enormous line (a minified dump, a binary cat'ed to the console) with errors at its start, in its
    middle (across the cut between two blocks) and at its end: all found, in flat memory."""
    log = tmp_path / "one-line.log"
    rng = random.Random(5)
    filler = "".join(rng.choice("abcdefghij klmnop,;:=") for _ in range(1 << 16))
    with open(log, "w") as handle:
        handle.write(DELEGATE_ERROR + " ")
        for index in range(50 * 16):
            handle.write(filler)
            if index == 400:
                handle.write(" " + MISMATCH + " ")
        handle.write(" Failed to load delegate from edgetpu.dll")
    assert log.stat().st_size > 50_000_000
    code, out, peak = peak_rss_mib(
        [sys.executable, "-m", "edgedoctor", "explain", "--file", str(log), "--format", "json", "--limit", "50"]
    )
    assert code == 0
    found = entries(out)
    assert "tflite-runtime-libedgetpu-mismatch" in found
    assert (
        "windows-runtime-14-delegate-fails" in found
        or "windows-edgetpu-dll-load-failed" in found
        or any("dll" in e for e in found)
    )
    assert peak < 150, f"peak RSS {peak:.0f} MiB"


@pytest.mark.skipif(not SLOW, reason="a 1 GB log takes about 30 s; set EDGEDOCTOR_SLOW=1")
def test_a_1_gb_log_in_flat_memory(tmp_path):
    log = tmp_path / "big.log"
    inserted = genlog.generate(log, 1 << 30)
    code, out, peak = peak_rss_mib(
        [sys.executable, "-m", "edgedoctor", "explain", "--file", str(log), "--format", "json", "--limit", "1000"],
        timeout=900,
    )
    assert code == 0
    found = set(entries(out))
    assert found, "no real error found in the 1 GB log"
    assert len(found & set(inserted)) >= len(set(inserted)) // 2
    assert peak < 150, f"peak RSS {peak:.0f} MiB"


def test_the_bench_log_generator_errors_are_found(tmp_path):
    """A 6 MB generated log: every inserted real error is found (as the right entry or one at least as
    specific), which keeps bench/genlog.py honest."""
    log = tmp_path / "gen.log"
    inserted = genlog.generate(log, 6 << 20, errors_every=256 << 10, seed=3)
    code, out, peak = peak_rss_mib(
        [sys.executable, "-m", "edgedoctor", "explain", "--file", str(log), "--format", "json", "--limit", "1000"]
    )
    assert code == 0 and inserted
    found = set(entries(out))
    assert len(found & set(inserted)) >= len(set(inserted)) * 0.8, (sorted(set(inserted) - found), sorted(found))


def test_a_big_log_scanned_in_pieces_gives_the_same_answer(tmp_path):
    """explain cuts big plain logs into pieces scanned side by side: same entries, same first matches."""
    from edgedoctor.diagnosis import explain

    log = tmp_path / "gen.log"
    genlog.generate(log, 8 << 20, errors_every=400 << 10, seed=7)
    whole = explain.explain_files([str(log)], limit=1000, pieces=1)
    pieces = explain.explain_files([str(log)], limit=1000, pieces=3)

    def curated(answer):
        """Curated matches, by entry: pieces give the statistical model no context lines (explain_files), and
        the rank's match-length tie-break may differ where a lazy window finds the same line from another start
        (same entries, first-match lines and confidences; seen with gasket-build-failure-family, 2026-12-04)."""
        kept = [m for m in answer["matches"] if not m["entry"].startswith("statistical.")]
        return dict(answer, matches=sorted(kept, key=lambda m: m["entry"]))

    assert whole["matches"] and curated(whole) == curated(pieces)
    gz = tmp_path / "gen.log.gz"
    gz.write_bytes(gzip.compress(log.read_bytes(), compresslevel=1))
    assert curated(explain.explain_files([str(gz)], limit=1000, pieces=3)) == curated(whole)


def _killed(*args):
    """A scanner that dies as the OOM killer would have it die (a module-level function, so that the pool sends
    it to the forked child by name, and the child, not the pickling, is what fails)."""
    os.kill(os.getpid(), 9)


def test_a_piece_scanner_killed_by_a_signal_falls_back_to_one_scan(tmp_path, monkeypatch):
    from edgedoctor.diagnosis import explain

    log = tmp_path / "gen.log"
    genlog.generate(log, 4 << 20, errors_every=400 << 10, seed=8)
    whole = explain.explain_files([str(log)], limit=1000, pieces=1)
    monkeypatch.setattr(explain, "_scan_range", _killed)
    assert explain.explain_files([str(log)], limit=1000, pieces=2) == whole


def _one_entry_table(pattern):
    entry = matrix.Entry(
        id="only",
        cause="x",
        title="t",
        explanation="e",
        remedy={"all": "r"},
        references=["https://example.org"],
        signatures=[signatures.Signature.build(pattern)],
    )
    return matrix.Matrix([entry], [], Path("."))


def _stream_answer(explain, data, **kw):
    return explain.explain_stream(io.BytesIO(data), limit=1000, **kw)


def test_standard_input_scanned_in_segments_gives_the_same_answer(tmp_path):
    """`explain -` reads its stream once, in segments scanned side by side by forked children: the same
    entries and first matches as one scan of the whole text, whatever the segment size or number of children."""
    from edgedoctor.diagnosis import explain

    log = tmp_path / "gen.log"
    genlog.generate(log, 6 << 20, errors_every=300 << 10, seed=5)
    data = log.read_bytes()
    whole = explain.explain_blocks(matrix.read_blocks(io.BytesIO(data)), limit=1000)
    assert whole["matches"]
    for workers, size in ((1, 1 << 20), (2, 256 << 10), (3, 700 << 10)):
        assert _stream_answer(explain, data, workers=workers, segment_bytes=size) == whole, (workers, size)


def test_standard_input_segments_keep_nowhere_x_and_matches_across_cuts(tmp_path):
    from edgedoctor.diagnosis import explain

    table = _one_entry_table(r"\A(?![\s\S]*zebra-veto)[\s\S]*?quokka-target")
    filler = b"ordinary line of a log\n" * 40_000
    for tail, expected in ((b"nothing else\n", True), (b"ZEBRA-VETO\n", False)):
        answer = _stream_answer(
            explain, b"quokka-target\n" + filler + tail, table=table, workers=2, segment_bytes=128 << 10
        )
        assert bool(answer["matches"]) is expected
    across = _one_entry_table(r"start-of-it\nend-of-it")
    data = filler[: (128 << 10) - 12] + b"start-of-it\nend-of-it\n" + filler
    assert _stream_answer(explain, data, table=across, workers=2, segment_bytes=128 << 10)["matches"]


def test_a_segment_scanner_killed_by_a_signal_leaves_the_rest_to_this_process(tmp_path, monkeypatch):
    from edgedoctor.diagnosis import explain

    log = tmp_path / "gen.log"
    genlog.generate(log, 4 << 20, errors_every=300 << 10, seed=9)
    data = log.read_bytes()
    whole = explain.explain_blocks(matrix.read_blocks(io.BytesIO(data)), limit=1000)
    monkeypatch.setattr(explain, "_scan_bytes", _killed)
    assert _stream_answer(explain, data, workers=2, segment_bytes=512 << 10) == whole


def test_only_a_stream_longer_than_a_segment_forks(monkeypatch):
    """A pasted error through `explain -` costs no fork; a long stream gets its children."""
    from edgedoctor.diagnosis import explain

    made = []
    real = explain._stream_pool
    monkeypatch.setattr(explain, "_stream_pool", lambda *a: made.append(1) or real(*a))
    text = b"E: Failed to load delegate from libedgetpu.so.1\n"
    assert _stream_answer(explain, text, workers=2, segment_bytes=1 << 20)["matches"] and made == []
    assert _stream_answer(explain, text * 60_000, workers=2, segment_bytes=1 << 20)["matches"] and made == [1]


def test_explain_dash_reads_a_long_stream_in_segments(tmp_path):
    log = tmp_path / "gen.log"
    genlog.generate(log, 3 << 20, errors_every=300 << 10, seed=4)
    by_file = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "explain", "--file", str(log), "--format", "json", "--limit", "1000"],
        capture_output=True,
        timeout=300,
    )
    by_pipe = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "explain", "-", "--format", "json", "--limit", "1000"],
        input=log.read_bytes(),
        capture_output=True,
        timeout=300,
    )
    assert by_pipe.returncode == 0 and entries(by_pipe.stdout) and entries(by_pipe.stdout) == entries(by_file.stdout)


# --- a malformed matrix ---------------------------------------------------------------------------------------
BAD_ENTRY = """
[[entry]]
id = "{id}"
cause = "runtime-missing"
title = "t"
explanation = "e"
remedy = {{ all = "r" }}
references = ["https://example.org"]
verification = {{ status = "inferred", date = "2026-12-04", how = "a test entry" }}
{extra}
"""


def _matrix_copy(tmp_path, name, text):
    folder = tmp_path / "matrix"
    shutil.copytree(REPO / "matrix", folder)
    (folder / "entries" / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


@pytest.mark.parametrize(
    "extra,field",
    [
        ('signatures = ["(unclosed"]', "signatures[0]"),
        ('signatures = ["(?<=a+)b"]', "signatures[0]"),
        ('signatures = ["a{99999999999}"]', "signatures[0]"),
        ('signatures = ["x"]\nwhen = { python = 5 }', "when.python"),
        ('signatures = ["x"]\nwhen = { os = "linux" }', "when.os"),
        ('signatures = ["x"]\nwhen = { colour = ["red"] }', "when.colour"),
        ('signatures = ["x"]\nconfidence = "high"', "confidence"),
        ('signatures = ["x"]\nseverity = ["fail"]', "severity"),
        ('signatures = ["edgetpu"]\nexamples = ["nothing like it"]', "examples[0]"),
        ('signatures = [""]', "signatures[0]"),
        ("signatures = [5]", "signatures[0]"),
    ],
)
def test_matrix_validate_names_file_entry_and_field(run_cli, tmp_path, extra, field):
    folder = _matrix_copy(tmp_path, "zz-broken.toml", BAD_ENTRY.format(id="broken-entry", extra=extra))
    code, out, err = run_cli("matrix", "validate", "--dir", folder)
    assert code == exitcodes.FAILURE and "Traceback" not in err
    line = next(x for x in out.splitlines() if "zz-broken.toml" in x)
    assert "[broken-entry]" in line and field in line, out


BUGGY_FIELDS = pytest.mark.xfail(
    strict=True,
    reason=(
        "bug in engine._build_entry: `signatures` or `examples` that is not a list (e.g. a number) raises "
        "TypeError, so one bad file takes `check`, `explain` and `matrix validate` down; fix in the final report"
    ),
)


@pytest.mark.parametrize(
    "extra,field",
    [pytest.param("signatures = 5", "signatures"), pytest.param('signatures = ["edgetpu"]\nexamples = 5', "examples")],
)
def test_matrix_fields_of_the_wrong_type_are_named(run_cli, tmp_path, extra, field):
    folder = _matrix_copy(tmp_path, "zz-broken.toml", BAD_ENTRY.format(id="broken-entry", extra=extra))
    code, out, err = run_cli("matrix", "validate", "--dir", folder)
    assert code == exitcodes.FAILURE and "Traceback" not in err
    assert any("zz-broken.toml" in x and field in x for x in out.splitlines()), out


@pytest.mark.parametrize(
    "content,words",
    [
        (b"[[entry]\nid = ", "cannot be read"),
        (b"\xff\xfe[[entry]]\x00", "cannot be read"),
        (b'entry = "not tables"', "has no [[entry]] tables"),
        (b"title = 1", "has no [[entry]] tables"),
        (b"entry = [1, 2]", "is not a table"),
    ],
)
def test_matrix_files_that_are_not_matrix_files_are_named(run_cli, tmp_path, content, words):
    folder = _matrix_copy(tmp_path, "zz-broken.toml", content)
    code, out, err = run_cli("matrix", "validate", "--dir", folder)
    assert code == exitcodes.FAILURE and "Traceback" not in err
    assert any("zz-broken.toml" in x and words in x for x in out.splitlines()), out


def test_check_and_explain_still_run_with_the_valid_entries(run_cli, tmp_path, monkeypatch):
    from edgedoctor.util import datafiles

    broken = BAD_ENTRY.format(id="broken-entry", extra='signatures = ["(unclosed"]') + BAD_ENTRY.format(
        id="fine-entry", extra='signatures = ["zebra-quokka-marker"]'
    )
    folder = _matrix_copy(tmp_path, "zz-broken.toml", broken)
    (folder / "entries" / "zz-unreadable.toml").write_bytes(b"[[[")
    monkeypatch.setattr(datafiles, "matrix_dir", lambda: folder)
    engine._load_cached.cache_clear()
    try:
        code, out, err = run_cli("explain", "zebra-quokka-marker and " + MISMATCH, "--format", "json")
        assert code == 0 and {"fine-entry", "tflite-runtime-libedgetpu-mismatch"} <= set(entries(out))
        code, out, err = run_cli(
            "check", "--root", FIXTURE_ROOT, "--no-models", "--offline", "--format", "json", "--timeout", "60"
        )
        assert code in (0, 1) and "Traceback" not in err, err
        assert json.loads(out)["schema_version"] == 1
    finally:
        engine._load_cached.cache_clear()


# --- malformed reports --------------------------------------------------------------------------------------
GOOD_SECTIONS = ("platform", "python_env", "usb", "pcie", "runtime", "inference")
# Keys the readers of facts look for, so that the generated facts are wrong in the places that matter.
FACT_KEYS = st.sampled_from(
    [
        "os",
        "arch",
        "kernel",
        "python",
        "version",
        "python_version",
        "tflite",
        "module",
        "candidates",
        "numpy",
        "pycoral",
        "identity",
        "devices",
        "found",
        "runtime_version",
        "release",
        "package",
        "speed_mbps",
        "accessible",
        "state",
        "cpu",
        "tpu",
        "latency_ms",
        "median",
        "error",
        "stderr",
        "board",
        "page_size",
        "in_container",
        "x",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FACT_KEYS, inner, max_size=4),
    max_leaves=12,
)


def _report(facts, **extra):
    return dict({"schema_version": 1, "tool": {"name": "edgedoctor", "version": "0"}, "facts": facts}, **extra)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"schema_version": 2, "facts": {}}',
        '{"schema_version": 1, "facts": []}',
        '{"schema_version": 1, "facts": null}',
        "\xff\xfe",
        "[" * 100_000,
        '{"schema_version": 1, "facts": {}',
    ],
)
def test_reports_that_are_not_reports_are_named(run_cli, tmp_path, content):
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    code, out, err = run_cli("diagnose", path)
    assert code == exitcodes.USAGE_ERROR and str(path) in err and "Traceback" not in err
    code, out, err = run_cli("summarize", path, "--format", "json")
    assert code == exitcodes.FAILURE and "Traceback" not in err
    assert json.loads(out)["errors"][0]["file"] == str(path)
    code, out, err = run_cli("explain", "--report", path, "x")  # explain takes the facts of any JSON with them
    assert code in (0, exitcodes.USAGE_ERROR) and "Traceback" not in err
    if code:
        assert str(path) in err


MALFORMED_FACTS = pytest.mark.xfail(
    strict=True,
    reason=(
        "bug: factview.from_facts and summarize.machine_row assume every facts section (and findings) is an "
        "object/list of objects; a hand-edited report crashes diagnose/summarize (exit 3); fix in the final report"
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(GOOD_SECTIONS), json_values, max_size=4), json_values)
@example({"platform": 1.0}, None)
@example({}, 1)
@example({"python_env": {"tflite": "x", "numpy": 5, "pycoral": []}}, None)
@example({"usb": {"devices": [{"speed_mbps": "fast"}]}, "pcie": {"devices": "none"}}, [])
@example({"inference": {"tpu": {"latency_ms": "slow"}}, "platform": {"os": ["linux"]}}, [{"causes": "x"}])
@example({"platform": {"os": [None], "arch": {"x": 1}}}, None)
def test_diagnose_and_summarize_name_malformed_facts(run_cli, tmp_path_factory, facts, findings):
    folder = tmp_path_factory.mktemp("reports")
    path = folder / "report.json"
    path.write_text(json.dumps(_report(facts, findings=findings)))
    code, out, err = run_cli("diagnose", path, "--format", "json")
    assert "Traceback" not in err, err
    if code == exitcodes.USAGE_ERROR:
        assert str(path) in err
    elif code == exitcodes.INTERNAL_ERROR:  # a check tripped over a value deep inside: it says so, in a report
        assert any(f["id"].startswith("edgedoctor.check-") for f in json.loads(out)["findings"])
    else:
        assert code in (0, 1)
    code, out, err = run_cli("summarize", folder, "--format", "json")
    assert code in (0, 1) and "Traceback" not in err, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(GOOD_SECTIONS), json_values, max_size=4))
@example({"platform": {"os": [None]}})
@example({"platform": {"os": {"name": "linux"}, "arch": 5}, "python_env": {"python": {"version": ["3"]}}})
@example({"python_env": {"tflite": "x", "numpy": 5}})
def test_explain_names_a_report_with_malformed_facts(run_cli, tmp_path_factory, facts):
    path = tmp_path_factory.mktemp("reports") / "report.json"
    path.write_text(json.dumps(_report(facts)))
    code, out, err = run_cli("explain", "--report", path, MISMATCH, "--format", "json")
    assert code in (0, exitcodes.USAGE_ERROR) and "Traceback" not in err, err
    if code == exitcodes.USAGE_ERROR:
        assert str(path) in err
