"""The USB reader: sysfs, pyusb (with a fake backend), the merge of both, macOS system_profiler, Windows PnP,
udev rules, and the missing-libusb fact."""

import json

import pytest
from helpers_hw import (
    SPEED_HIGH,
    SPEED_LOW,
    SPEED_SUPER,
    SPEED_SUPER_PLUS,
    FakeUsbDevice,
    fake_backend,
    make_root,
    root,
    root_context,
)

from edgedoctor.probes import usb as usb_probe

CORAL_RUNTIME = (0x18D1, 0x9302)
CORAL_BOOT = (0x1A6E, 0x089A)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5000\n", 5000),
        ("480", 480),
        ("1.5", 1.5),
        ("12", 12),
        ("10000", 10000),
        ("Up to 5 Gb/s", 5000),
        ("Up to 480 Mb/sec", 480),
        ("super_speed", 5000),
        ("high_speed", 480),
        ("super_speed_plus", 10000),
        ("", None),
        (None, None),
        ("fast", None),
    ],
)
def test_parse_speed(text, expected):
    assert usb_probe.parse_speed(text) == expected


def test_coral_ids_and_states():
    assert usb_probe.coral_state("1a6e", "089a") == "bootloader"
    assert usb_probe.coral_state("18D1", "9302") == "runtime"
    assert usb_probe.coral_state("18d1", "4ee7") is None  # an Android phone, same vendor
    assert usb_probe._hex4("0x18d1  (Google Inc.)") == "18d1"
    assert usb_probe._hex4(0x1A6E) == "1a6e"
    assert usb_probe.dev_node(2, 3) == "/dev/bus/usb/002/003"


def test_sysfs_runtime_device_usb3():
    facts = usb_probe.read(root_context(root("usb3-runtime")))
    assert facts["error"] is None and facts["sysfs"] is True
    [dev] = facts["devices"]
    assert dev["vendor_id"] == "18d1" and dev["product_id"] == "9302" and dev["state"] == "runtime"
    assert (dev["bus"], dev["address"], dev["port"], dev["speed_mbps"]) == (2, 3, "1", 5000)
    assert dev["dev_node"] == "/dev/bus/usb/002/003" and dev["accessible"] is True
    assert dev["sysfs_path"] == "/sys/bus/usb/devices/2-1" and dev["source"] == "sysfs"
    assert facts["udev_rules"] == ["/lib/udev/rules.d/60-libedgetpu1-std.rules"]
    assert "plugdev" in facts["user_groups"] and facts["user"] == "alice"
    assert facts["backend"] == {"available": True, "name": "libusb1", "error": None}  # recorded


def test_sysfs_bootloader_and_usb2_behind_a_hub():
    [boot] = usb_probe.read(root_context(root("usb3-bootloader")))["devices"]
    assert (boot["vendor_id"], boot["product_id"], boot["state"]) == ("1a6e", "089a", "bootloader")
    facts = usb_probe.read(root_context(root("usb2-runtime")))
    [dev] = facts["devices"]  # the Pi 3's hub and Ethernet are not Edge TPUs
    assert dev["port"] == "1.2" and dev["speed_mbps"] == 480 and dev["state"] == "runtime"


def test_not_accessible_with_and_without_udev_rule():
    no_rule = usb_probe.read(root_context(root("usb-no-permission")))
    assert no_rule["devices"][0]["accessible"] is False
    assert no_rule["udev_rules"] == []
    assert "plugdev" not in no_rule["user_groups"]
    with_rule = usb_probe.read(root_context(root("usb-no-permission-rule")))
    assert with_rule["devices"][0]["accessible"] is False
    assert with_rule["udev_rules"] == ["/lib/udev/rules.d/60-libedgetpu1-std.rules"]


def test_container_has_sysfs_but_no_dev_bus_usb():
    facts = usb_probe.read(root_context(root("container-no-device")))
    [dev] = facts["devices"]
    assert facts["dev_bus_usb"] is False
    assert dev["dev_node_exists"] is False and dev["accessible"] is False


def test_no_device_and_missing_libusb_is_a_fact():
    facts = usb_probe.read(root_context(root("no-device")))
    assert facts["devices"] == [] and facts["error"] is None
    assert facts["backend"]["available"] is False
    assert facts["backend"]["error"].startswith("NoBackendError")


def test_fixture_root_without_recorded_backend_does_not_ask_this_machine(tmp_path):
    path = make_root(tmp_path, "usb3-runtime", files={".edgedoctor/usb_backend.json": None})
    facts = usb_probe.read(root_context(path))
    assert facts["backend"]["available"] is None and "not examined" in facts["backend"]["error"]


def test_no_sysfs_at_all_is_reported(tmp_path):
    path = make_root(tmp_path, "usb3-runtime", files={"sys": None})
    facts = usb_probe.read(root_context(path))
    assert facts["devices"] == [] and facts["sysfs"] is False
    assert "/sys/bus/usb/devices does not exist" in facts["error"]


# --- pyusb through a fake backend ------------------------------------------------------------------------------


def test_fake_backend_both_ids_and_speeds(tmp_path):
    backend = fake_backend(
        [
            FakeUsbDevice(*CORAL_RUNTIME, bus=3, address=7, speed=SPEED_SUPER, port_numbers=(2,)),
            FakeUsbDevice(*CORAL_BOOT, bus=1, address=9, speed=SPEED_HIGH, port_numbers=(1, 4)),
            FakeUsbDevice(0x046D, 0xC31C, bus=1, address=2, speed=SPEED_LOW),
            FakeUsbDevice(*CORAL_RUNTIME, bus=4, address=2, speed=SPEED_SUPER_PLUS),
        ]
    )
    path = make_root(tmp_path, files={".edgedoctor/platform": "linux\n"})  # no sysfs: pyusb only
    devices, info = usb_probe.read_pyusb(root_context(path, usb_backend=backend).system)
    assert info["available"] is True and info["error"] is None
    by_bus = {d["bus"]: d for d in devices}
    assert set(by_bus) == {3, 1, 4}
    assert by_bus[3]["state"] == "runtime" and by_bus[3]["speed_mbps"] == 5000 and by_bus[3]["port"] == "2"
    assert by_bus[1]["state"] == "bootloader" and by_bus[1]["speed_mbps"] == 480 and by_bus[1]["port"] == "1.4"
    assert by_bus[4]["speed_mbps"] == 10000
    assert all(d["source"] == "pyusb" for d in devices)


def test_sysfs_and_pyusb_merge_into_one_device():
    backend = fake_backend([FakeUsbDevice(*CORAL_RUNTIME, bus=2, address=3, speed=SPEED_SUPER)])
    facts = usb_probe.read(root_context(root("usb3-runtime"), usb_backend=backend))
    [dev] = facts["devices"]
    assert dev["source"] == "both" and dev["speed_mbps"] == 5000 and dev["accessible"] is True
    assert facts["backend"]["available"] is True


def test_pyusb_sees_a_device_sysfs_does_not():
    backend = fake_backend([FakeUsbDevice(*CORAL_BOOT, bus=1, address=9, speed=SPEED_HIGH)])
    facts = usb_probe.read(root_context(root("usb3-runtime"), usb_backend=backend))
    sources = sorted(d["source"] for d in facts["devices"])
    assert sources == ["pyusb", "sysfs"]
    extra = next(d for d in facts["devices"] if d["source"] == "pyusb")
    assert extra["dev_node"] == "/dev/bus/usb/001/009" and extra["accessible"] is False  # no such node


def test_backend_that_fails_is_a_fact_not_a_crash():
    import usb.core

    backend = fake_backend(error=usb.core.USBError("LIBUSB_ERROR_IO"))
    facts = usb_probe.read(root_context(root("usb3-runtime"), usb_backend=backend))
    assert facts["backend"]["available"] is False and "USBError" in facts["backend"]["error"]
    assert len(facts["devices"]) == 1  # sysfs still answers


def test_no_libusb_on_the_host_gives_no_backend_error(monkeypatch):
    """What pyusb does on a machine without libusb (this one): NoBackendError, reported as data."""
    import usb.backend.libusb0
    import usb.backend.libusb1
    import usb.backend.openusb

    from edgedoctor.machine.system import System

    for module in (usb.backend.libusb1, usb.backend.libusb0, usb.backend.openusb):
        monkeypatch.setattr(module, "get_backend", lambda *a, **k: None)
    devices, info = usb_probe.read_pyusb(System(env={}))
    assert devices == []
    assert info["available"] is False
    assert info["error"] == "NoBackendError: No backend available"


# --- macOS ---------------------------------------------------------------------------------------------------------


def test_darwin_system_profiler_json_from_root():
    facts = usb_probe.read(root_context(root("darwin-usb3")))
    [dev] = facts["devices"]
    assert dev["source"] == "system_profiler" and dev["state"] == "runtime"
    assert dev["speed_mbps"] == 5000 and dev["bus"] == 1 and dev["port"] == "1.2" and dev["address"] == 3
    assert facts["udev_rules"] == []


def test_system_profiler_host_data_type_and_text():
    host_json = json.dumps(
        {
            "SPUSBHostDataType": [
                {
                    "_name": "USB 3.1 Bus",
                    "USBKeyLocationID": "0x02000000",
                    "_items": [
                        {
                            "_name": "USB Accelerator",
                            "USBDeviceKeyVendorID": "0x1a6e",
                            "USBDeviceKeyProductID": "0x089a",
                            "USBDeviceKeyLinkSpeed": "480 Mb/s",
                            "USBKeyLocationID": "0x02100000",
                        }
                    ],
                }
            ]
        }
    )
    [dev] = usb_probe.parse_system_profiler_json(host_json)
    assert (dev["state"], dev["speed_mbps"], dev["bus"], dev["port"]) == ("bootloader", 480, 2, "1")
    text = """USB:

    USB 3.1 Bus:

      Host Controller Driver: AppleT8112USBXHCI

        USB Accelerator:

          Product ID: 0x9302
          Vendor ID: 0x18d1  (Google Inc.)
          Version: 1.00
          Speed: Up to 5 Gb/s
          Location ID: 0x01100000 / 2
          Current Available (mA): 900
"""
    [dev] = usb_probe.parse_system_profiler_text(text)
    assert (dev["vendor_id"], dev["speed_mbps"], dev["address"], dev["product"]) == ("18d1", 5000, 2, "USB Accelerator")


def test_darwin_empty_profiler_falls_back_to_host_data_type(tmp_path):
    empty = json.dumps({"SPUSBDataType": []})
    host = json.dumps(
        {
            "SPUSBHostDataType": [
                {
                    "_name": "x",
                    "USBDeviceKeyVendorID": "0x18d1",
                    "USBDeviceKeyProductID": "0x9302",
                    "USBDeviceKeyLinkSpeed": "5 Gb/s",
                }
            ]
        }
    )
    path = make_root(
        tmp_path,
        "darwin-usb3",
        commands={
            ("system_profiler", "SPUSBDataType", "-json"): empty,
            ("system_profiler", "SPUSBHostDataType", "-json"): host,
        },
    )
    [dev] = usb_probe.read(root_context(path))["devices"]
    assert dev["speed_mbps"] == 5000


# --- Windows -------------------------------------------------------------------------------------------------------


def test_windows_pnputil_from_root():
    facts = usb_probe.read(root_context(root("windows-usb")))
    [dev] = facts["devices"]
    assert dev["source"] == "pnp" and dev["state"] == "runtime" and dev["pnp_status"] == "Started"
    assert dev["instance_id"].startswith("USB\\VID_18D1&PID_9302")


def test_windows_powershell_fallback_and_problem(tmp_path):
    ps = json.dumps(
        [
            {
                "InstanceId": "USB\\VID_1A6E&PID_089A\\5&1&0&3",
                "FriendlyName": "USB Accelerator",
                "Status": "Error",
                "Problem": "CM_PROB_FAILED_INSTALL",
            }
        ]
    )
    path = make_root(
        tmp_path,
        "windows-usb",
        commands={("pnputil", "/enum-devices", "/connected"): None, tuple(usb_probe.PNP_POWERSHELL): ps},
    )
    [dev] = usb_probe.read(root_context(path))["devices"]
    assert (
        dev["state"] == "bootloader" and dev["pnp_status"] == "Error" and dev["pnp_problem"] == "CM_PROB_FAILED_INSTALL"
    )


def test_windows_without_any_pnp_tool_reports_why(tmp_path):
    path = make_root(tmp_path, "windows-usb", commands={("pnputil", "/enum-devices", "/connected"): None})
    facts = usb_probe.read(root_context(path))
    assert facts["devices"] == [] and "pnputil" in facts["error"] and "Get-PnpDevice" in facts["error"]


def test_pnp_ids():
    assert usb_probe.pnp_ids("USB\\VID_18D1&PID_9302\\6&1F2D3C4B&0&2") == ("usb", "18d1", "9302")
    assert usb_probe.pnp_ids("PCI\\VEN_1AC1&DEV_089A&SUBSYS_089A1AC1&REV_00\\4&1&0&00E0") == ("pci", "1ac1", "089a")
    assert usb_probe.pnp_ids("ACPI\\PNP0303\\4&1") == (None, None, None)


# --- udev rules ------------------------------------------------------------------------------------------------------


def test_udev_rules_match_coral_ids_and_ignore_comments(tmp_path):
    path = make_root(
        tmp_path,
        "usb3-runtime",
        files={
            "/etc/udev/rules.d/99-edgetpu-accelerator.rules": 'SUBSYSTEM=="usb",ATTRS{idVendor}=="1a6e",GROUP="plugdev"\n',
            "/etc/udev/rules.d/10-commented.rules": '# SUBSYSTEM=="usb",ATTRS{idVendor}=="18d1",GROUP="plugdev"\n',
            "/etc/udev/rules.d/70-other.rules": 'SUBSYSTEM=="usb",ATTRS{idVendor}=="046d",MODE="0666"\n',
        },
    )
    rules = usb_probe.read(root_context(path))["udev_rules"]
    assert rules == ["/etc/udev/rules.d/99-edgetpu-accelerator.rules", "/lib/udev/rules.d/60-libedgetpu1-std.rules"]
