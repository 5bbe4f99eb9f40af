"""What a libedgetpu file says about itself from its bytes alone, without loading it.

Pure: `inspect(data)` takes the file's bytes. Used for a runtime of another architecture (an aarch64 library in
the `--root` of a Raspberry Pi image, the macOS dylib or Windows DLL examined from Linux) and beside a load, for
the sha256 and the flavour. Google's prebuilt runtimes carry their build label as plain text
(`COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted,CL_NUMBER=317268237`); the throttled (std) builds carry
the message "Performance expectation level Max is not supported when USB connected EdgeTpu is throttled",
which the direct (max) builds lack; builds from the open-source tree say `PERFORMANCE=THROTTLED|DIRECT`.
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Any, Dict, Optional

LABEL_RE = re.compile(
    rb"COMPILER=[\x20-\x7e]{1,120}?,DATE=[\x20-\x7e]{1,40}?,TIME=[\x20-\x7e]{1,20}?"
    rb"(?:,CL_NUMBER=[\x21-\x7e]+)?(?=[^\x20-\x7e]|$)"
)
CL_RE = re.compile(rb"CL_NUMBER=(\d+)")
PERFORMANCE_RE = re.compile(rb"PERFORMANCE=(THROTTLED|DIRECT)")
THROTTLED_TEXT = b"when USB connected EdgeTpu is throttled"
USB_DRIVER_TEXT = b"Performance expectation"
VERSION_FORMAT = b"BuildLabel(%s), RuntimeVersion(%d)"

ELF_MACHINES = {3: "i386", 0x3E: "x86_64", 0x28: "armv7l", 0xB7: "aarch64", 0xF3: "riscv64"}
MACHO_CPUS = {7: "i386", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64"}
PE_MACHINES = {0x14C: "i386", 0x8664: "x86_64", 0xAA64: "arm64", 0x1C4: "armv7l"}
FLAVORS = {"DIRECT": "max", "THROTTLED": "std"}
# The architecture names platform.machine() gives, folded to the names above.
ARCH_ALIASES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "arm64": "aarch64",
    "armv7a": "armv7l",
    "armhf": "armv7l",
    "armv6l": "armv7l",
    "armv8l": "armv7l",
    "i686": "i386",
    "x86": "i386",
}


def normalise_arch(arch: Optional[str]) -> Optional[str]:
    if not arch:
        return None
    arch = arch.lower()
    arch = ARCH_ALIASES.get(arch, arch)
    return "aarch64" if arch == "arm64" else arch


def binary_format(data: bytes) -> Dict[str, Optional[str]]:
    """{"format": "elf"|"mach-o"|"mach-o-fat"|"pe"|None, "arch": ...} from the file header."""
    fmt, arch = None, None
    if data[:4] == b"\x7fELF" and len(data) >= 20:
        fmt = "elf"
        endian = "<" if data[5:6] == b"\x01" else ">"
        arch = ELF_MACHINES.get(struct.unpack(endian + "H", data[18:20])[0])
    elif data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(data) >= 8:
        fmt = "mach-o"
        arch = MACHO_CPUS.get(struct.unpack("<I", data[4:8])[0])
    elif data[:4] == b"\xca\xfe\xba\xbe" and len(data) >= 8:
        fmt = "mach-o-fat"
        count = struct.unpack(">I", data[4:8])[0]
        arches = [
            MACHO_CPUS.get(struct.unpack(">I", data[8 + 20 * i : 12 + 20 * i])[0])
            for i in range(min(count, 8))
            if len(data) >= 12 + 20 * i
        ]
        arch = ",".join(a for a in arches if a) or None
    elif data[:2] == b"MZ" and len(data) >= 0x40:
        offset = struct.unpack("<I", data[0x3C:0x40])[0]
        if data[offset : offset + 4] == b"PE\x00\x00" and len(data) >= offset + 6:
            fmt = "pe"
            arch = PE_MACHINES.get(struct.unpack("<H", data[offset + 4 : offset + 6])[0])
    return {"format": fmt, "arch": arch}


def flavor_from_bytes(data: bytes) -> Optional[str]:
    """`max` or `std` from the embedded strings; None when the file does not tell."""
    match = PERFORMANCE_RE.search(data)
    if match:
        return FLAVORS[match.group(1).decode()]
    if THROTTLED_TEXT in data:
        return "std"
    if USB_DRIVER_TEXT in data:
        return "max"
    return None


def inspect(data: Optional[bytes]) -> Dict[str, Any]:
    """{"sha256", "size", "format", "arch", "build_label", "cl_number", "flavor", "performance",
    "is_libedgetpu"} for a runtime library's bytes (all None for no data)."""
    found: Dict[str, Any] = {
        "sha256": None,
        "size": None,
        "format": None,
        "arch": None,
        "build_label": None,
        "cl_number": None,
        "flavor": None,
        "performance": None,
        "is_libedgetpu": None,
    }
    if not data:
        return found
    found["sha256"] = hashlib.sha256(data).hexdigest()
    found["size"] = len(data)
    found.update(binary_format(data))
    match = LABEL_RE.search(data)
    if match:
        found["build_label"] = match.group(0).decode("ascii", "replace")
    match = CL_RE.search(data)
    found["cl_number"] = match.group(1).decode() if match else None
    match = PERFORMANCE_RE.search(data)
    found["performance"] = match.group(1).decode() if match else None
    found["flavor"] = flavor_from_bytes(data)
    found["is_libedgetpu"] = VERSION_FORMAT in data or b"edgetpu_version" in data
    return found
