"""Run the worker under the examined interpreter, with a timeout; turn every way it can go wrong into data.

A crash (signal), a hang (timeout), an interpreter that does not exist or is not Python, or output that is not
our JSON all come back as a `WorkerOutcome` with `status` other than "ok" and the reason in `error`; nothing
here raises for the child's sake.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from edgedoctor import emulation
from edgedoctor.worker import WORKER_DIR

STAGE_MARK = "@@edgedoctor-stage:"

OK = "ok"
CRASHED = "crashed"  # killed by a signal, or exited non-zero without a result
TIMEOUT = "timeout"
GARBAGE = "garbage"  # printed something that is not our JSON (or nothing)
NOT_STARTED = "not-started"  # the interpreter could not be executed
WORKER_ERROR = "worker-error"  # the worker ran and reported its own exception


@dataclass
class WorkerOutcome:
    task: str
    status: str
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    stderr: str = ""
    returncode: Optional[int] = None
    signal: Optional[str] = None
    stage: Optional[str] = None  # the last stage the worker announced before it died
    duration_ms: float = 0.0
    stages: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_fact(self) -> Dict[str, Any]:
        """The failure as it goes into Facts (no result)."""
        return {"status": self.status, "error": self.error, "signal": self.signal, "stage": self.stage,
                "returncode": self.returncode, "stderr": self.stderr[-8000:], "duration_ms": round(self.duration_ms, 1)}


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except (ValueError, AttributeError):
        return f"signal {-returncode}"


def _shell_words(returncode: int) -> str:
    """What a shell prints for the signal (" (Illegal instruction)", " (Segmentation fault)"): the words users
    paste and the matrix's signatures know."""
    try:
        words = signal.strsignal(-returncode)
    except (ValueError, AttributeError):
        return ""
    return f" ({words})" if words and not words.startswith("Unknown signal") else ""


def _split_stderr(text: str):
    stages, lines = [], []
    for line in text.splitlines():
        if line.startswith(STAGE_MARK):
            stages.append(line[len(STAGE_MARK):].strip())
        elif line or lines:
            lines.append(line)
    return stages, "\n".join(lines).strip("\n")


def run_worker(
    python: str,
    task: str,
    payload: Mapping[str, Any],
    timeout: float = 60.0,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> WorkerOutcome:
    argv = emulation.command([python, "-B", WORKER_DIR, task])  # through qemu-user when it cannot run natively
    child_env = dict(os.environ if env is None else env)
    child_env.pop("PYTHONSTARTUP", None)
    child_env["PYTHONIOENCODING"] = "utf-8"
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"
    data = json.dumps(dict(payload)).encode("utf-8")
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_env, cwd=cwd, start_new_session=(os.name == "posix"),
        )
    except OSError as exc:
        return WorkerOutcome(task, NOT_STARTED, error=f"cannot run {python}: {exc.strerror or exc}")
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        stages, text = _split_stderr(err.decode("utf-8", "replace"))
        return WorkerOutcome(task, TIMEOUT, error=f"no answer within {timeout:g} s" + (
            f" (while: {stages[-1]})" if stages else ""), stderr=text, stage=stages[-1] if stages else None,
            duration_ms=(time.monotonic() - start) * 1000, stages=stages)
    duration = (time.monotonic() - start) * 1000
    stages, text = _split_stderr(err.decode("utf-8", "replace"))
    last = stages[-1] if stages else None
    outcome = WorkerOutcome(task, OK, stderr=text, returncode=proc.returncode, stage=last,
                            duration_ms=duration, stages=stages)
    if proc.returncode is not None and proc.returncode < 0:
        outcome.status = CRASHED
        outcome.signal = _signal_name(proc.returncode)
        outcome.error = (f"the worker was killed by {outcome.signal}{_shell_words(proc.returncode)}"
                         + (f" while: {last}" if last else ""))
        return outcome
    try:
        answer = json.loads(out.decode("utf-8", "replace"))
        if not isinstance(answer, dict) or "ok" not in answer:
            raise ValueError("not a worker answer")
    except ValueError:
        outcome.status = GARBAGE if proc.returncode == 0 else CRASHED
        shown = out[:200].decode("utf-8", "replace").strip() or "(nothing)"
        reason = _first_error_line(text)
        outcome.error = (f"the worker exited with code {proc.returncode}" if proc.returncode else
                         "the worker printed no result") + f"; stdout: {shown}" + (f"; {reason}" if reason else "")
        return outcome
    if not answer.get("ok"):
        outcome.status = WORKER_ERROR
        outcome.error = answer.get("error") or "the worker failed"
        outcome.result = answer
        return outcome
    outcome.result = answer.get("result")
    return outcome


def _first_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _kill(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (OSError, ProcessLookupError):
        try:
            proc.kill()
        except OSError:
            pass


def run_worker_resilient(python: str, task: str, payload: Mapping[str, Any], timeout: float = 60.0,
                         env=None, cwd=None, max_retries: int = 3) -> List[WorkerOutcome]:
    """Run a task; when it crashes or hangs in a named stage, run it again skipping that stage, so one bad
    import does not hide everything else the worker can tell. Returns every attempt, the last one last."""
    attempts = [run_worker(python, task, payload, timeout, env, cwd)]
    skip = list(payload.get("skip") or [])
    while (attempts[-1].status in (CRASHED, TIMEOUT) and attempts[-1].stage and attempts[-1].stage not in skip
           and len(attempts) <= max_retries):
        skip.append(attempts[-1].stage)
        attempts.append(run_worker(python, task, dict(payload, skip=list(skip)), timeout, env, cwd))
    return attempts
