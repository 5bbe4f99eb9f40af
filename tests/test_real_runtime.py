"""Google's REAL prebuilt Edge TPU runtimes (../shared/runtimes) loaded by the runtime worker, each scenario in a
child process, against a fake USB Accelerator: tests/fake_libusb.c built as libusb-1.0.so.0 (first on
LD_LIBRARY_PATH) and tests/fast_sleep.c preloaded so that the runtime's one-second retries take a millisecond.

What is checked: the real runtime is identified when loaded (release, RuntimeVersion, flavour); a runtime that
will not load is runtime-broken with the real reason; and for each device state the runtime's own reason
(printed at edgetpu_verbosity(1)) reaches the facts and the matrix names its cause, with the device section
never contradicting what the runtime saw. Slow tier (`python3 -m pytest -m runtime_tier`)."""

import ctypes.util
import os
import subprocess
from pathlib import Path

import helpers_fakeusb
import pytest
from helpers_hw import by_id, host_context

from edgedoctor.checks import device as device_check
from edgedoctor.checks import runtime as runtime_check
from edgedoctor.probes import runtime

pytestmark = pytest.mark.runtime_tier

HERE = Path(__file__).resolve().parent
RUNTIMES = HERE.parent.parent / "shared" / "runtimes"
EEL2 = RUNTIMES / "linux-x86_64" / "eel2" / "max" / "libedgetpu.so.1.0"
X86 = {"diploria2": 12, "diploria3": 13, "eel2": 13}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    reason = helpers_fakeusb.skip_reason()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("fakeusb")
    return dict(helpers_fakeusb.build(folder), folder=folder)


def runtime_dir(built, rel, name="libedgetpu.so.1"):
    """A folder holding a symlink NAME -> the real runtime file REL (nothing is copied)."""
    folder = built["folder"] / rel.replace("/", "_")
    folder.mkdir(exist_ok=True)
    link = folder / name
    if not link.exists():
        link.symlink_to(RUNTIMES / rel)
    return folder


def env_for(built, scenario="ok", rel="linux-x86_64/eel2/max/libedgetpu.so.1.0", libusb=True, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "LD_"))}
    path = [str(runtime_dir(built, rel))] + ([str(built["libusb"])] if libusb else [])
    env.update(
        LD_LIBRARY_PATH=":".join(path),
        LD_PRELOAD=str(built["shim"]),
        FAKE_USB_SCENARIO=scenario,
        FAKE_USB_LOG=str(built["folder"] / f"{scenario}.log"),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def probe(env, timeout=60.0):
    facts = runtime.read(host_context(env, timeout=timeout))
    assert facts["worker"] is None, facts["worker"]
    return facts


def judged(facts, usb=None, **platform):
    full = {
        "platform": dict({"os": "linux", "arch": "x86_64"}, **platform),
        "runtime": facts,
        "usb": usb if usb is not None else {"devices": [], "dev_bus_usb": True},
        "pcie": {"devices": []},
    }
    return device_check.check(full) + runtime_check.check(full)


# --- identification when loaded -------------------------------------------------------------------------------


@pytest.mark.parametrize("release", sorted(X86))
@pytest.mark.parametrize("flavor", ["max", "std"])
def test_real_x86_runtime_loads_and_is_identified(built, release, flavor):
    facts = probe(env_for(built, "none", rel=f"linux-x86_64/{release}/{flavor}/libedgetpu.so.1.0"))
    assert facts["loaded"] is True and facts["runtime_version"] == X86[release]
    assert facts["version"].startswith("BuildLabel(COMPILER=5.4.0 20160609")
    assert (facts["release"], facts["flavor"]) == (release, flavor)
    assert facts["devices"] == []
    assert facts["open"]["ok"] is False
    assert facts["open"]["reason"] == "Failed allocating Edge TPU device for shared ownership."


# --- a runtime that will not load -------------------------------------------------------------------------------


def test_without_libusb_it_is_runtime_broken(built):
    if ctypes.util.find_library("usb-1.0"):
        pytest.skip("this machine has a system libusb-1.0, which the loader would find")
    facts = probe(env_for(built, libusb=False))
    assert facts["found"] is True and facts["loaded"] is False
    assert "libusb-1.0.so.0: cannot open shared object file" in facts["load_error"]
    assert facts["release"] == "eel2"  # from its bytes, although it did not load
    failure = by_id(judged(facts), "runtime.load")
    assert failure.causes == ["runtime-broken"] and failure.remedy == "sudo apt-get install libusb-1.0-0"
    assert by_id(judged(facts), "runtime.found").status == "pass"


def test_another_architecture_is_runtime_broken(built):
    facts = probe(env_for(built, rel="linux-aarch64/eel2/max/libedgetpu.so.1.0"))
    assert facts["loaded"] is False and facts["binary"]["arch"] == "aarch64"
    assert (facts["release"], facts["runtime_version"], facts["flavor"]) == ("eel2", 13, "max")
    failure = by_id(judged(facts), "runtime.load")
    assert failure.causes == ["runtime-broken"]
    assert "built for aarch64, this machine is x86_64" in failure.detail


# --- the runtime's own reasons ----------------------------------------------------------------------------------

REASONS = [
    # scenario, extra env, the runtime's reason (substring), cause
    ("denied", {}, "Permission denied: USB error -3 [OpenDevice]", "usb-permissions"),
    ("busy-open", {}, "Deadline exceeded: USB error -6 [OpenDevice]", "device-busy"),
    ("busy-claim", {}, "Deadline exceeded: USB error -6 [ClaimInterface]", "device-busy"),
    (
        "usb2",
        {"USB_FAIL_IF_SLOWER_THAN_SUPERSPEED": 1},
        "Failed precondition: Connection speed is too slow, fail.",
        "usb2-link",
    ),
    ("low", {}, "USB Low speed is not supported", "usb2-link"),
    ("stuck-bootloader", {}, "Unknown: USB error -9 [ReadRegister32]", "usb-firmware-state"),
    ("no-reenumerate", {}, "Not found: OpenDevice", "usb-firmware-state"),
    ("bad-readback", {}, "Data loss: ValidateFirmware", "usb-firmware-state"),
    ("timeout", {}, "Deadline exceeded: USB error -7 [GetDeviceDescriptor]", "usb-power"),
    ("io", {}, "Unknown: USB error -1 [GetDeviceDescriptor]", "usb-power"),
    ("unplug", {}, "Unavailable: USB error -4 [GetDeviceDescriptor]", "usb-power"),
]


@pytest.mark.parametrize("scenario, extra, reason, cause", REASONS, ids=[r[0] for r in REASONS])
def test_the_runtime_says_why_and_the_matrix_names_the_cause(built, scenario, extra, reason, cause):
    facts = probe(env_for(built, scenario, **extra))
    assert facts["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"}]
    opened = facts["open"]
    assert opened["ok"] is False
    assert opened["reason"].startswith("Failed to open device [Apex (USB)] at [/sys/bus/usb/devices/2-1]: ")
    assert reason in opened["reason"]
    failure = by_id(judged(facts), "runtime.open")
    assert failure.status == "fail" and failure.causes == [cause], (failure.causes, opened["reason"])
    assert reason in failure.detail


def test_a_device_that_never_comes_back_is_named_from_the_earlier_line(built):
    facts = probe(env_for(built, "no-reenumerate"))
    assert "Could not find device on bus 2 and port 1." in facts["open"]["stderr"]
    log = (built["folder"] / "no-reenumerate.log").read_text()
    assert "dfu downloaded 10783 bytes" in log and "-> gone" in log


@pytest.mark.parametrize("scenario, extra", [("ok", {}), ("usb2", {}), ("bootloader", {})])
def test_the_runtime_opens_a_working_device(built, scenario, extra):
    facts = probe(env_for(built, scenario, **extra))
    assert facts["open"]["ok"] is True, facts["open"]
    assert by_id(judged(facts), "runtime.open").status == "pass"
    if scenario == "bootloader":
        log = (built["folder"] / "bootloader.log").read_text()
        assert "dfu downloaded 10783 bytes" in log  # the runtime's built-in firmware, flashed by DFU
        assert "(1a6e:089a -> 18d1:9302)" in log  # reset, re-enumerated as the runtime device


def test_a_hub_port_chain_is_the_runtime_path(built):
    facts = probe(env_for(built, "ok", FAKE_USB_PORTS="1.4.2", FAKE_USB_BUS=3))
    assert facts["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/3-1.4.2"}]
    assert facts["open"]["ok"] is True


def test_an_open_that_never_returns_still_gives_version_and_list(built):
    facts = probe(env_for(built, "hang-open"), timeout=5.0)
    assert facts["loaded"] is True and facts["release"] == "eel2"
    assert facts["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"}]
    assert facts["open"]["ok"] is False and facts["open"]["status"] == "timeout"
    failure = by_id(judged(facts), "runtime.open")
    assert failure.status == "fail" and failure.causes == ["usb-power"]


def test_no_device_is_left_to_the_device_section(built):
    facts = probe(env_for(built, "none"))
    findings = judged(facts)
    assert not [f for f in findings if f.id == "runtime.open"]
    assert by_id(findings, "device.present").causes == ["no-device"]


# --- the device section never contradicts the runtime -----------------------------------------------------------


def test_a_listed_device_is_present_even_when_the_container_listing_shows_none(built):
    """The issue's report: 'The runtime sees 1 Edge TPU' beside 'No Edge TPU is visible inside this container'."""
    facts = probe(env_for(built, "denied"))
    findings = judged(facts, usb={"devices": [], "dev_bus_usb": False}, in_container=True)
    present = by_id(findings, "device.present")
    assert present.status == "pass" and "found by the runtime" in present.title
    assert by_id(findings, "runtime.devices").status == "pass"
    assert by_id(findings, "runtime.open").causes == ["usb-permissions"]


def test_permission_denied_by_the_runtime_is_the_device_sections_verdict_too(built):
    facts = probe(env_for(built, "denied"))
    usb = {
        "devices": [
            {
                "vendor_id": "18d1",
                "product_id": "9302",
                "state": "runtime",
                "bus": 2,
                "port": "1",
                "speed_mbps": 5000,
                "accessible": None,
                "dev_node": "/dev/bus/usb/002/003",
            }
        ],
        "dev_bus_usb": True,
        "udev_rules": [],
        "user_groups": ["users"],
        "user": "me",
    }
    access = by_id(judged(facts, usb=usb), "device.usb")
    assert access.status == "fail" and access.causes == ["usb-permissions"]
    assert "USB error -3 [OpenDevice]" in access.detail and "plugdev" in access.remedy


def test_a_device_the_runtime_opened_is_not_called_inaccessible(built):
    facts = probe(env_for(built, "ok"))
    usb = {
        "devices": [
            {
                "vendor_id": "18d1",
                "product_id": "9302",
                "state": "runtime",
                "bus": 2,
                "port": "1",
                "speed_mbps": 5000,
                "accessible": False,
                "dev_node": "/dev/bus/usb/002/003",
            }
        ],
        "dev_bus_usb": True,
    }
    assert by_id(judged(facts, usb=usb), "device.usb").status == "pass"


# --- the stand-in's runtime-side texts, checked against the real runtime ---------------------------------------


def test_the_stand_ins_apex_message_is_what_the_real_runtime_prints(built):
    """tests/fake_libedgetpu.c prints the runtime's 'no /sys/class/apex' line; the real one prints the same."""
    import re

    stand_in = re.search(
        r'fprintf\(stderr, "(I :31\] Failed to open /sys/class/apex[^"\\]*)', (HERE / "fake_libedgetpu.c").read_text()
    ).group(1)
    script = (
        "import ctypes; lib = ctypes.CDLL('libedgetpu.so.1'); lib.edgetpu_verbosity(10); "
        "lib.edgetpu_create_delegate.restype = ctypes.c_void_p; "
        "lib.edgetpu_create_delegate.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]; "
        "lib.edgetpu_create_delegate(1, None, None, 0)"
    )
    proc = subprocess.run(
        ["python3", "-c", script], env=env_for(built, "none"), capture_output=True, text=True, timeout=60
    )
    assert stand_in in proc.stderr, proc.stderr[-2000:]
    assert "Failed allocating Edge TPU device for shared ownership." in proc.stderr
