"""Which Python versions and C libraries the Coral Python stack has wheels for (data: matrix/support.toml)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional

from edgedoctor.util import datafiles
from edgedoctor.util.tomlcompat import load_toml


@lru_cache(maxsize=1)
def _data() -> Dict[str, Any]:
    try:
        return load_toml(datafiles.matrix_dir() / "support.toml")
    except (OSError, ValueError):
        return {}


def package(name: str) -> Optional[Dict[str, Any]]:
    for row in _data().get("package") or []:
        if row.get("name") == name:
            return row
    return None


def supports_python(
    name: str, python: Optional[str], os_name: Optional[str] = None, arch: Optional[str] = None
) -> Optional[bool]:
    """Whether `name` publishes wheels for this Python (None: unknown)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    row = package(name)
    if row is None or not python:
        return None
    try:
        version = Version(python)
    except InvalidVersion:
        return None
    if SpecifierSet(row["python"]).contains(version):
        return True
    for extra in row.get("extra") or []:
        if (
            os_name in extra.get("os", [os_name])
            and (arch in extra.get("arch", [arch]))
            and SpecifierSet(extra["python"]).contains(version)
        ):
            return True
    return False


def install_command(name: str, os_name: Optional[str], distro: Optional[str] = None) -> str:
    row = package(name) or {}
    commands = row.get("install") or {}
    if distro in ("debian", "ubuntu", "raspbian") and "debian" in commands:
        return commands["debian"]
    return commands.get(os_name or "", commands.get("all", commands.get("linux", "")))


def glibc_minimum() -> Optional[str]:
    return (_data().get("glibc") or {}).get("minimum")


def references(name: str) -> List[str]:
    return list((package(name) or {}).get("references") or [])
