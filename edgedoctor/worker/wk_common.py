# Shared helpers of the worker. Python 3.6+, standard library only: no f-string '=' specifiers, no
# dataclasses, no walrus, no importlib.metadata (3.8+).
import json
import os
import re
import sys
import tempfile
import traceback

_RESULT_FD = None


def take_stdout():
    """Keep the real stdout for our JSON and send fd 1 to stderr, so that native libraries that print
    cannot corrupt the result."""
    global _RESULT_FD
    sys.stdout.flush()
    _RESULT_FD = os.dup(1)
    os.dup2(2, 1)
    return _RESULT_FD


def emit(obj):
    data = json.dumps(obj, default=str).encode("utf-8")
    fd = _RESULT_FD if _RESULT_FD is not None else 1
    while data:
        written = os.write(fd, data)
        data = data[written:]


class CaptureStderr(object):
    """Capture everything written to fd 2 (Python and native code) while the block runs: `.text`."""

    def __init__(self, limit=65536):
        self.limit = limit
        self.text = ""

    def __enter__(self):
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        raw = self._tmp.read()
        self._tmp.close()
        if len(raw) > self.limit:
            raw = raw[: self.limit // 2] + b"\n[... cut ...]\n" + raw[-self.limit // 2 :]
        self.text = raw.decode("utf-8", "replace")
        return False


def describe(exc):
    """`Type: message`, the way a traceback's last line reads."""
    name = type(exc).__name__
    text = str(exc)
    return "%s: %s" % (name, text) if text else name


def error_info(exc):
    return {"error": describe(exc), "traceback": traceback.format_exc(limit=8)}


def _normalise(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def dist_info(name, paths=None):
    """Version and metadata of an installed distribution, found on sys.path without importing it.

    Returns {"version", "summary", "home_page", "location"} or None."""
    wanted = _normalise(name)
    for entry in paths if paths is not None else sys.path:
        for dist_name, meta_dir in _metadata_dirs(entry):
            if dist_name != wanted:
                continue
            meta_file = os.path.join(meta_dir, "METADATA")
            if not os.path.exists(meta_file):
                meta_file = os.path.join(meta_dir, "PKG-INFO")
            if os.path.isdir(meta_dir) and os.path.exists(meta_file):
                return _read_metadata(meta_file, entry)
            if os.path.isfile(meta_dir):  # an egg-info file
                return _read_metadata(meta_dir, entry)
    return None


_LISTED = {}  # type: dict


def _metadata_dirs(entry):
    """[(normalised distribution name, path)] of the *.dist-info and *.egg-info in a sys.path folder, dist-info
    first; each folder is listed once per worker run, however many distributions are asked for."""
    if entry in _LISTED:
        return _LISTED[entry]
    found = []
    try:
        names = sorted(os.listdir(entry)) if entry and os.path.isdir(entry) else []
    except OSError:
        names = []
    for suffix in (".dist-info", ".egg-info"):
        for child in names:
            if child.endswith(suffix):
                found.append((_normalise(child[: -len(suffix)].split("-", 1)[0]), os.path.join(entry, child)))
    _LISTED[entry] = found
    return found


def _read_metadata(path, location):
    info = {"version": None, "summary": None, "home_page": None, "author": None, "location": location}
    try:
        with open(path, "rb") as handle:
            head = handle.read(32768).decode("utf-8", "replace")
    except OSError:
        return info
    for line in head.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        if key == "version":
            info["version"] = value
        elif key == "summary":
            info["summary"] = value
        elif key == "home-page":
            info["home_page"] = value
        elif key == "author":
            info["author"] = value
    return info


def module_origin(name):
    """Where a module would be imported from, without importing it: (origin path or None, error or None)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(name)
    except Exception as exc:  # a parent package that fails to import, a broken finder
        return None, describe(exc)
    if spec is None:
        return None, None
    origin = spec.origin
    if origin in (None, "namespace") and spec.submodule_search_locations:
        origin = list(spec.submodule_search_locations)[0]
    return origin or "(built-in)", None


def imported_from(origin, folder):
    """True when a package whose origin is `origin` would be imported from `folder` itself (a source tree
    sitting in the folder the user runs from), not from somewhere deeper such as a venv inside it."""
    if not origin or not folder:
        return False
    package_dir = os.path.dirname(origin) if origin.endswith(".py") else origin
    try:
        return os.path.realpath(os.path.dirname(package_dir)) == os.path.realpath(folder)
    except (OSError, TypeError):
        return False


STAGE_MARK = "@@edgedoctor-stage:"


def stage(name):
    """Announce on stderr what the worker is about to do, so that a crash can be attributed to it."""
    try:
        os.write(2, ("\n%s%s\n" % (STAGE_MARK, name)).encode("utf-8"))
    except OSError:
        pass
