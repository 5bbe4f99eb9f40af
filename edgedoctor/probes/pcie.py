"""PCIe facts: Coral M.2 / Mini PCIe / SoM Edge TPUs (PCI `1ac1:089a`), the gasket/apex driver (modules, DKMS
builds, Secure Boot, lockdown), `/dev/apex_N` nodes, their temperature and status, the kernel's page size and
MSI-X trouble in the kernel log.

Sources (coral-facts §2): the PCI id is `APEX_PCI_VENDOR_ID 0x1ac1` / `APEX_PCI_DEVICE_ID 0x089a` in
google/gasket-driver; libedgetpu opens `/dev/apex_N` for `/sys/class/apex/apex_N`, whose `temp` is in
milli-degrees C and `status` is `ALIVE`/`DEAD`/`LAMED`/`DRIVER_EXITING`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext
from edgedoctor.probes.usb import RW_OK, find_udev_rules, pnp_ids, read_pnp

APEX_VENDOR = "1ac1"
APEX_DEVICE = "089a"
SYSFS_PCI = "/sys/bus/pci/devices"
SYSFS_APEX = "/sys/class/apex"
EFI_SECURE_BOOT_DIR = "/sys/firmware/efi/efivars"
EFI_SECURE_BOOT_GLOB = "SecureBoot-*"
APEX_RULE_NEEDLES = (r'SUBSYSTEM\s*==\s*"apex"', r'KERNEL\s*==\s*"apex', r"1ac1")
DKMS_MODULES = ("gasket", "gasket-dkms", "apex")

# Kernel log lines that show the host cannot give the card its interrupts (edgetpu#122, gasket_interrupt.c).
MSI_PATTERNS = (
    r"Couldn'?t initialize interrupts",
    r"Not all interrupts were configured",
    r"MSI-?X?.*(fail|error|unable|not)",
    r"(fail|error|unable).*MSI-?X?",
)
APEX_LOG = re.compile(r"\b(apex|gasket)\b", re.IGNORECASE)


# --- pure parsers ---------------------------------------------------------------------------------------------


def parse_uevent(text: Optional[str]) -> Dict[str, str]:
    values = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def parse_proc_modules(text: str) -> Dict[str, bool]:
    """`/proc/modules` -> {"apex": bool, "gasket": bool}."""
    loaded = {line.split()[0] for line in text.splitlines() if line.strip()}
    return {"apex": "apex" in loaded, "gasket": "gasket" in loaded}


def parse_dkms_status(text: str) -> List[Dict[str, Optional[str]]]:
    """`dkms status` lines, old (`gasket, 1.0, 5.4.0-42-generic, x86_64: installed`) and new style
    (`gasket/1.0, 6.1.0-18-amd64, x86_64: installed`, `gasket/1.0: added`)."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or ":" not in line:
            continue
        head, _, state = line.rpartition(":")
        parts = [p.strip() for p in head.split(",")]
        version: Optional[str]
        if "/" in parts[0]:
            module, _, version = parts[0].partition("/")
            rest = parts[1:]
        else:
            module, version, rest = parts[0], (parts[1] if len(parts) > 1 else None), parts[2:]
        entries.append(
            {
                "module": module.strip(),
                "version": (version or "").strip() or None,
                "kernel": rest[0] if len(rest) > 0 else None,
                "arch": rest[1] if len(rest) > 1 else None,
                "state": state.strip() or None,
            }
        )
    return entries


def make_log_errors(text: str, limit: int = 5) -> List[str]:
    """The compiler's `error:` lines of a DKMS make.log."""
    lines = [line.strip() for line in text.splitlines() if re.search(r"\berror\b:|Error \d+|\*\*\*", line)]
    return lines[:limit]


def parse_mokutil(text: str) -> Optional[bool]:
    """`mokutil --sb-state`: `SecureBoot enabled` / `SecureBoot disabled`; None when EFI is absent."""
    lowered = text.lower()
    if "secureboot enabled" in lowered:
        return True
    if "secureboot disabled" in lowered or "doesn't support secure boot" in lowered:
        return False
    return None


def parse_efi_secure_boot(raw: Optional[bytes]) -> Optional[bool]:
    """efivarfs `SecureBoot-<guid>`: 4 attribute bytes then one value byte (1 = on)."""
    if not raw or len(raw) < 5:
        return None
    return raw[4] == 1


def parse_lockdown(text: Optional[str]) -> Optional[str]:
    """`/sys/kernel/security/lockdown`: `none [integrity] confidentiality` -> `integrity`."""
    match = re.search(r"\[(\w+)\]", text or "")
    return match.group(1) if match else None


def parse_temp(text: Optional[str]) -> Optional[float]:
    """apex `temp` sysfs attribute, milli-degrees C -> degrees C."""
    try:
        return round(int((text or "").strip()) / 1000.0, 1)
    except ValueError:
        return None


def parse_dmesg(text: str):
    """(apex/gasket lines, MSI/interrupt error lines) of a kernel log."""
    apex_lines = [line.rstrip() for line in text.splitlines() if APEX_LOG.search(line)]
    msi = [line for line in apex_lines if any(re.search(p, line, re.IGNORECASE) for p in MSI_PATTERNS)]
    return apex_lines[-50:], msi


def parse_lspci(text: str) -> List[Dict[str, Any]]:
    """`lspci -nnk -d 1ac1:089a`: `03:00.0 System peripheral [0880]: Device [1ac1:089a]` then indented
    `Kernel driver in use: apex` (used when /sys/bus/pci cannot be read)."""
    devices = []
    for line in text.splitlines():
        match = re.match(r"^([0-9a-fA-F:.]+)\s.*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]", line)
        if match:
            address = match.group(1)
            if address.count(":") == 1:
                address = "0000:" + address
            devices.append(
                {
                    "address": address,
                    "vendor_id": match.group(2).lower(),
                    "device_id": match.group(3).lower(),
                    "driver": None,
                }
            )
        elif devices and "Kernel driver in use:" in line:
            devices[-1]["driver"] = line.split(":", 1)[1].strip()
    return [d for d in devices if d["vendor_id"] == APEX_VENDOR and d["device_id"] == APEX_DEVICE]


# --- readers ---------------------------------------------------------------------------------------------------


def _hex(text: Optional[str]) -> Optional[str]:
    text = (text or "").strip().lower()
    return text[2:] if text.startswith("0x") else (text or None)


def _driver(system: System, base: str) -> Optional[str]:
    driver = parse_uevent(system.read_text(f"{base}/uevent")).get("DRIVER")
    if driver:
        return driver
    path = system.path(f"{base}/driver")
    if path.is_symlink():
        return system.realpath(f"{base}/driver").rstrip("/").rsplit("/", 1)[-1]
    return None


def _apex_nodes(system: System) -> Dict[str, str]:
    """pci address -> apex_N, from /sys/class/apex/apex_N (its `device` link or uevent) and from
    /sys/bus/pci/devices/ADDR/apex/apex_N."""
    nodes = {}
    for name in system.listdir(SYSFS_APEX):
        base = f"{SYSFS_APEX}/{name}"
        address = parse_uevent(system.read_text(f"{base}/device/uevent")).get("PCI_SLOT_NAME")
        if not address:
            address = (system.read_text(f"{base}/pci_address") or "").strip() or None
        if not address and system.path(f"{base}/device").is_symlink():
            address = system.realpath(f"{base}/device").rsplit("/", 1)[-1]
        nodes[address or f"?{name}"] = name
    return nodes


def _apex_device(
    system: System,
    address: str,
    vendor: Optional[str],
    device: Optional[str],
    driver: Optional[str],
    apex_name: Optional[str],
) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "address": address,
        "vendor_id": vendor,
        "device_id": device,
        "driver": driver,
        "apex": apex_name,
        "dev_node": None,
        "dev_node_exists": None,
        "accessible": None,
        "status": None,
        "temp_c": None,
    }
    if apex_name:
        base = f"{SYSFS_APEX}/{apex_name}"
        if not system.exists(base):
            base = f"{SYSFS_PCI}/{address}/apex/{apex_name}"
        entry["status"] = (system.read_text(f"{base}/status") or "").strip() or None
        entry["temp_c"] = parse_temp(system.read_text(f"{base}/temp"))
        node = f"/dev/{apex_name}"
        entry["dev_node"] = node
        entry["dev_node_exists"] = system.exists(node)
        entry["accessible"] = system.access(node, RW_OK) if entry["dev_node_exists"] else False
    return entry


def read_pci_devices(system: System) -> Optional[List[Dict[str, Any]]]:
    """Coral PCIe devices from sysfs; None when /sys/bus/pci/devices cannot be read."""
    if not system.exists(SYSFS_PCI):
        return None
    apex_by_address = _apex_nodes(system)
    devices = []
    for address in system.listdir(SYSFS_PCI):
        base = f"{SYSFS_PCI}/{address}"
        vendor, device = _hex(system.read_text(f"{base}/vendor")), _hex(system.read_text(f"{base}/device"))
        if (vendor, device) != (APEX_VENDOR, APEX_DEVICE):
            continue
        apex_name = apex_by_address.pop(address, None)
        if apex_name is None:
            under = system.listdir(f"{base}/apex")
            apex_name = under[0] if under else None
        devices.append(_apex_device(system, address, vendor, device, _driver(system, base), apex_name))
    # An apex node whose PCI address could not be told (sysfs links flattened): pair it with a device without one.
    for key, name in sorted(apex_by_address.items()):
        if key.startswith("?"):
            spare = next((d for d in devices if d["apex"] is None), None)
            if spare is not None:
                spare.update(_apex_device(system, spare["address"], APEX_VENDOR, APEX_DEVICE, spare["driver"], name))
    return devices


def _dkms(ctx: ProbeContext, kernel: Optional[str]) -> Dict[str, Any]:
    system = ctx.system
    facts: Dict[str, Any] = {
        "available": None,
        "entries": [],
        "built_for_running_kernel": None,
        "make_log": None,
        "make_log_errors": [],
        "error": None,
    }
    result = system.run(["dkms", "status"], 30.0)
    if result.error:
        facts["available"] = False
        facts["error"] = result.error
    else:
        facts["available"] = True
        entries = [e for e in parse_dkms_status(result.stdout + "\n" + result.stderr) if e["module"] in DKMS_MODULES]
        facts["entries"] = entries
        if entries:
            facts["built_for_running_kernel"] = (
                any(e["kernel"] == kernel and (e["state"] or "").startswith("installed") for e in entries)
                if kernel
                else None
            )
    for module in ("gasket", "gasket-dkms"):
        for version in system.listdir(f"/var/lib/dkms/{module}"):
            log = f"/var/lib/dkms/{module}/{version}/build/make.log"
            text = system.read_text(log)
            if text:
                facts["make_log"] = log
                facts["make_log_errors"] = make_log_errors(text)
    return facts


def _secure_boot(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    result = system.run(["mokutil", "--sb-state"], 10.0)
    state, source = None, None
    if result.error is None:
        state = parse_mokutil(result.stdout + "\n" + result.stderr)
        source = "mokutil" if state is not None else None
    if state is None:
        for path in system.glob(EFI_SECURE_BOOT_DIR, EFI_SECURE_BOOT_GLOB):
            state = parse_efi_secure_boot(system.read_bytes(path, 64))
            source = path if state is not None else None
            break
    return {
        "secure_boot": state,
        "secure_boot_source": source,
        "lockdown": parse_lockdown(system.read_text("/sys/kernel/security/lockdown")),
    }


def _package(ctx: ProbeContext, name: str) -> Optional[str]:
    result = ctx.system.run(["dpkg-query", "-W", "-f=${Version} ${db:Status-Abbrev}", name], 10.0)
    if result.ok and result.stdout.strip():
        version, _, status = result.stdout.strip().partition(" ")
        return version if status.startswith(("ii", "hi")) else None
    return None


def _linux(ctx: ProbeContext, facts: Dict[str, Any], errors: List[str]) -> None:
    system = ctx.system
    kernel = (system.read_text("/proc/sys/kernel/osrelease") or "").strip() or None
    facts["kernel"] = kernel
    devices = read_pci_devices(system)
    if devices is None:
        result = system.run(["lspci", "-nnk", "-d", f"{APEX_VENDOR}:{APEX_DEVICE}"], 10.0)
        if result.ok:
            devices = [
                _apex_device(system, d["address"], d["vendor_id"], d["device_id"], d["driver"], None)
                for d in parse_lspci(result.stdout)
            ]
        elif system.exists("/sys/bus") and not system.exists("/sys/bus/pci"):
            devices = []  # no PCI bus at all (a Raspberry Pi 3, most Arm SBCs): nothing to find
            facts["pci_bus"] = False
        else:
            errors.append(f"{SYSFS_PCI} does not exist and lspci could not run ({result.error or result.returncode})")
            devices = []
    facts["devices"] = devices
    facts["sysfs_apex"] = system.listdir(SYSFS_APEX)
    facts["dev_apex"] = [f"/dev/{n}" for n in system.listdir("/dev") if n.startswith("apex_")]
    modules_text = system.read_text("/proc/modules")
    if modules_text is not None:
        facts["modules"] = parse_proc_modules(modules_text)
    else:
        facts["modules"] = {
            "apex": system.exists("/sys/module/apex") or None,
            "gasket": system.exists("/sys/module/gasket") or None,
        }
    facts["modules_builtin_blacklisted"] = _blacklisted(system)
    facts["dkms"] = _dkms(ctx, kernel)
    facts["gasket_dkms_package"] = _package(ctx, "gasket-dkms")
    facts.update(_secure_boot(ctx))
    dmesg = system.run(["dmesg"], 10.0)
    if dmesg.ok:
        facts["dmesg_apex"], facts["msi_errors"] = parse_dmesg(dmesg.stdout)
    else:
        facts["dmesg_apex"], facts["msi_errors"] = None, None
        facts["dmesg_error"] = dmesg.error or (dmesg.stderr.strip() or f"exit code {dmesg.returncode}")
    facts["udev_rules"] = find_udev_rules(system, APEX_RULE_NEEDLES)
    model = system.read_text("/proc/device-tree/model") or system.read_text("/sys/firmware/devicetree/base/model")
    facts["dt_model"] = model.replace("\x00", "").strip() if model else None


def _blacklisted(system: System) -> List[str]:
    """modprobe.d files that blacklist apex or gasket."""
    found = []
    for folder in ("/etc/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d"):
        for path in system.glob(folder, "*.conf"):
            text = system.read_text(path) or ""
            if re.search(r"^\s*blacklist\s+(apex|gasket)\b", text, re.MULTILINE):
                found.append(path)
    return found


def _windows(ctx: ProbeContext, facts: Dict[str, Any], errors: List[str]) -> None:
    entries, error = read_pnp(ctx)
    if error:
        errors.append(error)
    for entry in entries:
        kind, vendor, device = pnp_ids(entry.get("instance_id"))
        if kind == "pci" and (vendor, device) == (APEX_VENDOR, APEX_DEVICE):
            started = (entry.get("status") or "").lower() in ("started", "ok")
            # Coral's Windows PCIe driver is apex too (the runtime lists it as \\?\ApexDevice0, CTS outputs);
            # PnP says only whether a driver started, and its .inf name.
            facts["devices"].append(
                {
                    "address": entry.get("instance_id"),
                    "vendor_id": vendor,
                    "device_id": device,
                    "driver": "apex" if started else None,
                    "driver_inf": entry.get("driver"),
                    "apex": None,
                    "dev_node": None,
                    "dev_node_exists": None,
                    "accessible": None,
                    "status": entry.get("status"),
                    "temp_c": None,
                    "pnp_problem": entry.get("problem"),
                    "description": entry.get("description"),
                }
            )


def read(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    facts: Dict[str, Any] = {
        "devices": [],
        "modules": {"apex": None, "gasket": None},
        "dkms": None,
        "secure_boot": None,
        "lockdown": None,
        "page_size": system.page_size,
        "kernel": None,
        "msi_errors": None,
        "udev_rules": [],
        "user_groups": None,
        "error": None,
    }
    errors: List[str] = []
    try:
        facts["user_groups"] = system.user_groups()
        if system.platform == "linux":
            _linux(ctx, facts, errors)
        elif system.platform == "windows":
            _windows(ctx, facts, errors)
        # macOS has no PCIe Edge TPU support: nothing to read.
    except Exception as exc:  # a reader must not take the check down
        errors.append(f"{type(exc).__name__}: {exc}")
    facts["error"] = "; ".join(errors) or None
    return facts
