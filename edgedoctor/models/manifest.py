"""The manifest of known-good model sets: `models/manifest.toml` names each file of each set with its upstream
URL, size and sha256, and each set with its models, labels, test input and expected results."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from edgedoctor.util import datafiles
from edgedoctor.util.tomlcompat import load_toml

MANIFEST_NAME = "manifest.toml"


@dataclass
class FileSpec:
    name: str
    url: str
    size: int
    sha256: str
    commit: Optional[str] = None
    licence: Optional[str] = None


@dataclass
class ModelSet:
    name: str
    title: str
    cpu_model: str
    tpu_model: Optional[str]
    labels: Optional[str]
    test_input: str
    input_mode: str
    resample: str
    expected: Dict[str, Any]
    reference: Dict[str, Dict[str, Dict[str, Any]]]
    raw: Dict[str, Any]

    @property
    def files(self) -> List[str]:
        return [n for n in (self.cpu_model, self.tpu_model, self.labels, self.test_input) if n]

    def reference_ms(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        """A published latency: kind "tpu" (key usb3/usb2/pcie/rpi4) or "cpu" (desktop/embedded)."""
        entry = (self.reference.get(kind) or {}).get(key)
        return dict(entry, key=key) if entry else None


@dataclass
class Manifest:
    path: Path
    default_set: str
    upstream: str
    sets: Dict[str, ModelSet]
    files: Dict[str, FileSpec]
    sources: Dict[str, Dict[str, Any]]
    judging: Dict[str, Any]
    embedded: Dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent

    def get_set(self, name: Optional[str]) -> ModelSet:
        chosen = name or self.default_set
        if chosen not in self.sets:
            raise KeyError(f"unknown model set {chosen!r}; known: {', '.join(self.sets)}")
        return self.sets[chosen]

    def embedded_path(self) -> Optional[Path]:
        name = self.embedded.get("file")
        return self.folder / name if name else None

    def source(self, key: Optional[str]) -> Dict[str, Any]:
        return dict(self.sources.get(key or "", {}), id=key)

    def known_as(self, sha256: str) -> Optional[str]:
        """The name of the file with this sha256 (`embedded:<file>` for the embedded model), or None."""
        for name, spec in self.files.items():
            if spec.sha256 == sha256:
                return name
        if self.embedded.get("sha256") == sha256:
            return f"embedded:{self.embedded.get('file')}"
        return None


def load_manifest(path=None) -> Manifest:
    """Read models/manifest.toml (raises OSError or ValueError when it is missing or malformed)."""
    path = Path(path) if path else datafiles.models_dir() / MANIFEST_NAME
    data = load_toml(path)
    files = _file_specs(data)
    sets = _model_sets(data, files, path)
    default = data.get("default_set") or next(iter(sets), "")
    return Manifest(
        path=path,
        default_set=default,
        upstream=data.get("upstream", ""),
        sets=sets,
        files=files,
        sources=dict(data.get("sources") or {}),
        judging=dict(data.get("judging") or {}),
        embedded=dict(data.get("embedded") or {}),
    )


def _file_specs(data: Dict[str, Any]) -> Dict[str, FileSpec]:
    return {
        name: FileSpec(
            name=name,
            url=spec["url"],
            size=int(spec["size"]),
            sha256=spec["sha256"].lower(),
            commit=spec.get("commit"),
            licence=spec.get("licence"),
        )
        for name, spec in (data.get("files") or {}).items()
    }


def _model_sets(data: Dict[str, Any], files: Dict[str, FileSpec], path: Path) -> Dict[str, ModelSet]:
    """The [sets]; raises ValueError for a set that names a file the [files] table does not have."""
    sets = {}
    for name, spec in (data.get("sets") or {}).items():
        sets[name] = ModelSet(
            name=name,
            title=spec.get("title", name),
            cpu_model=spec["cpu_model"],
            tpu_model=spec.get("tpu_model"),
            labels=spec.get("labels"),
            test_input=spec["test_input"],
            input_mode=spec.get("input_mode", "RGB"),
            resample=spec.get("resample", "LANCZOS"),
            expected=dict(spec.get("expected") or {}),
            reference=dict(spec.get("reference") or {}),
            raw=dict(spec),
        )
        missing = [f for f in sets[name].files if f not in files]
        if missing:
            raise ValueError(f"{path}: set {name!r} names files with no [files] entry: {', '.join(missing)}")
    return sets


def read_labels(path) -> Dict[int, str]:
    """Labels as pycoral's read_label_file() reads them: `<id> <label>` (or `id: label`) lines, else one label
    per line numbered from 0."""
    labels: Dict[int, str] = {}
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines):
        pair = re.split(r"[:\s]+", line.strip(), maxsplit=1)
        if len(pair) == 2 and pair[0].strip().isdigit():
            labels[int(pair[0])] = pair[1].strip()
        else:
            labels[number] = line.strip()
    return labels
