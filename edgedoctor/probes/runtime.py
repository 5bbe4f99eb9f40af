"""Runtime facts: where libedgetpu is, which package owns it, and what it says about itself.

Locating is done here, through the seam (the dynamic loader's order on Linux: LD_LIBRARY_PATH, the ld.so
cache as `ldconfig -p` prints it, the standard folders; `libedgetpu.1.dylib` on macOS; `edgetpu.dll` in
System32 and PATH on Windows). Loading is done only in the worker (`wk_runtime`), a child process under the
examined interpreter, because a broken runtime can crash or hang: that comes back as facts (`worker` with
its status, signal and stage), never as a traceback. Under a fixture root nothing is loaded; the root's
`.edgedoctor/runtime.json` may record what the worker said on the machine it was taken from.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from edgedoctor.machine.system import System
from edgedoctor.matrix import releases
from edgedoctor.probes import ProbeContext, libfile

LIBRARY_NAMES = {"linux": ["libedgetpu.so.1"], "darwin": ["libedgetpu.1.dylib"], "windows": ["edgetpu.dll"]}
LINUX_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/arm-linux-gnueabihf",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/lib/arm-linux-gnueabihf",
    "/usr/lib",
    "/lib",
    "/usr/local/lib",
)
DARWIN_DIRS = ("/usr/local/lib", "/opt/homebrew/lib", "/usr/lib")
RUNTIME_PACKAGES = ("libedgetpu1-std", "libedgetpu1-max", "libedgetpu1-legacy-std", "libedgetpu1-legacy-max")
DPKG_QUERY = ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\\n", *RUNTIME_PACKAGES]
PERFORMANCE_RE = re.compile(rb"PERFORMANCE=(THROTTLED|DIRECT)")
CL_RE = re.compile(rb"CL_NUMBER=(\d+)")
FLAVORS = {"DIRECT": "max", "THROTTLED": "std"}


# --- pure parsers ---------------------------------------------------------------------------------------------


def parse_ldconfig(text: str, name: str) -> List[Dict[str, str]]:
    """`ldconfig -p` lines `\tlibedgetpu.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libedgetpu.so.1`."""
    found = []
    for line in text.splitlines():
        match = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s*=>\s*(\S.*)$", line)
        if match and match.group(1) == name:
            found.append({"path": match.group(3).strip(), "abi": match.group(2)})
    return found


def parse_dpkg_query(text: str) -> List[Dict[str, Optional[str]]]:
    """`dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' ...`: installed packages only."""
    installed: List[Dict[str, Optional[str]]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2][:2] in ("ii", "hi", "iU", "iF"):
            installed.append({"package": parts[0], "version": parts[1], "status": parts[2]})
    return installed


def parse_version(text: Optional[str]):
    """`BuildLabel(X), RuntimeVersion(N)` -> (X or None, N or None) (tflite/edgetpu_manager_direct.cc)."""
    match = re.search(r"BuildLabel\((.*)\),\s*RuntimeVersion\((\d+)\)", text or "", re.DOTALL)
    if not match:
        return None, None
    label = match.group(1)
    return (None if label in ("", "N/A") else label), int(match.group(2))


def scan_bytes(data: Optional[bytes]) -> Dict[str, Optional[str]]:
    found: Dict[str, Optional[str]] = {"performance": None, "cl_number": None}
    if data:
        match = PERFORMANCE_RE.search(data)
        found["performance"] = match.group(1).decode() if match else None
        match = CL_RE.search(data)
        found["cl_number"] = match.group(1).decode() if match else None
    return found


def flavor_of(performance: Optional[str], package: Optional[str]) -> Optional[str]:
    """`max` or `std` from the embedded PERFORMANCE string, else from the package name; None when unknown."""
    if performance in FLAVORS:
        return FLAVORS[performance]
    if package:
        if package.endswith("-max"):
            return "max"
        if package.endswith("-std"):
            return "std"
    return None


# --- locating ----------------------------------------------------------------------------------------------------


def _win(path: str) -> str:
    return path.replace("\\", "/")


def _candidate(system: System, path: str, source: str, **extra) -> Dict[str, Any]:
    check = _win(path) if system.platform == "windows" else path
    exists = system.exists(check)
    entry = {
        "path": path,
        "source": source,
        "exists": exists,
        "realpath": system.realpath(check) if exists and system.platform != "windows" else None,
    }
    entry.update(extra)
    return entry


def locate(ctx: ProbeContext) -> Dict[str, Any]:
    """Every place the loader would look, in its order: {"candidates": [...], "error": str or None}."""
    system = ctx.system
    names = LIBRARY_NAMES.get(system.platform, LIBRARY_NAMES["linux"])
    name = names[0]
    candidates: List[Dict[str, Any]] = []
    errors = []
    seen = set()

    def add(path: str, source: str, **extra):
        key = _win(path).lower() if system.platform == "windows" else path
        if key not in seen:
            seen.add(key)
            candidates.append(_candidate(system, path, source, **extra))

    if system.platform == "windows":
        system_root = (system.getenv("SystemRoot") or system.getenv("SYSTEMROOT") or "C:\\Windows").rstrip("\\/")
        add(f"{system_root}\\System32\\{name}", "System32")
        for folder in (system.getenv("PATH") or system.getenv("Path") or "").split(";"):
            if folder.strip():
                add(f"{folder.strip().rstrip(chr(92) + '/')}\\{name}", "PATH")
        return {"candidates": candidates, "error": None}

    if system.platform == "darwin":
        for var in ("DYLD_LIBRARY_PATH", "DYLD_FALLBACK_LIBRARY_PATH"):
            for folder in (system.getenv(var) or "").split(":"):
                if folder:
                    add(f"{folder.rstrip('/')}/{name}", var)
        for folder in DARWIN_DIRS:
            add(f"{folder}/{name}", "standard")
        return {"candidates": candidates, "error": None}

    for folder in (system.getenv("LD_LIBRARY_PATH") or "").split(":"):
        if folder:
            add(f"{folder.rstrip('/')}/{name}", "LD_LIBRARY_PATH")
    result = system.run(["ldconfig", "-p"], 10.0)
    if result.error and system.is_host:
        result = system.run(["/sbin/ldconfig", "-p"], 10.0)
    if result.ok:
        for entry in parse_ldconfig(result.stdout, name):
            add(entry["path"], "ld.so.cache", abi=entry["abi"])
    else:
        errors.append(f"ldconfig -p: {result.error or result.stderr.strip() or result.returncode}")
    for folder in LINUX_DIRS:
        add(f"{folder}/{name}", "standard")
    return {"candidates": candidates, "error": "; ".join(errors) or None}


def packages(ctx: ProbeContext) -> Dict[str, Any]:
    """Installed Coral runtime packages (Debian family)."""
    if ctx.system.platform != "linux":
        return {"installed": [], "error": None}
    result = ctx.system.run(DPKG_QUERY, 15.0)
    if result.error:
        return {"installed": [], "error": result.error}
    # dpkg-query exits 1 when some of the names are unknown; what it printed is still right.
    return {"installed": parse_dpkg_query(result.stdout), "error": None}


# --- the worker ----------------------------------------------------------------------------------------------------


def _recorded_worker(system: System) -> Optional[Dict[str, Any]]:
    text = system.read_text("/.edgedoctor/runtime.json")
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {"loaded": False, "error": f"bad runtime.json: {exc}"}
    return data if isinstance(data, dict) else None


def run_worker(ctx: ProbeContext, library: Optional[str], names: List[str]):
    """(result dict or None, worker failure fact or None)."""
    from edgedoctor.machine.workerproc import run_worker as _run

    # "open": create the delegate with edgetpu_verbosity(1), so that a device the runtime cannot open is
    # reported with the runtime's own reason (permissions, busy, link speed, firmware state, transfers).
    payload = {"library": library, "names": names, "list_devices": True, "scan": True, "open": True}
    outcome = _run(
        ctx.options.python, "runtime", payload, timeout=ctx.options.timeout, env=dict(ctx.system.env), cwd=None
    )
    if not outcome.ok and outcome.stage == "edgetpu_open":
        # Opening the device crashed or hung (a device that takes a request and never answers): that is a
        # fact about the device; ask again without opening, so the runtime's version and list still come back.
        failed = outcome.to_fact()
        outcome = _run(
            ctx.options.python,
            "runtime",
            dict(payload, skip=["edgetpu_open"]),
            timeout=ctx.options.timeout,
            env=dict(ctx.system.env),
            cwd=None,
        )
        if outcome.ok and outcome.result is not None:
            outcome.result["open"] = {
                "ok": False,
                "attempts": [],
                "reason": failed.get("error"),
                "stderr": failed.get("stderr"),
                "status": failed.get("status"),
                "signal": failed.get("signal"),
            }
    if outcome.ok:
        return outcome.result, None
    fact = outcome.to_fact()
    fact["stages"] = list(outcome.stages)
    return None, fact


# --- the reader ------------------------------------------------------------------------------------------------------


def empty() -> Dict[str, Any]:
    return {
        "found": False,
        "path": None,
        "candidates": [],
        "loaded": None,
        "version": None,
        "runtime_version": None,
        "build_label": None,
        "cl_number": None,
        "flavor": None,
        "performance": None,
        "package": None,
        "package_version": None,
        "packages": [],
        "release": None,
        "release_by": None,
        "release_candidates": [],
        "devices": None,
        "load_error": None,
        "stderr": None,
        "worker": None,
        "sha256": None,
        "binary": None,
        "published": None,
        "build_label_by": None,
        "runtime_version_by": None,
        "open": None,
        "error": None,
    }


def read(ctx: ProbeContext) -> Dict[str, Any]:
    system = ctx.system
    facts = empty()
    errors: List[str] = []
    try:
        located = locate(ctx)
        facts["candidates"] = located["candidates"]
        if located["error"]:
            errors.append(located["error"])
        existing = [c for c in facts["candidates"] if c["exists"]]
        if existing:
            facts["found"] = True
            facts["path"] = existing[0]["path"]
        pkgs = packages(ctx)
        facts["packages"] = pkgs["installed"]
        if pkgs["installed"]:
            facts["package"] = pkgs["installed"][0]["package"]
            facts["package_version"] = pkgs["installed"][0]["version"]

        names = LIBRARY_NAMES.get(system.platform, LIBRARY_NAMES["linux"])
        if system.is_host:
            library = existing[0]["path"] if existing else None
            result, failure = run_worker(ctx, library, names)
            facts["worker"] = failure
            if failure:
                facts["loaded"] = False
                facts["load_error"] = failure.get("error")
                errors.append(f"loading the runtime: {failure.get('error')}")
        else:
            result = _recorded_worker(system)
            if result is None:
                facts["loaded"] = None
        if result:
            _merge_worker(facts, result, errors)

        _merge_file(facts, system)
        detail = releases.identify_detail(facts)
        facts["release"] = detail["release"]
        facts["release_by"] = detail["by"]
        facts["release_candidates"] = detail["candidates"]
        release = releases.get(facts["release"])
        if facts["runtime_version"] is None and release and release.get("runtime_version") is not None:
            # Not loaded here (another architecture, a --root image, a load that failed): the release says it.
            facts["runtime_version"] = release["runtime_version"]
            facts["runtime_version_by"] = "release"
    except Exception as exc:  # a reader must not take the check down
        errors.append(f"{type(exc).__name__}: {exc}")
    facts["error"] = "; ".join(errors) or None
    return facts


def _merge_worker(facts: Dict[str, Any], result: Dict[str, Any], errors: List[str]) -> None:
    facts["loaded"] = bool(result.get("loaded"))
    if result.get("loaded"):
        facts["found"] = True
        if result.get("path"):
            if facts["path"] is None or not _same(facts, result["path"]):
                facts["candidates"].append(
                    {"path": result["path"], "source": "dlopen", "exists": True, "realpath": None}
                )
            facts["path"] = facts["path"] or result["path"]
    else:
        facts["load_error"] = result.get("error")
        if result.get("error") and facts["found"]:
            errors.append(f"loading {facts['path']}: {result['error']}")
    version = result.get("version")
    facts["version"] = version
    label, number = parse_version(version)
    facts["build_label"] = result.get("build_label") or label
    facts["runtime_version"] = result.get("runtime_version") if result.get("runtime_version") is not None else number
    facts["devices"] = result.get("devices")
    facts["performance"] = result.get("performance")
    facts["cl_number"] = result.get("cl_number")
    facts["stderr"] = result.get("stderr") or None
    facts["open"] = result.get("open")
    if result.get("loaded") and result.get("error"):
        errors.append(result["error"])


def _merge_file(facts: Dict[str, Any], system: System) -> None:
    """What the library file's bytes say (sha256, format, architecture, build label, flavour): the only source
    for a runtime that is not loaded here, and the flavour of Google's prebuilt files, which print none."""
    path = facts["path"]
    if path:
        check = _win(path) if system.platform == "windows" else path
        found = libfile.inspect(system.read_bytes(check, 64 << 20))
        facts["sha256"] = found["sha256"]
        facts["binary"] = (
            {k: found[k] for k in ("format", "arch", "size", "build_label", "flavor")} if found["sha256"] else None
        )
        facts["performance"] = facts["performance"] or found["performance"]
        facts["cl_number"] = facts["cl_number"] or found["cl_number"]
        if not facts["build_label"] and found["build_label"]:
            facts["build_label"] = found["build_label"]
            facts["build_label_by"] = "file"
    known = releases.binary(facts.get("sha256"))
    facts["published"] = known
    facts["flavor"] = (
        flavor_of(facts["performance"], facts["package"])
        if facts["performance"]
        else (
            (known or {}).get("flavor")
            or ((facts.get("binary") or {}).get("flavor"))
            or flavor_of(None, facts["package"])
        )
    )


def _same(facts: Dict[str, Any], path: str) -> bool:
    for candidate in facts["candidates"]:
        if path in (candidate.get("path"), candidate.get("realpath")):
            return True
    return False
