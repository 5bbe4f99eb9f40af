"""More ways the worker (the child process under the examined interpreter) can go wrong, beyond
tests/test_worker_faults.py: other signals, floods of output, answers that are almost ours, a grandchild that
keeps the pipe open, interpreters that are folders or dangling links, retries that must end, and a whole
`check` whose Edge TPU runtime crashes or hangs while it is loaded."""

import json
import os
import signal
import stat
import sys
import time

import pytest
from helpers_hw import ROOTS, fake_env, fake_libedgetpu  # noqa: F401  (pytest fixture)

from edgedoctor.machine import workerproc


def fake_python(tmp_path, body, name="python"):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize(
    "body,sig",
    [
        ("kill -KILL $$", "SIGKILL"),  # the OOM killer
        ("kill -ABRT $$", "SIGABRT"),  # abort() in native code (a C++ exception nobody caught)
        ("kill -BUS $$", "SIGBUS"),  # a model file on a flaky SD card, mmap'd
        ("kill -ILL $$", "SIGILL"),  # a wheel built for a newer CPU (AVX on an old Atom)
        ('echo \'{"ok": true, "result": {}}\'; kill -KILL $$', "SIGKILL"),  # answered, then died anyway
    ],
)
def test_other_signals_are_crashes_with_their_name(tmp_path, body, sig):
    outcome = workerproc.run_worker(fake_python(tmp_path, body), "env", {}, timeout=10)
    assert outcome.status == workerproc.CRASHED
    assert outcome.signal == sig and sig in outcome.error


@pytest.mark.parametrize(
    "body",
    [
        "echo '[1, 2, 3]'",
        "echo '{\"result\": {}}'",
        "echo '{\"ok\": tru'",
        "printf '\\377\\376\\000garbage'",
        "echo 'Python 2.7.18'; echo '{\"ok\": true, \"result\": {}}'",
    ],
)
def test_answers_that_are_almost_ours_are_garbage(tmp_path, body):
    outcome = workerproc.run_worker(fake_python(tmp_path, body), "env", {}, timeout=10)
    assert outcome.status == workerproc.GARBAGE
    assert "stdout:" in outcome.error and len(outcome.error) < 1000


def test_a_flood_of_output_neither_blocks_nor_bloats(tmp_path):
    body = "head -c 20000000 /dev/zero | tr '\\0' 'x'; head -c 20000000 /dev/zero | tr '\\0' 'e' >&2"
    start = time.monotonic()
    outcome = workerproc.run_worker(fake_python(tmp_path, body), "env", {}, timeout=30)
    assert time.monotonic() - start < 25
    assert outcome.status == workerproc.GARBAGE
    assert len(outcome.error) < 1000
    assert len(json.dumps(outcome.to_fact())) < 20_000


def test_a_worker_that_closes_its_output_and_hangs_is_cut(tmp_path):
    body = "echo '@@edgedoctor-stage:import-numpy' >&2; exec 1>&-; sleep 600"
    start = time.monotonic()
    outcome = workerproc.run_worker(fake_python(tmp_path, body), "env", {}, timeout=1.5)
    assert time.monotonic() - start < 10
    assert outcome.status == workerproc.TIMEOUT
    assert outcome.stage == "import-numpy" and "import-numpy" in outcome.error


def test_a_grandchild_holding_the_pipe_is_killed_with_the_worker(tmp_path):
    """A worker that answers but leaves a background process holding stdout open: edgedoctor gives up at the
    timeout and kills the whole process group, leaving nothing running."""
    pidfile = tmp_path / "grandchild.pid"
    body = f'sleep 600 & echo $! > {pidfile}; echo \'{{"ok": true, "result": {{}}}}\'; exit 0'
    start = time.monotonic()
    outcome = workerproc.run_worker(fake_python(tmp_path, body), "env", {}, timeout=2)
    assert time.monotonic() - start < 10
    assert outcome.status in (workerproc.OK, workerproc.TIMEOUT)
    grandchild = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        try:  # a zombie we are not the parent of: reaped by init soon
            with open(f"/proc/{grandchild}/stat") as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the worker's grandchild was left running")


def test_interpreters_that_are_folders_links_or_scripts_for_missing_interpreters(tmp_path):
    folder = tmp_path / "python-folder"
    folder.mkdir()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    missing_shebang = tmp_path / "shebang"
    missing_shebang.write_text("#!/nonexistent/bin/python3\n")
    missing_shebang.chmod(0o755)
    for python in (folder, dangling, loop, missing_shebang):
        outcome = workerproc.run_worker(str(python), "env", {}, timeout=5)
        assert outcome.status == workerproc.NOT_STARTED, (python, outcome)
        assert outcome.error and str(python) in outcome.error


def test_retries_end_even_when_every_attempt_dies_somewhere_new(tmp_path):
    """Each attempt announces a new stage and segfaults: the resilient runner stops after max_retries."""
    counter = tmp_path / "count"
    counter.write_text("0")
    body = f'n=$(cat {counter}); n=$((n+1)); echo $n > {counter}; echo "@@edgedoctor-stage:stage-$n" >&2; kill -SEGV $$'
    start = time.monotonic()
    attempts = workerproc.run_worker_resilient(fake_python(tmp_path, body), "env", {}, timeout=5, max_retries=3)
    assert len(attempts) == 4 and all(a.status == workerproc.CRASHED for a in attempts)
    assert [a.stage for a in attempts] == ["stage-1", "stage-2", "stage-3", "stage-4"]
    assert time.monotonic() - start < 20


def test_a_huge_payload_reaches_the_worker(tmp_path):
    outcome = workerproc.run_worker(sys.executable, "no-such-task", {"blob": "x" * 5_000_000}, timeout=30)
    assert outcome.status == workerproc.WORKER_ERROR and "unknown task" in outcome.error


@pytest.mark.parametrize("mode,words", [("crash-load", "SIGSEGV"), ("crash", "SIGSEGV"), ("hang", "no answer within")])
def test_check_survives_a_runtime_that_crashes_or_hangs_when_loaded(run_cli, monkeypatch, fake_libedgetpu, mode, words):
    for key, value in fake_env(fake_libedgetpu, mode=mode, base={}).items():
        monkeypatch.setenv(key, value)
    start = time.monotonic()
    code, out, err = run_cli("check", "--offline", "--no-models", "--timeout", "3", "--format", "json")
    assert time.monotonic() - start < 60
    assert "Traceback" not in err
    report = json.loads(out)
    runtime = report["facts"]["runtime"]
    assert runtime["found"] is True and words in (runtime["error"] or ""), runtime
    assert any(f["id"].startswith("runtime") and f["status"] == "fail" for f in report["findings"])
    assert code == 1


def test_check_survives_a_broken_numpy_in_its_own_environment(tmp_path):
    """edgedoctor installed next to a numpy that cannot be imported (a half-removed install, a numpy/ folder
    in PYTHONPATH): the report says so; edgedoctor does not die of it (edgedoctor's own process never imports
    numpy: edgedoctor/flatbuf.py keeps flatbuffers from doing it)."""
    import subprocess
    from pathlib import Path

    broken = tmp_path / "site" / "numpy"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libopenblas.so.0: cannot open shared object file')\n")
    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(repo)]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgedoctor",
            "check",
            "--offline",
            "--format",
            "json",
            "--timeout",
            "30",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode in (0, 1)
    report = json.loads(done.stdout)
    assert report["facts"]["python_env"]["numpy"]["error"]


def test_check_survives_a_probe_module_that_fails_to_import(run_cli, monkeypatch):
    import importlib

    from edgedoctor.facts import collect

    real = importlib.import_module

    def import_module(name, *args, **kwargs):
        if name == "edgedoctor.probes.usb":
            raise ImportError("libusb-1.0.so.0: cannot open shared object file (a broken pyusb backend)")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(collect.importlib, "import_module", import_module)
    code, out, err = run_cli(
        "check", "--root", ROOTS / "usb3-runtime", "--offline", "--format", "json", "--timeout", "30"
    )
    assert code in (0, 1) and "Traceback" not in err, err
    usb = json.loads(out)["facts"]["usb"]
    assert "libusb-1.0.so.0" in usb["error"]


def test_a_runtime_built_for_a_newer_cpu_is_named_by_its_illegal_instruction(run_cli, monkeypatch, fake_libedgetpu):
    """A real SIGILL while libedgetpu loads (what an ARMv6 Pi Zero gets from Coral's armhf build) is a
    wheel-mismatch with the matrix entry's explanation and remedy, not a missing runtime."""
    for key, value in fake_env(fake_libedgetpu, mode="sigill-load", base={}).items():
        monkeypatch.setenv(key, value)
    code, out, err = run_cli("check", "--offline", "--no-models", "--timeout", "10", "--format", "json")
    assert "Traceback" not in err and code == 1
    report = json.loads(out)
    assert report["facts"]["runtime"]["worker"]["signal"] == "SIGILL"
    load = next(f for f in report["findings"] if f["id"] == "runtime.load")
    assert load["status"] == "fail" and load["causes"] == ["wheel-mismatch"]
    assert "crashed with SIGILL" in load["detail"] and "ARMv6" in load["detail"]
    assert "/proc/cpuinfo" in load["remedy"]
