"""Each machine state in tests/fixtures/roots, from files to facts to findings: the facts the readers give and
the causes the device and runtime checks name. Then variations of those roots for the judgements the static
trees do not cover."""

import json

import pytest
from helpers_hw import assert_actionable, by_id, causes_of, findings_for, ids, make_root, read_facts, root, root_names

from edgedoctor.checks import device as device_check
from edgedoctor.checks import runtime as runtime_check

# root -> ({finding id: status}, causes of warn/fail findings, causes of info findings)
EXPECTED = {
    "usb3-runtime": (
        {
            "device.present": "pass",
            "device.usb": "pass",
            "device.usb-link": "pass",
            "runtime.found": "pass",
            "runtime.version": "pass",
            "runtime.devices": "pass",
        },
        set(),
        set(),
    ),
    "usb3-bootloader": (
        {"device.usb": "pass", "device.usb-state": "info", "runtime.devices": "pass"},
        set(),
        {"usb-firmware-state"},
    ),
    "usb2-runtime": ({"device.usb-link": "warn", "runtime.flavor": "info"}, {"usb2-link"}, {"thermal"}),
    "no-device": (
        {"device.present": "fail", "device.usb-backend": "info", "runtime.found": "fail"},
        {"no-device", "runtime-missing"},
        set(),
    ),
    "usb-no-permission": (
        {"device.usb": "fail", "device.usb-link": "pass", "runtime.version": "pass"},
        {"usb-permissions"},
        set(),
    ),
    "usb-no-permission-rule": ({"device.usb": "fail"}, {"usb-permissions"}, set()),
    "pcie-ok": ({"device.present": "pass", "device.pcie": "pass", "runtime.devices": "pass"}, set(), set()),
    "pcie-no-driver": ({"device.pcie": "fail"}, {"pcie-driver-missing"}, set()),
    "pcie-no-apex-node": ({"device.pcie": "pass", "device.apex-node": "fail"}, {"pcie-driver-missing"}, set()),
    "pcie-hung-temp": ({"device.pcie": "pass", "device.pcie-health": "fail"}, {"hardware-fault"}, set()),
    "container-no-device": ({"device.usb": "fail"}, {"container-device"}, set()),
    "pi5-16k-pages": ({"device.pcie": "pass", "device.pcie-host": "fail"}, {"pcie-host-unsupported"}, set()),
    "pcie-no-msix": ({"device.pcie-host": "fail"}, {"pcie-host-unsupported"}, set()),
    "secure-boot-on": ({"device.pcie": "fail"}, {"secure-boot"}, set()),
    "dkms-build-failed": ({"device.pcie": "fail"}, {"pcie-driver-build"}, set()),
    "darwin-usb3": ({"device.usb": "pass", "device.usb-link": "pass", "runtime.found": "pass"}, set(), set()),
    "windows-usb": (
        {"device.usb": "pass", "runtime.version": "pass", "runtime.windows": "warn"},
        {"windows-runtime"},
        set(),
    ),
}


def test_every_root_has_expectations():
    assert set(root_names()) == set(EXPECTED)
    assert len(EXPECTED) >= 13


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_root_findings(name):
    statuses, bad_causes, info_causes = EXPECTED[name]
    facts = read_facts(name)
    for section in ("usb", "pcie", "runtime"):
        assert facts[section]["error"] is None, (section, facts[section]["error"])
    findings = findings_for(facts)
    for finding_id, status in statuses.items():
        assert by_id(findings, finding_id).status == status, (finding_id, by_id(findings, finding_id))
    assert causes_of(findings) == bad_causes
    assert causes_of(findings, ("info",)) == info_causes
    assert_actionable(findings)
    json.dumps([f.to_dict() for f in findings])


# --- facts per root (the parts the checks lean on) -----------------------------------------------------------------


def test_usb3_runtime_facts():
    facts = read_facts("usb3-runtime")
    [dev] = facts["usb"]["devices"]
    assert (dev["vendor_id"], dev["product_id"], dev["state"], dev["speed_mbps"], dev["accessible"]) == (
        "18d1",
        "9302",
        "runtime",
        5000,
        True,
    )
    runtime = facts["runtime"]
    assert (runtime["runtime_version"], runtime["release"], runtime["flavor"], runtime["package"]) == (
        14,
        "grouper",
        "std",
        "libedgetpu1-std",
    )
    assert facts["pcie"]["devices"] == []


def test_usb2_link_quotes_the_published_slowdown():
    findings = findings_for(read_facts("usb2-runtime"))
    link = by_id(findings, "device.usb-link")
    assert "480 Mbit/s" in link.detail and "9 ms" in link.detail and "2.4" in link.detail
    assert "edgetpu/issues/151" in link.detail
    assert "USB 3 port" in link.remedy


def test_bootloader_info_explains_the_id_switch():
    note = by_id(findings_for(read_facts("usb3-bootloader")), "device.usb-state")
    assert "18d1:9302" in note.detail and "1a6e:089a" in note.detail and "VM or container" in note.detail


def test_permissions_without_rule_and_outside_plugdev():
    failure = by_id(findings_for(read_facts("usb-no-permission")), "device.usb")
    assert "No udev rule" in failure.detail and "not in the plugdev group" in failure.detail
    assert "99-edgetpu-accelerator.rules" in failure.remedy and "usermod -aG plugdev" in failure.remedy
    assert "/dev/bus/usb/004/002" in failure.detail


def test_permissions_with_rule_but_outside_plugdev():
    failure = by_id(findings_for(read_facts("usb-no-permission-rule")), "device.usb")
    assert "A udev rule for the Coral ids exists (/lib/udev/rules.d/60-libedgetpu1-std.rules)" in failure.detail
    assert "99-edgetpu-accelerator.rules" not in failure.remedy and "usermod -aG plugdev" in failure.remedy


def test_permissions_with_rule_and_group_means_replug(tmp_path):
    path = make_root(tmp_path, "usb-no-permission-rule", files={".edgedoctor/groups": "plugdev\n"})
    failure = by_id(findings_for(read_facts(path)), "device.usb")
    assert "is in plugdev" in failure.detail and "unplug" in failure.remedy and "usermod" not in failure.remedy


def test_no_device_detail_and_remedy():
    findings = findings_for(read_facts("no-device"))
    failure = by_id(findings, "device.present")
    assert "1a6e:089a" in failure.detail and "1ac1:089a" in failure.detail
    backend = by_id(findings, "device.usb-backend")
    assert "NoBackendError" in backend.detail and backend.remedy == "sudo apt-get install libusb-1.0-0"


def test_pcie_driver_missing_remedy():
    failure = by_id(findings_for(read_facts("pcie-no-driver")), "device.pcie")
    assert "0000:03:00.0" in failure.detail and "gasket-dkms" in failure.remedy


def test_dkms_build_failure_quotes_make_log():
    failure = by_id(findings_for(read_facts("dkms-build-failed")), "device.pcie")
    assert "6.5.0-10-generic" in failure.detail and "class_create" in failure.detail
    assert "google/gasket-driver" in failure.remedy


def test_secure_boot_remedy():
    failure = by_id(findings_for(read_facts("secure-boot-on")), "device.pcie")
    assert "mokutil --import" in failure.remedy and "integrity" in failure.detail


def test_pi5_remedy_selects_the_4k_kernel():
    failure = by_id(findings_for(read_facts("pi5-16k-pages")), "device.pcie-host")
    assert "kernel=kernel8.img" in failure.remedy and "16384" in failure.detail


def test_msi_failure_quotes_the_kernel_log():
    failure = by_id(findings_for(read_facts("pcie-no-msix")), "device.pcie-host")
    assert "Couldn't initialize interrupts: -28" in failure.detail


def test_container_facts_and_remedy():
    facts = read_facts("container-no-device")
    assert facts["platform"]["in_container"] is True and facts["usb"]["dev_bus_usb"] is False
    findings = findings_for(facts)
    failure = by_id(findings, "device.usb")
    assert "/dev/bus/usb" in failure.remedy
    assert "runtime.devices" not in ids(findings, "warn")  # device.usb already explains it


# --- variations --------------------------------------------------------------------------------------------------


def test_container_with_nothing_visible(tmp_path):
    path = make_root(
        tmp_path, "container-no-device", files={"sys/bus/usb/devices/2-1": None, "sys/bus/usb/devices/2-1:1.0": None}
    )
    findings = findings_for(read_facts(path))
    failure = by_id(findings, "device.present")
    assert failure.status == "fail" and failure.causes == ["container-device"]


def test_container_with_dev_bus_usb_passed(tmp_path):
    path = make_root(tmp_path, "container-no-device", files={"dev/bus/usb/002/003": ""})
    findings = findings_for(read_facts(path))
    assert by_id(findings, "device.usb").status == "pass"
    warning = by_id(findings, "runtime.devices")  # passed in, yet the runtime saw nothing
    assert warning.status == "warn" and "container-device" in warning.causes


def test_container_without_apex_node(tmp_path):
    path = make_root(tmp_path, "pcie-no-apex-node", files={".dockerenv": ""})
    failure = by_id(findings_for(read_facts(path)), "device.apex-node")
    assert failure.causes == ["container-device"] and "--device /dev/apex_0" in failure.remedy


def test_dead_status_is_a_hardware_fault(tmp_path):
    path = make_root(tmp_path, "pcie-ok", files={"sys/class/apex/apex_0/status": "DEAD\n"})
    failure = by_id(findings_for(read_facts(path)), "device.pcie-health")
    assert failure.causes == ["hardware-fault"] and "status DEAD" in failure.detail


def test_reset_timeout_in_the_kernel_log_is_a_hardware_fault(tmp_path):
    path = make_root(tmp_path, "pcie-hung-temp", files={"sys/class/apex/apex_0/temp": "45100\n"})
    failure = by_id(findings_for(read_facts(path)), "device.pcie-health")
    assert failure.causes == ["hardware-fault"] and "RAM did not enable within timeout" in failure.detail
    assert "temperature" not in failure.detail


def test_hot_device_is_a_thermal_warning(tmp_path):
    path = make_root(tmp_path, "pcie-ok", files={"sys/class/apex/apex_0/temp": "91250\n"})
    warning = by_id(findings_for(read_facts(path)), "device.pcie-health")
    assert warning.status == "warn" and warning.causes == ["thermal"] and "91.2" in warning.detail


def test_apex_permissions(tmp_path):
    path = make_root(
        tmp_path,
        "pcie-ok",
        files={
            ".edgedoctor/denied": "/dev/apex_0\n",
            "etc/udev/rules.d/65-apex.rules": None,
            "etc/group": "plugdev:x:46:alice\napex:x:998:\n",
        },
    )
    failure = by_id(findings_for(read_facts(path)), "device.apex-node")
    assert failure.causes == ["apex-permissions"]
    assert "not in the apex group" in failure.detail and "No udev rule" in failure.detail
    assert "65-apex.rules" in failure.remedy and "usermod -aG apex" in failure.remedy


def test_dkms_built_for_another_kernel_only(tmp_path):
    path = make_root(
        tmp_path, "pcie-no-driver", commands={("dkms", "status"): "gasket/1.0, 6.1.0-17-amd64, x86_64: installed\n"}
    )
    failure = by_id(findings_for(read_facts(path)), "device.pcie")
    assert failure.causes == ["pcie-driver-build"] and "6.1.0-18-amd64" in failure.detail


def test_dkms_failure_without_a_visible_device_is_a_warning(tmp_path):
    path = make_root(tmp_path, "dkms-build-failed", files={"sys/bus/pci/devices/0000:04:00.0": None})
    findings = findings_for(read_facts(path))
    warning = by_id(findings, "device.pcie-driver-build")
    assert warning.status == "warn" and warning.causes == ["pcie-driver-build"]


def test_pi5_with_4k_pages_is_fine(tmp_path):
    path = make_root(tmp_path, "pi5-16k-pages", files={".edgedoctor/page_size": "4096\n"})
    findings = findings_for(read_facts(path))
    assert "device.pcie-host" not in ids(findings)


def test_16k_pages_do_not_matter_for_usb_only_pi5(tmp_path):
    path = make_root(
        tmp_path,
        "pi5-16k-pages",
        files={"sys/bus/pci/devices/0001:01:00.0": None, "proc/modules": "snd 1 0 - Live 0x0\n"},
        commands={("dkms", "status"): None},
    )
    assert "device.pcie-host" not in ids(findings_for(read_facts(path)))


def test_usb_full_speed_link(tmp_path):
    path = make_root(tmp_path, "usb3-runtime", files={"sys/bus/usb/devices/2-1/speed": "12\n"})
    warning = by_id(findings_for(read_facts(path)), "device.usb-link")
    assert warning.status == "warn" and warning.causes == ["usb-power", "usb2-link"]


def test_bootloader_on_usb2_says_check_again(tmp_path):
    path = make_root(tmp_path, "usb3-bootloader", files={"sys/bus/usb/devices/2-1/speed": "480\n"})
    warning = by_id(findings_for(read_facts(path)), "device.usb-link")
    assert warning.causes == ["usb2-link"] and "bootloader state" in warning.detail


def test_windows_pcie_without_driver_and_with_driver(tmp_path):
    entry = (
        "Instance ID:                PCI\\VEN_1AC1&DEV_089A&SUBSYS_089A1AC1&REV_00\\4&2B1B5D0A&0&00E4\n"
        "Device Description:         {desc}\n"
        "Status:                     {status}\n\n"
    )
    broken = make_root(
        tmp_path,
        "windows-usb",
        name="broken",
        commands={
            ("pnputil", "/enum-devices", "/connected"): entry.format(desc="Base System Device", status="Problem")
        },
    )
    failure = by_id(findings_for(read_facts(broken)), "device.pcie")
    assert failure.causes == ["windows-runtime"] and "install.bat" in failure.remedy
    fine = make_root(
        tmp_path,
        "windows-usb",
        name="fine",
        commands={
            ("pnputil", "/enum-devices", "/connected"): entry.format(desc="Coral PCIe Accelerator", status="Started")
        },
    )
    findings = findings_for(read_facts(fine))
    assert by_id(findings, "device.pcie").status == "pass"
    assert "device.apex-node" not in ids(findings)


def test_windows_driver_problem(tmp_path):
    listing = (
        "Instance ID:                USB\\VID_1A6E&PID_089A\\5&1&0&3\n"
        "Device Description:         Unknown USB Device\n"
        "Status:                     Problem\n"
        "Problem Code:               28 (0x1C) [CM_PROB_FAILED_INSTALL]\n\n"
    )
    path = make_root(tmp_path, "windows-usb", commands={("pnputil", "/enum-devices", "/connected"): listing})
    failure = by_id(findings_for(read_facts(path)), "device.usb")
    assert failure.causes == ["windows-runtime"] and "CM_PROB_FAILED_INSTALL" in failure.detail


# --- the checks on odd or partial facts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        {},
        {"platform": None},
        {"usb": {}},
        {"pcie": {}},
        {"runtime": {}},
        {
            "usb": {"devices": [{}]},
            "pcie": {"devices": [{}]},
            "runtime": {"found": True, "loaded": True, "devices": []},
        },
        {"usb": {"devices": None, "error": "boom"}, "pcie": None, "runtime": {"worker": {"status": "garbage"}}},
    ],
)
def test_checks_survive_partial_facts(facts):
    findings = device_check.check(facts) + runtime_check.check(facts)
    assert_actionable(findings)


def test_no_sections_at_all_is_a_skip():
    findings = device_check.check({}) + runtime_check.check({})
    assert {f.status for f in findings} == {"skip"}


def test_worker_that_could_not_start_is_a_skip():
    findings = runtime_check.check(
        {"runtime": {"found": True, "loaded": False, "worker": {"status": "not-started", "error": "cannot run /x"}}}
    )
    assert by_id(findings, "runtime.load").status == "skip"


@pytest.mark.parametrize(
    "error, cause",
    [
        (
            "OSError: /lib/libedgetpu.so.1: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found",
            "glibc-too-old",
        ),
        ("OSError: /usr/lib/libedgetpu.so.1: wrong ELF class: ELFCLASS32", "runtime-broken"),
        ("OSError: dlopen(/usr/local/lib/libedgetpu.1.dylib, 6): mach-o, but wrong architecture", "runtime-broken"),
        ("OSError: libusb-1.0.so.0: cannot open shared object file: No such file or directory", "runtime-broken"),
    ],
)
def test_load_error_causes(error, cause):
    facts = {
        "platform": {"os": "linux"},
        "runtime": {"found": True, "loaded": False, "path": "/usr/lib/libedgetpu.so.1", "load_error": error},
    }
    failure = by_id(runtime_check.check(facts), "runtime.load")
    assert failure.causes == [cause]


def test_windows_load_error_is_windows_runtime():
    facts = {
        "platform": {"os": "windows"},
        "runtime": {
            "found": True,
            "loaded": False,
            "path": "C:\\Windows\\System32\\edgetpu.dll",
            "load_error": "FileNotFoundError: Could not find module 'edgetpu.dll' (or one of its dependencies).",
        },
    }
    assert by_id(runtime_check.check(facts), "runtime.load").causes == ["windows-runtime"]


def test_root_fixture_files_are_realistic():
    speed = root("usb3-runtime") / "sys/bus/usb/devices/2-1/speed"
    assert speed.read_text() == "5000\n"
    assert (root("usb3-bootloader") / "sys/bus/usb/devices/2-1/idVendor").read_text() == "1a6e\n"
    assert (root("usb2-runtime") / "sys/bus/usb/devices/1-1.2/speed").read_text() == "480\n"
    assert (root("pcie-ok") / "sys/bus/pci/devices/0000:03:00.0/vendor").read_text() == "0x1ac1\n"
