"""The pi tier with a device: Google's real aarch64 runtime (../shared/runtimes/linux-aarch64/eel2) on the
emulated Raspberry Pi OS Bookworm 64-bit, against the runtime tier's fake USB Accelerator (tests/fake_libusb.c)
cross-compiled for aarch64 with Debian's gcc-aarch64-linux-gnu at test time, and the sleep shim
(tests/fast_sleep.c) cross-compiled the same way.

edgedoctor's own process runs under qemu-aarch64-static as in tests/test_pi_tier.py and starts its worker through
the same emulator; the fake libusb-1.0.so.0 goes first on the guest's LD_LIBRARY_PATH (ahead of Debian's arm64
libusb in the userland) and the shim on LD_PRELOAD: qemu-user passes its environment to the guest, whose loader
reads both. Each scenario is asserted on the JSON report, with the same expectations as the x86_64 runtime tier
(tests/test_real_runtime.py). Run: python3 -m pytest -m pi_tier tests/test_pi_fake_usb.py
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import helpers_fakeusb
import pytest
from pi_userland import (
    EDGEDOCTOR_DEPENDENCIES,
    REPO,
    add_file,
    build_userland,
    finding,
    private_root,
    record_time,
    require,
    run_edgedoctor,
    wheels,
)

pytestmark = pytest.mark.pi_tier

RUNTIME = REPO.parent / "shared" / "runtimes" / "linux-aarch64" / "eel2" / "std" / "libedgetpu.so.1.0"
CROSS_CC = "aarch64-linux-gnu-gcc"
DEVICE_PATH = "/sys/bus/usb/devices/2-1"


@pytest.fixture(scope="module")
def pi(tmp_path_factory):
    """The userland with the real runtime installed, the site folders, and the cross-built fake parts."""
    if not RUNTIME.exists():
        pytest.skip("../shared/runtimes/linux-aarch64 is absent")
    if not shutil.which(CROSS_CC):
        pytest.skip(
            f"{CROSS_CC} is not installed (tests/tiers/setup_pi.sh: apt-get install gcc-aarch64-linux-gnu "
            f"libc6-dev-arm64-cross)"
        )
    require(build_userland, "bookworm-arm64")
    add_file("bookworm-arm64", "usr/lib/aarch64-linux-gnu/libedgetpu.so.1", RUNTIME)
    # The same site folders as tests/test_pi_tier.py's real-runtime scenario (cached, built once).
    sites = [
        require(wheels, "bookworm-arm64", list(EDGEDOCTOR_DEPENDENCIES) + ["Pillow"], "deps"),
        require(wheels, "bookworm-arm64", ("tflite-runtime==2.14.0", "numpy<2"), "tflite214"),
    ]
    folder = tmp_path_factory.mktemp("pifakeusb")
    try:
        helpers_fakeusb.build(folder, cc=CROSS_CC)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"{CROSS_CC} could not build the fake parts: {(exc.stderr or '')[-600:]}")
    return {"sites": sites, "folder": folder}


def _with_sysfs_device(pi, speed):
    """A private copy of the userland whose /sys/bus/usb/devices holds the Accelerator (18d1:9302, bus 2 port 1,
    the runtime's path) at `speed` Mbit/s, as the Pi's kernel shows it: qemu looks for absolute paths in the
    sysroot first, so the emulated edgedoctor's USB section reads this instead of the host's sysfs."""
    root = require(private_root, "bookworm-arm64", pi["folder"] / f"sysfs-{speed}")
    device = root / DEVICE_PATH.lstrip("/")
    device.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("idVendor", "18d1"),
        ("idProduct", "9302"),
        ("busnum", "2"),
        ("devnum", "3"),
        ("speed", str(speed)),
        ("manufacturer", "Google Inc."),
    ):
        (device / name).write_text(text + "\n")
    return root


def _check(pi, scenario, what, root=None, **extra):
    folder = pi["folder"]
    env = {
        "LD_LIBRARY_PATH": str(folder / "usb"),
        "LD_PRELOAD": str(folder / "fast_sleep.so"),
        "FAKE_USB_SCENARIO": scenario,
        "FAKE_USB_LOG": str(folder / f"{scenario}.log"),
    }
    env.update({key: str(value) for key, value in extra.items()})
    run = run_edgedoctor(
        "bookworm-arm64",
        pi["sites"],
        ["--offline", "--no-models", "--timeout", "600"],
        timeout=900,
        extra_env=env,
        root=root,
    )
    record_time(what, run.seconds)
    assert run.report is not None, f"no JSON report (exit {run.returncode}):\n{run.stderr[-3000:]}"
    log = folder / f"{scenario}.log"
    # The fake device was the one the emulated runtime talked to (not Debian's libusb, which finds nothing).
    assert log.exists() and log.read_text(), f"the fake libusb was not loaded:\n{run.stderr[-2000:]}"
    return run.report


def _causes(report):
    return {cause for item in report["findings"] for cause in item.get("causes") or []}


def _runtime_identified(runtime):
    assert runtime["found"] and runtime["loaded"] is True, runtime
    assert (runtime["release"], runtime["runtime_version"]) == ("eel2", 13), runtime
    assert runtime["devices"] == [{"type": "usb", "path": DEVICE_PATH}], runtime


def test_permission_denied_on_open_is_usb_permissions_and_the_device_section_agrees(pi):
    report = _check(pi, "denied", "aarch64 real runtime eel2, fake device: permission denied")
    runtime = report["facts"]["runtime"]
    _runtime_identified(runtime)
    opened = runtime["open"]
    assert opened["ok"] is False
    assert opened["reason"].startswith(f"Failed to open device [Apex (USB)] at [{DEVICE_PATH}]: ")
    assert "Permission denied: USB error -3 [OpenDevice]" in opened["reason"]
    failure = finding(report, "runtime.open")
    assert failure["status"] == "fail" and failure["causes"] == ["usb-permissions"], failure
    assert "USB error -3 [OpenDevice]" in failure["detail"]
    # The device section does not contradict the runtime: the device it listed is present, not "no device".
    present = finding(report, "device.present")
    assert present["status"] == "pass", present
    assert "no-device" not in _causes(report)
    assert finding(report, "runtime.devices")["status"] == "pass"


def test_permission_denied_with_the_device_in_sysfs_is_the_device_sections_verdict_too(pi):
    report = _check(
        pi,
        "denied",
        "aarch64 real runtime eel2, fake device in sysfs: permission denied",
        root=_with_sysfs_device(pi, 5000),
    )
    usb = report["facts"]["usb"]["devices"]
    assert [(d["vendor_id"], d["product_id"], d["bus"], d["port"], d["speed_mbps"]) for d in usb] == [
        ("18d1", "9302", 2, "1", 5000)
    ], usb
    assert finding(report, "runtime.open")["causes"] == ["usb-permissions"]
    access = finding(report, "device.usb")
    assert access["status"] == "fail" and access["causes"] == ["usb-permissions"], access
    assert "USB error -3 [OpenDevice]" in access["detail"] and "plugdev" in access["remedy"]


def test_a_device_on_a_usb2_port_is_opened_by_the_runtime_and_named_usb2_link(pi):
    """The Pi's kernel shows the Accelerator at 480 Mbit/s (a USB 2 port); the runtime opens it anyway (it only
    refuses a slow link when told to, below) and the report names usb2-link from the link speed."""
    report = _check(pi, "usb2", "aarch64 real runtime eel2, fake device on USB 2", root=_with_sysfs_device(pi, 480))
    runtime = report["facts"]["runtime"]
    _runtime_identified(runtime)
    assert runtime["open"]["ok"] is True, runtime["open"]
    assert finding(report, "runtime.open")["status"] == "pass"
    assert finding(report, "device.present")["status"] == "pass"
    assert finding(report, "device.usb")["status"] == "pass"  # the runtime opened it: not "inaccessible"
    link = finding(report, "device.usb-link")
    assert link["status"] == "warn" and link["causes"] == ["usb2-link"], link
    assert "no-device" not in _causes(report)


def test_a_usb2_port_refused_by_the_runtime_is_usb2_link(pi):
    """USB_FAIL_IF_SLOWER_THAN_SUPERSPEED=1 (the runtime's own switch): the runtime refuses the USB 2 link with its
    own words, and the report names usb2-link."""
    report = _check(
        pi,
        "usb2",
        "aarch64 real runtime eel2, fake device on USB 2, superspeed required",
        USB_FAIL_IF_SLOWER_THAN_SUPERSPEED=1,
    )
    runtime = report["facts"]["runtime"]
    _runtime_identified(runtime)
    assert runtime["open"]["ok"] is False
    assert "Failed precondition: Connection speed is too slow, fail." in runtime["open"]["reason"]
    failure = finding(report, "runtime.open")
    assert failure["status"] == "fail" and failure["causes"] == ["usb2-link"], failure
    assert "usb2-link" in _causes(report)
    assert "no-device" not in _causes(report)
