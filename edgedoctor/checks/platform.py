"""Platform findings: what machine this is, glibc, container, Raspberry Pi power and temperature flags."""

from __future__ import annotations

from typing import Any, Dict, List

from edgedoctor.matrix import support
from edgedoctor.report.findings import FAIL, INFO, PASS, WARN, Finding


def _version_tuple(text: str):
    return tuple(int(x) for x in text.split(".") if x.isdigit())


def check(facts: Dict[str, Any]) -> List[Finding]:
    platform = facts.get("platform") or {}
    findings: List[Finding] = []
    if platform.get("error"):
        findings.append(
            Finding("platform.probe", WARN, "Some platform facts could not be read", detail=platform["error"])
        )
    findings.append(Finding("platform.os", INFO, _describe(platform)))
    findings.extend(_libc(platform))
    if platform.get("in_container"):
        findings.append(
            Finding(
                "platform.container",
                INFO,
                f"Running inside a container ({platform.get('container')})",
                detail="The Edge TPU must be passed into the container; the device checks below say whether it was.",
            )
        )
    throttled = platform.get("pi_throttled")
    if throttled:
        findings.extend(_pi_throttling(throttled))
    return findings


def _describe(platform: Dict[str, Any]) -> str:
    parts = [
        platform.get("pretty_name") or platform.get("os"),
        platform.get("arch"),
        f"kernel {platform['kernel']}" if platform.get("kernel") else None,
        f"{platform.get('libc')} {platform.get('libc_version')}" if platform.get("libc") else None,
        f"Python {platform['python_version']}" if platform.get("python_version") else None,
    ]
    board = platform.get("board_model") or platform.get("board")
    if board:
        parts.append(board)
    return ", ".join(p for p in parts if p) or "unknown platform"


def _libc(platform: Dict[str, Any]) -> List[Finding]:
    minimum = support.glibc_minimum()
    if platform.get("libc") == "glibc" and platform.get("libc_version") and minimum:
        if _version_tuple(platform["libc_version"]) >= _version_tuple(minimum):
            return [Finding("platform.glibc", PASS, f"glibc {platform['libc_version']}")]
        return [
            Finding(
                "platform.glibc",
                WARN,
                f"glibc {platform['libc_version']} is older than {minimum}",
                detail=(
                    "Current TFLite/LiteRT and Coral wheels are built for glibc "
                    f"{minimum} or newer; pip will find no wheel, or an installed one fails with "
                    "'GLIBC_2.xx not found'."
                ),
                remedy="Upgrade the OS (e.g. Debian 10+/Ubuntu 18.04+/Raspberry Pi OS Buster+), or use a "
                "container with a newer distribution.",
                causes=["glibc-too-old"],
            )
        ]
    if platform.get("libc") == "musl":
        return [
            Finding(
                "platform.libc",
                WARN,
                "musl libc (e.g. Alpine): no Coral or TFLite wheels are built for it",
                detail="tflite-runtime, LiteRT, pycoral and libedgetpu are built for glibc only.",
                remedy="Use a glibc-based image such as debian:bookworm-slim.",
                causes=["wheel-mismatch"],
            )
        ]
    return []


def _pi_throttling(throttled: Dict[str, Any]) -> List[Finding]:
    """The Raspberry Pi firmware's get_throttled flags: under-voltage and thermal throttling."""
    findings: List[Finding] = []
    if throttled.get("under_voltage"):
        findings.append(
            Finding(
                "platform.power",
                FAIL if "under-voltage now" in throttled["flags"] else WARN,
                "The Raspberry Pi firmware reports under-voltage",
                detail=f"get_throttled={throttled['value']}: {', '.join(throttled['flags'])}. A USB Accelerator "
                "draws up to about 900 mA; an under-powered Pi drops it off the bus mid-inference.",
                remedy="Use the official power supply (5.1 V, 3 A for Pi 4; 5 A for Pi 5), or a powered USB 3 "
                "hub for the accelerator.",
                causes=["board-power"],
            )
        )
    if throttled.get("thermal"):
        findings.append(
            Finding(
                "platform.thermal",
                WARN,
                "The Raspberry Pi firmware reports thermal throttling",
                detail=f"get_throttled={throttled['value']}: {', '.join(throttled['flags'])}.",
                remedy="Add a heatsink or fan; with the Edge TPU's max-frequency runtime, keep the device cool "
                "or install libedgetpu1-std.",
                causes=["thermal"],
            )
        )
    if not throttled.get("flags"):
        findings.append(Finding("platform.power", PASS, "No under-voltage or throttling reported"))
    return findings
