"""Lab requirements (`--require`, or `require = [...]` in edgedoctor.toml / [tool.edgedoctor]): each becomes a
finding `require.<name>` that fails with what was found. Pure functions of Facts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from edgedoctor.report.findings import FAIL, PASS, Finding
from edgedoctor.util.tomlcompat import load_toml


@dataclass
class Requirement:
    name: str
    value: Optional[float] = None

    @property
    def label(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value:g}"


def _usb_devices(facts) -> List[Dict[str, Any]]:
    return [d for d in (facts.get("usb") or {}).get("devices") or [] if isinstance(d, dict)]


def _pcie_devices(facts) -> List[Dict[str, Any]]:
    return [d for d in (facts.get("pcie") or {}).get("devices") or [] if isinstance(d, dict)]


def _tpu(facts) -> Dict[str, Any]:
    return (facts.get("inference") or {}).get("tpu") or {}


def _device(facts, _):
    found = _usb_devices(facts) + _pcie_devices(facts)
    usable = [d for d in found if d.get("accessible") is not False]
    if usable:
        return True, f"{len(usable)} Edge TPU(s) visible and accessible"
    if found:
        return False, f"{len(found)} Edge TPU(s) visible but not accessible to this user"
    return False, "no Edge TPU found on USB or PCIe"


def _usb3(facts, _):
    speeds = [d.get("speed_mbps") for d in _usb_devices(facts)]
    if not speeds:
        return False, "no USB Accelerator found"
    if any(s is not None and s >= 5000 for s in speeds):
        return True, f"USB Accelerator on a {max(s for s in speeds if s is not None):g} Mbit/s link"
    shown = ", ".join("unknown" if s is None else f"{s:g} Mbit/s" for s in speeds)
    return False, f"USB Accelerator link speed: {shown} (USB 3 needs 5000 Mbit/s or more)"


def _pcie(facts, _):
    devices = _pcie_devices(facts)
    if not devices:
        return False, "no PCIe/M.2 Edge TPU found"
    ready = [d for d in devices if d.get("dev_node_exists") or d.get("dev_node")]
    if ready:
        return True, f"{len(devices)} PCIe Edge TPU(s), {len(ready)} with a device node"
    return False, f"{len(devices)} PCIe Edge TPU(s) but no /dev/apex_N node (driver not loaded?)"


def _runtime(facts, _):
    runtime = facts.get("runtime") or {}
    if runtime.get("found") and runtime.get("runtime_version") is not None and not runtime.get("error"):
        return True, f"libedgetpu RuntimeVersion({runtime['runtime_version']}) at {runtime.get('path')}"
    if runtime.get("found"):
        return False, f"libedgetpu found at {runtime.get('path')} but not usable: {runtime.get('error')}"
    return False, "libedgetpu not found"


def _tpu_inference(facts, _):
    tpu = _tpu(facts)
    if tpu.get("status") == "pass":
        top1 = tpu.get("top1") or {}
        return True, f"{tpu.get('model')}: top-1 {top1.get('label')!r} as expected"
    return False, f"Edge TPU run {tpu.get('status') or 'not done'}: {tpu.get('error') or 'no result'}"


def _speedup(facts, minimum):
    speedup = (facts.get("inference") or {}).get("speedup")
    if speedup is None:
        return False, "no speed-up measured (needs both a CPU and an Edge TPU run)"
    return speedup >= minimum, f"Edge TPU {speedup:.1f}x faster than the CPU (required: {minimum:g}x)"


def _max_tpu_ms(facts, limit):
    median = (_tpu(facts).get("latency_ms") or {}).get("median")
    if median is None:
        return False, "no Edge TPU latency measured"
    return median <= limit, f"Edge TPU median {median:.2f} ms (required: at most {limit:g} ms)"


RULES: Dict[str, tuple] = {
    # name: (takes a number, rule, title)
    "device": (False, _device, "An Edge TPU is present and accessible"),
    "usb3": (False, _usb3, "The USB Accelerator is on a USB 3 link"),
    "pcie": (False, _pcie, "A PCIe/M.2 Edge TPU is present with its driver"),
    "runtime": (False, _runtime, "The Edge TPU runtime (libedgetpu) is installed and loads"),
    "tpu-inference": (False, _tpu_inference, "The known-good model runs on the Edge TPU with the expected answer"),
    "speedup": (True, _speedup, "The Edge TPU is fast enough compared with the CPU"),
    "max-tpu-ms": (True, _max_tpu_ms, "The Edge TPU latency is within the limit"),
}


def parse(text: str) -> Requirement:
    name, _, raw = text.strip().partition("=")
    name = name.strip().lower()
    if name not in RULES:
        raise ValueError(f"unknown requirement {name!r}; known: {', '.join(RULES)}")
    takes_number = RULES[name][0]
    if takes_number:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"requirement {name} needs a number, as in {name}=3") from None
        if not math.isfinite(value) or value <= 0:  # nan, inf, 1e309
            raise ValueError(f"requirement {name} needs a finite number above 0")
        return Requirement(name, value)
    if raw:
        raise ValueError(f"requirement {name} takes no value")
    return Requirement(name)


def parse_all(texts: Sequence[str]) -> List[Requirement]:
    return [parse(t) for t in texts]


def evaluate(texts: Sequence[str], facts: Dict[str, Any], findings: Sequence[Finding] = ()) -> List[Finding]:
    results = []
    seen = set()
    for requirement in parse_all(texts):
        if requirement.label in seen:
            continue
        seen.add(requirement.label)
        _, rule, title = RULES[requirement.name]
        met, detail = rule(facts, requirement.value)
        results.append(
            Finding(
                f"require.{requirement.name}",
                PASS if met else FAIL,
                f"{title} ({requirement.label})" if requirement.value is not None else title,
                detail=detail,
                remedy="" if met else "See the failing device, runtime or model findings above.",
            )
        )
    return results


def load_config(path: Optional[str], cwd: Path) -> Dict[str, Any]:
    """`require` and other defaults from --config FILE, ./edgedoctor.toml or ./pyproject.toml [tool.edgedoctor]."""
    candidates = [Path(path)] if path else [cwd / "edgedoctor.toml", cwd / "pyproject.toml"]
    for candidate in candidates:
        if not candidate.is_file():
            if path:
                raise ValueError(f"--config {path}: no such file")
            continue
        implicit_pyproject = candidate.name == "pyproject.toml" and not path
        try:
            data = load_toml(candidate)
        except (OSError, ValueError) as exc:
            if implicit_pyproject:  # some other project's broken pyproject.toml is not ours to judge
                continue
            raise ValueError(f"{candidate}: {exc}") from None
        if implicit_pyproject or (
            "tool" in data and isinstance(data.get("tool"), dict) and "edgedoctor" in data["tool"]
        ):
            data = (data.get("tool") or {}).get("edgedoctor") or {}
        require = data.get("require", []) if isinstance(data, dict) else []
        if isinstance(require, str):
            require = [x.strip() for x in require.split(",") if x.strip()]
        if not isinstance(require, list) or not all(isinstance(x, str) for x in require):
            raise ValueError(f'{candidate}: `require` must be a list of names such as ["device", "usb3"]')
        return {"require": list(require), "source": str(candidate)}
    return {"require": []}
