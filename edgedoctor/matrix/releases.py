"""The Edge TPU runtime release table (`matrix/releases.toml`, format in `matrix/SCHEMA.md`), and which
release an examined runtime is.

`identify(runtime_facts)` uses, in this order: the Debian package version (`libedgetpu1-std 16.0` ->
grouper), the file's sha256 among the published binaries each release lists (`[[release.binaries]]`), a
Windows/macOS zip name seen in the runtime's path (`edgetpu_runtime_20210119`), then the build label regexes
against what `edgetpu_version()` printed or the file's bytes hold, narrowed by its RuntimeVersion(N). An
ambiguous answer is None: `identify_detail` says which releases were in the running and why.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from edgedoctor.util.datafiles import matrix_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older interpreters only
    import tomli as tomllib

ZIP_RE = re.compile(r"edgetpu_runtime_(\d{8})")


def releases_path() -> Path:
    return matrix_dir() / "releases.toml"


@lru_cache(maxsize=8)
def _load(path: str) -> tuple:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    return tuple(data.get("release", []))


def load(path: Optional[Path] = None) -> List[Dict[str, Any]]:
    """All `[[release]]` tables, in file order. [] when the file does not exist."""
    path = Path(path) if path is not None else releases_path()
    if not path.exists():
        return []
    return [dict(r) for r in _load(str(path))]


def get(release_id: Optional[str], path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    if not release_id:
        return None
    for release in load(path):
        if release.get("id") == release_id:
            return release
    return None


def resolve(text: Optional[str], path: Optional[Path] = None) -> Optional[str]:
    """The release id a user means: the id itself (`zip-20201204`, `frogfish`), the name of a zip
    (`edgetpu_runtime_20201204`, with or without `.zip`), its date (`20201204`) or a code name (`Frogfish`).
    None when it names no known release."""
    wanted = (text or "").strip().lower()
    if wanted.endswith(".zip"):
        wanted = wanted[:-4]
    if not wanted:
        return None
    for release in load(path):
        rid = str(release.get("id") or "").lower()
        name = str(release.get("name") or "").lower()
        if wanted in (rid, name) or name.split(" (")[0] == wanted or (rid.startswith("zip-") and wanted == rid[4:]):
            return release.get("id")
    return None


def _strip_epoch(version: str) -> str:
    return version.split(":", 1)[1] if re.match(r"^\d+:", version) else version


def by_debian_version(version: Optional[str], releases: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    if not version:
        return []
    releases = list(releases)
    wanted = _strip_epoch(version.strip())
    exact = [r for r in releases if wanted in [_strip_epoch(v) for v in r.get("debian_versions", [])]]
    if exact:
        return exact
    # `16.0-1` installed where the table says `16.0` (or the other way round): compare without the revision.
    base = wanted.rsplit("-", 1)[0]
    return [r for r in releases if base in [_strip_epoch(v).rsplit("-", 1)[0] for v in r.get("debian_versions", [])]]


def binary(sha256: Optional[str], path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    """The published binary with this sha256 and its release id ({"release", "os", "arch", "flavor", "source"}),
    or None."""
    if not sha256:
        return None
    wanted = sha256.lower()
    for release in load(path):
        for known in release.get("binaries") or []:
            if str(known.get("sha256", "")).lower() == wanted:
                return dict(known, release=release.get("id"))
    return None


def by_sha256(sha256: Optional[str], releases: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    if not sha256:
        return []
    wanted = sha256.lower()
    return [r for r in releases if any(str(b.get("sha256", "")).lower() == wanted for b in r.get("binaries") or [])]


def zip_names(runtime_facts: Dict[str, Any]) -> List[str]:
    """`edgetpu_runtime_YYYYMMDD` names in the facts: an explicit `zip`, the path, the candidates' paths."""
    texts = [runtime_facts.get("zip"), runtime_facts.get("path")]
    for candidate in runtime_facts.get("candidates") or []:
        texts.append(candidate.get("path") if isinstance(candidate, dict) else candidate)
    names = []
    for text in texts:
        for match in ZIP_RE.finditer(str(text or "")):
            name = "edgetpu_runtime_" + match.group(1)
            if name not in names:
                names.append(name)
    return names


def by_zip(names: Iterable[str], releases: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    names = [n.replace(".zip", "") for n in names]
    return [r for r in releases if any(n in [z.replace(".zip", "") for z in r.get("zips", [])] for n in names)]


def _label_texts(runtime_facts: Dict[str, Any]) -> List[str]:
    label = runtime_facts.get("build_label")
    version = runtime_facts.get("version") or runtime_facts.get("version_string")
    cl_number = runtime_facts.get("cl_number")
    texts = [t for t in (label, version) if t]
    if label and cl_number and "CL_NUMBER" not in label:
        texts.append(f"{label},CL_NUMBER={cl_number}")
    return texts


def _score(release: Dict[str, Any], texts: List[str]) -> int:
    """Length of the longest of the release's build label regexes that matches; -1 when none does."""
    best = -1
    for pattern in release.get("build_labels", []):
        try:
            if any(re.search(pattern, text) for text in texts):
                best = max(best, len(pattern))
        except re.error:
            continue
    return best


def by_build_label(runtime_facts: Dict[str, Any], releases: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Releases whose build label regexes match, narrowed by RuntimeVersion when it is known. Only the
    best-scoring ones (longest matching regex) are returned: more than one means a tie."""
    texts = _label_texts(runtime_facts)
    if not texts:
        return []
    version = runtime_facts.get("runtime_version")
    scored = [(_score(r, texts), r) for r in releases if version is None or r.get("runtime_version") in (None, version)]
    scored = [(s, r) for s, r in scored if s >= 0]
    if not scored:
        return []
    top = max(s for s, _ in scored)
    return [r for s, r in scored if s == top]


def _narrow(found: List[Dict[str, Any]], runtime_facts: Dict[str, Any]) -> List[Dict[str, Any]]:
    version = runtime_facts.get("runtime_version")
    if len(found) > 1 and version is not None:
        narrowed = [r for r in found if r.get("runtime_version") == version]
        if narrowed:
            return narrowed
    return found


def identify_detail(runtime_facts: Optional[Dict[str, Any]], path: Optional[Path] = None) -> Dict[str, Any]:
    """{"release": id or None, "by": "debian_version"|"sha256"|"zip"|"build_label"|None, "candidates": [ids]}.
    A step that finds several releases it cannot tell apart gives no answer; the next step is tried."""
    answer: Dict[str, Any] = {"release": None, "by": None, "candidates": []}
    if not runtime_facts:
        return answer
    releases = load(path)
    if not releases:
        answer["error"] = f"no release table at {releases_path() if path is None else path}"
        return answer
    steps = (
        ("debian_version", lambda: by_debian_version(runtime_facts.get("package_version"), releases)),
        ("sha256", lambda: by_sha256(runtime_facts.get("sha256"), releases)),
        ("zip", lambda: by_zip(zip_names(runtime_facts), releases)),
        ("build_label", lambda: by_build_label(runtime_facts, releases)),
    )
    for name, step in steps:
        found = _narrow(step(), runtime_facts)
        if not found:
            continue
        if not answer["candidates"]:
            answer["by"] = name
            answer["candidates"] = [r.get("id") for r in found]
        if len(found) == 1:
            answer["release"] = found[0].get("id")
            answer["by"] = name
            answer["candidates"] = [answer["release"]]
            return answer
    return answer


def identify(runtime_facts: Optional[Dict[str, Any]], path: Optional[Path] = None) -> Optional[str]:
    """The release id of an examined runtime, or None when it cannot be told."""
    return identify_detail(runtime_facts, path)["release"]
