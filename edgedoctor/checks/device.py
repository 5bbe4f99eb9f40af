"""Device checks: is an Edge TPU there, reachable by this user, on a good link, with its driver?

Pure: reads facts["usb"], facts["pcie"], facts["platform"] (any may be missing) and returns Findings.
Sources for the numbers and commands quoted here are in shared/reference/coral-facts.md (§1.3, §2, §4).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from edgedoctor.report.findings import FAIL, INFO, PASS, SKIP, WARN, Finding

USB_RULES_REMEDY = (
    "sudo tee /etc/udev/rules.d/99-edgetpu-accelerator.rules >/dev/null <<'EOF'\n"
    'SUBSYSTEM=="usb",ATTRS{idVendor}=="1a6e",ATTRS{idProduct}=="089a",GROUP="plugdev"\n'
    'SUBSYSTEM=="usb",ATTRS{idVendor}=="18d1",ATTRS{idProduct}=="9302",GROUP="plugdev"\n'
    "EOF\n"
    "sudo udevadm control --reload-rules && sudo udevadm trigger"
)
PLUGDEV_REMEDY = "sudo usermod -aG plugdev $USER   # then log out and back in"
APEX_RULES_REMEDY = (
    'sudo sh -c \'echo "SUBSYSTEM==\\"apex\\", MODE=\\"0660\\", GROUP=\\"apex\\"" > /etc/udev/rules.d/65-apex.rules\'\n'
    "sudo groupadd -f apex\n"
    "sudo udevadm control --reload-rules && sudo udevadm trigger"
)
APEX_GROUP_REMEDY = "sudo usermod -aG apex $USER   # then log out and back in"
GASKET_INSTALL = (
    "sudo apt-get install gasket-dkms   # from Coral's apt repository (see the runtime install)\n"
    "sudo modprobe apex\n"
    "# if the kernel refuses the module, reboot once"
)
GASKET_FROM_SOURCE = (
    "# gasket-dkms 1.0-18 from Coral's apt repository does not build on newer kernels; build google/gasket-driver:\n"
    "sudo apt-get install -y devscripts debhelper dkms linux-headers-$(uname -r)\n"
    "git clone https://github.com/google/gasket-driver.git && cd gasket-driver\n"
    "debuild -us -uc -tc -b && cd .. && sudo dpkg -i gasket-dkms_1.0-18_all.deb\n"
    "sudo modprobe apex"
)
SECURE_BOOT_REMEDY = (
    "# either enrol DKMS's signing key (you set a one-time password, reboot, and confirm it in the blue MOK manager):\n"
    "sudo mokutil --import /var/lib/dkms/mok.pub && sudo reboot\n"
    "# or turn Secure Boot off in the firmware (UEFI) settings"
)
PI5_PAGE_REMEDY = (
    "echo 'kernel=kernel8.img' | sudo tee -a /boot/firmware/config.txt   # the 4K-page kernel\nsudo reboot"
)
PI5_MSI_REMEDY = "echo 'dtoverlay=pciex1-compat-pi5,no-mip' | sudo tee -a /boot/firmware/config.txt\nsudo reboot"
LIBUSB_REMEDY = {
    "linux": "sudo apt-get install libusb-1.0-0",
    "darwin": "brew install libusb",
    "windows": "py -m pip install libusb-package   # bundles libusb-1.0.dll for pyusb",
}
CONTAINER_USB_REMEDY = (
    "# pass the whole USB bus, because the accelerator changes id (and device number) on first use:\n"
    "docker run --device /dev/bus/usb:/dev/bus/usb ...   # or: -v /dev/bus/usb:/dev/bus/usb --privileged"
)
CONTAINER_PCIE_REMEDY = "docker run --device /dev/apex_0:/dev/apex_0 ..."

# Published latencies (coral-facts §4): edgetpu#151 (Coral maintainer): ~9 ms MobileNet v1 and ~12 ms v2 on
# a Pi 3's USB 2, against 2.4 / 2.6 ms on USB 3 (coral.ai benchmarks table).
USB2_SLOWDOWN = (
    "On USB 2 the Edge TPU waits on the link: Coral measured about 9 ms (MobileNet v1) and "
    "12 ms (MobileNet v2) per inference over USB 2, against 2.4 and 2.6 ms over USB 3 "
    "(github.com/google-coral/edgetpu/issues/151, coral.ai/docs/edgetpu/benchmarks)."
)

TEMP_MIN_C, TEMP_MAX_C = -40.0, 150.0  # outside this an apex `temp` reading is nonsense
TEMP_TRIP_C = 85.0  # gasket's default trip_point0_temp (85000 milli-°C)


def _platform(facts: Dict[str, Any]) -> Dict[str, Any]:
    return facts.get("platform") or {}


def _os(facts: Dict[str, Any]) -> str:
    return _platform(facts).get("os") or "linux"


def _describe_usb(dev: Dict[str, Any]) -> str:
    where = []
    if dev.get("bus") is not None:
        where.append(f"bus {dev['bus']}")
    if dev.get("port"):
        where.append(f"port {dev['port']}")
    speed = dev.get("speed_mbps")
    if speed is not None:
        where.append(f"{speed} Mbit/s")
    return f"{dev.get('vendor_id')}:{dev.get('product_id')} ({dev.get('state')})" + (
        f" on {', '.join(where)}" if where else ""
    )


def _gasket_from_source(facts: Dict[str, Any], pcie: Dict[str, Any]) -> str:
    """GASKET_FROM_SOURCE with the kernel headers package of this OS. Raspberry Pi OS before Bookworm ships its
    kernel as raspberrypi-kernel (releases like 6.1.21-v8+), whose headers are raspberrypi-kernel-headers: there
    is no linux-headers-6.1.21-v8+. Bookworm's Debian-style kernels (6.6.31+rpt-rpi-2712) have
    linux-headers-$(uname -r)."""
    kernel = pcie.get("kernel") or _platform(facts).get("kernel") or ""
    board = _platform(facts).get("board") or ""
    if board.startswith("raspberry-pi") and kernel and "+rpt-" not in kernel:
        return GASKET_FROM_SOURCE.replace("linux-headers-$(uname -r)", "raspberrypi-kernel-headers")
    return GASKET_FROM_SOURCE


def _is_pi5(facts: Dict[str, Any]) -> bool:
    board = _platform(facts).get("board") or ""
    model = (facts.get("pcie") or {}).get("dt_model") or _platform(facts).get("board_model") or ""
    return board == "raspberry-pi-5" or model.startswith("Raspberry Pi 5")


# --- what the runtime saw -------------------------------------------------------------------------------------
# The runtime enumerates through libusb and /sys/class/apex itself (edgetpu_list_devices), and the runtime
# worker tries to open what it lists. The device section trusts that as well as sysfs and never contradicts it:
# a device the runtime lists is present, whatever the system listing showed.

PERMISSION_RE = re.compile(r"Permission denied|USB error -3\b")


def _runtime_listed(facts) -> List[Dict[str, Any]]:
    runtime = facts.get("runtime") or {}
    if runtime.get("loaded") is False:
        return []
    return [d for d in runtime.get("devices") or [] if isinstance(d, dict)]


def _runtime_open(facts) -> Dict[str, Any]:
    opened = (facts.get("runtime") or {}).get("open")
    return opened if isinstance(opened, dict) else {}


# --- presence ----------------------------------------------------------------------------------------------------


def _presence(facts, usb, pcie, usb_devs, pci_devs) -> List[Finding]:
    in_container = _platform(facts).get("in_container")
    listed = _runtime_listed(facts)
    if listed and not usb_devs and not pci_devs:
        return [_found_by_runtime(listed, in_container)]
    if usb_devs or pci_devs:
        parts = [f"USB Accelerator {_describe_usb(d)}" for d in usb_devs]
        parts += [f"PCIe Edge TPU at {d.get('address')}" for d in pci_devs]
        return [
            Finding(
                "device.present",
                PASS,
                f"{len(parts)} Edge TPU{'s' if len(parts) > 1 else ''} found",
                detail="; ".join(parts) + ".",
            )
        ]
    if not usb and not pcie:
        return [
            Finding(
                "device.present",
                SKIP,
                "Edge TPU devices were not examined",
                detail="The facts hold no USB or PCIe section.",
            )
        ]
    if in_container and not usb.get("dev_bus_usb") and not (pcie.get("dev_apex") or []):
        return [
            Finding(
                "device.present",
                FAIL,
                "No Edge TPU is visible inside this container",
                causes=["container-device"],
                detail="edgedoctor runs inside a container that has neither /dev/bus/usb nor /dev/apex_N, so no "
                "Edge TPU can be seen or opened from here even if one is plugged into the host.",
                remedy=CONTAINER_USB_REMEDY + "\n# PCIe (M.2 / Mini PCIe):\n" + CONTAINER_PCIE_REMEDY,
            )
        ]
    return [_none_found(facts, usb, pcie)]


def _found_by_runtime(listed, in_container) -> Finding:
    paths = ", ".join(f"{d.get('type')}: {d.get('path')}" for d in listed)
    return Finding(
        "device.present",
        PASS,
        f"{len(listed)} Edge TPU{'s' if len(listed) > 1 else ''} found by the runtime",
        detail=f"The Edge TPU runtime lists {paths} (edgetpu_list_devices, through libusb and "
        "/sys/class/apex); the system listing edgedoctor read did not show "
        + ("it" if len(listed) == 1 else "them")
        + "."
        + (" This is a container: the runtime reaches the device through /dev/bus/usb." if in_container else ""),
    )


_LOOKED_IN = {
    "linux": ["/sys/bus/usb/devices (1a6e:089a, 18d1:9302)", "/sys/bus/pci/devices (1ac1:089a)"],
    "darwin": ["system_profiler SPUSBDataType"],
    "windows": ["pnputil /enum-devices /connected"],
}


def _none_found(facts, usb, pcie) -> Finding:
    looked = _LOOKED_IN.get(_os(facts), [])
    errors = "; ".join(e for e in (usb.get("error"), pcie.get("error")) if e)
    detail = (
        "No Coral USB Accelerator and no PCIe Edge TPU was found"
        + (f" (looked in {', '.join(looked)})" if looked else "")
        + "."
    )
    if errors:
        detail += f" Reader notes: {errors}."
    return Finding(
        "device.present",
        FAIL,
        "No Edge TPU found",
        causes=["no-device"],
        detail=detail,
        remedy="Plug the USB Accelerator into a USB 3 port directly (not through an unpowered hub), "
        "or seat the M.2 / Mini PCIe card, then run:\n"
        + ("lsusb; lspci -nn | grep 089a" if _os(facts) == "linux" else "edgedoctor check"),
    )


# --- USB --------------------------------------------------------------------------------------------------------


def _usb_access(facts, usb, devs) -> List[Finding]:
    in_container = _platform(facts).get("in_container")
    opened = _runtime_open(facts)
    if opened.get("ok"):
        # The runtime opened it: whatever a permission bit said, this user can use it.
        return [
            Finding(
                "device.usb",
                PASS,
                "USB Accelerator present and opened by the runtime",
                detail="; ".join(_describe_usb(d) for d in devs) + "; edgetpu_create_delegate() opened it.",
            )
        ]
    denied = [d for d in devs if d.get("accessible") is False]
    runtime_denied = PERMISSION_RE.search(opened.get("reason") or "")
    if runtime_denied and not denied:
        denied = [dict(d, accessible=False) for d in devs]
    if in_container and not usb.get("dev_bus_usb") and devs and not _runtime_listed(facts):
        return [
            Finding(
                "device.usb",
                FAIL,
                "The USB Accelerator is not passed into this container",
                causes=["container-device"],
                detail=f"The host's sysfs shows {', '.join(_describe_usb(d) for d in devs)}, but this container has no "
                "/dev/bus/usb, so the runtime cannot open it. The accelerator changes id and device number "
                "on first use (1a6e:089a -> 18d1:9302), so mapping one device node is not enough.",
                remedy=CONTAINER_USB_REMEDY,
            )
        ]
    if denied:
        return [_usb_denied(usb, denied, opened.get("reason") if runtime_denied else None)]
    problems = [
        d
        for d in devs
        if d.get("pnp_problem") or (d.get("pnp_status") and d["pnp_status"].lower() not in ("started", "ok"))
    ]
    if problems:
        return [_windows_usb_driver(problems)]
    how = (
        "accessible to this user"
        if all(d.get("accessible") for d in devs)
        else "(access not examined on this platform)"
    )
    return [
        Finding(
            "device.usb",
            PASS,
            "USB Accelerator present",
            detail="; ".join(_describe_usb(d) for d in devs) + f"; {how}.",
        )
    ]


def _usb_denied(usb, denied, runtime_says: Optional[str]) -> Finding:
    """This user may not open the accelerator's node: the udev rule and the plugdev group, and what to do."""
    rules = usb.get("udev_rules") or []
    groups = usb.get("user_groups")
    user = usb.get("user") or "this user"
    nodes = ", ".join(d.get("dev_node") or "?" for d in denied)
    in_plugdev = None if groups is None else "plugdev" in groups
    detail = f"{user} may not open {nodes} ({', '.join(_describe_usb(d) for d in denied)}). "
    if runtime_says is not None:
        detail += f"The runtime says: {runtime_says}. "
    remedy = []
    if rules:
        detail += f"A udev rule for the Coral ids exists ({', '.join(rules)}). "
    else:
        detail += (
            "No udev rule names the Coral ids (1a6e / 18d1) in /etc/udev/rules.d or /lib/udev/rules.d; "
            "the libedgetpu1-std/-max packages install one. "
        )
        remedy.append(USB_RULES_REMEDY)
    if in_plugdev is False:
        detail += f"{user} is not in the plugdev group the rule grants access to."
        remedy.append(PLUGDEV_REMEDY)
    elif in_plugdev:
        detail += f"{user} is in plugdev; the device was probably plugged in before the rule was installed."
    remedy.append("# then unplug the accelerator and plug it in again (or reboot)")
    return Finding(
        "device.usb",
        FAIL,
        "The USB Accelerator is not accessible to this user",
        causes=["usb-permissions"],
        detail=detail.strip(),
        remedy="\n".join(remedy),
    )


def _windows_usb_driver(problems) -> Finding:
    return Finding(
        "device.usb",
        FAIL,
        "Windows has no working driver for the USB Accelerator",
        causes=["windows-runtime"],
        detail="; ".join(
            f"{_describe_usb(d)}: status {d.get('pnp_status')}"
            + (f", problem {d['pnp_problem']}" if d.get("pnp_problem") else "")
            for d in problems
        ),
        remedy="Unzip edgetpu_runtime_20210119.zip and run install.bat as Administrator, then replug the accelerator.",
    )


def _usb_link(devs) -> List[Finding]:
    speeds = [(d, d.get("speed_mbps")) for d in devs if d.get("speed_mbps") is not None]
    if not speeds:
        return []
    slow = [(d, s) for d, s in speeds if s < 5000]
    if not slow:
        return [
            Finding(
                "device.usb-link", PASS, "USB 3 link", detail="; ".join(f"{_describe_usb(d)}" for d, _ in speeds) + "."
            )
        ]
    findings = []
    usb2 = [d for d, s in slow if s == 480]
    slower = [d for d, s in slow if s < 480]
    if usb2:
        bootloader = any(d.get("state") == "bootloader" for d in usb2)
        detail = f"{', '.join(_describe_usb(d) for d in usb2)}: the link runs at 480 Mbit/s (USB 2.0). " + USB2_SLOWDOWN
        if bootloader:
            detail += (
                " The device is still in its bootloader state; check again after the first inference, "
                "when it re-enumerates as 18d1:9302."
            )
        findings.append(
            Finding(
                "device.usb-link",
                WARN,
                "The USB Accelerator is on a USB 2.0 link",
                causes=["usb2-link"],
                detail=detail,
                remedy="Plug it into a USB 3 port (blue or marked SS) with the supplied USB 3 cable, directly or "
                "through a powered USB 3 hub; then check: lsusb -t   (the device should show 5000M)",
            )
        )
    if slower:
        findings.append(
            Finding(
                "device.usb-link",
                WARN,
                "The USB Accelerator is on a USB 1.x link",
                causes=["usb-power", "usb2-link"],
                detail=f"{', '.join(_describe_usb(d) for d in slower)}: below 480 Mbit/s the runtime refuses or crawls "
                '(libedgetpu: "USB Low speed is not supported"); this usually means a bad cable, hub or port.',
                remedy="Use the supplied cable and a USB 3 port directly on the computer; then check: lsusb -t",
            )
        )
    return findings


def _usb_state(facts, devs) -> List[Finding]:
    boot = [d for d in devs if d.get("state") == "bootloader"]
    if not boot:
        return []
    platform = _platform(facts)
    where = ""
    if platform.get("in_container"):
        where = " You are in a container: make sure the device mapping survives the switch (map /dev/bus/usb, not one node)."
    return [
        Finding(
            "device.usb-state",
            INFO,
            "The USB Accelerator is in its bootloader state (1a6e:089a)",
            causes=["usb-firmware-state"],
            detail="This is normal before first use: the accelerator shows as 1a6e:089a (Global Unichip Corp.) until a "
            "program loads the Edge TPU runtime, which uploads the firmware; it then re-enumerates as 18d1:9302 "
            "(Google Inc.) with a new device number. A VM or container that passes through only 1a6e:089a "
            "loses the device at that moment, so pass through both ids (or the whole USB controller / "
            "/dev/bus/usb)." + where,
            remedy="# VM (e.g. Proxmox/libvirt): add USB passthrough for 1a6e:089a and 18d1:9302, or the whole port\n"
            + CONTAINER_USB_REMEDY,
        )
    ]


def _usb_backend(facts, usb) -> List[Finding]:
    backend = usb.get("backend") or {}
    if backend.get("available") is not False:
        return []
    os_name = _os(facts)
    return [
        Finding(
            "device.usb-backend",
            INFO,
            "pyusb found no libusb backend",
            detail=f"{backend.get('error') or 'No backend available'}. edgedoctor could not list USB devices through "
            "libusb" + (" (sysfs was used instead)" if os_name == "linux" else "") + ". The Edge TPU runtime "
            "itself links libusb-1.0 for the USB Accelerator.",
            remedy=LIBUSB_REMEDY.get(os_name, LIBUSB_REMEDY["linux"]),
        )
    ]


# --- PCIe ---------------------------------------------------------------------------------------------------------


def _dkms_failed(pcie) -> Optional[str]:
    """Why DKMS did not produce gasket/apex for the running kernel, or None."""
    dkms = pcie.get("dkms") or {}
    entries = dkms.get("entries") or []
    kernel = pcie.get("kernel")
    errors = dkms.get("make_log_errors") or []
    if not entries:
        return None
    built = [
        e
        for e in entries
        if (e.get("state") or "").startswith("installed") and (kernel is None or e.get("kernel") in (None, kernel))
    ]
    if built:
        return None
    states = ", ".join(
        f"{e['module']}/{e.get('version')}" + (f" {e['kernel']}" if e.get("kernel") else "") + f": {e.get('state')}"
        for e in entries
    )
    text = f"dkms status shows no build for the running kernel {kernel or '?'} ({states})."
    if errors:
        text += f" {dkms.get('make_log') or 'make.log'}: {errors[0]}"
    return text


def _pcie(facts, pcie, devs) -> List[Finding]:
    findings: List[Finding] = []
    dkms_failure = _dkms_failed(pcie)
    unbound = [d for d in devs if d.get("driver") != "apex"]
    bound = [d for d in devs if d.get("driver") == "apex"]
    if unbound:
        findings.append(_no_driver(facts, pcie, unbound, dkms_failure))
    elif bound:
        findings.append(
            Finding(
                "device.pcie",
                PASS,
                "PCIe Edge TPU with the apex driver",
                detail="; ".join(f"{d.get('address')} -> {d.get('dev_node') or 'no node'}" for d in bound) + ".",
            )
        )
    if dkms_failure and not unbound:
        findings.append(
            Finding(
                "device.pcie-driver-build",
                WARN if not devs else FAIL,
                "The gasket/apex driver did not build for the running kernel",
                causes=["pcie-driver-build"],
                detail=dkms_failure,
                remedy=_gasket_from_source(facts, pcie),
            )
        )
    findings.extend(_apex_nodes(facts, pcie, bound))
    findings.extend(_apex_health(pcie, bound))
    return findings


def _unbound_detail(pcie, unbound) -> str:
    modules = pcie.get("modules") or {}
    addresses = ", ".join(d.get("address") or "?" for d in unbound)
    detail = f"The PCIe Edge TPU at {addresses} has no driver bound"
    loaded = [m for m in ("gasket", "apex") if modules.get(m)]
    if loaded:
        detail += f" (loaded: {', '.join(loaded)})"
    elif modules.get("apex") is False:
        detail += " and the gasket/apex modules are not loaded"
    return detail + "."


def _no_driver(facts, pcie, unbound, dkms_failure: Optional[str]) -> Finding:
    """A PCIe Edge TPU without the apex driver, and why: Windows, a failed DKMS build, Secure Boot, or missing."""
    detail = _unbound_detail(pcie, unbound)
    if _os(facts) == "windows" or any(d.get("pnp_problem") for d in unbound):
        problems = [str(d["pnp_problem"]) for d in unbound if d.get("pnp_problem")]
        if problems:
            detail += " Device Manager reports: " + "; ".join(problems) + "."
        return Finding(
            "device.pcie",
            FAIL,
            "The PCIe Edge TPU has no driver",
            causes=["windows-runtime"],
            detail=detail,
            remedy="Install the Edge TPU PCIe driver from the runtime zip (install.bat as Administrator) and reboot.",
        )
    if dkms_failure:
        return Finding(
            "device.pcie",
            FAIL,
            "The gasket/apex driver did not build for this kernel",
            causes=["pcie-driver-build"],
            detail=f"{detail} {dkms_failure}",
            remedy=_gasket_from_source(facts, pcie),
        )
    if pcie.get("secure_boot") and not (pcie.get("modules") or {}).get("apex"):
        extra = f" Kernel lockdown: {pcie.get('lockdown')}." if pcie.get("lockdown") not in (None, "none") else ""
        return Finding(
            "device.pcie",
            FAIL,
            "Secure Boot refuses the unsigned gasket/apex modules",
            causes=["secure-boot"],
            detail=f"{detail} Secure Boot is on ({pcie.get('secure_boot_source') or 'EFI'}), and the kernel "
            f"loads only signed modules; the DKMS-built gasket and apex modules are not signed by a key "
            f"it trusts.{extra}",
            remedy=SECURE_BOOT_REMEDY,
        )
    blacklisted = pcie.get("modules_builtin_blacklisted") or []
    if blacklisted:
        detail += f" They are blacklisted in {', '.join(blacklisted)}."
    return Finding(
        "device.pcie",
        FAIL,
        "The PCIe Edge TPU has no driver",
        causes=["pcie-driver-missing"],
        detail=detail,
        remedy=GASKET_INSTALL,
    )


def _apex_nodes(facts, pcie, bound) -> List[Finding]:
    findings: List[Finding] = []
    if _os(facts) != "linux":
        return findings  # /dev/apex_N is the Linux driver's; Windows has its own device interface
    in_container = _platform(facts).get("in_container")
    missing = [
        d for d in bound if d.get("dev_node_exists") is False or (d.get("apex") is None and d.get("dev_node") is None)
    ]
    if missing:
        names = ", ".join(d.get("dev_node") or f"/dev/apex_? for {d.get('address')}" for d in missing)
        if in_container:
            findings.append(
                Finding(
                    "device.apex-node",
                    FAIL,
                    "/dev/apex_N is not passed into this container",
                    causes=["container-device"],
                    detail=f"The apex driver is bound on the host, but {names} does not exist in this container.",
                    remedy=CONTAINER_PCIE_REMEDY,
                )
            )
        else:
            findings.append(
                Finding(
                    "device.apex-node",
                    FAIL,
                    "The apex driver is bound but its device node is missing",
                    causes=["pcie-driver-missing"],
                    detail=f"{names} does not exist although the driver is bound; the runtime opens /dev/apex_N.",
                    remedy="sudo modprobe -r apex && sudo modprobe apex\nls -l /dev/apex_*   # if still missing: reboot",
                )
            )
    denied = [d for d in bound if d.get("dev_node_exists") and d.get("accessible") is False]
    if denied:
        groups = pcie.get("user_groups")
        rules = pcie.get("udev_rules") or []
        detail = f"This user may not open {', '.join(d['dev_node'] for d in denied)}. "
        remedy = []
        if rules:
            detail += f"A udev rule for apex exists ({', '.join(rules)}). "
        else:
            detail += 'No udev rule gives the apex devices to a group (gasket-dkms installs SUBSYSTEM=="apex", GROUP="apex"). '
            remedy.append(APEX_RULES_REMEDY)
        if groups is not None and "apex" not in groups:
            detail += "The user is not in the apex group."
            remedy.append(APEX_GROUP_REMEDY)
        remedy.append("# then reboot (or reload the module: sudo modprobe -r apex && sudo modprobe apex)")
        findings.append(
            Finding(
                "device.apex-node",
                FAIL,
                "/dev/apex_N is not accessible to this user",
                causes=["apex-permissions"],
                detail=detail.strip(),
                remedy="\n".join(remedy),
            )
        )
    return findings


HUNG_LOG = re.compile(r"did not (enable|leave reset) within timeout|Error in device open cb", re.IGNORECASE)


def _apex_health(pcie, bound) -> List[Finding]:
    findings = []
    hung = [line.strip() for line in pcie.get("dmesg_apex") or [] if HUNG_LOG.search(line)]
    for dev in bound:
        status = (dev.get("status") or "").upper()
        temp = dev.get("temp_c")
        problems = []
        address = dev.get("address") or ""
        mine = [line for line in hung if address and address in line] or (hung if len(bound) == 1 else [])
        if mine:
            problems.append("kernel log: " + " | ".join(mine[-2:]))
        if status and status != "ALIVE":
            problems.append(f"status {status}")
        if temp is not None and not (TEMP_MIN_C <= temp <= TEMP_MAX_C):
            problems.append(f"temperature reading {temp} °C, which is not physical")
        where = dev.get("dev_node") or dev.get("address")
        if problems:
            findings.append(
                Finding(
                    "device.pcie-health",
                    FAIL,
                    "The PCIe Edge TPU reports a fault",
                    causes=["hardware-fault"],
                    detail=f"{where}: {'; '.join(problems)}. A hung or failing chip reports like this "
                    "(gasket's status and temp attributes under /sys/class/apex, its reset messages in the "
                    "kernel log).",
                    remedy="sudo reboot   # a full power cycle; if it persists, reseat the card or try another slot\n"
                    "sudo dmesg | grep -i apex",
                )
            )
        elif temp is not None and temp >= TEMP_TRIP_C:
            findings.append(
                Finding(
                    "device.pcie-health",
                    WARN,
                    "The PCIe Edge TPU is hot",
                    causes=["thermal"],
                    detail=f"{where}: {temp} °C, at or above the driver's first trip point (85 °C), where it throttles.",
                    remedy="Improve airflow or add a heatsink; check: cat /sys/class/apex/apex_*/temp",
                )
            )
    return findings


def _pcie_host(facts, pcie, devs) -> List[Finding]:
    findings = []
    involved = (
        bool(devs)
        or bool((pcie.get("dkms") or {}).get("entries"))
        or bool(pcie.get("gasket_dkms_package"))
        or bool((pcie.get("modules") or {}).get("apex"))
    )
    page_size = pcie.get("page_size") or _platform(facts).get("page_size")
    if involved and page_size == 16384 and _is_pi5(facts):
        findings.append(
            Finding(
                "device.pcie-host",
                FAIL,
                "The Raspberry Pi 5 runs the 16K-page kernel, which the apex driver does not support",
                causes=["pcie-host-unsupported"],
                detail="The kernel page size is 16384 bytes (the Pi 5's default kernel_2712). The gasket/apex driver "
                "works with the 4K-page kernel (kernel8.img).",
                remedy=PI5_PAGE_REMEDY,
            )
        )
    msi = pcie.get("msi_errors") or []
    if msi:
        remedy = (
            PI5_MSI_REMEDY
            if _is_pi5(facts)
            else (
                "This host's PCIe controller does not give the card the MSI-X interrupts it needs; use another host "
                "or slot, or the USB Accelerator."
            )
        )
        findings.append(
            Finding(
                "device.pcie-host",
                FAIL,
                "The host could not give the Edge TPU its MSI-X interrupts",
                causes=["pcie-host-unsupported"],
                detail="Kernel log: " + " | ".join(line.strip() for line in msi[:3]),
                remedy=remedy,
            )
        )
    return findings


def check(facts: Dict[str, Any]) -> List[Finding]:
    usb = facts.get("usb") or {}
    pcie = facts.get("pcie") or {}
    usb_devs = usb.get("devices") or []
    pci_devs = pcie.get("devices") or []
    findings = _presence(facts, usb, pcie, usb_devs, pci_devs)
    if usb_devs:
        findings += _usb_access(facts, usb, usb_devs)
        findings += _usb_link(usb_devs)
        findings += _usb_state(facts, usb_devs)
    findings += _usb_backend(facts, usb)
    findings += _pcie(facts, pcie, pci_devs)
    findings += _pcie_host(facts, pcie, pci_devs)
    return findings
