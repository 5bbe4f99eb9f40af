"""Where the model files live on this machine, and whether a copy is the manifest's: the per-user cache folder
(platformdirs' user cache folder, which honours XDG_CACHE_HOME; `--cache-dir` overrides it) and the size and
sha256 check every copy passes before it is used."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from edgedoctor.models.manifest import FileSpec


def cache_root(override: Optional[str] = None) -> Path:
    """edgedoctor's cache folder: `override` (--cache-dir), else the platform's user cache folder."""
    if override:
        return Path(override).expanduser()
    try:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("edgedoctor", appauthor=False))
    except Exception:  # no HOME and no password entry: platformdirs 4 raises
        folder = Path("~")
    if not folder.is_absolute():  # older platformdirs answer "~/.cache/..." relative to the working folder
        import tempfile

        uid = os.getuid() if hasattr(os, "getuid") else "user"
        folder = private_folder(Path(tempfile.gettempdir()) / f"edgedoctor-cache-{uid}")
    return folder


def private_folder(path: Path) -> Path:
    """`path` as a folder only this user can use: made with mode 0700, or, when it exists, kept only if it is
    a real folder (not a symlink someone planted in a shared temp folder), owned by this user and writable by
    no one else. Otherwise a fresh private folder of its own (tempfile.mkdtemp) is used instead."""
    import stat
    import tempfile

    try:
        os.mkdir(path, 0o700)
        return path
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix=path.name + "-"))
    try:
        info = os.lstat(path)
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if stat.S_ISDIR(info.st_mode) and mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=path.name + "-"))


def models_cache(override: Optional[str] = None) -> Path:
    return cache_root(override) / "models"


def sha256_file(path) -> Optional[str]:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def check_file(path: Path, spec: FileSpec) -> Optional[str]:
    """None when the file matches the manifest, else why not."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if size != spec.size:
        return f"{path} has {size} bytes, expected {spec.size}"
    actual = sha256_file(path)
    if actual is None:
        return f"cannot read {path}"
    if actual != spec.sha256:
        return f"{path}: sha256 {actual} does not match the manifest's {spec.sha256}"
    return None
