"""Read saved reports (JSON, or the JSON inside a Markdown report's <details> block)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict

_DETAILS_JSON = re.compile(r"```json\s*\n(.*?)\n```", re.S)


def load_report(path: str) -> Dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        found = _DETAILS_JSON.search(text)
        if not found:
            raise ValueError(f"{path}: not a JSON report, and no ```json block found in it")
        stripped = found.group(1)
    try:
        data = json.loads(stripped)
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("facts"), dict):
        raise ValueError(f"{path}: not an edgedoctor report (needs schema_version 1 and a 'facts' object)")
    return data
