"""Runtime checks: is libedgetpu installed, does it load, which release is it, what does it see?

Pure: reads facts["runtime"] (and facts["usb"], facts["pcie"], facts["platform"] for context).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from edgedoctor.matrix import releases
from edgedoctor.report.findings import FAIL, INFO, PASS, SKIP, WARN, Finding

APT_INSTALL = (
    "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | "
    "sudo gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg\n"
    'echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt '
    'coral-edgetpu-stable main" | sudo tee /etc/apt/sources.list.d/coral-edgetpu.list\n'
    "sudo apt-get update\n"
    "sudo apt-get install libedgetpu1-std"
)
MAC_INSTALL = (
    "curl -LO https://github.com/google-coral/libedgetpu/releases/download/release-grouper/edgetpu_runtime_20221024.zip\n"
    "unzip edgetpu_runtime_20221024.zip && cd edgetpu_runtime\n"
    "sudo bash install.sh"
)
WINDOWS_INSTALL = (
    "# runtime 14 builds (20210726 and later) are reported broken on Windows (libedgetpu#29); use 20210119:\n"
    "curl.exe -LO https://dl.google.com/coral/edgetpu_api/edgetpu_runtime_20210119.zip\n"
    "tar -xf edgetpu_runtime_20210119.zip\n"
    "cd edgetpu_runtime && .\\install.bat   # in an Administrator prompt"
)
OTHER_LINUX = (
    "# Coral publishes packages for Debian, Ubuntu and Raspberry Pi OS only; elsewhere build "
    "https://github.com/google-coral/libedgetpu (or feranick/libedgetpu)"
)
DEBIAN_FAMILY = ("debian", "ubuntu", "raspbian", "linuxmint", "pop", "mendel", "elementary", "kali", "zorin")
LIBRARY = {"linux": "libedgetpu.so.1", "darwin": "libedgetpu.1.dylib", "windows": "edgetpu.dll"}


def library_name(os_name: Optional[str]) -> str:
    """The runtime's file name on this OS, as the loader and load_delegate() take it."""
    return LIBRARY.get(os_name or "linux", LIBRARY["linux"])


def _platform(facts: Dict[str, Any]) -> Dict[str, Any]:
    return facts.get("platform") or {}


def _os(facts: Dict[str, Any]) -> str:
    return _platform(facts).get("os") or "linux"


def _debian_family(facts: Dict[str, Any]) -> Optional[bool]:
    release = _platform(facts).get("os_release")
    if not isinstance(release, dict):
        return None
    ids = " ".join(str(release.get(k) or "") for k in ("ID", "ID_LIKE", "id", "id_like")).lower().split()
    if not ids:
        return None
    return any(i in DEBIAN_FAMILY for i in ids)


def install_remedy(facts: Dict[str, Any]) -> str:
    os_name = _os(facts)
    if os_name == "darwin":
        return MAC_INSTALL
    if os_name == "windows":
        return WINDOWS_INSTALL
    if _debian_family(facts) is False:
        return OTHER_LINUX + "\n# on Debian, Ubuntu, Raspberry Pi OS:\n" + APT_INSTALL
    return APT_INSTALL


def _found(facts, runtime) -> List[Finding]:
    os_name = _os(facts)
    name = LIBRARY.get(os_name, LIBRARY["linux"])
    if not runtime.get("found"):
        looked = [c.get("path") for c in runtime.get("candidates") or [] if c.get("path")]
        detail = f"{name} was not found"
        if looked:
            detail += f" (looked in {len(looked)} places: {', '.join(looked[:4])}{', ...' if len(looked) > 4 else ''})"
        if runtime.get("load_error"):
            detail += f"; loading it by name failed: {runtime['load_error']}"
        return [
            Finding(
                "runtime.found",
                FAIL,
                "The Edge TPU runtime (libedgetpu) is not installed",
                causes=["runtime-missing"],
                detail=detail + ".",
                remedy=install_remedy(facts),
            )
        ]
    package = runtime.get("package")
    owner = f" ({package} {runtime.get('package_version')})" if package else ""
    return [Finding("runtime.found", PASS, "Edge TPU runtime found", detail=f"{runtime.get('path')}{owner}.")]


ILLEGAL_INSTRUCTION_ENTRY = "coral-binary-illegal-instruction"


def _load_error_causes(text: str, os_name: str) -> List[str]:
    """The cause of a runtime that is there and will not load. Never runtime-missing: the file exists."""
    if re.search(r"GLIBC(XX)?_[\d.]+' not found|version `GLIBC", text):
        return ["glibc-too-old"]
    if os_name == "windows" and not _WRONG_ARCH.search(text):
        return ["windows-runtime"]
    return ["runtime-broken"]


_WRONG_ARCH = re.compile(
    r"wrong ELF class|invalid ELF header|mach-o, but wrong architecture|incompatible "
    r"architecture|Exec format error|not a valid Win32 application|WinError 193|"
    r"built for another architecture",
    re.IGNORECASE,
)
LIBUSB_FIX = {"linux": "sudo apt-get install libusb-1.0-0", "darwin": "brew install libusb"}


def _arch_mismatch(facts, runtime) -> Optional[str]:
    """'built for aarch64, this machine is x86_64' when the library file is for another CPU, else None."""
    from edgedoctor.probes.libfile import normalise_arch

    built = normalise_arch((runtime.get("binary") or {}).get("arch"))
    machine = normalise_arch(_platform(facts).get("arch"))
    if not built or not machine or "," in built or built == machine:
        return None
    return f"{runtime.get('path')} is built for {built}, this machine is {machine}"


def _reinstall(facts) -> str:
    return "# reinstall the runtime:\n" + install_remedy(facts).replace(
        "sudo apt-get install libedgetpu1-std", "sudo apt-get install --reinstall libedgetpu1-std"
    )


def _broken_remedy(facts, runtime, text: str) -> str:
    os_name = _os(facts)
    if "libusb" in text and os_name in LIBUSB_FIX:
        return LIBUSB_FIX[os_name]
    if _arch_mismatch(facts, runtime) or _WRONG_ARCH.search(text):
        return (
            "# install the runtime built for this CPU (check: uname -m; file "
            f"{runtime.get('path')}):\n" + _reinstall(facts)
        )
    return _reinstall(facts)


def _load(facts, runtime) -> List[Finding]:
    worker = runtime.get("worker") or {}
    status = worker.get("status")
    if status == "crashed" and not worker.get("stage") and not (facts.get("python_env") or {}).get("python"):
        status = "not-started"  # the interpreter itself never ran (e.g. GLIBC_2.34 not found): python.interpreter
    if status in ("crashed", "timeout"):
        return [_crashed(facts, runtime, worker, status)]
    if status in ("not-started",):
        return [
            Finding(
                "runtime.load",
                SKIP,
                "The examined Python interpreter could not be run",
                detail=worker.get("error") or "",
            )
        ]
    if status in ("garbage", "worker-error"):
        return [
            Finding(
                "runtime.load",
                SKIP,
                "edgedoctor's runtime probe gave no answer",
                detail=worker.get("error") or "",
                remedy="This may be a bug in edgedoctor; please report it with this report attached.",
            )
        ]
    if runtime.get("loaded") is False and runtime.get("found"):
        return [_does_not_load(facts, runtime)]
    if runtime.get("loaded") and runtime.get("runtime_version") is None:
        return [
            Finding(
                "runtime.load",
                WARN,
                "The Edge TPU runtime loads but does not report its version",
                causes=["runtime-broken"],
                detail=f"{runtime.get('path')}: {runtime.get('error') or 'edgetpu_version() gave no version'}.",
                remedy=_reinstall(facts),
            )
        ]
    return []


def _crashed(facts, runtime, worker, status: str) -> Finding:
    """The worker that loaded libedgetpu crashed or hung: where, why, and what to do."""
    os_name = _os(facts)
    stage = worker.get("stage") or "loading"
    if status == "timeout":
        what = f"hung ({worker.get('error') or 'no answer'})"
    else:
        what = f"crashed with {worker.get('signal') or 'exit code %s' % worker.get('returncode')}"
    detail = f"Loading {runtime.get('path') or LIBRARY.get(os_name)} in a separate process {what} during {stage}."
    if stage in ("edgetpu_list_devices", "edgetpu_free_devices"):
        causes = ["usb-power", "vm-passthrough"]
        more, remedy = _stuck_listing()
    elif worker.get("signal") == "SIGILL":
        causes = ["wheel-mismatch"]
        more, remedy = _illegal_instruction(facts, os_name)
    else:
        causes = ["windows-runtime"] if os_name == "windows" else ["runtime-broken"]
        more = " The installed runtime library is broken or does not match this system."
        mismatch = _arch_mismatch(facts, runtime)
        if mismatch:
            more += f" {mismatch}."
        remedy = _broken_remedy(facts, runtime, worker.get("error") or "")
    detail += more
    tail = (worker.get("stderr") or "").strip().splitlines()[-3:]
    if tail:
        detail += " Last output: " + " | ".join(tail)
    return Finding(
        "runtime.load", FAIL, f"The Edge TPU runtime {status} when loaded", causes=causes, detail=detail, remedy=remedy
    )


def _stuck_listing():
    return (
        " The runtime got stuck enumerating Edge TPUs: typically a USB link that resets "
        "(power, cable, hub) or a VM/container passthrough that drops the device.",
        "Unplug the accelerator, plug it into a USB 3 port on the computer itself (or a powered hub), "
        "then run edgedoctor again.",
    )


def _illegal_instruction(facts, os_name: str):
    # Named by the signal, not by matching the crash text: the matrix's crash signatures speak of a
    # TFLite stack in use (a segfault there is tflite-too-new), and here libedgetpu was loaded alone.
    # The entry for an illegal instruction still says why and what to do, with its sources.
    from edgedoctor import matrix

    entry = matrix.load().get(ILLEGAL_INSTRUCTION_ENTRY)
    more = " " + (
        entry.shown_explanation
        if entry
        else "The CPU met an instruction it does not implement: the library was built for a newer CPU than this one."
    )
    remedy = entry.remedy_for(os_name) if entry else "# install a runtime built for this CPU:\n" + install_remedy(facts)
    return more, remedy


def _does_not_load(facts, runtime) -> Finding:
    text = runtime.get("load_error") or ""
    mismatch = _arch_mismatch(facts, runtime)
    causes = _load_error_causes(text + (" built for another architecture" if mismatch else ""), _os(facts))
    remedy = {
        "glibc-too-old": "Install a runtime built for this OS release (Coral's packages need Debian 10 / "
        "Ubuntu 18.04 or newer), or upgrade the OS.",
        "windows-runtime": WINDOWS_INSTALL,
    }.get(causes[0]) or _broken_remedy(facts, runtime, text)
    detail = f"{runtime.get('path')}: {text}"
    if mismatch:
        detail += f" ({mismatch})"
    return Finding(
        "runtime.load",
        FAIL,
        "The Edge TPU runtime is installed but does not load",
        causes=causes,
        detail=detail,
        remedy=remedy,
    )


def _version(facts, runtime) -> List[Finding]:
    number = runtime.get("runtime_version")
    if number is None:
        return []
    release_id = runtime.get("release")
    release = releases.get(release_id) if release_id else None
    label = runtime.get("build_label")
    detail = f"RuntimeVersion({number}), BuildLabel({label or 'N/A'})"
    if release:
        title = release.get("name") or release_id
        detail += f"; release {release_id} ({title}{', ' + release['date'] if release.get('date') else ''})"
        if release.get("community"):
            detail += ", a community build"
    elif release_id:
        detail += f"; release {release_id}"
    else:
        candidates = runtime.get("release_candidates") or []
        detail += "; the release could not be identified" + (
            f" (one of: {', '.join(candidates)})" if candidates else ""
        )
    findings = [
        Finding(
            "runtime.version",
            PASS,
            f"Edge TPU runtime version {number}" + (f" ({release_id})" if release_id else ""),
            detail=detail + ".",
        )
    ]
    if _os(facts) == "windows" and number >= 14:
        findings.append(
            Finding(
                "runtime.windows",
                WARN,
                "Runtime 14 builds are reported broken on Windows",
                causes=["windows-runtime"],
                detail="On Windows, edgetpu_runtime_20210726 and later (RuntimeVersion 14) make make_interpreter exit "
                "silently (github.com/google-coral/libedgetpu/issues/29, google-coral/pycoral#91); Coral's advice "
                "is the 20210119 runtime with models compiled by `edgetpu_compiler -m 13`.",
                remedy=WINDOWS_INSTALL,
            )
        )
    return findings


def _flavor(facts, runtime) -> List[Finding]:
    if runtime.get("flavor") != "max":
        return []
    usb = facts.get("usb") or {}
    return [
        Finding(
            "runtime.flavor",
            INFO,
            "The maximum-frequency runtime (libedgetpu1-max) is installed",
            causes=["thermal"],
            detail="This build runs the USB Accelerator at full clock: faster, but it gets hot; Coral rates it for "
            "25 °C ambient at maximum frequency against 35 °C at the reduced one (libedgetpu1-max's install "
            "notice). PCIe devices are not throttled either way."
            + (" A USB Accelerator is attached." if usb.get("devices") else ""),
            remedy="sudo apt-get install libedgetpu1-std   # the reduced-frequency runtime (replaces -max)",
        )
    ]


def _devices(facts, runtime) -> List[Finding]:
    listed = runtime.get("devices")
    if listed is None or runtime.get("loaded") is False:
        return []
    if listed:
        return [
            Finding(
                "runtime.devices",
                PASS,
                f"The runtime sees {len(listed)} Edge TPU{'s' if len(listed) > 1 else ''}",
                detail="; ".join(f"{d.get('type')}: {d.get('path')}" for d in listed) + ".",
            )
        ]
    usb = facts.get("usb") or {}
    pcie = facts.get("pcie") or {}
    in_container = _platform(facts).get("in_container")
    # Only devices the device checks found usable: otherwise those findings already explain the empty list.
    usable_usb = [
        d
        for d in usb.get("devices") or []
        if d.get("accessible") is not False and not (in_container and usb.get("dev_bus_usb") is False)
    ]
    usable_pci = [
        d
        for d in pcie.get("devices") or []
        if d.get("driver") == "apex" and d.get("dev_node_exists") and d.get("accessible") is not False
    ]
    if not usable_usb and not usable_pci:
        return []
    causes = (["container-device"] if in_container else []) + (
        ["usb-power", "vm-passthrough"] if usable_usb else ["pcie-driver-missing"]
    )
    return [
        Finding(
            "runtime.devices",
            WARN,
            "The runtime lists no Edge TPU although one is attached",
            causes=causes,
            detail="edgetpu_list_devices() returned nothing while the system shows "
            + ", ".join(
                [f"USB {d.get('vendor_id')}:{d.get('product_id')}" for d in usable_usb]
                + [f"PCIe {d.get('address')} ({d.get('dev_node')})" for d in usable_pci]
            )
            + ". The runtime enumerates USB devices through libusb and PCIe devices through /sys/class/apex; "
            "a device that resets or is passed through half-way is seen by the system but not by the runtime.",
            remedy="Unplug and replug the accelerator (or reboot), then run edgedoctor again; in a VM or container, "
            "pass through the whole USB controller or /dev/bus/usb.",
        )
    ]


def _open(facts, runtime) -> List[Finding]:
    """Whether the runtime could open the Edge TPU (delegate created with edgetpu_verbosity(1)), and if not,
    the cause the matrix gives its own reason. No device at all is the device section's to say."""
    opened = runtime.get("open")
    if not isinstance(opened, dict) or runtime.get("loaded") is False or opened.get("ok") is None:
        return []
    attempts = opened.get("attempts") or []
    if opened.get("ok"):
        where = ", ".join(f"{a.get('type')}: {a.get('path')}" for a in attempts if a.get("ok"))
        return [
            Finding(
                "runtime.open",
                PASS,
                "The runtime opens the Edge TPU",
                detail=f"edgetpu_create_delegate() succeeded ({where}).",
            )
        ]
    reason = opened.get("reason")
    if not runtime.get("devices"):
        return []  # nothing listed: the device checks say why (no device, container, permissions)
    from edgedoctor.checks import matched_entry

    # The final reason first; else everything it printed (a device that never came back after the firmware
    # upload is named in an earlier line, `Could not find device on bus 2 and port 1.`).
    match = matched_entry(reason, facts) or matched_entry(opened.get("stderr"), facts)
    seconds = sum(a.get("seconds") or 0 for a in attempts)
    detail = (
        f"The runtime lists {', '.join(str(d.get('path')) for d in runtime.get('devices') or [])} but "
        f"cannot open it. Its own reason (edgetpu_verbosity(1)): {reason or 'none printed'}"
        + (f" (after {seconds:.0f} s of retries)" if seconds >= 5 else "")
        + "."
    )
    if match:
        detail += " " + match.entry.explanation
        remedy = match.entry.remedy_for(_os(facts))
        causes = [match.entry.cause]
    else:
        causes, remedy = (
            ["usb-power"],
            (
                "Unplug the accelerator, plug it into a USB 3 port on the computer itself "
                "(or a powered hub), then run edgedoctor again."
            ),
        )
    return [
        Finding(
            "runtime.open",
            FAIL,
            "The runtime sees the Edge TPU but cannot open it",
            causes=causes,
            detail=detail,
            remedy=remedy,
        )
    ]


def check(facts: Dict[str, Any]) -> List[Finding]:
    runtime = facts.get("runtime")
    if not runtime:
        return [
            Finding(
                "runtime.found",
                SKIP,
                "The Edge TPU runtime was not examined",
                detail="The facts hold no runtime section.",
            )
        ]
    findings = _found(facts, runtime)
    findings += _load(facts, runtime)
    findings += _version(facts, runtime)
    findings += _flavor(facts, runtime)
    findings += _devices(facts, runtime)
    findings += _open(facts, runtime)
    return findings
