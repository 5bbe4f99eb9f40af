"""The pi tier: edgedoctor ON an emulated Raspberry Pi (Debian's arm64/armhf userlands and PyPI's ARM wheels
under qemu-user), each scenario asserted on the JSON report.

edgedoctor's own process runs under qemu (`qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11 -m edgedoctor
check`), and it starts its worker through the same emulator by itself (edgedoctor/emulation.py): this machine
has no binfmt_misc, so without that the worker fails with "Exec format error". Setup: tests/tiers/setup_pi.sh.
Run: python3 -m pytest -m pi_tier tests/test_pi_tier.py
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pi_userland import (REPO, USERLANDS, EDGEDOCTOR_DEPENDENCIES, add_file, build_userland, finding, pip_finds,
                         record_time, require, run_edgedoctor, userland_info, wheels)

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
    return require(wheels, name, list(EDGEDOCTOR_DEPENDENCIES) + (["Pillow"] if with_pillow else []), "deps")


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
    report = _check("bookworm-arm64", sites, "--models-dir", str(MODELS), "--model-set", "inat-bird",
                    "--iterations", "2", what="aarch64 tflite 2.14 + numpy<2, bird model on the CPU")
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
    sites = [_deps("bookworm-arm64"), require(wheels, "bookworm-arm64", ("tflite-runtime==2.14.0", "numpy>=2"),
                                             "numpy2")]
    report = _check("bookworm-arm64", sites, "--no-models", what="aarch64 numpy 2")
    assert report["facts"]["python_env"]["numpy"]["version"].startswith("2.")
    assert report["facts"]["python_env"]["worker"]["status"] == "ok"
    assert "numpy-abi" in _causes(report), [(f["id"], f["causes"]) for f in report["findings"]]


def test_armhf_has_no_tflite_runtime_wheel_and_the_remedy_says_what_exists():
    """Pi OS 32-bit: PyPI has no armv7l tflite-runtime, so `pip install tflite-runtime` is not a remedy."""
    _userland("bookworm-armhf")
    found, said = require(pip_finds, "bookworm-armhf", "tflite-runtime")
    assert not found, "PyPI now has an armv7l tflite-runtime wheel: the 32-bit advice must be revisited"
    assert "No matching distribution" in said or "from versions: none" in said
    report = _check("bookworm-armhf", [_deps("bookworm-armhf", with_pillow=False)], "--no-models",
                    what="armhf without tflite-runtime")
    python = report["facts"]["python_env"]["python"]
    assert python["machine"] == "armv7l" and python["bits"] == 32
    assert report["facts"]["platform"]["board"] == "raspberry-pi-4"
    tflite = finding(report, "python.tflite")
    assert tflite["status"] == "fail"
    remedy = tflite["remedy"] or ""
    assert "64-bit" in remedy
    assert "pip install tflite-runtime" not in remedy.replace('"', "").replace("'", "")


def test_bullseye_glibc_231_with_manylinux_2_34_wheel_is_glibc_too_old():
    _userland("bullseye-arm64")
    sites = [_deps("bullseye-arm64"),
             require(wheels, "bullseye-arm64", TFLITE_GOOD, "tflite214-2_34",
                     platforms=["manylinux_2_34_aarch64", "manylinux2014_aarch64"])]
    report = _check("bullseye-arm64", sites, "--no-models", what="bullseye glibc 2.31 + manylinux_2_34 wheel")
    assert report["facts"]["platform"]["libc_version"] == "2.31"
    error = report["facts"]["python_env"]["tflite"]["error"] or ""
    assert "GLIBC_2.3" in error and "not found" in error, error  # the loader's own words
    assert "glibc-too-old" in _causes(report), [(f["id"], f["causes"]) for f in report["findings"]]


def test_real_aarch64_runtime_with_debian_libusb_and_no_device():
    library = RUNTIMES / "linux-aarch64" / "eel2" / "std" / "libedgetpu.so.1.0"
    if not library.exists():
        pytest.skip("../shared/runtimes/linux-aarch64 is absent")
    _userland("bookworm-arm64")
    add_file("bookworm-arm64", "usr/lib/aarch64-linux-gnu/libedgetpu.so.1", library)
    report = _check("bookworm-arm64", [_deps("bookworm-arm64"),
                                       require(wheels, "bookworm-arm64", TFLITE_GOOD, "tflite214")],
                    "--no-models", what="aarch64 real runtime eel2, no device")
    runtime = report["facts"]["runtime"]
    assert runtime["found"], runtime
    assert runtime["runtime_version"] == 13, runtime
    assert "CL_NUMBER=317268237" in (runtime["build_label"] or "")
    assert runtime["devices"] == []
    assert "no-device" in _causes(report) or "container-device" in _causes(report)
