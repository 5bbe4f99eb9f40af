# The Python stack as the examined interpreter sees it. Python 3.6+, standard library only.
import os
import platform
import re
import struct
import sys
import sysconfig

import wk_common
import wk_tflite

INTERESTING_DISTS = (
    "tflite-runtime",
    "ai-edge-litert",
    "tensorflow",
    "tensorflow-cpu",
    "numpy",
    "pycoral",
    "pillow",
    "pyusb",
    "edgetpu",
    "opencv-python",
    "opencv-python-headless",
    "protobuf",
    "flatbuffers",
    "ml-dtypes",
    "jax",
    "jaxlib",
)

IMPOSTOR_HINTS = ("allen coral atlas", "samapriya")


def externally_managed(in_venv):
    """PEP 668: the distribution marks its own interpreter (EXTERNALLY-MANAGED in the stdlib folder); pip
    refuses to install into it. A venv is never externally managed."""
    if in_venv:
        return False
    try:
        return os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
    except (KeyError, TypeError, OSError):
        return None


def python_info():
    libc = platform.libc_ver()
    in_venv = getattr(sys, "base_prefix", sys.prefix) != sys.prefix or hasattr(sys, "real_prefix")
    return {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "in_venv": in_venv,
        "externally_managed": externally_managed(in_venv),
        "platform": sys.platform,
        "machine": platform.machine(),
        "sysconfig_platform": sysconfig.get_platform(),
        "bits": struct.calcsize("P") * 8,
        "libc": libc[0] or None,
        "libc_version": libc[1] or None,
    }


def _version_from_init(package_dir):
    init = os.path.join(package_dir, "__init__.py")
    try:
        with open(init, "rb") as handle:
            text = handle.read(16384).decode("utf-8", "replace")
    except OSError:
        return None
    match = re.search(r"""__version__\s*=\s*['"]([^'"]+)['"]""", text)
    return match.group(1) if match else None


def probe_tflite(cwd, skip):
    located = wk_tflite.locate()
    chosen = None
    for top, _, _ in wk_tflite.CANDIDATES:
        info = located[top]
        info["shadowed"] = wk_common.imported_from(info["path"], cwd)
        if not info["found"]:
            continue
        # Every installed interpreter stack is examined (TensorFlow's import takes seconds, but an environment
        # with tflite_runtime and tensorflow must not look green while tensorflow no longer imports).
        stage = "import-" + top
        if stage in skip:
            info["error"] = "skipped: importing it crashed the worker before"
            continue
        wk_common.stage(stage)
        with wk_common.CaptureStderr() as cap:
            try:
                loaded = wk_tflite.import_interpreter(top)
                info["version"] = loaded.version
                info["imported"] = True
            except BaseException as exc:  # ImportError, SystemError from numpy ABI, anything
                loaded = None
                info["imported"] = False
                info.update(wk_common.error_info(exc))
        info["stderr"] = cap.text
        if loaded is not None and chosen is None:
            chosen = loaded
    return located, chosen


def probe_numpy(skip):
    info = {"found": False, "version": None, "path": None, "error": None}
    origin, error = wk_common.module_origin("numpy")
    info["path"] = origin
    info["found"] = origin is not None
    meta = wk_common.dist_info("numpy")
    info["dist_version"] = meta["version"] if meta else None
    if origin is None or "import-numpy" in skip:
        info["error"] = error
        return info
    wk_common.stage("import-numpy")
    with wk_common.CaptureStderr() as cap:
        try:
            import numpy

            info["version"] = numpy.__version__
        except BaseException as exc:
            info.update(wk_common.error_info(exc))
    info["stderr"] = cap.text
    return info


def probe_pycoral(cwd, skip):
    info = {
        "identity": "absent",
        "version": None,
        "path": None,
        "error": None,
        "summary": None,
        "shadowed": False,
        "has_pybind": None,
    }
    origin, error = wk_common.module_origin("pycoral")
    meta = wk_common.dist_info("pycoral")
    if meta:
        info["summary"] = meta["summary"]
        info["version"] = meta["version"]
    if origin is None:
        info["error"] = error
        return info
    info["path"] = origin
    package_dir = os.path.dirname(origin) if origin.endswith(".py") else origin
    info["shadowed"] = wk_common.imported_from(origin, cwd)
    has_utils = os.path.exists(os.path.join(package_dir, "utils", "edgetpu.py"))
    info["has_pybind"] = os.path.isdir(os.path.join(package_dir, "pybind"))
    described = " ".join(str(meta.get(k) or "") for k in ("summary", "home_page", "author")).lower() if meta else ""
    if any(hint in described for hint in IMPOSTOR_HINTS) or (
        not has_utils and os.path.exists(os.path.join(package_dir, "pycoral.py"))
    ):
        info["identity"] = "pypi-impostor"
    elif has_utils:
        info["identity"] = "google"
        info["version"] = _version_from_init(package_dir) or info["version"]
    else:
        info["identity"] = "unknown"
    if info["identity"] != "pypi-impostor" and "import-pycoral" not in skip:
        # Importing pycoral.utils.edgetpu loads its pybind module, which links libedgetpu: it can fail
        # (missing runtime, wrong tflite) or crash. The stage marker lets the parent name a crash.
        wk_common.stage("import-pycoral")
        with wk_common.CaptureStderr() as cap:
            try:
                from pycoral.utils import edgetpu  # noqa: F401

                info["imported"] = True
                info["identity"] = "google"
            except BaseException as exc:
                info["imported"] = False
                info.update(wk_common.error_info(exc))
        info["stderr"] = cap.text
    return info


def probe_legacy_edgetpu():
    origin, _ = wk_common.module_origin("edgetpu")
    meta = wk_common.dist_info("edgetpu")
    return {"found": origin is not None, "path": origin, "version": meta["version"] if meta else None}


def run(payload):
    skip = set(payload.get("skip") or ())
    cwd = payload.get("cwd") or os.getcwd()
    result = {"python": python_info(), "cwd": cwd, "sys_path": list(sys.path)}
    result["numpy"] = probe_numpy(skip)
    candidates, loaded = probe_tflite(cwd, skip)
    result["tflite"] = {
        "candidates": candidates,
        "module": loaded.name if loaded else None,
        "version": loaded.version if loaded else None,
        "path": loaded.module_file if loaded else None,
    }
    result["pycoral"] = probe_pycoral(cwd, skip)
    result["legacy_edgetpu"] = probe_legacy_edgetpu()
    packages = {}
    for name in INTERESTING_DISTS:
        meta = wk_common.dist_info(name)
        if meta:
            packages[name] = meta["version"]
    result["packages"] = packages
    smoke = payload.get("smoke")
    if smoke and loaded is not None and "smoke" not in skip:
        import wk_infer

        wk_common.stage("smoke")
        result["smoke"] = wk_infer.run_with(loaded, smoke)
    elif smoke:
        result["smoke"] = {
            "status": "skip",
            "error": "no TFLite interpreter could be imported"
            if loaded is None
            else "skipped: the smoke run crashed the worker before",
        }
    return result
