"""The PCIe reader: sysfs devices, apex nodes, modules, DKMS, Secure Boot, dmesg, lspci and Windows PnP."""

import pytest
from helpers_hw import make_root, root, root_context

from edgedoctor.probes import pcie


def read(name_or_path):
    path = root(name_or_path) if isinstance(name_or_path, str) else name_or_path
    facts = pcie.read(root_context(path))
    assert facts["error"] is None, facts["error"]
    return facts


# --- parsers ------------------------------------------------------------------------------------------------------


def test_parse_dkms_status_new_and_old_styles():
    entries = pcie.parse_dkms_status(
        "gasket/1.0, 6.1.0-18-amd64, x86_64: installed\n"
        "gasket, 1.0, 5.4.0-42-generic, x86_64: installed (WARNING! Diff between built and installed module!)\n"
        "gasket/1.0: added\n"
        "nvidia/535.154.05, 6.1.0-18-amd64, x86_64: installed\n"
    )
    assert entries[0] == {
        "module": "gasket",
        "version": "1.0",
        "kernel": "6.1.0-18-amd64",
        "arch": "x86_64",
        "state": "installed",
    }
    assert entries[1]["kernel"] == "5.4.0-42-generic" and entries[1]["state"].startswith("installed (WARNING")
    assert entries[2] == {"module": "gasket", "version": "1.0", "kernel": None, "arch": None, "state": "added"}
    assert entries[3]["module"] == "nvidia"


def test_make_log_errors_keep_compiler_errors():
    text = root("dkms-build-failed").joinpath("var/lib/dkms/gasket/1.0/build/make.log").read_text()
    errors = pcie.make_log_errors(text)
    assert "class_create" in errors[0]
    assert all("CC [M]" not in line for line in errors)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SecureBoot enabled\n", True),
        ("SecureBoot disabled\n", False),
        ("This system doesn't support Secure Boot\n", False),
        ("EFI variables are not supported on this system\n", None),
    ],
)
def test_parse_mokutil(text, expected):
    assert pcie.parse_mokutil(text) is expected


def test_efi_var_lockdown_temp():
    assert pcie.parse_efi_secure_boot(b"\x06\x00\x00\x00\x01") is True
    assert pcie.parse_efi_secure_boot(b"\x06\x00\x00\x00\x00") is False
    assert pcie.parse_efi_secure_boot(b"\x06") is None
    assert pcie.parse_lockdown("none [integrity] confidentiality\n") == "integrity"
    assert pcie.parse_lockdown("[none] integrity confidentiality") == "none"
    assert pcie.parse_temp("47850\n") == 47.9 and pcie.parse_temp("-89850") == -89.8
    assert pcie.parse_temp("") is None


def test_parse_dmesg_msi_lines_come_from_edgetpu_122():
    apex, msi = pcie.parse_dmesg(
        "[ 1406.301020] apex 0000:01:00.0: enabling device (0000 -> 0002)\n"
        "[ 1406.314900] apex 0000:01:00.0: Couldn't initialize interrupts: -28\n"
        "[ 1406.322735] apex 0000:01:00.0: Not all interrupts were configured\n"
        "[ 1407.000000] nvme 0000:02:00.0: MSI-X enabled\n"
    )
    assert len(apex) == 3
    assert [line.split("] ")[1] for line in msi] == [
        "apex 0000:01:00.0: Couldn't initialize interrupts: -28",
        "apex 0000:01:00.0: Not all interrupts were configured",
    ]


def test_parse_lspci():
    devices = pcie.parse_lspci(
        "03:00.0 System peripheral [0880]: Global Unichip Corp. Coral Edge TPU [1ac1:089a]\n"
        "\tSubsystem: Global Unichip Corp. Coral Edge TPU [1ac1:089a]\n"
        "\tKernel driver in use: apex\n"
        "\tKernel modules: apex\n"
    )
    assert devices == [{"address": "0000:03:00.0", "vendor_id": "1ac1", "device_id": "089a", "driver": "apex"}]


# --- roots --------------------------------------------------------------------------------------------------------


def test_pcie_ok():
    facts = read("pcie-ok")
    [dev] = facts["devices"]
    assert dev == {
        "address": "0000:03:00.0",
        "vendor_id": "1ac1",
        "device_id": "089a",
        "driver": "apex",
        "apex": "apex_0",
        "dev_node": "/dev/apex_0",
        "dev_node_exists": True,
        "accessible": True,
        "status": "ALIVE",
        "temp_c": 47.9,
    }
    assert facts["modules"] == {"apex": True, "gasket": True}
    assert facts["dkms"]["built_for_running_kernel"] is True
    assert facts["secure_boot"] is False and facts["secure_boot_source"] == "mokutil"
    assert facts["kernel"] == "6.1.0-18-amd64" and facts["page_size"] == 4096
    assert facts["msi_errors"] == [] and len(facts["dmesg_apex"]) == 3
    assert facts["udev_rules"] == ["/etc/udev/rules.d/65-apex.rules"]
    assert "apex" in facts["user_groups"]


def test_pcie_no_driver():
    facts = read("pcie-no-driver")
    [dev] = facts["devices"]
    assert dev["driver"] is None and dev["apex"] is None and dev["dev_node"] is None
    assert facts["modules"] == {"apex": False, "gasket": False}
    assert facts["dkms"]["available"] is False  # no dkms command recorded: not installed


def test_pcie_no_apex_node():
    [dev] = read("pcie-no-apex-node")["devices"]
    assert dev["driver"] == "apex" and dev["apex"] == "apex_0"
    assert dev["dev_node_exists"] is False and dev["accessible"] is False


def test_pcie_hung_temp():
    facts = read("pcie-hung-temp")
    [dev] = facts["devices"]
    assert dev["temp_c"] == -89.8 and dev["status"] == "ALIVE"
    assert any("RAM did not enable" in line for line in facts["dmesg_apex"])


def test_secure_boot_on():
    facts = read("secure-boot-on")
    assert facts["secure_boot"] is True and facts["lockdown"] == "integrity"
    assert facts["gasket_dkms_package"] == "1.0-18"
    assert facts["dkms"]["built_for_running_kernel"] is True  # built, but refused at load time
    assert facts["modules"]["apex"] is False


def test_secure_boot_from_efivars_without_mokutil(tmp_path):
    path = make_root(tmp_path, "secure-boot-on", commands={("mokutil", "--sb-state"): None})
    facts = read(path)
    assert facts["secure_boot"] is True
    assert facts["secure_boot_source"].startswith("/sys/firmware/efi/efivars/SecureBoot-")


def test_dkms_build_failed():
    facts = read("dkms-build-failed")
    dkms = facts["dkms"]
    assert dkms["entries"] == [{"module": "gasket", "version": "1.0", "kernel": None, "arch": None, "state": "added"}]
    assert dkms["built_for_running_kernel"] is False
    assert dkms["make_log"] == "/var/lib/dkms/gasket/1.0/build/make.log"
    assert "class_create" in dkms["make_log_errors"][0]
    assert facts["gasket_dkms_package"] is None  # half-configured (iF), not installed


def test_pi5_16k_pages():
    facts = read("pi5-16k-pages")
    assert facts["page_size"] == 16384 and facts["dt_model"] == "Raspberry Pi 5 Model B Rev 1.0"
    [dev] = facts["devices"]
    assert dev["address"] == "0001:01:00.0" and dev["driver"] == "apex"


def test_msi_errors():
    facts = read("pcie-no-msix")
    assert len(facts["msi_errors"]) == 2


def test_dmesg_not_permitted_is_recorded(tmp_path):
    path = make_root(
        tmp_path,
        "pcie-ok",
        commands={("dmesg",): ("", "dmesg: read kernel buffer failed: Operation not permitted\n", 1)},
    )
    facts = read(path)
    assert facts["msi_errors"] is None and "Operation not permitted" in facts["dmesg_error"]


def test_no_pci_bus_is_not_an_error():
    facts = read("usb2-runtime")  # a Raspberry Pi 3 has no PCI bus
    assert facts["devices"] == [] and facts["pci_bus"] is False


def test_lspci_fallback_when_sysfs_pci_is_missing(tmp_path):
    path = make_root(
        tmp_path,
        "pcie-ok",
        files={"sys": None},
        commands={
            ("lspci", "-nnk", "-d", "1ac1:089a"): "03:00.0 System peripheral [0880]: Device [1ac1:089a]\n"
            "\tKernel driver in use: apex\n"
        },
    )
    [dev] = read(path)["devices"]
    assert dev["address"] == "0000:03:00.0" and dev["driver"] == "apex"


def test_no_sysfs_and_no_lspci_is_an_error(tmp_path):
    path = make_root(tmp_path, "pcie-ok", files={"sys": None})
    facts = pcie.read(root_context(path))
    assert facts["devices"] == [] and "lspci" in facts["error"]


def test_apex_node_denied(tmp_path):
    path = make_root(tmp_path, "pcie-ok", files={".edgedoctor/denied": "/dev/apex_0\n"})
    [dev] = read(path)["devices"]
    assert dev["dev_node_exists"] is True and dev["accessible"] is False


def test_apex_node_paired_without_pci_address(tmp_path):
    """Flattened sysfs (no `device` link, no pci_address): the one apex node goes to the one device."""
    path = make_root(
        tmp_path, "pcie-ok", files={"sys/class/apex/apex_0/device": None, "sys/class/apex/apex_0/pci_address": None}
    )
    [dev] = read(path)["devices"]
    assert dev["apex"] == "apex_0" and dev["temp_c"] == 47.9


def test_blacklisted_modules(tmp_path):
    path = make_root(tmp_path, "pcie-no-driver", files={"/etc/modprobe.d/blacklist-apex.conf": "blacklist apex\n"})
    assert read(path)["modules_builtin_blacklisted"] == ["/etc/modprobe.d/blacklist-apex.conf"]


def test_windows_pcie_from_pnputil(tmp_path):
    listing = (
        "Microsoft PnP Utility\n\n"
        "Instance ID:                PCI\\VEN_1AC1&DEV_089A&SUBSYS_089A1AC1&REV_00\\4&2B1B5D0A&0&00E4\n"
        "Device Description:         Base System Device\n"
        "Class Name:                 Unknown\n"
        "Status:                     Problem\n"
        "Problem Code:               28 (0x1C) [CM_PROB_FAILED_INSTALL]\n\n"
    )
    path = make_root(tmp_path, "windows-usb", commands={("pnputil", "/enum-devices", "/connected"): listing})
    [dev] = read(path)["devices"]
    assert dev["vendor_id"] == "1ac1" and dev["driver"] is None
    assert dev["pnp_problem"] == "28 (0x1C) [CM_PROB_FAILED_INSTALL]"


def test_macos_has_no_pcie_facts():
    facts = read("darwin-usb3")
    assert facts["devices"] == [] and facts["modules"] == {"apex": None, "gasket": None}
