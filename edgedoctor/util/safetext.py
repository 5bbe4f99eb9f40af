"""Text from outside (a report from a stranger, a log, an interpreter's output) made safe for where it goes:
a terminal (no escape or control sequences: clear screen, window title, OSC 52 clipboard writes, bidi
overrides), Markdown/HTML (no tags, no table breaks) and XML (no characters XML 1.0 forbids)."""

from __future__ import annotations

import re
from typing import Any, Callable

# ESC [ ... final, ESC ] ... BEL/ST, ESC P/X/^/_ ... ST, and any other ESC + one character; the 8-bit CSI/OSC too.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b.?|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?",
    re.S,
)
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 does not allow at all (a parser refuses the whole file).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def terminal(text: Any) -> str:
    """`text` with every escape sequence and control character removed (newlines and tabs kept)."""
    text = str(text)
    if text.isprintable():
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))


def xml(text: Any) -> str:
    """`text` without the characters XML 1.0 forbids (the rest is escaped by the XML writer)."""
    return _NOT_XML.sub("", terminal(text))


def markdown(text: Any) -> str:
    """`text` for a Markdown table cell or list item: no HTML (a `<` that would open a tag, `<script>`,
    `</details>`, `<!--`, and a `&` that would start an entity are escaped; `numpy<2` stays as it is, also
    inside code spans), table pipes escaped, newlines as <br>, controls removed."""
    text = _ENTITY.sub("&amp;", terminal(text))
    text = _TAG.sub("&lt;", text)
    return text.replace("|", "\\|").replace("\n", "<br>")


_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?\w+;)")


def deep(value: Any, clean: Callable[[Any], str]) -> Any:
    """A copy of `value` (dicts, lists, strings) with every string, keys too, passed through `clean`."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {(clean(k) if isinstance(k, str) else k): deep(v, clean) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [deep(item, clean) for item in value]
    return value
