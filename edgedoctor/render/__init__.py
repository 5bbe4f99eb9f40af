"""Renderers: a Report (dict) in, text out. One module per format; `render(report, fmt)` picks it."""

from __future__ import annotations

import importlib
from typing import Any, Dict

FORMATS = {
    "terminal": "terminal",
    "text": "terminal",
    "json": "jsonfmt",
    "markdown": "markdown",
    "md": "markdown",
    "junit": "junit",
    "xml": "junit",
}
EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".xml": "junit", ".txt": "text"}


def render(report: Dict[str, Any], fmt: str, **options: Any) -> str:
    module = importlib.import_module(f"edgedoctor.render.{FORMATS[fmt]}")
    return module.render(report, **options)
