"""Findings: what a check concluded, with its cause and remedy. Plain data, JSON-serialisable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

PASS = "pass"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"
INFO = "info"
STATUSES = (PASS, WARN, FAIL, SKIP, INFO)

# Display order of areas; a finding's area is the part of its id before the first dot.
AREAS = {
    "platform": "Platform",
    "python": "Python stack",
    "device": "Edge TPU device",
    "container": "Container",
    "runtime": "Edge TPU runtime",
    "models": "Models",
    "combination": "Version combination",
    "require": "Requirements",
    "edgedoctor": "edgedoctor",
}


@dataclass
class Finding:
    id: str
    status: str
    title: str
    detail: str = ""
    remedy: str = ""
    causes: List[str] = field(default_factory=list)
    duration_ms: Optional[float] = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r} for finding {self.id}")

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Finding":
        known = {k: data.get(k) for k in ("id", "status", "title", "detail", "remedy", "causes", "duration_ms")}
        known["detail"] = known["detail"] or ""
        known["remedy"] = known["remedy"] or ""
        known["causes"] = list(known["causes"] or [])
        return cls(**known)  # type: ignore[arg-type]  # checked by the schema when the report was read
