"""Following the plan for real: broken venvs built from PyPI, the plan's pip and venv commands run exactly as
printed on a throwaway copy, then `check` again. The Python stack passes and every package that imported
before still imports (except what the plan removes on purpose, the PyPI 'pycoral' impostor).

And the data behind the commands: every PyPI wheel the plan can name resolves with `pip install --dry-run`
for the Pythons and platforms it is listed for.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from venvs import make_venv, require_python

from edgedoctor.diagnosis import plan as planner
from edgedoctor.matrix import install

# Real pip installs (about 70 s of CPU warm, minutes on a loaded machine): a slow tier of its own, not the
# README's fast command. Run with: python3 -m pytest -m plan_tier  (setup: tests/tiers/setup_plan.sh)
pytestmark = [pytest.mark.venv, pytest.mark.plan_tier]

MODULES = ("tflite_runtime", "numpy", "tensorflow", "pycoral", "ai_edge_litert")
# Commands that touch the system (runtime packages) or run edgedoctor are not run here.
NOT_RUN = ("curl", "sudo", "unzip", "tar", "cd ", "edgedoctor ")


def imports(python):
    """The modules of MODULES that import under `python`."""
    code = (
        "import importlib, json\nok = []\nfor m in %r:\n    try:\n        importlib.import_module(m)\n"
        "        ok.append(m)\n    except BaseException:\n        pass\nprint(json.dumps(ok))" % (MODULES,)
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    return set(json.loads(out.stdout.strip().splitlines()[-1])) if out.stdout.strip() else set()


def throwaway_copy(python, tmp_path):
    folder = Path(python).parent.parent
    copy = tmp_path / "examined-venv"
    shutil.copytree(folder, copy, symlinks=True)
    return str(copy / "bin" / "python")


def check_json(run_cli, python):
    code, out, _ = run_cli(
        "check", "--python", python, "--no-models", "--format", "json", "--timeout", "180", "--no-redact", "-q"
    )
    return json.loads(out)


def follow(plan, home):
    """Run the plan's venv and pip commands exactly as printed (HOME is the throwaway home)."""
    ran = []
    for step in plan["steps"]:
        for command in step["commands"]:
            if command.startswith(NOT_RUN):
                continue
            assert " -m pip " in command or " -m venv " in command, command
            result = subprocess.run(
                ["sh", "-c", command], capture_output=True, text=True, timeout=900, env=dict(os.environ, HOME=str(home))
            )
            assert result.returncode == 0, (command, result.stdout[-1500:], result.stderr[-2500:])
            ran.append(command)
    return ran


CASES = {
    "numpy2": ("3.11", ["tflite-runtime==2.14.0", "numpy>=2"], ()),
    "pypi-pycoral": ("3.11", ["pycoral==0.2.0"], ("--no-deps",)),
    "numpy-missing": ("3.11", ["tflite-runtime==2.14.0"], ("--no-deps",)),
    "tensorflow-numpy2": ("3.11", ["tflite-runtime==2.14.0", "tensorflow-cpu==2.21.0", "numpy>=2"], ()),
    "py312-nothing": ("3.12", [], ()),
}


def imported_before(report):
    """The modules of MODULES that imported when `check` examined the environment (from its facts)."""
    env = report["facts"]["python_env"]
    found = {name for name, info in env["tflite"]["candidates"].items() if info.get("imported")}
    if env["numpy"].get("version") and not env["numpy"].get("error"):
        found.add("numpy")
    if env["pycoral"].get("identity") != "absent" and not env["pycoral"].get("error"):
        found.add("pycoral")
    return found


def venv_size(python):
    folder = Path(python).parent.parent
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def pips_into(plan, python):
    return any(c.startswith(python + " -m pip") for s in plan["steps"] for c in s["commands"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_following_the_plan_fixes_the_python_stack(case, run_cli, tmp_path):
    version, requirements, pip_args = CASES[case]
    python = make_venv(version, requirements, pip_args=pip_args, name=f"plan-{case}")
    if venv_size(python) < 300 * 2**20:
        python = throwaway_copy(python, tmp_path)  # the plan may change the examined venv: never the cached one
        report = check_json(run_cli, python)
    else:  # tensorflow's venv is big to copy: the plan must not touch it, and that is asserted
        report = check_json(run_cli, python)
        assert not pips_into(report["plan"], python), report["plan"]
    before_imports = imported_before(report)
    assert any(f["status"] == "fail" for f in report["findings"] if f["id"].startswith("python.")), case
    plan = report["plan"]
    home = tmp_path / "home"
    home.mkdir()
    ran = follow(plan, home)
    assert ran, plan
    target = plan["target"]["python_executable"]
    target = str(home) + target[1:] if target.startswith("~/") else target
    after = check_json(run_cli, target)
    failing = [
        (f["id"], f["title"])
        for f in after["findings"]
        if f["status"] == "fail" and f["id"].split(".")[0] in ("python", "combination")
    ]
    assert not failing, (case, failing, plan)
    assert next(f for f in after["findings"] if f["id"] == "python.smoke")["status"] == "pass"
    removed = {"pycoral"} if case == "pypi-pycoral" else set()
    now = imports(python)
    assert before_imports - removed <= now, (case, before_imports, now)
    if case == "tensorflow-numpy2":
        assert "tensorflow" in before_imports and not pips_into(plan, python)  # numpy stays under tensorflow


def _dry_run_cases():
    # a Debian 12 / Raspberry Pi OS bookworm machine (glibc 2.36) takes manylinux_2_34 and manylinux2014 wheels
    platforms = {
        "x86_64": "manylinux2014_x86_64",
        "aarch64": "manylinux_2_34_aarch64,manylinux2014_aarch64",
        "armv7l": "manylinux2014_armv7l",
    }
    for row in install.data().get("wheel") or []:
        if row.get("index") or "linux" not in row.get("os", []):
            continue  # Coral's own index is not reached from tests (network: PyPI only)
        from packaging.specifiers import SpecifierSet

        pythons = [p for p in ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12") if SpecifierSet(row["python"]).contains(p)]
        for arch in row["arch"][:1]:
            yield row["package"], row["version"], pythons[-1], platforms[arch], row.get("numpy")


@pytest.mark.parametrize("package,version,python,platform,numpy", sorted(_dry_run_cases()))
def test_every_pypi_wheel_the_plan_names_resolves(package, version, python, platform, numpy, tmp_path):
    items = [f"{package}=={version}"] + ([f"numpy{numpy}"] if numpy else [])
    platform_args = [arg for tag in platform.split(",") for arg in ("--platform", tag)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            python,
            *platform_args,
            "--target",
            str(tmp_path / "t"),
            "--disable-pip-version-check",
            *items,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (items, python, platform, result.stderr[-2000:])
    assert f"{package}-{version}" in result.stdout
    if numpy == "<2":
        assert f"numpy-{planner.numpy_below_2(python)}" in result.stdout, result.stdout[-500:]


def test_python_versions_the_plan_may_create_exist_here():
    """The follow-through tests need the interpreters a plan may ask for."""
    for version in ("3.11", "3.12"):
        require_python(version)
