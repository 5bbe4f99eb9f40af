"""The pure-Python `flatbuffers` reader, imported without numpy.

flatbuffers imports numpy at import time when it can find it (`flatbuffers.compat.import_numpy`). edgedoctor
must never import numpy in its own process: in the environments it examines numpy is often the broken part
(a NumPy 2 next to modules built for 1.x), and an import there could crash the doctor. So numpy is hidden from
flatbuffers' finder while flatbuffers loads; flatbuffers then uses its pure-Python paths.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading

_LOCK = threading.Lock()
_MODULES = ("flatbuffers", "flatbuffers.number_types", "flatbuffers.table", "flatbuffers.flexbuffers")


def load():
    """(number_types, table, flexbuffers or None), imported with numpy out of sight."""
    with _LOCK:
        if "flatbuffers" not in sys.modules:
            finder = importlib.machinery.PathFinder
            original = finder.__dict__["find_spec"]

            def find_spec(cls, fullname, path=None, target=None):
                if fullname == "numpy":
                    return None
                return original.__func__(cls, fullname, path, target)

            finder.find_spec = classmethod(find_spec)
            try:
                for name in _MODULES:
                    try:
                        importlib.import_module(name)
                    except ImportError:
                        if name != "flatbuffers.flexbuffers":  # flexbuffers arrived in flatbuffers 2.0
                            raise
            finally:
                finder.find_spec = original
    return (
        sys.modules["flatbuffers.number_types"],
        sys.modules["flatbuffers.table"],
        sys.modules.get("flatbuffers.flexbuffers"),
    )
