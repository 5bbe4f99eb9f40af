"""Remedies that fit a Raspberry Pi, as pure checks of Facts. Each fact they rest on was measured on the emulated
Pi userlands of the pi tier (tests/test_pi_tier.py): Bookworm's python3 is externally managed (PEP 668); PyPI has
tflite-runtime 2.14.0 for armv7l but no armv7l numpy, and Debian's python3-numpy with that wheel runs the model;
on Bullseye's glibc 2.31 pip takes tflite-runtime 2.13.0; a Bookworm python3.11 on Bullseye fails in the loader."""

from __future__ import annotations

import pytest

from edgedoctor.checks import device as check_device
from edgedoctor.checks import python_env as check_python_env
from edgedoctor.checks import runtime as check_runtime


def python_facts(
    machine="aarch64",
    bits=64,
    glibc="2.36",
    board="raspberry-pi-5",
    managed=True,
    tflite=False,
    numpy=False,
    distro="debian",
    version="3.11.2",
):
    env = {
        "python": {
            "version": version,
            "executable": "/usr/bin/python3.11",
            "machine": machine,
            "bits": bits,
            "in_venv": False,
            "externally_managed": managed,
            "has_pip": False,
        },
        "tflite": {
            "module": "tflite_runtime" if tflite else None,
            "version": "2.14.0" if tflite else None,
            "candidates": {},
        },
        "numpy": {"found": numpy, "version": "1.24.2" if numpy else None},
        "smoke": None,
        "pycoral": {"identity": "absent"},
    }
    platform = {
        "os": "linux",
        "arch": machine,
        "libc": "glibc",
        "libc_version": glibc,
        "distro": distro,
        "board": board,
        "python_executable": "/usr/bin/python3.11",
    }
    return {"python_env": env, "platform": platform}


def findings_of(facts):
    return {f.id: f for f in check_python_env.check(facts)}


def test_pep668_system_python_gets_a_venv_not_a_refused_pip_install():
    remedy = findings_of(python_facts())["python.tflite"].remedy
    assert "/usr/bin/python3.11 -m venv ~/coral-venv\n" in remedy
    assert remedy.endswith('~/coral-venv/bin/python -m pip install tflite-runtime "numpy<2"')
    plain = findings_of(python_facts(managed=False))["python.tflite"].remedy
    assert plain == '/usr/bin/python3.11 -m pip install tflite-runtime "numpy<2"'


@pytest.mark.parametrize("machine", ["armv7l", "aarch64"])  # aarch64: Pi OS 32-bit on the 64-bit kernel
def test_32_bit_arm_takes_debians_numpy_or_goes_64_bit(machine):
    findings = findings_of(python_facts(machine=machine, bits=32, board="raspberry-pi-4"))
    remedy = findings["python.tflite"].remedy
    assert "sudo apt-get install python3-numpy python3-venv\n" in remedy
    assert "python3 -m venv --system-site-packages ~/coral-venv\n" in remedy
    assert "~/coral-venv/bin/python -m pip install tflite-runtime\n" in remedy
    assert "Raspberry Pi OS 64-bit" in remedy
    assert findings["python.numpy"].remedy == remedy
    assert "no numpy wheel for 32-bit ARM" in findings["python.numpy"].detail


def test_a_pi_2_is_not_told_to_go_64_bit():
    remedy = findings_of(python_facts(machine="armv7l", bits=32, board="raspberry-pi-2"))["python.tflite"].remedy
    assert "64-bit" not in remedy and "apt-get install python3-numpy" in remedy
    older = findings_of(python_facts(machine="armv7l", bits=32, board="raspberry-pi-2", glibc="2.31", version="3.9.2"))[
        "python.tflite"
    ].remedy
    assert "upgrade to Raspberry Pi OS Bookworm" in older and "64-bit" not in older


@pytest.mark.parametrize(
    "board,machine", [("raspberry-pi-zero-w", "armv6l"), ("raspberry-pi-1", "armv6l"), (None, "armv6l")]
)
def test_armv6_boards_are_told_nothing_runs_there(board, machine):
    remedy = findings_of(python_facts(machine=machine, bits=32, board=board))["python.tflite"].remedy
    assert "ARMv6" in remedy and "pip install tflite-runtime\n" not in remedy
    assert "Zero 2 W" in remedy


def test_a_zero_2_w_is_64_bit_capable():
    remedy = findings_of(python_facts(machine="armv7l", bits=32, board="raspberry-pi-zero-2-w"))["python.tflite"].remedy
    assert "Raspberry Pi OS 64-bit (this board runs it)" in remedy


def test_32_bit_arm_before_bookworm_is_told_64_bit():
    """glibc 2.31 (Bullseye): 2.14.0's armv7l wheel is not installable there and Bullseye's numpy 1.19.5 is
    older than 2.13.0 asks for (numpy>=1.21.2)."""
    remedy = findings_of(
        python_facts(machine="armv7l", bits=32, glibc="2.31", board="raspberry-pi-4", version="3.9.2")
    )["python.tflite"].remedy
    assert "install Raspberry Pi OS 64-bit" in remedy and "python3-numpy" not in remedy


def test_64_bit_arm_keeps_the_pypi_stack():
    remedy = findings_of(python_facts(managed=False, machine="aarch64", bits=64))["python.tflite"].remedy
    assert remedy.endswith('pip install tflite-runtime "numpy<2"')


LOADER = (
    "/opt/venv/bin/python3.11: /lib/aarch64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
    "(required by /opt/venv/bin/python3.11)"
)


def test_an_interpreter_the_loader_refuses_is_glibc_too_old():
    facts = {
        "python_env": {
            "python": None,
            "error": f"the worker exited with code 1; stdout: (nothing); {LOADER}",
            "worker": {"status": "crashed", "crashes": [{"stderr": LOADER}]},
            "python_executable_requested": "/opt/venv/bin/python3.11",
        },
        "platform": {"os": "linux", "arch": "aarch64", "libc": "glibc", "libc_version": "2.31", "distro": "debian"},
        "runtime": {"found": False, "worker": {"status": "crashed", "stage": None, "returncode": 1, "stderr": LOADER}},
    }
    interpreter = findings_of(facts)["python.interpreter"]
    assert interpreter.causes == ["glibc-too-old"]
    assert LOADER in interpreter.detail and "GLIBC_2.34 (this system has glibc 2.31)" in interpreter.detail
    assert "python3 -m venv ~/coral-venv" in interpreter.remedy
    load = [f for f in check_runtime.check(facts) if f.id == "runtime.load"]
    assert not load or load[0].status == "skip"


def test_an_interpreter_that_fails_otherwise_keeps_no_cause():
    facts = {
        "python_env": {
            "python": None,
            "error": "cannot run /x/python: Exec format error",
            "worker": {"status": "not-started"},
        },
        "platform": {"os": "linux"},
    }
    assert findings_of(facts)["python.interpreter"].causes == []


@pytest.mark.parametrize(
    "kernel,headers",
    [
        ("6.1.21-v8+", "raspberrypi-kernel-headers"),  # Pi OS Bullseye: the raspberrypi-kernel package
        ("6.6.31+rpt-rpi-2712", "linux-headers-$(uname -r)"),  # Pi OS Bookworm: Debian-style kernel packages
    ],
)
def test_gasket_from_source_names_the_pi_os_headers_package(kernel, headers):
    facts = {
        "platform": {"os": "linux", "board": "raspberry-pi-4", "kernel": kernel},
        "pcie": {
            "kernel": kernel,
            "dkms": {"entries": [{"module": "gasket", "version": "1.0", "kernel": kernel, "state": "added"}]},
        },
    }
    remedy = check_device._gasket_from_source(facts, facts["pcie"])
    assert f"dkms {headers}\n" in remedy
    pc = {"platform": {"os": "linux", "board": None, "kernel": "6.1.21-v8+"}, "pcie": {}}
    assert "linux-headers-$(uname -r)" in check_device._gasket_from_source(pc, {})
