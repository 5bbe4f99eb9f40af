"""Platform facts: OS and release, kernel, architecture, libc, container, board, Pi firmware flags.

Pure `parse_*` functions take text (fed by tests with lines from real machines); `read(ctx)` feeds them
through the seam. Python facts of the *examined* interpreter come from the worker (probes/python_env.py).
"""

from __future__ import annotations

import platform as _platform
import re
import socket
from typing import Any, Dict, List, Optional

from edgedoctor.probes import ProbeContext

# --- pure parsers -----------------------------------------------------------------------------------------


def parse_os_release(text: str) -> Dict[str, str]:
    """`/etc/os-release` (shell-style KEY=value lines) to a dict."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value.replace('\\"', '"').replace("\\$", "$").replace("\\\\", "\\")
    return values


def parse_ldd_version(text: str) -> Optional[tuple]:
    """First line of `ldd --version`: ('glibc', '2.36') or ('musl', '1.2.4')."""
    if not text or not text.strip():
        return None
    if "musl" in text.lower():
        match = re.search(r"Version\s+([\d.]+)", text)
        return ("musl", match.group(1) if match else None)
    first = text.strip().splitlines()[0]
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)\s*$", first)
    if match and ("GLIBC" in first.upper() or "GNU" in first.upper() or "ldd" in first):
        return ("glibc", match.group(1))
    return None


def parse_cgroup_container(text: str) -> Optional[str]:
    """The container engine named in `/proc/1/cgroup`, if any."""
    lowered = text.lower()
    for marker, kind in (
        ("kubepods", "kubernetes"),
        ("docker", "docker"),
        ("libpod", "podman"),
        ("lxc", "lxc"),
        ("containerd", "containerd"),
    ):
        if marker in lowered:
            return kind
    return None


def parse_device_tree_model(text: str) -> Dict[str, Optional[str]]:
    """`/proc/device-tree/model` (NUL-terminated) to a board id and its name."""
    name = text.replace("\x00", "").strip()
    lowered = name.lower()
    board = None
    match = re.match(r"raspberry pi (\d+|zero 2 w|zero w|zero|compute module \d+)", lowered)
    if match:
        board = "raspberry-pi-" + match.group(1).replace(" ", "-")
    elif "phanbell" in lowered:
        board = "coral-dev-board"
    elif "excelsior" in lowered:
        board = "coral-dev-board-mini"
    elif "jetson" in lowered:
        board = "nvidia-jetson"
    elif name:
        board = "other"
    return {"board": board, "board_model": name or None}


THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def parse_throttled(text: str) -> Optional[Dict[str, Any]]:
    """`vcgencmd get_throttled` (`throttled=0x50005`) or the sysfs `get_throttled` hex value."""
    match = re.search(r"(0x[0-9a-fA-F]+|\b[0-9a-fA-F]+\b)", text or "")
    if not match:
        return None
    value = int(match.group(1), 16)
    flags = [label for bit, label in sorted(THROTTLE_BITS.items()) if value & (1 << bit)]
    return {
        "value": hex(value),
        "flags": flags,
        "under_voltage": bool(value & 0x10001),
        "thermal": bool(value & 0xA000A),
    }


def parse_sw_vers(text: str) -> Dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value:
            values[key.strip()] = value.strip()
    return values


def kernel_number(release: Optional[str]) -> Optional[str]:
    """`6.8.0-45-generic` -> `6.8.0`, comparable as a version."""
    if not release:
        return None
    match = re.match(r"(\d+(?:\.\d+){0,2})", release)
    return match.group(1) if match else None


# --- readers ----------------------------------------------------------------------------------------------


def _container(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    kind = None
    evidence: List[str] = []
    if system.exists("/.dockerenv"):
        kind, evidence = "docker", evidence + ["/.dockerenv"]
    if system.exists("/run/.containerenv"):
        kind, evidence = "podman", evidence + ["/run/.containerenv"]
    cgroup = system.read_text("/proc/1/cgroup") or ""
    from_cgroup = parse_cgroup_container(cgroup)
    if from_cgroup:
        kind = kind or from_cgroup
        evidence.append("/proc/1/cgroup")
    environ = system.read_text("/proc/1/environ") or ""
    match = re.search(r"(?:^|\x00)container=([^\x00]+)", environ)
    if match:
        kind = kind or match.group(1)
        evidence.append("/proc/1/environ")
    if system.env.get("container"):
        kind = kind or system.env["container"]
        evidence.append("$container")
    return {"in_container": kind is not None, "container": kind, "container_evidence": evidence}


def _linux(ctx: ProbeContext, facts: Dict[str, Any]) -> None:
    system = ctx.system
    text = system.read_text("/etc/os-release") or system.read_text("/usr/lib/os-release")
    release = parse_os_release(text) if text else {}
    facts["os_release"] = (
        {k: release.get(k) for k in ("ID", "ID_LIKE", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME")}
        if release
        else None
    )
    facts["distro"] = release.get("ID")
    facts["distro_version"] = release.get("VERSION_ID")
    facts["pretty_name"] = release.get("PRETTY_NAME")
    kernel = (system.read_text("/proc/sys/kernel/osrelease") or "").strip() or None
    if kernel is None and system.is_host:
        kernel = _platform.release() or None
    facts["kernel"] = kernel
    facts["kernel_version"] = kernel_number(kernel)
    # Under qemu-user (no binfmt_misc) a command is the host's own `ldd`, telling the host's glibc: the
    # emulated C library is asked directly instead.
    emulated = system.is_host and facts.get("emulator") is not None
    libc = None if emulated else parse_ldd_version(_stdout(ctx, ["ldd", "--version"]))
    if libc is None and system.is_host:
        name, version = _platform.libc_ver()
        libc = (name or None, version or None) if name else None
    facts["libc"], facts["libc_version"] = libc if libc else (None, None)
    facts["mendel_version"] = (system.read_text("/etc/mendel_version") or "").strip() or None
    model = system.read_text("/proc/device-tree/model") or system.read_text("/sys/firmware/devicetree/base/model")
    facts.update(parse_device_tree_model(model) if model else {"board": None, "board_model": None})
    if facts["board"] is None and facts["mendel_version"]:
        facts["board"] = "coral-dev-board"
    throttled = None
    if facts["board"] and facts["board"].startswith("raspberry-pi"):
        raw = system.read_text("/sys/devices/platform/soc/soc:firmware/get_throttled")
        if raw is None:
            raw = _stdout(ctx, ["vcgencmd", "get_throttled"])
        throttled = parse_throttled(raw) if raw else None
    facts["pi_throttled"] = throttled
    facts.update(_container(ctx))


def _stdout(ctx: ProbeContext, argv) -> str:
    result = ctx.system.run(argv, 5.0)
    return (result.stdout or result.stderr) if result.error is None else ""


def _arch(ctx: ProbeContext) -> Optional[str]:
    if ctx.system.is_host:
        return _platform.machine() or None
    recorded = (ctx.system.read_text("/.edgedoctor/arch") or _stdout(ctx, ["uname", "-m"])).strip()
    return recorded or None


def _hostname(ctx: ProbeContext) -> Optional[str]:
    if ctx.system.is_host:
        try:
            return socket.gethostname()
        except OSError:
            return None
    return (ctx.system.read_text("/etc/hostname") or "").strip() or None


def _emulator(ctx: ProbeContext) -> Optional[Dict[str, Any]]:
    """The qemu-user emulator edgedoctor itself runs under (an emulated Pi userland), None when native."""
    if not ctx.system.is_host:
        return None
    from edgedoctor.machine import emulation

    current = emulation.running_under()
    return current.to_fact() if current else None


def read(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    facts: Dict[str, Any] = {
        "os": system.platform,
        "arch": _arch(ctx),
        "hostname": _hostname(ctx),
        "user": system.user_name(),
        "page_size": system.page_size,
        "root": None if system.is_host else str(system.root),
        "emulator": _emulator(ctx),
        "error": None,
    }
    try:
        if system.platform == "linux":
            _linux(ctx, facts)
        elif system.platform == "darwin":
            info = parse_sw_vers(_stdout(ctx, ["sw_vers"]))
            facts["os_release"] = info or None
            facts["pretty_name"] = " ".join(filter(None, (info.get("ProductName"), info.get("ProductVersion"))))
            facts["kernel"] = _platform.release() if system.is_host else None
            facts.update({"in_container": False, "container": None, "board": None, "libc": None, "libc_version": None})
        elif system.platform == "windows":
            version = (
                _platform.version()
                if system.is_host
                else (system.read_text("/.edgedoctor/windows_version") or "").strip()
            )
            facts["os_release"] = {"version": version or None}
            facts["pretty_name"] = f"Windows {version}".strip()
            facts.update(
                {
                    "in_container": False,
                    "container": None,
                    "board": None,
                    "libc": None,
                    "libc_version": None,
                    "kernel": None,
                }
            )
    except Exception as exc:  # a reader must not take the check down
        facts["error"] = f"{type(exc).__name__}: {exc}"
    return facts
