"""TOML reading on every supported Python (tomllib from 3.11, tomli before)."""

from pathlib import Path
from typing import Any, Dict

try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python < 3.11
    import tomli as _toml

TOMLDecodeError = _toml.TOMLDecodeError


def load_toml(path) -> Dict[str, Any]:
    """Parse a TOML file. Raises OSError when unreadable and ValueError (TOMLDecodeError) when malformed."""
    with open(Path(path), "rb") as handle:
        return _toml.load(handle)


def loads_toml(text: str) -> Dict[str, Any]:
    return _toml.loads(text)
