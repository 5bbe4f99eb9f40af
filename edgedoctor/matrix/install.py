"""What can be installed, and how: `matrix/install.toml` (format in `matrix/SCHEMA.md`), and the conventions the
checks' advice and the plan share (the new venv a plan creates, the packages that need NumPy 2)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Tuple

from edgedoctor.util import datafiles
from edgedoctor.util.tomlcompat import load_toml


@lru_cache(maxsize=1)
def data() -> Dict[str, Any]:
    try:
        return load_toml(datafiles.matrix_dir() / "install.toml")
    except (OSError, ValueError):
        return {}


def numpy2_users(packages: Dict[str, Any], view: Dict[str, Any]) -> List[str]:
    """The installed packages (and tensorflow, when it imports) that need NumPy 2: a reason to leave numpy alone."""
    names = (data().get("numpy2_users") or {}).get("names") or []
    found = [n for n in names if n in packages]
    if view.get("tensorflow") and "tensorflow" not in found:
        found.append("tensorflow")
    return found


def new_env_paths(os_name: str) -> Tuple[str, str]:
    """(venv folder, its python) for the environment a plan creates."""
    if os_name == "windows":
        return "%USERPROFILE%\\coral-venv", "%USERPROFILE%\\coral-venv\\Scripts\\python"
    return "~/coral-venv", "~/coral-venv/bin/python"
