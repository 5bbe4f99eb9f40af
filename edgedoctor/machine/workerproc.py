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
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from edgedoctor.machine import emulation
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
        return {
            "status": self.status,
            "error": self.error,
            "signal": self.signal,
            "stage": self.stage,
            "returncode": self.returncode,
            "stderr": self.stderr[-8000:],
            "duration_ms": round(self.duration_ms, 1),
        }


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
    stages: List[str] = []
    lines: List[str] = []
    for line in text.splitlines():
        if line.startswith(STAGE_MARK):
            stages.append(line[len(STAGE_MARK) :].strip())
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
    child_env = _child_env(env)
    data = json.dumps(dict(payload)).encode("utf-8")
    start = time.monotonic()
    if STOPPING.is_set():
        return WorkerOutcome(task, NOT_STARTED, error="not started: edgedoctor is stopping (interrupted)")
    try:
        proc = _start(argv, child_env, cwd)
    except (OSError, ValueError) as exc:
        return WorkerOutcome(task, NOT_STARTED, error=f"cannot run {python}: {getattr(exc, 'strerror', None) or exc}")
    LIVE.add(proc)
    try:
        out, err, timed_out = exchange(proc, data, timeout)
    finally:
        _kill(proc)  # whatever it left in its process group dies with it (a probe holding the Edge TPU)
        LIVE.discard(proc)
    if timed_out:
        return _timed_out(task, err, timeout, start)
    duration = (time.monotonic() - start) * 1000
    return _judge(task, proc.returncode, out, err, duration)


def _child_env(env: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """The worker's environment: ours (or `env`), without a startup file, with UTF-8 pipes and no bytecode."""
    child_env = dict(os.environ if env is None else env)
    child_env.pop("PYTHONSTARTUP", None)
    child_env["PYTHONIOENCODING"] = "utf-8"
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"
    return child_env


def _start(argv: List[str], child_env: Dict[str, str], cwd: Optional[str]) -> subprocess.Popen:
    """The worker, piped, as the leader of a process group of its own (so all it starts can be killed)."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        cwd=cwd,
        start_new_session=(os.name == "posix"),
    )


def _timed_out(task: str, err: bytes, timeout: float, start: float) -> WorkerOutcome:
    stages, text = _split_stderr(err.decode("utf-8", "replace"))
    return WorkerOutcome(
        task,
        TIMEOUT,
        error=f"no answer within {timeout:g} s" + (f" (while: {stages[-1]})" if stages else ""),
        stderr=text,
        stage=stages[-1] if stages else None,
        duration_ms=(time.monotonic() - start) * 1000,
        stages=stages,
    )


def _judge(task: str, returncode: Optional[int], out: bytes, err: bytes, duration: float) -> WorkerOutcome:
    """The outcome of a worker that ended in time: killed by a signal, no answer of ours, its own error reported,
    or its result."""
    stages, text = _split_stderr(err.decode("utf-8", "replace"))
    last = stages[-1] if stages else None
    outcome = WorkerOutcome(
        task, OK, stderr=text, returncode=returncode, stage=last, duration_ms=duration, stages=stages
    )
    if returncode is not None and returncode < 0:
        return _killed(outcome, returncode)
    answer = _answer(out)
    if answer is None:
        return _no_answer(outcome, out)
    if not answer.get("ok"):
        outcome.status = WORKER_ERROR
        outcome.error = answer.get("error") or "the worker failed"
        outcome.result = answer
        return outcome
    outcome.result = answer.get("result")
    return outcome


def _killed(outcome: WorkerOutcome, returncode: int) -> WorkerOutcome:
    outcome.status = CRASHED
    outcome.signal = _signal_name(returncode)
    outcome.error = f"the worker was killed by {outcome.signal}{_shell_words(returncode)}" + (
        f" while: {outcome.stage}" if outcome.stage else ""
    )
    return outcome


def _answer(out: bytes) -> Optional[Dict[str, Any]]:
    """The worker's JSON answer ({"ok": ..., ...}), or None when its stdout is not one."""
    try:
        answer = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and "ok" in answer else None


def _no_answer(outcome: WorkerOutcome, out: bytes) -> WorkerOutcome:
    """No answer of ours: garbage when the worker exited 0, a crash when it exited with an error code."""
    outcome.status = GARBAGE if outcome.returncode == 0 else CRASHED
    shown = out[:200].decode("utf-8", "replace").strip() or "(nothing)"
    reason = _first_error_line(outcome.stderr)
    outcome.error = (
        (f"the worker exited with code {outcome.returncode}" if outcome.returncode else "the worker printed no result")
        + f"; stdout: {shown}"
        + (f"; {reason}" if reason else "")
    )
    return outcome


STDOUT_CAP = 32 << 20  # bytes of the worker's answer kept (more is not an answer: reported as garbage)
STDERR_HEAD = 256 << 10  # bytes kept from the start of its standard error...
STDERR_TAIL = 1 << 20  # ...and from its end (where the last stage and the error are)
GRACE = 0.5  # seconds the pipes may stay open after the worker exited (a daemon it left holds them)

# The workers running now (each the leader of its own process group): a signal handler kills them all, and
# once it has, no new one starts (a probe thread would otherwise retry the one just killed).
LIVE: "set[subprocess.Popen]" = set()
STOPPING = threading.Event()


class _Kept:
    """A stream's bytes, at most `head` from its start and `tail` from its end, with a note of what was left
    out between them: a child flooding its output costs bounded memory."""

    def __init__(self, head: int, tail: int):
        self.head, self.tail = head, tail
        self.first = bytearray()
        self.last = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.head - len(self.first)
        if room > 0:
            self.first += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.last += chunk
        if len(self.last) > self.tail:
            cut = len(self.last) - self.tail
            self.dropped += cut
            del self.last[:cut]

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.first + self.last)
        note = f"\n[... {self.dropped} bytes left out ...]\n".encode()
        return bytes(self.first) + note + bytes(self.last)


def exchange(proc: subprocess.Popen, data: bytes, timeout: float):
    """Send `data` to the child's standard input and read its output until both pipes close, the child has
    exited GRACE seconds ago (a daemonised grandchild may hold the pipes forever), or `timeout` seconds have
    passed. Returns (stdout, stderr, timed out); on a timeout the child's process group is killed. Output
    beyond the caps is left out (stdout keeps its head, stderr its head and tail)."""
    if os.name != "posix":  # no select() on pipes: the standard library's exchange, capped afterwards
        return _communicate(proc, data, timeout)
    deadline = time.monotonic() + timeout
    streams = {proc.stdout: _Kept(STDOUT_CAP, 0), proc.stderr: _Kept(STDERR_HEAD, STDERR_TAIL)}
    timed_out = _pump(proc, data, deadline, streams)
    if timed_out:
        _kill(proc)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        _close(stream)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered
        pass
    return streams[proc.stdout].value(), streams[proc.stderr].value(), timed_out


def _communicate(proc: subprocess.Popen, data: bytes, timeout: float):
    """`exchange` where pipes cannot be selected on: the whole output, then capped."""
    try:
        out, err = proc.communicate(data, timeout=timeout)
        return out[:STDOUT_CAP], err[:STDERR_HEAD] + err[STDERR_HEAD:][-STDERR_TAIL:], False
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        return out[:STDOUT_CAP], err[:STDERR_HEAD] + err[STDERR_HEAD:][-STDERR_TAIL:], True


def _pump(proc: subprocess.Popen, data: bytes, deadline: float, streams: Dict[Any, _Kept]) -> bool:
    """Write `data` to the child and read its `streams` until the pipes close, GRACE seconds after it exited, or
    the deadline. True when it timed out: the deadline passed with the child still running, or edgedoctor is
    stopping."""
    import selectors

    pending = memoryview(data)
    with selectors.DefaultSelector() as selector:
        for stream in streams:
            selector.register(stream, selectors.EVENT_READ)
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)  # type: ignore[union-attr]
            selector.register(proc.stdin, selectors.EVENT_WRITE)  # type: ignore[arg-type]
        else:
            proc.stdin.close()  # type: ignore[union-attr]
        exited_at = None
        while selector.get_map():
            if STOPPING.is_set():  # a signal arrived (also for a worker started just as it did)
                return True
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
                _kill(proc)  # leftovers of its own group go now; pipes still open after GRACE are not waited for
            end = deadline if exited_at is None else min(deadline, exited_at + GRACE)
            if now >= end:
                return exited_at is None
            for key, _ in selector.select(min(end - now, 0.1)):
                if key.fileobj is proc.stdin:
                    pending = _feed(proc, pending, selector)
                else:
                    _drain(key.fileobj, streams[key.fileobj], selector)
    return False


def _feed(proc: subprocess.Popen, pending: memoryview, selector: Any) -> memoryview:
    """Write the next piece of what is pending to the child; once all of it is written (or the child stopped
    reading) its standard input is closed. Returns what is still pending."""
    try:
        sent = os.write(proc.stdin.fileno(), pending[: 1 << 16])  # type: ignore[union-attr]
    except (BrokenPipeError, OSError):
        sent = len(pending)
    pending = pending[sent:]
    if not pending:
        selector.unregister(proc.stdin)
        _close(proc.stdin)
    return pending


def _drain(stream: Any, kept: _Kept, selector: Any) -> None:
    """Read what the child wrote to `stream` into `kept`; at its end, stop watching it."""
    chunk = os.read(stream.fileno(), 1 << 16)
    if not chunk:
        selector.unregister(stream)
        return
    kept.add(chunk)


def _close(stream) -> None:
    try:
        if stream is not None and not stream.closed:
            stream.close()
    except OSError:
        pass


def kill_all() -> None:
    """Kill every worker still running, and its process group, and start no more (for a signal handler:
    SIGINT, SIGTERM)."""
    STOPPING.set()
    for proc in list(LIVE):
        _kill(proc)


def _first_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL to the worker's process group (it leads one of its own), or to the worker where there are none."""
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.poll() is None:
            proc.kill()
    except (OSError, ProcessLookupError):
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass


def run_worker_resilient(
    python: str, task: str, payload: Mapping[str, Any], timeout: float = 60.0, env=None, cwd=None, max_retries: int = 3
) -> List[WorkerOutcome]:
    """Run a task; when it crashes or hangs in a named stage, run it again skipping that stage, so one bad
    import does not hide everything else the worker can tell. Returns every attempt, the last one last."""
    attempts = [run_worker(python, task, payload, timeout, env, cwd)]
    skip = list(payload.get("skip") or [])
    while (
        attempts[-1].status in (CRASHED, TIMEOUT)
        and attempts[-1].stage
        and attempts[-1].stage not in skip
        and len(attempts) <= max_retries
    ):
        skip.append(attempts[-1].stage)
        attempts.append(run_worker(python, task, dict(payload, skip=list(skip)), timeout, env, cwd))
    return attempts
