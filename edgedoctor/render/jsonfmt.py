"""The JSON report, as the contract in the design (schema_version 1; schema in edgedoctor/schema/)."""

import json
import math
from typing import Any, Dict


def render(report: Dict[str, Any], **_: Any) -> str:
    """Strict JSON: a value that is not a finite number (a latency of inf, a speed-up of nan) is null, never
    the `Infinity`/`NaN` that JSON readers refuse."""
    return json.dumps(finite(report), indent=2, sort_keys=False, default=str, allow_nan=False) + "\n"


def finite(value: Any) -> Any:
    """A copy of `value` with every float that is not finite replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
