"""explain: error text (or logs) to ranked known causes. The core behind `edgedoctor explain`."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from edgedoctor import factview, matrix

SCHEMA_VERSION = 1


def facts_view(report_path: Optional[str] = None, pairs: Iterable[str] = ()) -> Dict[str, Any]:
    """The flat fact view from a saved report and/or KEY=VALUE pairs (pairs win). Raises ValueError."""
    base = None
    if report_path:
        try:
            data = json.loads(Path(report_path).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise ValueError(f"--report {report_path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"--report {report_path}: not a JSON report ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("facts"), dict):
            raise ValueError(f"--report {report_path}: not an edgedoctor report (no 'facts')")
        base = factview.from_facts(data["facts"])
    return factview.from_pairs(pairs, base)


def open_log(path: str):
    """A binary stream of a log file, gunzipped when it is gzip (by magic bytes, not by name)."""
    handle = open(path, "rb")
    magic = handle.peek(2)[:2] if hasattr(handle, "peek") else b""
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=handle)
    return handle


def blocks_from_files(paths: Iterable[str]) -> Iterator[str]:
    for path in paths:
        with open_log(path) as stream:
            yield from matrix.read_blocks(stream)


def blocks_from_stream(stream) -> Iterator[str]:
    raw = getattr(stream, "buffer", stream)
    if isinstance(raw, io.TextIOBase):
        while True:
            chunk = raw.read(1 << 20)
            if not chunk:
                break
            yield chunk
        return
    yield from matrix.read_blocks(raw)


def explain_blocks(blocks: Iterable[str], facts: Optional[Dict[str, Any]] = None, limit: int = 10,
                   table: Optional[matrix.Matrix] = None) -> Dict[str, Any]:
    table = table or matrix.load()
    facts = facts or {}
    matches = table.scan(blocks, facts, limit)
    return {"schema_version": SCHEMA_VERSION,
            "matches": [m.to_dict(facts.get("os")) for m in matches],
            "facts": {k: v for k, v in facts.items() if v is not None}}


def explain_text(text: str, facts: Optional[Dict[str, Any]] = None, limit: int = 10) -> Dict[str, Any]:
    return explain_blocks([text], facts, limit)


def render_terminal(result: Dict[str, Any]) -> str:
    matches: List[Dict[str, Any]] = result["matches"]
    if not matches:
        return ("No known Coral Edge TPU cause matches this text. edgedoctor only names causes it has seen "
                "in real reports; run `edgedoctor check` to examine the setup itself.\n")
    out = []
    for rank, match in enumerate(matches, 1):
        out.append(f"{rank}. {match['title']}")
        out.append(f"   cause: {match['cause']}   entry: {match['entry']}   confidence: {match['confidence']:.2f}")
        if match.get("matched_text"):
            out.append(f"   matched: {match['matched_text']}")
        if match.get("evidence"):
            out.append(f"   facts that support it: {'; '.join(match['evidence'])}")
        if match.get("contradicted"):
            out.append(f"   facts that speak against it: {'; '.join(match['contradicted'])}")
        out.append(f"   why: {match['explanation']}")
        out.append("   remedy:")
        out.extend("     " + line for line in match["remedy"].splitlines())
        for ref in match["references"]:
            out.append(f"   see: {ref}")
        out.append("")
    return "\n".join(out)
