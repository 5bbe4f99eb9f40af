"""The pi tier: edgedoctor ON an emulated Raspberry Pi (Debian's arm64/armhf userlands and PyPI's ARM wheels
under qemu-user), each scenario asserted on the JSON report.

edgedoctor's own process runs under qemu (`qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11 -m edgedoctor
check`), and it starts its worker through the same emulator by itself (edgedoctor/emulation.py): this machine
has no binfmt_misc, so without that the worker fails with "Exec format error". Setup: tests/tiers/setup_pi.sh.
Run: python3 -m pytest -m pi_tier tests/test_pi_tier.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pi_userland import (
    EDGEDOCTOR_DEPENDENCIES,
    REPO,
    USERLANDS,
    add_file,
    build_userland,
    finding,
    pip_finds,
    record_time,
    require,
    run_edgedoctor,
    userland_info,
    wheels,
)

pytestmark = pytest.mark.pi_tier

SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
RUNTIMES = SHARED / "runtimes"
TFLITE_GOOD = ("tflite-runtime==2.14.0", "numpy<2")


def _userland(name: str) -> Path:
    started = time.monotonic()
    root = require(build_userland, name)
    record_time(f"userland {name} (cold build {userland_info(name)['build_s']} s)", time.monotonic() - started)
    return root


def _deps(name: str, with_pillow: bool = True) -> Path:
    extra = (["Pillow"] if with_pillow else []) + (
        ["tomli"] if USERLANDS[name].python in ("python3.9", "python3.10") else []
    )
    return require(wheels, name, list(EDGEDOCTOR_DEPENDENCIES) + extra, "deps")


def _check(name, sites, *args, what, timeout=900):
    run = run_edgedoctor(name, sites, ["--offline", "--timeout", "600", *args], timeout=timeout)
    record_time(what, run.seconds)
    assert run.report is not None, f"no JSON report (exit {run.returncode}):\n{run.stderr[-3000:]}"
    return run.report


def _causes(report):
    return {cause for item in report["findings"] for cause in item.get("causes") or []}


def test_aarch64_bookworm_known_good_cpu_model():
    """Pi OS Bookworm 64-bit on a Pi 5, tflite-runtime 2.14 with numpy<2: the worker runs under the same
    emulator and the bird model names the scarlet macaw."""
    if not (MODELS / "mobilenet_v2_1.0_224_inat_bird_quant.tflite").exists():
        pytest.skip("../shared/models is absent")
    _userland("bookworm-arm64")
    sites = [_deps("bookworm-arm64"), require(wheels, "bookworm-arm64", TFLITE_GOOD, "tflite214")]
    report = _check(
        "bookworm-arm64",
        sites,
        "--models-dir",
        str(MODELS),
        "--model-set",
        "inat-bird",
        "--iterations",
        "2",
        what="aarch64 tflite 2.14 + numpy<2, bird model on the CPU",
    )
    platform = report["facts"]["platform"]
    assert platform["arch"] == "aarch64"
    assert (platform["libc"], platform["libc_version"]) == ("glibc", "2.36")
    assert platform["board"] == "raspberry-pi-5"
    assert platform["emulator"]["machine"] == "aarch64" and platform["emulator"]["sysroot"]
    python = report["facts"]["python_env"]["python"]
    assert python["machine"] == "aarch64" and python["version"].startswith("3.11")
    assert report["facts"]["python_env"]["worker"]["status"] == "ok"
    assert report["facts"]["python_env"]["tflite"]["version"] == "2.14.0"
    cpu = report["facts"]["inference"]["cpu"]
    assert cpu["status"] == "pass", cpu
    assert cpu["top1"]["id"] == 923 and cpu["top1"]["label"] == "Ara macao (Scarlet Macaw)"
    assert finding(report, "models.cpu")["status"] == "pass"


def test_aarch64_numpy2_is_numpy_abi():
    _userland("bookworm-arm64")
    sites = [
        _deps("bookworm-arm64"),
        require(wheels, "bookworm-arm64", ("tflite-runtime==2.14.0", "numpy>=2"), "numpy2"),
    ]
    report = _check("bookworm-arm64", sites, "--no-models", what="aarch64 numpy 2")
    assert report["facts"]["python_env"]["numpy"]["version"].startswith("2.")
    assert report["facts"]["python_env"]["worker"]["status"] == "ok"
    assert "numpy-abi" in _causes(report), [(f["id"], f["causes"]) for f in report["findings"]]


def test_aarch64_bookworm_system_python_gets_a_venv_remedy():
    """Pi OS Bookworm's python3 is externally managed (PEP 668): `python3 -m pip install` is refused, so the
    remedy makes a venv first (the packages it installs are the ones the known-good test above runs)."""
    _userland("bookworm-arm64")
    report = _check("bookworm-arm64", [_deps("bookworm-arm64")], "--no-models", what="aarch64 without tflite")
    assert report["facts"]["python_env"]["python"]["externally_managed"] is True
    remedy = finding(report, "python.tflite")["remedy"]
    assert "PEP 668" in remedy and "/usr/bin/python3 -m venv ~/coral-venv\n" in remedy
    assert '~/coral-venv/bin/python -m pip install tflite-runtime "numpy<2"' in remedy


def test_armhf_pypi_has_tflite_runtime_but_no_numpy_and_the_remedy_says_what_exists():
    """Pi OS 32-bit (armhf): PyPI has tflite-runtime 2.14.0 for armv7l (manylinux_2_34) but no armv7l numpy, so
    `pip install tflite-runtime "numpy<2"` would compile numpy. The remedy takes Debian's numpy (or 64-bit)."""
    _userland("bookworm-armhf")
    assert require(pip_finds, "bookworm-armhf", "tflite-runtime==2.14.0")[0]
    found, said = require(pip_finds, "bookworm-armhf", "numpy<2")
    assert not found and "from versions: none" in said
    report = _check(
        "bookworm-armhf",
        [_deps("bookworm-armhf", with_pillow=False)],
        "--no-models",
        what="armhf without tflite-runtime",
    )
    python = report["facts"]["python_env"]["python"]
    assert python["machine"] == "armv7l" and python["bits"] == 32
    assert report["facts"]["platform"]["board"] == "raspberry-pi-4"
    tflite = finding(report, "python.tflite")
    assert tflite["status"] == "fail"
    remedy = tflite["remedy"]
    assert "sudo apt-get install python3-numpy python3-venv" in remedy
    assert "python3 -m venv --system-site-packages ~/coral-venv" in remedy
    assert "~/coral-venv/bin/python -m pip install tflite-runtime\n" in remedy  # numpy from Debian, not PyPI
    assert "64-bit" in remedy
    assert "apt-get install python3-numpy" in finding(report, "python.numpy")["remedy"]


def test_armhf_remedy_followed_debian_numpy_and_pypi_tflite_runtime_run_the_model():
    """The armhf remedy, followed: Debian's python3-numpy (apt) and PyPI's armv7l tflite-runtime 2.14.0 (pip,
    which sees numpy 1.24 and installs nothing else) run the embedded model on the emulated 32-bit Pi."""
    _userland("bookworm-armhf-numpy")
    sites = [
        _deps("bookworm-armhf-numpy", with_pillow=False),
        require(wheels, "bookworm-armhf-numpy", ["--no-deps", "tflite-runtime==2.14.0"], "tflite214"),
    ]
    report = _check("bookworm-armhf-numpy", sites, "--no-models", what="armhf Debian numpy + tflite 2.14 armv7l")
    env = report["facts"]["python_env"]
    assert env["numpy"]["version"] == "1.24.2" and "/usr/lib/python3/dist-packages/" in env["numpy"]["path"]
    assert env["tflite"]["version"] == "2.14.0"
    assert finding(report, "python.smoke")["status"] == "pass"


def test_bullseye_glibc_231_pip_takes_tflite_runtime_213_and_it_runs():
    """Debian 11 / Pi OS Bullseye 64-bit (glibc 2.31, Python 3.9): tflite-runtime 2.14.0's aarch64 wheel is
    tagged manylinux_2_34, so pip there takes 2.13.0 (manylinux2014), which runs. The plain remedy works."""
    _userland("bullseye-arm64")
    assert not require(pip_finds, "bullseye-arm64", "tflite-runtime==2.14.0")[0]
    site = require(wheels, "bullseye-arm64", ("tflite-runtime", "numpy<2"), "tflite")
    report = _check(
        "bullseye-arm64",
        [_deps("bullseye-arm64"), site],
        "--no-models",
        what="bullseye glibc 2.31, pip's choice (tflite 2.13)",
    )
    assert (report["facts"]["platform"]["libc"], report["facts"]["platform"]["libc_version"]) == ("glibc", "2.31")
    assert report["facts"]["python_env"]["tflite"]["version"] == "2.13.0"
    assert finding(report, "python.smoke")["status"] == "pass"
    assert "glibc-too-old" not in _causes(report)


def test_bullseye_glibc_231_runs_the_manylinux_2_34_wheel_without_a_false_glibc_diagnosis():
    """The 2.14.0 aarch64 wheel forced onto glibc 2.31 (a copied venv, `pip download --platform`): its extension
    asks only for GLIBC_2.27 symbols, so the loader takes it and it runs. edgedoctor must not claim
    glibc-too-old on the tag alone."""
    _userland("bullseye-arm64")
    sites = [
        _deps("bullseye-arm64"),
        require(
            wheels,
            "bullseye-arm64",
            TFLITE_GOOD,
            "tflite214-2_34",
            platforms=["manylinux_2_34_aarch64", "manylinux2014_aarch64"],
        ),
    ]
    report = _check("bullseye-arm64", sites, "--no-models", what="bullseye glibc 2.31 + manylinux_2_34 wheel")
    assert report["facts"]["platform"]["libc_version"] == "2.31"
    assert report["facts"]["python_env"]["tflite"]["version"] == "2.14.0"
    assert finding(report, "python.smoke")["status"] == "pass"
    assert "glibc-too-old" not in _causes(report)


def test_bullseye_glibc_231_with_an_interpreter_built_for_bookworm_is_refused_with_the_loaders_words():
    """A Python built on a newer OS release (Bookworm's python3.11, needing GLIBC_2.34 and 2.35) named with
    --python on Bullseye's glibc 2.31: the loader refuses it before any Python runs, and `check` refuses the
    option (exit 2, a usage error) quoting the loader's own line."""
    bookworm = _userland("bookworm-arm64")
    _userland("bullseye-arm64")
    python = bookworm / "usr" / "bin" / "python3.11"
    run = run_edgedoctor(
        "bullseye-arm64", [_deps("bullseye-arm64")], ["--offline", "--no-models", "--python", str(python)], timeout=900
    )
    record_time("bullseye glibc 2.31 --python bookworm python3.11", run.seconds)
    assert run.returncode == 2, run.stderr
    assert re.search(r"libc\.so\.6: version `GLIBC_2\.3[2-5]' not found", run.stderr), run.stderr


def test_an_aarch64_interpreter_examined_from_this_pc_runs_under_qemu():
    """edgedoctor native on this x86_64 machine, --python naming the emulated Pi's python3.11: the worker is
    started by qemu-aarch64-static with the sysroot that holds the interpreter's loader."""
    root = _userland("bookworm-arm64")
    site = require(wheels, "bookworm-arm64", TFLITE_GOOD, "tflite214")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "QEMU_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site)])
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgedoctor",
            "check",
            "--offline",
            "--no-models",
            "--quiet",
            "--format",
            "json",
            "--timeout",
            "600",
            "--python",
            str(root / "usr" / "bin" / "python3.11"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=str(REPO),
    )
    record_time("x86_64 edgedoctor, --python aarch64 python3.11", time.monotonic() - started)
    report = json.loads(result.stdout)
    assert report["facts"]["platform"]["emulator"] is None
    env_facts = report["facts"]["python_env"]
    assert env_facts["worker"]["status"] == "ok", env_facts["worker"]
    assert env_facts["python"]["machine"] == "aarch64" and env_facts["python"]["libc_version"] == "2.36"
    assert env_facts["tflite"]["version"] == "2.14.0"
    assert finding(report, "python.smoke")["status"] == "pass"


def test_real_aarch64_runtime_with_debian_libusb_and_no_device():
    library = RUNTIMES / "linux-aarch64" / "eel2" / "std" / "libedgetpu.so.1.0"
    if not library.exists():
        pytest.skip("../shared/runtimes/linux-aarch64 is absent")
    _userland("bookworm-arm64")
    add_file("bookworm-arm64", "usr/lib/aarch64-linux-gnu/libedgetpu.so.1", library)
    report = _check(
        "bookworm-arm64",
        [_deps("bookworm-arm64"), require(wheels, "bookworm-arm64", TFLITE_GOOD, "tflite214")],
        "--no-models",
        what="aarch64 real runtime eel2, no device",
    )
    runtime = report["facts"]["runtime"]
    assert runtime["found"], runtime
    assert runtime["runtime_version"] == 13, runtime
    assert "CL_NUMBER=317268237" in (runtime["build_label"] or "")
    assert runtime["devices"] == []
    assert "no-device" in _causes(report) or "container-device" in _causes(report)
