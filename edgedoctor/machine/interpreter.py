"""Which Python interpreter `check` examines, and whether a path really is one.

Without `--python`, edgedoctor examines the interpreter the user means, not the one it was installed into (a
pipx or venv install of edgedoctor has no TFLite and no numpy): an active virtual environment or conda
environment, then `./.venv` or `./venv` in the current folder, then the `python3` on PATH. edgedoctor's own
interpreter is examined only when it is one of those (or when nothing else exists).

`identify()` runs a tiny stdlib-only program under a candidate with a short deadline, so that `--python
/bin/ls` is a usage error instead of four findings built from `ls` output. `choose()` is pure over its inputs
(environment, current folder, PATH lookup, identify) so tests feed it directly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

# Prints one marked line; Python 2.7 and 3.x both run it (so an old interpreter is named, not just refused).
_ID_PROGRAM = (
    "import sys, json\n"
    "print('EDGEDOCTOR-ID ' + json.dumps({'version': '%d.%d.%d' % tuple(sys.version_info[:3]),"
    " 'implementation': getattr(getattr(sys, 'implementation', None), 'name', 'cpython'),"
    " 'executable': sys.executable, 'prefix': sys.prefix,"
    " 'base_prefix': getattr(sys, 'base_prefix', getattr(sys, 'real_prefix', sys.prefix))}))\n"
)
_MARK = "EDGEDOCTOR-ID "
_ID_OUTPUT_CAP = 64 * 1024
ID_TIMEOUT = 15.0  # seconds; an emulated or cold interpreter can take a few


@dataclass
class Identity:
    path: str  # what was run (the user's words, resolved to a file)
    executable: str  # sys.executable as the interpreter reports it (resolves pyenv shims)
    version: str
    implementation: str
    in_venv: bool
    prefix: str = ""  # sys.prefix: tells a venv apart from the interpreter it links to


@dataclass
class Choice:
    path: str  # the interpreter to examine
    reason: str  # why this one, in plain words
    source: str  # "option", "virtual_env", "conda", "cwd_venv", "path", "own"
    is_own: bool  # edgedoctor's own interpreter


class NotAnInterpreter(ValueError):
    """The path exists but is not a Python interpreter edgedoctor can examine."""


def venv_python(folder: Path) -> Optional[Path]:
    """A venv or conda folder -> its interpreter (None when it has none)."""
    for candidate in (
        folder / "bin" / "python",
        folder / "bin" / "python3",
        folder / "Scripts" / "python.exe",
        folder / "python.exe",
    ):
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            continue
    return None


def resolve(text: str, cwd: Optional[str] = None) -> Optional[str]:
    """`--python` words (a venv folder, an interpreter path, or a command name) -> a path; None if nothing there.

    A path keeps the user's spelling (`./py` stays `./py`); only a bare command name is looked up on PATH.
    """
    base = Path(cwd or os.getcwd())
    path = Path(text).expanduser()
    full = path if path.is_absolute() else base / path
    try:
        if full.is_dir():
            found = venv_python(full)
            return str(found if path.is_absolute() else Path(text) / found.relative_to(full)) if found else None
        if full.exists():
            if text.startswith("~"):
                return str(path)
            # `py` in the current folder must stay a path (`./py`): a bare name would be looked up on PATH.
            return text if (os.sep in text or (os.altsep and os.altsep in text)) else os.path.join(os.curdir, text)
    except OSError:
        return None
    if os.sep not in text and (os.altsep is None or os.altsep not in text):
        return shutil.which(text)
    return None


def identify(path: str, timeout: float = ID_TIMEOUT) -> Identity:
    """Run the identification program under `path`; NotAnInterpreter when it is not a Python.

    The child gets no stdin, its own session (so a daemonised grandchild is killed with it) and a deadline. A
    foreign-architecture interpreter is started through its emulator, as the worker is (edgedoctor.machine.emulation).
    """
    from edgedoctor.machine import emulation

    argv = emulation.command([path, "-c", _ID_PROGRAM])
    # Output goes to files, not pipes: a grandchild that keeps a pipe open cannot hold the wait past the exit.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file, start_new_session=(os.name == "posix")
            )
        except OSError as exc:
            raise NotAnInterpreter(f"cannot run it ({exc.strerror or exc})") from None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise NotAnInterpreter(f"it did not answer a Python identification within {timeout:g} s") from None
        finally:
            _kill_group(proc)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(_ID_OUTPUT_CAP), err_file.read(_ID_OUTPUT_CAP)
    text = out.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith(_MARK):
            try:
                data = json.loads(line[len(_MARK) :])
            except ValueError:
                break
            return Identity(
                path=path,
                executable=str(data.get("executable") or path),
                version=str(data.get("version") or "?"),
                implementation=str(data.get("implementation") or "?"),
                in_venv=data.get("prefix") != data.get("base_prefix"),
                prefix=str(data.get("prefix") or ""),
            )
    said = (err.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
    if _MARK.strip() in said or not said.isprintable():
        said = ""  # it echoed the program back (`ls: cannot access ...`): nothing worth showing
    if "GLIBC_" in said or "cannot open shared object file" in said:
        # The loader refused it: a Python built for a newer C library (glibc-too-old) or missing a library.
        raise NotAnInterpreter(f"it could not start, the system's loader refused it: {said[:200]}")
    raise NotAnInterpreter(
        f"it is not a Python interpreter (it exited with {proc.returncode} and gave no Python "
        f"identification" + (f"; it said: {said[:160]}" if said else "") + ")"
    )


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    if os.name == "posix":
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError, OSError):
            pass
    if proc.poll() is None:
        try:
            proc.kill()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


def is_own(identity: Identity) -> bool:
    """Whether `identity` is edgedoctor's own environment (same sys.prefix: a venv's python links to its base
    interpreter, so comparing files would take every venv of that Python for edgedoctor's own)."""
    try:
        return bool(identity.prefix) and os.path.samefile(identity.prefix, sys.prefix)
    except OSError:
        return os.path.abspath(identity.prefix) == os.path.abspath(sys.prefix)


def candidates(
    env: Mapping[str, str], cwd: str, which: Callable[[str], Optional[str]] = shutil.which
) -> List[Tuple[str, str, str]]:
    """The interpreters the user may mean, best first: (path, source, reason)."""
    found: List[Tuple[str, str, str]] = []
    virtual_env = env.get("VIRTUAL_ENV")
    if virtual_env:
        python = venv_python(Path(virtual_env))
        if python:
            found.append((str(python), "virtual_env", f"the active virtual environment ($VIRTUAL_ENV={virtual_env})"))
    conda = env.get("CONDA_PREFIX")
    if conda:
        python = venv_python(Path(conda))
        if python:
            found.append((str(python), "conda", f"the active conda environment ($CONDA_PREFIX={conda})"))
    for name in (".venv", "venv"):
        python = venv_python(Path(cwd) / name)
        if python:
            found.append((str(python), "cwd_venv", f"the virtual environment ./{name} in the current folder"))
    for name in ("python3", "python") if os.name == "posix" else ("python", "py", "python3"):
        on_path = which(name)
        if on_path:
            found.append((on_path, "path", f"the `{name}` on PATH"))
            break
    return found


def choose(
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    own: str = sys.executable,
    which: Callable[[str], Optional[str]] = shutil.which,
    check: Callable[[str], Identity] = identify,
) -> Tuple[Choice, Optional[Identity], List[str]]:
    """The interpreter to examine without `--python`, its identity, and why others were passed over."""
    env = os.environ if env is None else env
    cwd = cwd or os.getcwd()
    passed_over: List[str] = []
    for path, source, reason in candidates(env, cwd, which):
        try:
            identity = check(path)
        except NotAnInterpreter as exc:
            passed_over.append(f"{path} ({reason}): {exc}")
            continue
        if too_old(identity):
            passed_over.append(f"{path} ({reason}): Python {identity.version} is older than 3.6")
            continue
        examined = identity.executable if source == "path" else path
        own_env = is_own(identity)
        if own_env:
            reason += ", which is also edgedoctor's own environment"
        return Choice(path=examined, reason=reason, source=source, is_own=own_env), identity, passed_over
    return (
        Choice(
            path=own,
            reason="edgedoctor's own interpreter (no virtual environment is active and no other Python was found)",
            source="own",
            is_own=True,
        ),
        None,
        passed_over,
    )


def too_old(identity: Identity) -> bool:
    try:
        return tuple(int(x) for x in identity.version.split(".")[:2]) < (3, 6)
    except ValueError:
        return False


def from_option(
    text: str, cwd: Optional[str] = None, check: Callable[[str], Identity] = identify
) -> Tuple[Choice, Identity]:
    """`--python TEXT` -> the choice; ValueError (a usage error) when nothing there or it is not a Python."""
    try:
        path = resolve(text, cwd)
    except PermissionError as exc:
        raise ValueError(f"--python {text}: cannot look there ({exc.strerror or exc})") from None
    if path is None:
        raise ValueError(f"--python {text}: no Python interpreter there")
    try:
        identity = check(path)
    except NotAnInterpreter as exc:
        raise ValueError(f"--python {text}: {exc}") from None
    if too_old(identity):
        raise ValueError(
            f"--python {text}: Python {identity.version} is older than the 3.6 that edgedoctor's probes "
            f"need (Coral's pycoral needs 3.6 to 3.9)"
        )
    return Choice(path=path, reason="named with --python", source="option", is_own=is_own(identity)), identity


def describe(choice: Choice) -> Dict[str, object]:
    """What goes into the facts: the examined interpreter, and why."""
    return {"path": choice.path, "source": choice.source, "reason": choice.reason, "is_own": choice.is_own}
