"""Redaction of private data in reports: user name, home folder (as ~), host name, serial numbers, IP and MAC
addresses. On by default in every format; `--no-redact` turns it off. Works on the report dict, so every
renderer gets the same redacted data."""

from __future__ import annotations

import copy
import os
import re
from typing import Any, Dict, Iterable, List, Optional

IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])")
MAC = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
SERIAL_KEYS = {"serial", "serial_number", "unique_id", "iSerial"}
KEEP_IPS = {"127.0.0.1", "0.0.0.0"}


def _secrets(report: Dict[str, Any], extra: Iterable[str] = ()) -> List[tuple]:
    facts = report.get("facts") if isinstance(report.get("facts"), dict) else {}
    platform = facts.get("platform") if isinstance(facts.get("platform"), dict) else {}
    pairs = []
    home = os.path.expanduser("~")
    homes = {home} if home and home not in ("/", "~") else set()
    user = platform.get("user") if isinstance(platform.get("user"), str) else None
    user = user or os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        homes.update({f"/home/{user}", f"/Users/{user}", f"C:\\Users\\{user}"})
    for folder in sorted(homes, key=len, reverse=True):
        pairs.append((folder, "~"))
    host = platform.get("hostname")
    if isinstance(host, str) and len(host) >= 2:
        pairs.append((host, "<host>"))
    if user and len(user) >= 2 and user not in ("root",):
        pairs.append((user, "<user>"))
    for value in extra:
        if value:
            pairs.append((value, "<redacted>"))
    return pairs


def _serials(data: Any, found: List[str]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SERIAL_KEYS and isinstance(value, str) and len(value) >= 4:
                found.append(value)
            else:
                _serials(value, found)
    elif isinstance(data, list):
        for value in data:
            _serials(value, found)


def redact_text(text: str, pairs: List[tuple]) -> str:
    for secret, replacement in pairs:
        if replacement == "<user>" or replacement == "<host>":
            text = re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", replacement, text)
        else:
            text = text.replace(secret, replacement)
    text = MAC.sub("<mac>", text)
    text = IPV4.sub(lambda m: m.group(0) if m.group(0) in KEEP_IPS else "<ip>", text)
    text = IPV6.sub("<ip>", text)
    return text


def _walk(data: Any, pairs: List[tuple]) -> Any:
    if isinstance(data, dict):
        return {key: _walk(value, pairs) for key, value in data.items()}
    if isinstance(data, list):
        return [_walk(value, pairs) for value in data]
    if isinstance(data, str):
        return redact_text(data, pairs)
    return data


def redact_report(report: Dict[str, Any], extra: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    serials: List[str] = []
    _serials(report.get("facts") or {}, serials)
    pairs = _secrets(report, list(extra or []) + serials)
    redacted = _walk(copy.deepcopy(report), pairs)
    redacted["redacted"] = True
    return redacted
