"""Read saved reports (JSON, or the JSON inside a Markdown report's <details> block) as untrusted data.

A report may come from anyone (attached to a ticket, collected from a fleet): it is read only if it is a regular
file of at most MAX_BYTES, parsed without Infinity/NaN and at most MAX_DEPTH levels deep, and its values are
checked against the report schema's types (and the types the checks read, by key name) before anything judges
or renders it. Every way it can be wrong is a ValueError naming the file and the place (`read_report` returns
the reason instead of raising).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional

MAX_BYTES = 64 << 20  # a report is tens of KB; a log pasted into one is a few MB
MAX_DEPTH = 48  # levels of nesting (a report has fewer than 10)

_JSON_BLOCK = re.compile(r"^```json[ \t]*\n(.*?)\n```[ \t]*$", re.S | re.M)
# The heading the Markdown renderer puts above the report's own JSON block.
REPORT_MARK = "<summary>Full report (JSON) for <code>edgedoctor diagnose</code></summary>"


class Loaded(NamedTuple):
    """What `read_report` found: the report, or the reason it is not one; notes say what was chosen."""

    report: Optional[Dict[str, Any]]
    error: Optional[str]
    notes: List[str]


def read_report(path: str) -> Loaded:
    """Never raises: Loaded(report, None, notes) or Loaded(None, reason, notes); the reason names the file."""
    notes: List[str] = []
    try:
        return Loaded(load_report(path, notes), None, notes)
    except ValueError as exc:
        return Loaded(None, str(exc), notes)
    except Exception as exc:  # pragma: no cover - a bug here must not take a fleet summary down
        return Loaded(None, f"{path}: cannot be read ({type(exc).__name__}: {exc})", notes)


def load_report(path: str, notes: Optional[List[str]] = None) -> Dict[str, Any]:
    """The report in `path`; raises ValueError naming the file and what is wrong. `notes` (if given) receives
    remarks for the user, such as which of several JSON blocks of a Markdown file was used."""
    text = _read(path)
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        stripped = _markdown_block(path, text, notes if notes is not None else [])
    data = parse(stripped, path)
    problem = check(data)
    if problem:
        raise ValueError(f"{path}: not an edgedoctor report: {problem}")
    return data


def _read(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path}: is a folder, not a report")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket is not read)")
    if info.st_size > MAX_BYTES:
        raise ValueError(f"{path}: {info.st_size} bytes, more than a report can be ({MAX_BYTES >> 20} MB)")
    try:
        from edgedoctor.machine.system import read_regular

        data = read_regular(path, MAX_BYTES + 1)
    except OSError as exc:  # pragma: no cover - read_regular returns None instead
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    if data is None:
        raise ValueError(f"{path}: cannot be read")
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path}: more than a report can be ({MAX_BYTES >> 20} MB)")
    return data.decode("utf-8", "replace")


def _markdown_block(path: str, text: str, notes: List[str]) -> str:
    """The JSON block of a Markdown report: the last one after the report's own heading (a block pasted above
    the report, or quoted in a comment before it, is not taken for it); say so when there are others."""
    blocks = list(_JSON_BLOCK.finditer(text))
    if not blocks:
        raise ValueError(f"{path}: not a JSON report, and no ```json block found in it")
    mark = text.rfind(REPORT_MARK)
    own = [b for b in blocks if b.start() > mark] if mark >= 0 else []
    chosen = own[0] if own else blocks[-1]
    if len(blocks) > 1:
        where = 'the one under the report\'s own heading "Full report (JSON)"' if own else "the last one"
        notes.append(
            f"{path} holds {len(blocks)} ```json blocks; {where} was used "
            f"(line {text.count(chr(10), 0, chosen.start()) + 1})"
        )
    return chosen.group(1)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse(text: str, path: str = "report") -> Any:
    """JSON without NaN/Infinity and at most MAX_DEPTH levels deep; ValueError otherwise. The depth is
    measured before parsing: the parser's own RecursionError leaves CPython's compiler state damaged for the
    rest of the process (later imports fail with "AST constructor recursion depth mismatch")."""
    if _too_deep(text):
        raise ValueError(f"{path}: nested more than {MAX_DEPTH} levels deep, which no report is")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to be a report") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if _depth(data) > MAX_DEPTH:
        raise ValueError(f"{path}: nested more than {MAX_DEPTH} levels deep, which no report is")
    return data


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def _too_deep(text: str) -> bool:
    """Whether the JSON text nests more than MAX_DEPTH levels: its brackets (outside strings), with the
    innermost pairs taken away one level at a time, all in C."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:  # unbalanced: the parser names it, unless it would recurse too deep to get there
            return len(brackets) > MAX_DEPTH
    return bool(brackets)


def _depth(data: Any) -> int:
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        values: Iterable[Any]
        if isinstance(value, dict):
            values = value.values()
        elif isinstance(value, list):
            values = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((item, level + 1) for item in values)
    return deepest


# --- types -----------------------------------------------------------------------------------------------------
_SCHEMA: Optional[Dict[str, Any]] = None
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}

# What the checks and renderers read under these key names anywhere in the facts (besides the schema's own
# types): a value of another type would trip them, so it is named here instead.
KEY_TYPES = {
    "devices": ("array", "null"),
    "latency_ms": ("object", "null"),
    "top1": ("object", "null"),
    "stderr": ("string", "null"),
    "detail": ("string", "null"),
    "found": ("boolean", "null"),
    "accessible": ("boolean", "null"),
    "in_container": ("boolean", "null"),
    "speed_mbps": ("number", "null"),
    "median": ("number", "null"),
    "first": ("number", "null"),
    "speedup": ("number", "null"),
    "page_size": ("integer", "null"),
    "runtime_version": ("integer", "null"),
    "os": ("string", "null"),
    "arch": ("string", "null"),
    "kernel": ("string", "null"),
    "python_version": ("string", "null"),
    "vendor_id": ("string", "null"),
    "product_id": ("string", "null"),
    "state": ("string", "null"),
    "identity": ("string", "null"),
    "module": ("string", "null"),
    "package": ("string", "null"),
    "release": ("string", "null"),
    "board": ("string", "null"),
}


# Sections whose parts the checks take for objects: (section, key) -> types.
PART_TYPES = {
    ("python_env", "tflite"): ("object", "null"),
    ("python_env", "numpy"): ("object", "null"),
    ("python_env", "pycoral"): ("object", "null"),
    ("inference", "cpu"): ("object", "null"),
    ("inference", "tpu"): ("object", "null"),
    ("runtime", "devices"): ("array", "null"),
}


def _schema() -> Dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(
            (Path(__file__).resolve().parent.parent / "schema" / "report.schema.json").read_text(encoding="utf-8")
        )
    return _SCHEMA


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _TYPES.get(kind)
    return expected is not None and isinstance(value, expected)


def _named(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def check(data: Any) -> Optional[str]:
    """The first place where `data` is not a report's shape (None when it is one): schema_version exactly 1,
    facts an object of objects, and every value the schema or the checks type of the right type."""
    if not isinstance(data, dict):
        return f"the top level is {_named(data)}, not an object"
    version = data.get("schema_version")
    if type(version) is not int or version != 1:  # 1.0 and true are not 1
        return f"schema_version is {json.dumps(version)[:40]}, expected 1"
    if not isinstance(data.get("facts"), dict):
        return f"'facts' is {_named(data.get('facts'))}, expected an object"
    for name, section in data["facts"].items():
        if not isinstance(section, dict):
            return f"facts.{name} is {_named(section)}, expected an object"
    problem = _against(data, _schema(), "")
    if problem:
        return problem
    for (name, key), kinds in PART_TYPES.items():
        section = data["facts"].get(name)
        if isinstance(section, dict) and key in section and not any(_is(section[key], k) for k in kinds):
            return f"facts.{name}.{key} is {_named(section[key])}, expected {' or '.join(kinds)}"
    return _by_key(data["facts"], "facts")


def _against(value: Any, schema: Dict[str, Any], where: str) -> Optional[str]:
    """Types, enums and constants of the schema (`required` is not enforced: older reports lack newer keys)."""
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            return f"{where or 'the report'} is {_named(value)}, expected {' or '.join(kinds)}"
    if "enum" in schema and not any(value == option and type(value) is type(option) for option in schema["enum"]):
        return f"{where} is {json.dumps(value, default=str)[:60]}, expected one of {schema['enum']}"
    if "const" in schema and not (value == schema["const"] and type(value) is type(schema["const"])):
        return f"{where} is {json.dumps(value, default=str)[:60]}, expected {json.dumps(schema['const'])}"
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                problem = _against(value[key], sub, f"{where}.{key}" if where else key)
                if problem:
                    return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problem = _against(item, schema["items"], f"{where}[{index}]")
            if problem:
                return problem
    return None


def _by_key(value: Any, where: str) -> Optional[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            kinds = KEY_TYPES.get(key)
            if kinds is not None and not any(_is(item, kind) for kind in kinds):
                return f"{where}.{key} is {_named(item)}, expected {' or '.join(kinds)}"
            if key in ("devices", "candidates") and isinstance(item, list):
                for index, element in enumerate(item):
                    if key == "devices" and not isinstance(element, dict):
                        return f"{where}.{key}[{index}] is {_named(element)}, expected an object"
            problem = _by_key(item, f"{where}.{key}")
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _by_key(item, f"{where}[{index}]")
            if problem:
                return problem
    return None
