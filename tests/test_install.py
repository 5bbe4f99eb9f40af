"""A real, non-editable install (what `pip install .` and pipx give a user): every module, the worker, the
matrix, the manifest and the embedded model must be inside the installed package, and nothing of the patient's
stack (numpy, tflite-runtime, pycoral) may come with it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    venv = tmp_path_factory.mktemp("install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    build = tmp_path_factory.mktemp("build")
    # --no-deps: the dependencies come from the system site-packages; this checks what *we* package.
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=build,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


def run(venv, *args, cwd):
    return subprocess.run(
        [str(venv / "bin" / "edgedoctor"), *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_installed_package_runs_from_anywhere(installed, tmp_path):
    assert run(installed, "--version", cwd=tmp_path).stdout.startswith("edgedoctor ")
    validate = run(installed, "matrix", "validate", cwd=tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    models = run(installed, "models", "list", cwd=tmp_path)
    assert models.returncode == 0 and "inat-bird" in models.stdout
    check = run(installed, "check", "--offline", "--no-models", "--format", "json", cwd=tmp_path)
    report = json.loads(check.stdout)
    assert "Traceback" not in check.stderr
    smoke = next(f for f in report["findings"] if f["id"] == "python.smoke")
    assert "missing from this installation" not in smoke["detail"]  # the embedded model and manifest are there
    assert report["facts"]["runtime"] is not None and report["facts"]["usb"] is not None
    explain = run(
        installed, "explain", "--format", "json", "Failed to load delegate from libedgetpu.so.1", cwd=tmp_path
    )
    assert json.loads(explain.stdout)["matches"]


def test_the_doctor_does_not_bring_the_patients_stack():
    from edgedoctor.util.tomlcompat import load_toml

    deps = " ".join(load_toml(REPO / "pyproject.toml")["project"]["dependencies"]).lower()
    for forbidden in ("numpy", "tflite", "pycoral", "tensorflow", "litert"):
        assert forbidden not in deps
