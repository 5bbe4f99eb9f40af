"""Real throwaway virtual environments with real package combinations from PyPI, built once and cached.

`make_venv("3.11", ["tflite-runtime==2.14.0", "numpy<2"])` returns the venv's python. Venvs are cached under
tests/.cache/venvs (or $EDGEDOCTOR_TEST_VENVS) keyed by interpreter and requirements, so one pytest session
builds each once and later sessions reuse it. `find_python("3.7")` looks in pyenv; tests skip only when the
interpreter they need is absent.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import pytest

CACHE = Path(os.environ.get("EDGEDOCTOR_TEST_VENVS", Path(__file__).parent / ".cache" / "venvs"))


def _pyenv_root() -> Optional[Path]:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    default = Path.home() / ".pyenv"
    return default if default.exists() else None


def find_python(version: str) -> Optional[str]:
    """An interpreter for major.minor `version`: the running one, pyenv's, or one on PATH."""
    if "%d.%d" % sys.version_info[:2] == version:
        return sys.executable
    root = _pyenv_root()
    if root:
        for candidate in sorted(
            glob.glob(str(root / "versions" / f"{version}.*" / "bin" / f"python{version}")), reverse=True
        ):
            if os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which(f"python{version}")
    return found


def require_python(version: str) -> str:
    found = find_python(version)
    if not found:
        pytest.skip(f"Python {version} is not installed on this machine (pyenv install {version})")
    return found


def _key(python: str, requirements: Sequence[str], pip_args: Sequence[str]) -> str:
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    blob = json.dumps([version, sorted(requirements), list(pip_args)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _venv_python(folder: Path) -> Path:
    return folder / "bin" / "python"


def make_venv(version: str, requirements: Sequence[str] = (), pip_args: Sequence[str] = (), name: str = "venv") -> str:
    """Build (or reuse) a venv of Python `version` with `requirements` installed; returns its python.

    Fails the test (not skips) when pip cannot install: that would be a change in the real world worth seeing.
    """
    python = require_python(version)
    CACHE.mkdir(parents=True, exist_ok=True)
    key = _key(python, requirements, pip_args)
    folder = CACHE / f"{name}-py{version}-{key}"
    ready = folder / ".ready"
    with open(CACHE / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists() and _venv_python(folder).exists():
            return str(_venv_python(folder))
        shutil.rmtree(folder, ignore_errors=True)
        result = subprocess.run([python, "-m", "venv", str(folder)], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            pytest.fail(f"venv for Python {version} failed: {result.stderr[-2000:]}")
        if requirements:
            cmd = [
                str(_venv_python(folder)),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
                *pip_args,
                *requirements,
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                pytest.fail(
                    f"pip install {' '.join(requirements)} on Python {version} failed:\n"
                    f"{result.stdout[-1500:]}\n{result.stderr[-2500:]}"
                )
        ready.write_text(json.dumps({"python": python, "requirements": list(requirements)}))
    return str(_venv_python(folder))


def installed(python: str) -> List[str]:
    out = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.split()
