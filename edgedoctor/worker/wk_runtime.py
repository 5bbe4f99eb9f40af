# Load libedgetpu with ctypes and ask its C API (tflite/public/edgetpu_c.h) what it is and what it sees.
# Python 3.6+, standard library only.
#
# payload: {"library": absolute path or null, "names": ["libedgetpu.so.1", ...], "list_devices": true,
#           "scan": true, "skip": [stage names]}
# result:  {"loaded", "path", "tried": [{"name", "error"}], "version", "build_label", "runtime_version",
#           "devices": [{"type": "usb"|"pci", "path"}], "performance": "THROTTLED"|"DIRECT"|null,
#           "cl_number", "stderr", "error",
#           "open": {"ok", "attempts": [{"type", "path", "ok", "reason", "seconds"}], "reason", "stderr"} or null}
#
# C API used (google-coral/libedgetpu tflite/public/edgetpu_c.h):
#   const char* edgetpu_version();
#   struct edgetpu_device { enum edgetpu_device_type type; const char* path; };   PCI = 0, USB = 1
#   struct edgetpu_device* edgetpu_list_devices(size_t* num_devices);
#   void edgetpu_free_devices(struct edgetpu_device* dev);
#   void edgetpu_verbosity(int verbosity);
#   TfLiteDelegate* edgetpu_create_delegate(enum edgetpu_device_type type, const char* name,
#                                           const struct edgetpu_option* options, size_t num_options);
#   void edgetpu_free_delegate(TfLiteDelegate* delegate);
#
# Ask the runtime why ("open" stage): creating the delegate opens the device, exactly as load_delegate()
# does, but through the C API and with edgetpu_verbosity(1) set first, so the runtime prints its own reason
# on stderr (`Failed to open device [Apex (USB)] at [...]: Permission denied: USB error -3 [OpenDevice]`).
# At default verbosity it prints nothing for a failed open, and load_delegate() says only "Failed to load
# delegate". A device that cannot be opened costs about 25 s (the runtime retries once a second).
import ctypes
import os
import re
import sys
import time

import wk_common

DEVICE_TYPES = {0: "pci", 1: "usb"}
TYPE_NUMBERS = {"pci": 0, "usb": 1}
# The runtime's last word on a failed open, most telling first (tflite/edgetpu_manager_direct.cc,
# driver/usb/*.cc): the line that names the device, then the one for no device at all.
REASON_RES = (
    re.compile(r"Failed to open device \[[^\n]*"),
    re.compile(r"Failed allocating Edge TPU device[^\n]*"),
    re.compile(
        r"[^\n]*(?:Connection speed is too slow|Low speed is not supported|Could not find device "
        r"on bus)[^\n]*"
    ),
)
VERSION_RE = re.compile(r"BuildLabel\((.*)\),\s*RuntimeVersion\((\d+)\)", re.DOTALL)
SCAN_RE = re.compile(rb"PERFORMANCE=(THROTTLED|DIRECT)")
CL_RE = re.compile(rb"CL_NUMBER=(\d+)")


class EdgeTpuDevice(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("path", ctypes.c_char_p)]


def parse_version(text):
    """`BuildLabel(X), RuntimeVersion(N)` -> (label X or None, N or None)."""
    if not text:
        return None, None
    match = VERSION_RE.search(text)
    if not match:
        return None, None
    label = match.group(1)
    return (None if label in ("", "N/A") else label), int(match.group(2))


def scan_binary(path, limit=64 << 20):
    """The build flavour string and CL number embedded in the library file (read in chunks)."""
    found = {"performance": None, "cl_number": None, "scan_error": None}
    try:
        with open(path, "rb") as handle:
            tail = b""
            read = 0
            while read < limit:
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                read += len(chunk)
                data = tail + chunk
                if found["performance"] is None:
                    match = SCAN_RE.search(data)
                    if match:
                        found["performance"] = match.group(1).decode("ascii")
                if found["cl_number"] is None:
                    match = CL_RE.search(data)
                    if match:
                        found["cl_number"] = match.group(1).decode("ascii")
                if found["performance"] and found["cl_number"]:
                    break
                tail = data[-64:]
    except (IOError, OSError) as exc:
        found["scan_error"] = wk_common.describe(exc)
    return found


def _loaded_path(lib, fallback):
    """Where the dynamic loader actually found the library."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as maps:
                for line in maps:
                    parts = line.split(None, 5)
                    if len(parts) == 6:
                        path = parts[5].strip()
                        if os.path.basename(path).startswith("libedgetpu"):
                            return path
        except (IOError, OSError):
            pass
    elif sys.platform in ("win32", "cygwin"):
        try:
            buf = ctypes.create_unicode_buffer(1024)
            if ctypes.windll.kernel32.GetModuleFileNameW(ctypes.c_void_p(lib._handle), buf, 1024):
                return buf.value
        except Exception:
            pass
    return fallback if os.path.isabs(fallback or "") else None


def _load(candidates, result):
    kwargs = {}
    if sys.platform == "win32" and sys.version_info >= (3, 8):
        kwargs["winmode"] = 0  # the classic DLL search (PATH, System32), as pycoral's load_delegate sees it
    for name in candidates:
        with wk_common.CaptureStderr() as cap:
            try:
                lib = ctypes.CDLL(name, **kwargs)
            except OSError as exc:
                lib = None
                error = wk_common.describe(exc)
        if lib is not None:
            result["stderr"] += cap.text
            return lib, name
        result["tried"].append({"name": name, "error": error, "stderr": cap.text or None})
    return None, None


def open_reason(text):
    """The runtime's own reason for a failed open, from what it printed at verbosity 1 (None if none)."""
    for pattern in REASON_RES:
        found = pattern.findall(text or "")
        if found:
            return found[-1].strip()
    return None


def open_devices(lib, devices):
    """Create (and free) a delegate for each listed device, or for any USB device when none is listed, with
    edgetpu_verbosity(1): did the runtime open it, and if not, why (its own words)."""
    try:
        create = lib.edgetpu_create_delegate
        free = lib.edgetpu_free_delegate
        verbosity = lib.edgetpu_verbosity
    except AttributeError as exc:
        return {
            "ok": None,
            "attempts": [],
            "reason": None,
            "stderr": None,
            "error": "the library has no edgetpu_create_delegate(): %s" % wk_common.describe(exc),
        }
    create.restype = ctypes.c_void_p
    create.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    free.restype = None
    free.argtypes = [ctypes.c_void_p]
    verbosity.restype = None
    verbosity.argtypes = [ctypes.c_int]
    targets = [(d.get("type"), d.get("path")) for d in devices or []] or [("usb", None)]
    result = {"ok": False, "attempts": [], "reason": None, "stderr": "", "error": None}
    for kind, path in targets:
        start = time.time()
        with wk_common.CaptureStderr() as cap:
            verbosity(1)
            delegate = create(TYPE_NUMBERS.get(kind, 1), path.encode("utf-8") if path else None, None, 0)
            if delegate:
                free(delegate)
            verbosity(0)
        attempt = {
            "type": kind,
            "path": path,
            "ok": bool(delegate),
            "seconds": round(time.time() - start, 2),
            "reason": None if delegate else open_reason(cap.text),
        }
        result["attempts"].append(attempt)
        result["stderr"] += cap.text
        if delegate:
            result["ok"] = True
        elif result["reason"] is None:
            result["reason"] = attempt["reason"]
    lines = result["stderr"].splitlines()
    result["stderr"] = "\n".join(lines[-60:]) or None
    return result


def run(payload):
    skip = set(payload.get("skip") or ())
    result = {
        "loaded": False,
        "path": None,
        "tried": [],
        "version": None,
        "build_label": None,
        "runtime_version": None,
        "devices": None,
        "performance": None,
        "cl_number": None,
        "stderr": "",
        "error": None,
        "stages_done": [],
        "open": None,
    }
    candidates = []
    if payload.get("library"):
        candidates.append(payload["library"])
    for name in payload.get("names") or ():
        if name not in candidates:
            candidates.append(name)
    if not candidates:
        result["error"] = "no library to load"
        return result

    wk_common.stage("load-libedgetpu")
    lib, name = _load(candidates, result)
    if lib is None:
        # The first try is the most telling: the located file (a missing libusb, a wrong ELF class), not the
        # bare name the loader could not find either.
        result["error"] = result["tried"][0]["error"] if result["tried"] else "could not load libedgetpu"
        return result
    result["loaded"] = True
    result["path"] = _loaded_path(lib, name)
    result["stages_done"].append("load-libedgetpu")

    if payload.get("scan", True) and result["path"] and os.path.exists(result["path"]):
        result.update(scan_binary(result["path"]))
    if "edgetpu_version" not in skip:
        _ask_version(lib, result)
    if payload.get("list_devices", True) and "edgetpu_list_devices" not in skip:
        _list_devices(lib, result)
    if payload.get("open") and "edgetpu_open" not in skip:
        wk_common.stage("edgetpu_open")
        result["open"] = open_devices(lib, result.get("devices"))
        result["stages_done"].append("edgetpu_open")
    return result


def _ask_version(lib, result):
    """edgetpu_version(): the build label and RuntimeVersion the library reports."""
    wk_common.stage("edgetpu_version")
    with wk_common.CaptureStderr() as cap:
        try:
            func = lib.edgetpu_version
            func.restype = ctypes.c_char_p
            func.argtypes = []
            raw = func()
            if raw is None:
                result["error"] = "edgetpu_version() returned NULL"
            else:
                result["version"] = raw.decode("utf-8", "replace")
                result["build_label"], result["runtime_version"] = parse_version(result["version"])
        except AttributeError as exc:
            result["error"] = "the library has no edgetpu_version(): %s" % wk_common.describe(exc)
    result["stderr"] += cap.text
    result["stages_done"].append("edgetpu_version")


def _list_devices(lib, result):
    """edgetpu_list_devices(): the Edge TPUs the runtime sees (then edgetpu_free_devices, its own stage: a
    runtime that crashes freeing the list is told apart from one that crashes listing)."""
    wk_common.stage("edgetpu_list_devices")
    records, count, free_devices = None, ctypes.c_size_t(0), None
    with wk_common.CaptureStderr() as cap:
        try:
            list_devices = lib.edgetpu_list_devices
            list_devices.restype = ctypes.POINTER(EdgeTpuDevice)
            list_devices.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
            free_devices = lib.edgetpu_free_devices
            free_devices.restype = None
            free_devices.argtypes = [ctypes.POINTER(EdgeTpuDevice)]
            records = list_devices(ctypes.byref(count))
            result["devices"] = _device_records(records, count.value)
        except AttributeError as exc:
            result["error"] = result["error"] or (
                "the library has no edgetpu_list_devices(): %s" % wk_common.describe(exc)
            )
    result["stderr"] += cap.text
    result["stages_done"].append("edgetpu_list_devices")
    if records and free_devices is not None:
        wk_common.stage("edgetpu_free_devices")
        free_devices(records)


def _device_records(records, count):
    devices = []
    if records:
        for i in range(count):
            path = records[i].path
            devices.append(
                {
                    "type": DEVICE_TYPES.get(records[i].type, str(records[i].type)),
                    "path": path.decode("utf-8", "replace") if path else None,
                }
            )
    return devices
