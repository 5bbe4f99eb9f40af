"""USB facts: Coral USB Accelerators seen in sysfs and through pyusb (Linux), system_profiler (macOS) or
PnP (Windows); the USB backend pyusb found; udev rules that name a Coral id; the user's groups.

The USB Accelerator has two ids (coral-facts §2): `1a6e:089a` ("Global Unichip Corp.") in its bootloader
(DFU) state, before any program loaded the runtime's firmware into it, and `18d1:9302` ("Google Inc.") once
the runtime has done so. Readers return plain data; `edgedoctor.checks.device` judges it.

Pure `parse_*` functions take text recorded on real machines; `read(ctx)` feeds them through the seam.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext

BOOTLOADER = "bootloader"
RUNTIME = "runtime"
CORAL_USB_IDS = {("1a6e", "089a"): BOOTLOADER, ("18d1", "9302"): RUNTIME}
CORAL_USB_VENDORS = ("1a6e", "18d1")

SYSFS_USB = "/sys/bus/usb/devices"
DEV_BUS_USB = "/dev/bus/usb"
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d")

# libusb_speed / pyusb `Device.speed` -> Mbit/s (LOW, FULL, HIGH, SUPER, SUPER_PLUS)
PYUSB_SPEEDS = {1: 1.5, 2: 12, 3: 480, 4: 5000, 5: 10000}
# macOS system_profiler `device_speed` words -> Mbit/s
MAC_SPEED_WORDS = {
    "low_speed": 1.5,
    "full_speed": 12,
    "high_speed": 480,
    "super_speed": 5000,
    "super_speed_plus": 10000,
    "super_speed_plus_by2": 20000,
}

RW_OK = os.R_OK | os.W_OK


# --- small helpers ----------------------------------------------------------------------------------------


def _number(value: float):
    """5000.0 -> 5000, 1.5 -> 1.5."""
    return int(value) if float(value).is_integer() else value


def parse_speed(text: Optional[str]):
    """A speed in Mbit/s from sysfs (`5000`, `480`, `1.5`) or words (`Up to 5 Gb/s`, `480 Mb/sec`,
    `super_speed`). None when unknown."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    word = text.lower().replace(" ", "_")
    if word in MAC_SPEED_WORDS:
        return _number(MAC_SPEED_WORDS[word])
    match = re.search(r"([\d.]+)\s*([GM])b(?:it)?(?:/s|ps|/sec)", text, re.IGNORECASE)
    if match:
        value = float(match.group(1)) * (1000 if match.group(2).upper() == "G" else 1)
        return _number(value)
    try:
        return _number(float(text))
    except ValueError:
        return None


def _hex4(value: Any) -> Optional[str]:
    """`0x1a6e`, `1a6e`, `0x1a6e  (Global Unichip Corp.)`, 6766 -> `1a6e`."""
    if value is None:
        return None
    if isinstance(value, int):
        return "%04x" % value
    match = re.match(r"\s*(?:0x)?([0-9a-fA-F]{1,4})\b", str(value))
    return match.group(1).lower().zfill(4) if match else None


def coral_state(vendor_id: Optional[str], product_id: Optional[str]) -> Optional[str]:
    return CORAL_USB_IDS.get(((vendor_id or "").lower(), (product_id or "").lower()))


def dev_node(bus: Optional[int], address: Optional[int]) -> Optional[str]:
    if bus is None or address is None:
        return None
    return "%s/%03d/%03d" % (DEV_BUS_USB, bus, address)


def _device(vendor_id, product_id, **extra) -> Dict[str, Any]:
    device = {
        "vendor_id": vendor_id,
        "product_id": product_id,
        "state": coral_state(vendor_id, product_id),
        "bus": None,
        "port": None,
        "address": None,
        "speed_mbps": None,
        "accessible": None,
        "dev_node": None,
        "serial": None,
        "source": None,
        "sysfs_path": None,
        "manufacturer": None,
        "product": None,
    }
    device.update(extra)
    return device


# --- Linux: sysfs -----------------------------------------------------------------------------------------


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _strip(text: Optional[str]) -> Optional[str]:
    text = (text or "").strip()
    return text or None


def read_sysfs(system: System) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """Coral devices under /sys/bus/usb/devices (entries `B-P[.P...]`; interfaces `B-P:C.I` and root hubs
    `usbN` are skipped). Returns (devices, error); error is set when sysfs could not be listed at all."""
    if not system.exists(SYSFS_USB):
        return [], f"{SYSFS_USB} does not exist (no USB subsystem, or /sys is not mounted here)"
    devices = []
    for name in system.listdir(SYSFS_USB):
        if ":" in name or name.startswith("usb"):
            continue
        base = f"{SYSFS_USB}/{name}"
        vendor = _hex4(system.read_text(f"{base}/idVendor"))
        product = _hex4(system.read_text(f"{base}/idProduct"))
        if coral_state(vendor, product) is None:
            continue
        bus = _int(system.read_text(f"{base}/busnum"))
        address = _int(system.read_text(f"{base}/devnum"))
        node = dev_node(bus, address)
        devices.append(
            _device(
                vendor,
                product,
                bus=bus,
                address=address,
                port=name.split("-", 1)[1] if "-" in name else None,
                speed_mbps=parse_speed(system.read_text(f"{base}/speed")),
                serial=_strip(system.read_text(f"{base}/serial")),
                manufacturer=_strip(system.read_text(f"{base}/manufacturer")),
                product=_strip(system.read_text(f"{base}/product")),
                usb_version=_strip(system.read_text(f"{base}/version")),
                dev_node=node,
                dev_node_exists=system.exists(node) if node else None,
                accessible=system.access(node, RW_OK) if node and system.exists(node) else (False if node else None),
                sysfs_path=base,
                source="sysfs",
            )
        )
    return devices, None


# --- pyusb --------------------------------------------------------------------------------------------------


def _recorded_backend(system: System) -> Dict[str, Any]:
    """Under a fixture root there is no pyusb to ask: `.edgedoctor/usb_backend.json` may record what it said."""
    text = system.read_text("/.edgedoctor/usb_backend.json")
    if text:
        try:
            recorded = json.loads(text)
            return {
                "available": recorded.get("available"),
                "name": recorded.get("name"),
                "error": recorded.get("error"),
            }
        except ValueError as exc:
            return {"available": None, "name": None, "error": f"bad usb_backend.json: {exc}"}
    return {"available": None, "name": None, "error": "not examined: pyusb looks at this machine, not at the root"}


def read_pyusb(system: System) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Coral devices through pyusb with `system.usb_backend` (None: pyusb's own lookup of libusb).
    Returns (devices, backend facts). Never raises: a missing libusb is a fact (NoBackendError)."""
    if not system.is_host and system.usb_backend is None:
        return [], _recorded_backend(system)
    backend_name = type(system.usb_backend).__module__ if system.usb_backend is not None else None
    try:
        import usb.core  # pyusb
    except ImportError as exc:
        return [], {"available": False, "name": None, "error": f"ImportError: {exc} (pyusb is not installed)"}
    devices = []
    try:
        for dev in usb.core.find(find_all=True, backend=system.usb_backend):
            vendor, product = _hex4(getattr(dev, "idVendor", None)), _hex4(getattr(dev, "idProduct", None))
            if coral_state(vendor, product) is None:
                continue
            bus, address = getattr(dev, "bus", None), getattr(dev, "address", None)
            port = None
            try:
                numbers = getattr(dev, "port_numbers", None)
                if numbers:
                    port = ".".join(str(n) for n in numbers)
            except Exception:  # some backends raise for port_numbers
                numbers = None
            if port is None and getattr(dev, "port_number", None):
                port = str(dev.port_number)
            speed = PYUSB_SPEEDS.get(getattr(dev, "speed", None) or 0)
            devices.append(
                _device(
                    vendor,
                    product,
                    bus=bus,
                    address=address,
                    port=port,
                    speed_mbps=speed,
                    dev_node=dev_node(bus, address),
                    source="pyusb",
                )
            )
        if backend_name is None:
            backend_name = _default_backend_name(devices)
    except Exception as exc:  # usb.core.NoBackendError, USBError, a broken libusb
        return [], {"available": False, "name": backend_name, "error": f"{type(exc).__name__}: {exc}"}
    return devices, {"available": True, "name": backend_name, "error": None}


def _default_backend_name(_devices) -> Optional[str]:
    try:
        import usb.backend.libusb1 as libusb1

        return "libusb1" if libusb1.get_backend() is not None else None
    except Exception:
        return None


def merge(sysfs: Sequence[Dict[str, Any]], pyusb: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One entry per device: matched on (bus, address); sysfs wins for the fields it has."""
    merged = [dict(d) for d in sysfs]
    by_key = {(d.get("bus"), d.get("address")): d for d in merged}
    for dev in pyusb:
        key = (dev.get("bus"), dev.get("address"))
        if key in by_key and None not in key:
            target = by_key[key]
            for name, value in dev.items():
                if target.get(name) is None and value is not None:
                    target[name] = value
            target["source"] = "both"
        else:
            merged.append(dict(dev))
    return merged


# --- macOS: system_profiler ----------------------------------------------------------------------------------


def _walk_items(node: Any) -> Iterable[Dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for _key, value in node.items():
            if isinstance(value, list):
                for item in value:
                    yield from _walk_items(item)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_items(item)


def _mac_location(location: Optional[str]) -> Tuple[Optional[int], Optional[str], Optional[int]]:
    """`0x14100000 / 2` -> (bus 0x14 = 20, port path "1", address 2). The location id's top byte is the
    bus, then one nibble per hub port."""
    if not location:
        return None, None, None
    match = re.match(r"\s*0x([0-9a-fA-F]{8})(?:\s*/\s*(\d+))?", str(location))
    if not match:
        return None, None, None
    raw = match.group(1)
    bus = int(raw[:2], 16)
    ports = [str(int(c, 16)) for c in raw[2:] if c != "0"]
    return bus, ".".join(ports) or None, int(match.group(2)) if match.group(2) else None


def parse_system_profiler_json(text: str) -> List[Dict[str, Any]]:
    """`system_profiler SPUSBDataType -json` (macOS 10.15-15) or `SPUSBHostDataType -json` (macOS 26+)."""
    data = json.loads(text)
    devices = []
    for item in _walk_items(data):
        vendor = _hex4(item.get("vendor_id", item.get("USBDeviceKeyVendorID")))
        product = _hex4(item.get("product_id", item.get("USBDeviceKeyProductID")))
        if coral_state(vendor, product) is None:
            continue
        bus, port, address = _mac_location(item.get("location_id", item.get("USBKeyLocationID")))
        speed = item.get("device_speed", item.get("USBDeviceKeyLinkSpeed", item.get("speed")))
        devices.append(
            _device(
                vendor,
                product,
                bus=bus,
                port=port,
                address=address,
                speed_mbps=parse_speed(speed),
                serial=item.get("serial_num", item.get("USBDeviceKeySerialNumber")),
                manufacturer=item.get("manufacturer", item.get("USBDeviceKeyVendorName")),
                product=item.get("_name"),
                source="system_profiler",
            )
        )
    return devices


def parse_system_profiler_text(text: str) -> List[Dict[str, Any]]:
    """The plain-text form of `system_profiler SPUSBDataType`: indented `Key: value` blocks under a name."""
    devices = []
    block: Dict[str, str] = {}
    name = None

    def flush():
        vendor, product = _hex4(block.get("Vendor ID")), _hex4(block.get("Product ID"))
        if coral_state(vendor, product) is not None:
            bus, port, address = _mac_location(block.get("Location ID"))
            devices.append(
                _device(
                    vendor,
                    product,
                    bus=bus,
                    port=port,
                    address=address,
                    speed_mbps=parse_speed(block.get("Speed")),
                    serial=block.get("Serial Number"),
                    manufacturer=block.get("Manufacturer"),
                    product=name,
                    source="system_profiler",
                )
            )

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.endswith(":") and ": " not in stripped:
            flush()
            block, name = {}, stripped[:-1]
            continue
        key, sep, value = stripped.partition(": ")
        if sep:
            block[key.strip()] = value.strip()
    flush()
    return devices


def read_darwin(ctx: ProbeContext) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    errors = []
    for argv in (["system_profiler", "SPUSBDataType", "-json"], ["system_profiler", "SPUSBHostDataType", "-json"]):
        result = ctx.system.run(argv, 30.0)
        if not result.ok:
            errors.append(f"{' '.join(argv)}: {result.error or result.stderr.strip() or result.returncode}")
            continue
        try:
            devices = parse_system_profiler_json(result.stdout)
        except ValueError:
            devices = parse_system_profiler_text(result.stdout)
        if devices:
            return devices, None
    result = ctx.system.run(["system_profiler", "SPUSBDataType"], 30.0)
    if result.ok:
        return parse_system_profiler_text(result.stdout), None
    return [], "; ".join(errors) or None


# --- Windows: PnP ---------------------------------------------------------------------------------------------

_PNP_ID = re.compile(r"(USB|PCI)\\(?:VID|VEN)_([0-9A-F]{4})&(?:PID|DEV)_([0-9A-F]{4})", re.IGNORECASE)


def parse_pnputil(text: str) -> List[Dict[str, Any]]:
    """`pnputil /enum-devices /connected` (Windows 10 2004+): blocks of `Key:   value` lines separated by a
    blank line. Returns every device with its instance id, description, status and problem."""
    entries: List[Dict[str, str]] = []
    block: Dict[str, str] = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if block.get("Instance ID"):
                entries.append(block)
            block = {}
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip():
            block[key.strip()] = value.strip()
    out = []
    for block in entries:
        out.append(
            {
                "instance_id": block.get("Instance ID"),
                "description": block.get("Device Description"),
                "manufacturer": block.get("Manufacturer Name"),
                "status": block.get("Status"),
                "problem": block.get("Problem Code") or block.get("Problem Status"),
                "driver": block.get("Driver Name"),
            }
        )
    return out


def parse_pnp_json(text: str) -> List[Dict[str, Any]]:
    """PowerShell `Get-PnpDevice ... | Select-Object InstanceId,FriendlyName,Status,Problem | ConvertTo-Json`
    (one object or a list)."""
    data = json.loads(text) if text.strip() else []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return []
    return [
        {
            "instance_id": d.get("InstanceId"),
            "description": d.get("FriendlyName"),
            "manufacturer": d.get("Manufacturer"),
            "status": d.get("Status"),
            "problem": None if d.get("Problem") in (None, 0, "CM_PROB_NONE") else str(d.get("Problem")),
            "driver": None,
        }
        for d in data
        if isinstance(d, dict)
    ]


def pnp_ids(instance_id: Optional[str]) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """`USB\\VID_18D1&PID_9302\\...` -> ("usb", "18d1", "9302"); PCI gives ("pci", vendor, device)."""
    match = _PNP_ID.search(instance_id or "")
    if not match:
        return None, None, None
    return match.group(1).lower(), match.group(2).lower(), match.group(3).lower()


PNP_POWERSHELL = [
    "powershell",
    "-NoProfile",
    "-Command",
    "Get-PnpDevice -PresentOnly | Where-Object { $_.InstanceId -match 'VID_18D1|VID_1A6E|VEN_1AC1' } "
    "| Select-Object InstanceId,FriendlyName,Manufacturer,Status,Problem | ConvertTo-Json",
]


def read_pnp(ctx: ProbeContext) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """All PnP entries of this machine (Coral or not), from pnputil or else PowerShell."""
    result = ctx.system.run(["pnputil", "/enum-devices", "/connected"], 30.0)
    if result.ok and "Instance ID" in result.stdout:
        return parse_pnputil(result.stdout), None
    first = result.error or result.stderr.strip() or f"exit code {result.returncode}"
    result = ctx.system.run(PNP_POWERSHELL, 60.0)
    if result.ok:
        try:
            return parse_pnp_json(result.stdout), None
        except ValueError as exc:
            return [], f"Get-PnpDevice printed no JSON: {exc}"
    return [], f"pnputil: {first}; Get-PnpDevice: {result.error or result.stderr.strip() or result.returncode}"


def read_windows(ctx: ProbeContext) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    entries, error = read_pnp(ctx)
    devices = []
    for entry in entries:
        bus_kind, vendor, product = pnp_ids(entry.get("instance_id"))
        if bus_kind != "usb" or coral_state(vendor, product) is None:
            continue
        devices.append(
            _device(
                vendor,
                product,
                source="pnp",
                product=entry.get("description"),
                manufacturer=entry.get("manufacturer"),
                pnp_status=entry.get("status"),
                pnp_problem=entry.get("problem"),
                instance_id=entry.get("instance_id"),
            )
        )
    return devices, error


# --- udev rules and groups ----------------------------------------------------------------------------------


def find_udev_rules(system: System, needles: Sequence[str], dirs: Sequence[str] = UDEV_RULE_DIRS) -> List[str]:
    """Paths of `*.rules` files that mention any needle (a regex, case-insensitive) on a non-comment line."""
    pattern = re.compile("|".join(needles), re.IGNORECASE)
    found = []
    for folder in dirs:
        for path in system.glob(folder, "*.rules"):
            text = system.read_text(path) or ""
            if any(pattern.search(line) for line in text.splitlines() if not line.lstrip().startswith("#")):
                found.append(path)
    return found


USB_RULE_NEEDLES = (r'idVendor}?\s*==\s*"?(1a6e|18d1)', r"(1a6e|18d1):")


# --- the reader -------------------------------------------------------------------------------------------------


def read(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    facts: Dict[str, Any] = {
        "devices": [],
        "backend": {"available": None, "name": None, "error": None},
        "udev_rules": [],
        "user": None,
        "user_groups": None,
        "dev_bus_usb": None,
        "sysfs": None,
        "error": None,
    }
    errors = []
    try:
        facts["user"] = system.user_name()
        facts["user_groups"] = system.user_groups()
        if system.platform == "linux":
            sysfs_devices, sysfs_error = read_sysfs(system)
            facts["sysfs"] = sysfs_error is None
            if sysfs_error:
                errors.append(sysfs_error)
            py_devices, facts["backend"] = read_pyusb(system)
            facts["devices"] = merge(sysfs_devices, py_devices)
            for dev in facts["devices"]:
                if dev.get("accessible") is None and dev.get("dev_node"):
                    dev["dev_node_exists"] = system.exists(dev["dev_node"])
                    dev["accessible"] = system.access(dev["dev_node"], RW_OK) if dev["dev_node_exists"] else False
            facts["dev_bus_usb"] = system.exists(DEV_BUS_USB)
            facts["udev_rules"] = find_udev_rules(system, USB_RULE_NEEDLES)
        elif system.platform == "darwin":
            facts["devices"], error = read_darwin(ctx)
            if error:
                errors.append(error)
            py_devices, facts["backend"] = read_pyusb(system)
            if not facts["devices"] and py_devices:
                facts["devices"] = py_devices
        elif system.platform == "windows":
            facts["devices"], error = read_windows(ctx)
            if error:
                errors.append(error)
            py_devices, facts["backend"] = read_pyusb(system)
            if not facts["devices"] and py_devices:
                facts["devices"] = py_devices
        else:
            errors.append(f"USB is not examined on platform {system.platform!r}")
    except Exception as exc:  # a reader must not take the check down
        errors.append(f"{type(exc).__name__}: {exc}")
    facts["error"] = "; ".join(errors) or None
    return facts
