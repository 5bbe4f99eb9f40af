"""A real, non-editable install (what `pip install .` and pipx give a user): every module, the worker, the
matrix, the manifest and the embedded model must be inside the installed package, and nothing of the patient's
stack (numpy, tflite-runtime, pycoral) may come with it."""

import json
import re
import shutil
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
    # From a copy without build/: setuptools reuses a stale build/lib, which would hide a package missing from
    # pyproject's list (the README's own `pip install .` leaves one in the clone).
    source = tmp_path_factory.mktemp("source") / "edgedoctor"
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".git", ".venv", "tests", "dist")
    shutil.copytree(REPO, source, ignore=skip)
    # --no-deps: the dependencies come from the system site-packages; this checks what *we* package.
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", str(source)],
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


def test_every_source_module_is_installed_and_imports(installed, tmp_path):
    """The wheel holds every module of the source tree (a package missing from pyproject's list would be absent
    only once installed), and each imports there, from outside the clone."""
    source = REPO / "edgedoctor"
    ours = sorted(str(path.relative_to(source)) for path in source.rglob("*.py") if "__pycache__" not in path.parts)
    program = (
        "import importlib, json, pathlib, edgedoctor\n"
        "root = pathlib.Path(edgedoctor.__file__).parent\n"
        "files = sorted(str(p.relative_to(root)) for p in root.rglob('*.py') if '__pycache__' not in p.parts)\n"
        "failed = {}\n"
        "for name in files:\n"
        "    parts = name[:-3].split('/')\n"
        "    if parts[0] in ('worker', '_models', '_matrix') or parts[-1] == '__main__' or name == 'pytest_plugin.py':\n"
        "        continue  # the worker runs as a script; data folders; __main__ runs; the plugin needs pytest\n"
        "    module = '.'.join(['edgedoctor'] + [p for p in parts if p != '__init__'])\n"
        "    try:\n"
        "        importlib.import_module(module)\n"
        "    except ModuleNotFoundError as error:\n"
        "        if error.name not in DEPENDENCIES:  # installed --no-deps: a declared dependency may be absent\n"
        "            failed[module] = repr(error)\n"
        "    except Exception as error:\n"
        "        failed[module] = repr(error)\n"
        "print(json.dumps({'root': str(root), 'files': files, 'failed': failed}))\n"
    )
    from edgedoctor.util.tomlcompat import load_toml

    declared = [
        re.split(r"[<>=!~ \[;]", dep)[0] for dep in load_toml(REPO / "pyproject.toml")["project"]["dependencies"]
    ]
    imports = {"pyusb": "usb"}  # distribution name -> import name, where they differ
    program = f"DEPENDENCIES = {sorted(imports.get(name, name) for name in declared)!r}\n" + program
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", program], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    assert str(REPO) not in seen["root"]  # the installed copy, not the clone
    assert sorted(set(ours) - set(seen["files"])) == []
    assert seen["failed"] == {}
