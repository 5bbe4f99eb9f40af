"""The flat view of Facts that matrix conditions read: `os`, `python`, `tflite_runtime`, `link`, ...

Built from a report's facts (`from_facts`) or from `--fact KEY=VALUE` options (`from_pairs`). Values are
strings, ints, bools or None (unknown). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

KEYS = (
    "os",
    "arch",
    "python",
    "tflite_runtime",
    "ai_edge_litert",
    "tensorflow",
    "pycoral",
    "pycoral_identity",
    "numpy",
    "runtime_version",
    "runtime_release",
    "runtime_package",
    "runtime_found",
    "kernel",
    "link",
    "device",
    "usb_state",
    "container",
    "board",
    "page_size",
)

BOOL_KEYS = {"container", "runtime_found"}
INT_KEYS = {"page_size"}

_TRUE = {"yes", "true", "1", "on", "y"}
_FALSE = {"no", "false", "0", "off", "n"}


def get_path(data: Any, *path: str) -> Any:
    """data[path[0]][path[1]]..., or None where a step is missing or not a dict."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _arch(value: Optional[str]) -> Optional[str]:
    if not value or not isinstance(value, str):
        return None
    value = value.lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv7": "armv7l", "armhf": "armv7l"}.get(
        value, value
    )


def _obj(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def from_facts(facts: Dict[str, Any]) -> Dict[str, Any]:
    view: Dict[str, Any] = {key: None for key in KEYS}
    facts = _obj(facts)  # a hand-edited report may hold anything: unknown, never a crash
    platform = _obj(facts.get("platform"))
    env = _obj(facts.get("python_env"))
    runtime = _obj(facts.get("runtime"))
    view["os"] = platform.get("os")
    view["arch"] = _arch(platform.get("arch"))
    view["python"] = platform.get("python_version") or get_path(env, "python", "version")
    tflite = _obj(env.get("tflite"))
    candidates = _obj(tflite.get("candidates"))
    for key, name in (
        ("tflite_runtime", "tflite_runtime"),
        ("ai_edge_litert", "ai_edge_litert"),
        ("tensorflow", "tensorflow"),
    ):
        info = _obj(candidates.get(name))
        version = info.get("version") or info.get("dist_version")
        if tflite.get("module") == name and tflite.get("version"):
            version = tflite["version"]
        view[key] = version
    pycoral = _obj(env.get("pycoral"))
    view["pycoral_identity"] = pycoral.get("identity") if env else None
    view["pycoral"] = pycoral.get("version") if pycoral.get("identity") == "google" else None
    numpy = _obj(env.get("numpy"))
    view["numpy"] = numpy.get("version") or numpy.get("dist_version")
    view["runtime_found"] = runtime.get("found") if "found" in runtime else None
    view["runtime_version"] = runtime.get("runtime_version")
    view["runtime_release"] = runtime.get("release")
    view["runtime_package"] = runtime.get("package")
    view["kernel"] = platform.get("kernel_version") or platform.get("kernel")
    view["container"] = platform.get("in_container")
    view["board"] = platform.get("board")
    view["page_size"] = platform.get("page_size") or (_obj(facts.get("pcie"))).get("page_size")
    view["link"], view["device"], view["usb_state"] = _device(facts)
    # Conditions compare scalars: anything else (a hand-edited report) is unknown.
    return {
        key: value if isinstance(value, (str, int, float, bool)) or value is None else None
        for key, value in view.items()
    }


def _device(facts: Dict[str, Any]):
    usb = _obj(facts.get("usb"))
    pcie = _obj(facts.get("pcie"))
    usb_devices = [d for d in _list(usb.get("devices")) if isinstance(d, dict)]
    pcie_devices = [d for d in _list(pcie.get("devices")) if isinstance(d, dict)]
    if "devices" not in usb and "devices" not in pcie:
        return None, None, None
    link = None
    state = None
    if pcie_devices:
        link = "pcie"
    if usb_devices:
        first = usb_devices[0]
        state = first.get("state")
        speed = first.get("speed_mbps")
        try:
            speed = float(speed) if speed is not None else None
        except (TypeError, ValueError):
            speed = None
        if speed is not None and link is None:
            link = "usb3" if speed >= 5000 else "usb2"
    everything = usb_devices + pcie_devices
    if not everything:
        device = "none"
    elif any(d.get("accessible") is not False for d in everything):
        device = "present"
    else:
        device = "inaccessible"
    return link, device, state


def parse_value(key: str, raw: str) -> Any:
    raw = raw.strip()
    if key in BOOL_KEYS:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{key} takes yes or no, not {raw!r}")
    if key in INT_KEYS or key == "runtime_version":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{key} takes a whole number, not {raw!r}") from None
    if key == "arch":
        return _arch(raw)
    if key == "runtime_release":  # the matrix speaks of release ids; users know zip names and code names
        from edgedoctor.matrix import releases

        return releases.resolve(raw) or raw
    if key == "os":
        lowered = raw.lower()
        return {"macos": "darwin", "mac": "darwin", "osx": "darwin", "win": "windows", "win32": "windows"}.get(
            lowered, lowered
        )
    return raw


def from_pairs(pairs: Iterable[str], base: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`["os=darwin", "tflite_runtime=2.1.0.post1"]` -> a view (over `base`). Raises ValueError on bad input."""
    view = dict(base) if base else {key: None for key in KEYS}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--fact takes KEY=VALUE, not {pair!r}")
        key, _, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if key not in KEYS:
            raise ValueError(f"unknown fact {key!r}; known: {', '.join(KEYS)}")
        view[key] = parse_value(key, raw)
    return view
