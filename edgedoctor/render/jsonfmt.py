"""The JSON report, as the contract in the design (schema_version 1; schema in edgedoctor/schema/)."""

import json
from typing import Any, Dict


def render(report: Dict[str, Any], **_: Any) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"
