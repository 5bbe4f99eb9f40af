"""Where the curated data lives: the repo's top-level folders, or their installed copies in the package."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # edgedoctor/


def _first_with(marker: str, *candidates: Path) -> Path:
    for candidate in candidates:
        if (candidate / marker).exists():
            return candidate
    return candidates[-1]


def matrix_dir() -> Path:
    return _first_with("SCHEMA.md", _PACKAGE.parent / "matrix", _PACKAGE / "_matrix")


def models_dir() -> Path:
    return _first_with("manifest.toml", _PACKAGE.parent / "models", _PACKAGE / "_models")


def schema_dir() -> Path:
    return _PACKAGE / "schema"
