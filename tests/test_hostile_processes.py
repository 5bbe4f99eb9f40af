"""Every wait has a deadline and every child dies with its parent (issue #15): a worker that leaves a daemon
holding its pipes, one that floods its output, SIGTERM and Ctrl-C during a probe; option values that are not
numbers a deadline can hold (nan, inf, 1e309)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.machine import workerproc

REPO = Path(__file__).resolve().parent.parent
POSIX = pytest.mark.skipif(os.name != "posix", reason="process groups and /bin/sh")


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return True


def _pids(path: Path):
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _kill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@POSIX
@pytest.mark.skipif(not shutil.which("setsid"), reason="needs setsid (util-linux)")
def test_a_daemon_holding_the_pipes_does_not_hold_the_deadline(tmp_path):
    """The issue's d.sh: `setsid sleep 40 &; exit 0` ran 40 s under `--timeout 3`."""
    pidfile = tmp_path / "pids"
    interpreter = _script(tmp_path, "d.sh", f"setsid sh -c 'echo $$ >> {pidfile}; exec sleep 40' &\nexit 0\n")
    try:
        began = time.monotonic()
        outcome = workerproc.run_worker(str(interpreter), "env", {}, timeout=3)
        took = time.monotonic() - began
        assert took < 2.5, took
        assert outcome.status == workerproc.GARBAGE  # exited 0 without an answer; not "no answer within 3 s"
    finally:
        _kill(_pids(pidfile))


@POSIX
def test_a_hanging_worker_and_its_children_die_at_the_deadline(tmp_path):
    pidfile = tmp_path / "pids"
    interpreter = _script(
        tmp_path, "hang.sh", f"sleep 60 &\necho $! >> {pidfile}\necho $$ >> {pidfile}\nexec sleep 61\n"
    )
    began = time.monotonic()
    outcome = workerproc.run_worker(str(interpreter), "env", {}, timeout=1)
    assert time.monotonic() - began < 3
    assert outcome.status == workerproc.TIMEOUT
    time.sleep(0.1)
    assert _pids(pidfile) and not [pid for pid in _pids(pidfile) if _alive(pid)]


@POSIX
def test_what_a_finished_worker_leaves_in_its_group_is_killed(tmp_path):
    pidfile = tmp_path / "pids"
    interpreter = _script(tmp_path, "leave.sh", f"sleep 60 &\necho $! >> {pidfile}\nexit 0\n")
    outcome = workerproc.run_worker(str(interpreter), "env", {}, timeout=10)
    assert outcome.status == workerproc.GARBAGE
    time.sleep(0.1)
    assert _pids(pidfile) and not [pid for pid in _pids(pidfile) if _alive(pid)]


@POSIX
def test_a_flood_on_stderr_keeps_its_head_and_tail_only(tmp_path):
    # 40 MB: the 300 MB drove edgedoctor to 3.3 GB; what is kept is bounded whatever the size.
    interpreter = _script(
        tmp_path, "flood.sh", "echo FIRST >&2\nhead -c 40000000 /dev/zero | tr '\\0' x >&2\necho LAST >&2\nexit 3\n"
    )
    outcome = workerproc.run_worker(str(interpreter), "env", {}, timeout=60)
    assert outcome.status == workerproc.CRASHED
    assert len(outcome.stderr) <= workerproc.STDERR_HEAD + workerproc.STDERR_TAIL + 100
    assert outcome.stderr.startswith("FIRST") and outcome.stderr.endswith("LAST")
    assert "bytes left out" in outcome.stderr


def test_kept_output_notes_what_it_left_out():
    kept = workerproc._Kept(4, 4)
    for chunk in (b"abc", b"defgh", b"ijklmnop"):
        kept.add(chunk)
    assert kept.value() == b"abcd\n[... 8 bytes left out ...]\nmnop"
    small = workerproc._Kept(4, 4)
    small.add(b"abcdef")
    assert small.value() == b"abcdef"


@POSIX
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_a_probe_kills_the_workers_and_exits_at_once(tmp_path, signum, code):
    pidfile = tmp_path / "pids"
    interpreter = _script(
        tmp_path, "hang.sh", f"sleep 60 &\necho $! >> {pidfile}\necho $$ >> {pidfile}\nexec sleep 61\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgedoctor", "check", "--offline", "--timeout", "60", "--python", str(interpreter)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=str(tmp_path),
    )
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        began = time.monotonic()
        proc.send_signal(signum)
        proc.communicate(timeout=10)
        assert time.monotonic() - began < 1.5
        assert proc.returncode == code
        time.sleep(0.1)
        assert not [pid for pid in _pids(pidfile) if _alive(pid)]
    finally:
        proc.kill()
        _kill(_pids(pidfile))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "0", "-1", "NaN", "1e9"])
def test_a_timeout_that_is_not_a_finite_time_is_a_usage_error(run_cli, value):
    code, out, err = run_cli("check", "--timeout", value, "--offline")
    assert code == exitcodes.USAGE_ERROR and "--timeout" in err and "Traceback" not in err


def test_a_relative_python_keeps_its_folder(tmp_path, monkeypatch):
    interpreter = _script(tmp_path, "py", "exit 0\n")
    monkeypatch.chdir(tmp_path)
    from edgedoctor.machine import interpreter as choosing

    assert choosing.resolve("./py") == os.path.join(".", "py")
    assert choosing.resolve("py") == os.path.join(".", "py")  # never looked up on PATH as a bare name
    assert interpreter.exists()


def test_a_python_in_a_folder_that_cannot_be_traversed_is_not_a_traceback(run_cli, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_dir", refuse)
    from edgedoctor.machine import interpreter as choosing

    assert choosing.resolve("/locked/folder/python3") is None
    monkeypatch.undo()
    code, out, err = run_cli("check", "--python", "/proc/1/root/nonexistent/python3", "--offline")
    assert code == exitcodes.USAGE_ERROR and "Traceback" not in err


@POSIX
def test_a_command_run_on_the_host_has_the_same_deadline(tmp_path):
    from edgedoctor.machine.system import run_command

    pidfile = tmp_path / "pids"
    script = _script(tmp_path, "cmd.sh", f"sleep 60 &\necho $! >> {pidfile}\necho out\nexec sleep 61\n")
    began = time.monotonic()
    result = run_command([str(script)], timeout=1)
    assert time.monotonic() - began < 3 and result.error == "timed out after 1 s"
    time.sleep(0.1)
    assert _pids(pidfile) and not [pid for pid in _pids(pidfile) if _alive(pid)]
