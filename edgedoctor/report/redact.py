"""Redaction of private data in reports: user name, home folder (as ~), host name (in any case), serial numbers,
IP addresses (IPv4 and every IPv6 form), MAC addresses (in any notation), credentials in URLs, secrets in
environment dumps (token-, key- and password-like names, and well-known token shapes). On by default in every
format; `--no-redact` turns it off. Works on the report dict, so every renderer gets the same redacted data.

Never over-redacts a fact: a home folder is replaced only as whole path components (home `/root` leaves
`/x/pi/root/usr/bin/python3` alone), and a value that merely equals the user's name (USER=linux, `os: linux`)
stays as it is.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from typing import Any, Dict, Iterable, List, Optional

IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
# Candidates only (every form: full, compressed `fe80::1`, `2001:db8::1`, with a zone `%eth0`, IPv4-mapped);
# each is confirmed by the ipaddress module, so `12:34:56` or `std::string` stay.
IPV6 = re.compile(
    r"(?<![\w:.%])(?:[0-9A-Fa-f]{1,4}|:)?(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.-]+)?(?![\w:])"
)
# MAC addresses: aa:bb:cc:dd:ee:ff, aa-bb-..., aabb.ccdd.eeff (Cisco), and bare aabbccddeeff (with a letter and
# a digit, so that a plain number is not taken for one).
MAC = re.compile(
    r"(?<![0-9A-Fa-f:.-])(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])"
    r"|(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])"
    r"|(?<![0-9A-Za-z_])(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{12}(?![0-9A-Za-z_])"
)
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+(?::[^\s/@]*)?@")
# NAME=value, NAME: value, "NAME": "value" where NAME is token-, key- or password-like.
SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY"
    r"|CREDENTIALS?|_AUTH|AUTH_|COOKIE|SESSION_?ID|_KEY)(?![A-Za-z])[A-Za-z0-9_.-]*"
)
SECRET_ASSIGNMENT = re.compile(r"(?i)(\b" + SECRET_NAME + r"[\"']?\s*[=:]\s*[\"']?)([^\s\"',;}{]+)")
TOKEN_SHAPES = re.compile(
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{20,}\b|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}\b|\bAIza[0-9A-Za-z_-]{35}\b|\bpypi-[A-Za-z0-9_-]{40,}\b"
    r"|\bglpat-[A-Za-z0-9_-]{20,}\b|\bsk-[A-Za-z0-9_-]{20,}\b"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{16,}=*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]{0,10000}?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
)
SECRET_KEYS = re.compile(r"(?i)^" + SECRET_NAME + r"$")
SERIAL_KEYS = {"serial", "serial_number", "unique_id", "iSerial"}
WHOLE_KEYS = {"user": "<user>", "username": "<user>", "hostname": "<host>"}
PERSONAL_KEYS = {"groups", "user_groups", "members", "owner", "owners", "login", "account", "users"}
KEEP_IPS = {"127.0.0.1", "0.0.0.0", "::1", "::"}
# What may stand before a path: not part of a longer path (so `/x/pi/root` is no home `/root`).
_PATH_BEFORE = r"(?<![\w.~/\\-])"
_PATH_AFTER = r"(?=[/\\]|$|[^\w.-])"


def _secrets(report: Dict[str, Any], extra: Iterable[str] = ()) -> List[tuple]:
    facts = report.get("facts") if isinstance(report.get("facts"), dict) else {}
    platform = facts.get("platform") if isinstance(facts.get("platform"), dict) else {}  # type: ignore[union-attr]
    pairs = []
    home = os.path.expanduser("~")
    homes = {home} if home and home not in ("/", "~") else set()
    user = platform.get("user") if isinstance(platform.get("user"), str) else None  # type: ignore[union-attr]
    user = user or os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        homes.update({f"/home/{user}", f"/Users/{user}", f"C:\\Users\\{user}"})
    for folder in sorted(homes, key=len, reverse=True):
        pairs.append((folder, "~"))
    host = platform.get("hostname")  # type: ignore[union-attr]
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


def _ipv6(found: "re.Match[str]") -> str:
    text = found.group(0)
    try:
        address = ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return text
    return text if str(address) in KEEP_IPS else "<ip>"


def redact_text(text: str, pairs: List[tuple], personal: bool = True) -> str:
    """`text` redacted. `personal`: the text is a value where the user's name is private even when it is all
    of it (a group list); otherwise a value that merely equals the user's name (`os: linux`) is a fact."""
    stripped = text.strip()
    for secret, replacement in pairs:
        if replacement == "<user>":
            if stripped == secret and not personal:
                continue
            text = re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", replacement, text)
        elif replacement == "<host>":  # host names are case-insensitive
            text = re.sub(rf"(?i)(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", replacement, text)
        elif replacement == "~":  # a home folder, only as whole path components
            text = re.sub(_PATH_BEFORE + re.escape(secret) + _PATH_AFTER, "~", text)
        else:
            text = text.replace(secret, replacement)
    text = URL_CREDENTIALS.sub(r"\1<credentials>@", text)
    text = TOKEN_SHAPES.sub("<secret>", text)
    text = SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + "<secret>", text)
    text = MAC.sub("<mac>", text)
    text = IPV4.sub(lambda m: m.group(0) if m.group(0) in KEEP_IPS else "<ip>", text)
    text = IPV6.sub(_ipv6, text)
    return text


def _walk(data: Any, pairs: List[tuple], key: Optional[str] = None) -> Any:
    if isinstance(data, dict):
        return {k: _walk(value, pairs, k if isinstance(k, str) else None) for k, value in data.items()}
    if isinstance(data, list):
        return [_walk(value, pairs, key) for value in data]
    if isinstance(data, str):
        if key in WHOLE_KEYS and data:
            return WHOLE_KEYS[key]
        if key and SECRET_KEYS.match(key) and data:  # an environment captured as a dict
            return "<secret>"
        return redact_text(data, pairs, personal=key in PERSONAL_KEYS)
    return data


def redact_report(report: Dict[str, Any], extra: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    serials: List[str] = []
    _serials(report.get("facts") or {}, serials)
    pairs = _secrets(report, list(extra or []) + serials)
    redacted = _walk(copy.deepcopy(report), pairs)
    redacted["redacted"] = True
    return redacted
