"""The worker dies with the patient, edgedoctor does not: crashes, hangs, garbage, missing or non-Python
interpreters and imports that segfault all become facts and findings, never a traceback."""

import json
import os
import stat
import sys
import time

import pytest

from edgedoctor.machine import workerproc


def fake_python(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize(
    "body,status",
    [
        ("kill -SEGV $$", workerproc.CRASHED),
        ("echo 'Welcome to not-python 1.0'", workerproc.GARBAGE),
        ("exit 0", workerproc.GARBAGE),
        ("echo 'Traceback: boom' >&2; exit 1", workerproc.CRASHED),
    ],
)
def test_worker_outcomes(tmp_path, body, status):
    outcome = workerproc.run_worker(fake_python(tmp_path, "python", body), "env", {}, timeout=10)
    assert outcome.status == status
    assert outcome.error
    if body.startswith("kill"):
        assert outcome.signal == "SIGSEGV"


def test_hang_is_cut_at_the_timeout(tmp_path):
    start = time.monotonic()
    outcome = workerproc.run_worker(fake_python(tmp_path, "python", "sleep 600"), "env", {}, timeout=1.5)
    assert outcome.status == workerproc.TIMEOUT
    assert time.monotonic() - start < 10
    assert "1.5 s" in outcome.error


def test_interpreter_that_cannot_run(tmp_path):
    not_executable = tmp_path / "python"
    not_executable.write_text("just text")
    outcome = workerproc.run_worker(str(not_executable), "env", {}, timeout=5)
    assert outcome.status == workerproc.NOT_STARTED
    missing = workerproc.run_worker(str(tmp_path / "nope"), "env", {}, timeout=5)
    assert missing.status == workerproc.NOT_STARTED


@pytest.mark.parametrize("body", ["kill -SEGV $$", "sleep 600", "echo garbage"])
def test_check_still_reports_when_the_interpreter_misbehaves(run_cli, tmp_path, body):
    # A real Python that answers edgedoctor's identification (`python -c ...`) and then misbehaves in the worker,
    # as a Python whose extension modules crash or hang does.
    python = fake_python(tmp_path, "python", f'if [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi\n{body}')
    code, out, err = run_cli("check", "--python", python, "--no-models", "--format", "json", "--timeout", "2")
    report = json.loads(out)
    interp = next(f for f in report["findings"] if f["id"] == "python.interpreter")
    assert interp["status"] == "fail"
    assert "Traceback" not in err
    assert code == 1


def test_check_with_a_missing_interpreter_is_a_usage_error(run_cli, tmp_path):
    code, out, err = run_cli("check", "--python", str(tmp_path / "no-python-here"), "--no-models")
    assert code == 2
    assert "no Python interpreter" in err


def _fake_package(tmp_path, name, code):
    folder = tmp_path / "site" / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(code)
    (folder / "interpreter.py").write_text("")
    return str(tmp_path / "site")


def test_an_import_that_segfaults_is_attributed_and_the_rest_still_examined(tmp_path, monkeypatch):
    site = _fake_package(tmp_path, "tflite_runtime", "import ctypes\nctypes.string_at(0)\n")
    monkeypatch.setenv("PYTHONPATH", site)
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System
    from edgedoctor.probes import ProbeContext, python_env

    facts = python_env.read(ProbeContext(System.host(), CheckOptions(python=sys.executable, timeout=30)))
    candidate = facts["tflite"]["candidates"]["tflite_runtime"]
    assert candidate["crashed"] is True
    assert "SIGSEGV" in candidate["error"]
    assert facts["worker"]["crashes"][0]["stage"] == "import-tflite_runtime"
    assert facts["numpy"]["version"]  # examined after the crash, in the second attempt
    assert facts["python"]["version"]


def test_an_import_killed_by_an_illegal_instruction_is_named_as_a_shell_names_it(tmp_path, monkeypatch):
    """A tflite_runtime built for a newer CPU dies with SIGILL on import. The crash is told in the shell's words
    ("Illegal instruction"), which the matrix knows: the finding names wheel-mismatch and the CPU remedy."""
    site = _fake_package(tmp_path, "tflite_runtime", "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    monkeypatch.setenv("PYTHONPATH", site)
    from edgedoctor.checks import python_env as check_python_env
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System
    from edgedoctor.probes import ProbeContext, python_env

    facts = python_env.read(ProbeContext(System.host(), CheckOptions(python=sys.executable, timeout=30)))
    candidate = facts["tflite"]["candidates"]["tflite_runtime"]
    assert "killed by SIGILL (Illegal instruction)" in candidate["error"]
    finding = next(
        f for f in check_python_env.check({"python_env": facts, "platform": {"os": "linux"}}) if f.id == "python.tflite"
    )
    assert finding.status == "fail" and finding.causes == ["wheel-mismatch"]
    assert "/proc/cpuinfo" in finding.remedy


def test_an_import_that_hangs_is_cut_and_skipped(tmp_path, monkeypatch):
    site = _fake_package(tmp_path, "tflite_runtime", "import time\ntime.sleep(600)\n")
    monkeypatch.setenv("PYTHONPATH", site)
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System
    from edgedoctor.probes import ProbeContext, python_env

    start = time.monotonic()
    facts = python_env.read(ProbeContext(System.host(), CheckOptions(python=sys.executable, timeout=3)))
    assert time.monotonic() - start < 20
    assert facts["worker"]["crashes"][0]["status"] == "timeout"
    assert facts["tflite"]["candidates"]["tflite_runtime"]["crashed"] is True
    assert facts["python"]["version"]


def test_import_error_text_is_kept_verbatim(tmp_path, monkeypatch):
    site = _fake_package(
        tmp_path,
        "tflite_runtime",
        "raise ImportError('libedgetpu.so.1: cannot open shared object file: No such file or directory')\n",
    )
    monkeypatch.setenv("PYTHONPATH", site)
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System
    from edgedoctor.probes import ProbeContext, python_env

    facts = python_env.read(ProbeContext(System.host(), CheckOptions(python=sys.executable, timeout=30)))
    assert facts["tflite"]["module"] is None or facts["tflite"]["module"] != "tflite_runtime"
    assert "cannot open shared object file" in facts["tflite"]["candidates"]["tflite_runtime"]["error"]
