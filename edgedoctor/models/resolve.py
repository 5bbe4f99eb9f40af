"""Where a manifest file comes from: looked for, in order, in the mirror folder (`--models-dir`), in the cache
(see `models.cache`), and then on the network: the file's upstream URL, or `--models-url` /
`EDGEDOCTOR_MODELS_URL` + "/" + the file name. A file is used only when its size and sha256 match; `offline`
never opens a socket. Nothing here raises: every outcome is a `FileResult` with the reason.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from edgedoctor.models.cache import check_file, models_cache
from edgedoctor.models.fetch import DownloadSettings, FileResult, download
from edgedoctor.models.manifest import FileSpec, Manifest, ModelSet

MODELS_URL_ENV = "EDGEDOCTOR_MODELS_URL"
MIRROR = "mirror"  # a FileResult's origins: the mirror folder, the cache (fetch.DOWNLOAD: downloaded now)
CACHE = "cache"
DISCOVERY_TIMEOUT = 2.0  # seconds to connect to a host not yet heard from in this run (no network: found fast)


class Resolver:
    """Finds verified copies of manifest files. One per check run; `resolve()` never raises."""

    def __init__(
        self,
        manifest: Manifest,
        models_dir: Optional[str] = None,
        models_url: Optional[str] = None,
        cache_dir: Optional[str] = None,
        offline: bool = False,
        settings: Optional[DownloadSettings] = None,
        session=None,
    ):
        self.manifest = manifest
        self.models_dir = Path(models_dir).expanduser() if models_dir else None
        self.models_url = (models_url or "").strip() or None
        if self.models_url and self.models_url.startswith("file://"):
            self.models_dir = self.models_dir or Path(self.models_url[7:])
            self.models_url = None
        self.cache = models_cache(cache_dir)
        self.offline = offline
        self.settings = settings or DownloadSettings()
        self.session = session
        self._done: Dict[str, FileResult] = {}
        self._down: Dict[str, tuple] = {}  # host -> (file, error) of a server that could not be reached
        self._heard: set = set()  # hosts that answered in this run

    @classmethod
    def from_options(cls, manifest: Manifest, options, env: Optional[Mapping[str, str]] = None, **kwargs) -> "Resolver":
        env = os.environ if env is None else env
        url = getattr(options, "models_url", None) or env.get(MODELS_URL_ENV)
        return cls(
            manifest,
            models_dir=getattr(options, "models_dir", None),
            models_url=url,
            cache_dir=getattr(options, "cache_dir", None),
            offline=bool(getattr(options, "offline", False)),
            settings=kwargs.pop("settings", None) or DownloadSettings.from_env(env),
            **kwargs,
        )

    @staticmethod
    def _try_local(
        result: FileResult, folder: Path, spec: FileSpec, origin: str, label: str, discard_bad: bool
    ) -> Optional[str]:
        """Use `folder/<name>` when it is there and passes its size and sha256 check; note why not (and return
        the problem of a copy that is there but fails its check)."""
        candidate = folder / spec.name
        if not candidate.exists():
            result.attempts.append(f"{label}: no {spec.name} in {folder}")
            return None
        problem = check_file(candidate, spec)
        if problem is None:
            result.ok, result.path, result.origin = True, str(candidate), origin
            result.attempts.append(f"{label} {candidate}: ok")
            return None
        if discard_bad:
            try:
                candidate.unlink()
            except OSError:
                pass
        result.attempts.append(f"{label}: {problem}" + ("; removed" if discard_bad else ""))
        return problem

    def url_for(self, spec: FileSpec) -> str:
        if self.models_url:
            return f"{self.models_url.rstrip('/')}/{spec.name}"
        return spec.url

    def describe(self) -> Dict[str, Any]:
        return {
            "models_dir": str(self.models_dir) if self.models_dir else None,
            "models_url": self.models_url,
            "cache": str(self.cache),
            "offline": self.offline,
        }

    def resolve(self, name: str, network: bool = True) -> FileResult:
        if name in self._done:
            return self._done[name]
        spec = self.manifest.files.get(name)
        if spec is None:
            return FileResult(name=name, error=f"{name} is not in the manifest")
        start = time.monotonic()
        result = FileResult(name=name)
        mirror_problem = None
        if self.models_dir is not None:
            mirror_problem = self._try_local(result, self.models_dir, spec, MIRROR, "mirror", discard_bad=False)
        if not result.ok:
            # A cached file that fails its check is removed, so the next run downloads it again.
            self._try_local(result, self.cache, spec, CACHE, "cache", discard_bad=True)
        if not result.ok:
            if self.offline or not network:
                self._note_no_network(result, mirror_problem)
            else:
                self._take(result, self._download(name, spec))
        if not result.ok and not result.error:
            result.error = result.attempts[-1] if result.attempts else f"{name} not found"
        if not result.ok and mirror_problem and "mirror" not in (result.error or ""):
            result.error = f"the mirror folder's copy fails its check ({mirror_problem}); {result.error}"
        result.duration_ms = (time.monotonic() - start) * 1000
        self._done[name] = result
        return result

    def _note_no_network(self, result: FileResult, mirror_problem: Optional[str]) -> None:
        """Why a file that is neither in the mirror folder nor the cache stays missing when downloads are off."""
        result.error = ("offline: " if self.offline else "") + (
            f"the mirror folder's copy fails its check ({mirror_problem}), it is not in the cache, and "
            "downloads are off"
            if mirror_problem
            else f"{result.name} is not in the mirror folder or the cache, and downloads are off"
        )
        result.attempts.append("network: not used (offline)" if self.offline else "network: not used")

    def _download(self, name: str, spec: FileSpec) -> FileResult:
        """Download into the cache, unless the file's host could not be reached earlier in this run. A host
        not yet heard from gets a short connect timeout: no network is found out in seconds."""
        url = self.url_for(spec)
        host = _host(url)
        if host in self._down:
            fetched = FileResult(
                name=name, url=url, error=f"not tried: {host} could not be reached (see {self._down[host][0]})"
            )
            fetched.attempts.append(f"download {url}: {fetched.error}")
            return fetched
        settings = self.settings
        if host not in self._heard:
            settings = dataclasses.replace(settings, connect_timeout=min(settings.connect_timeout, DISCOVERY_TIMEOUT))
        fetched = download(url, self.cache / name, spec, settings, self.session)
        if fetched.host_down and not fetched.ok:
            self._down[host] = (name, fetched.error)
        elif fetched.ok:
            self._heard.add(host)
        return fetched

    @staticmethod
    def _take(result: FileResult, fetched: FileResult) -> None:
        """The download's outcome as the file's."""
        result.attempts.extend(fetched.attempts)
        result.url = fetched.url
        result.ok, result.path, result.origin, result.error = fetched.ok, fetched.path, fetched.origin, fetched.error

    def resolve_set(
        self, model_set: ModelSet, network: bool = True, say: Optional[Callable[[str], None]] = None
    ) -> Dict[str, Any]:
        """Every file of a set; {"set", "ok", "files": {name: FileResult fact}, "missing": [...]}."""
        files = {}
        for name in model_set.files:
            if say:
                say(name)
            files[name] = self.resolve(name, network=network)
        missing = [n for n, r in files.items() if not r.ok]
        return {
            "set": model_set.name,
            "ok": not missing,
            "missing": missing,
            "files": {n: r.to_fact() for n, r in files.items()},
            "where": self.describe(),
        }


def verify_cache(
    manifest: Manifest, cache_dir: Optional[str] = None, models_dir: Optional[str] = None
) -> List[Dict[str, Any]]:
    """Check each manifest file present in the mirror folder or the cache (no network); missing ones are listed
    as such. Never deletes anything."""
    rows = []
    cache = models_cache(cache_dir)
    for name, spec in manifest.files.items():
        places = ([(MIRROR, Path(models_dir) / name)] if models_dir else []) + [(CACHE, cache / name)]
        found = False
        for origin, path in places:
            if path.exists():
                found = True
                problem = check_file(path, spec)
                rows.append(
                    {"name": name, "origin": origin, "path": str(path), "ok": problem is None, "error": problem}
                )
        if not found:
            rows.append({"name": name, "origin": None, "path": None, "ok": False, "error": "not present"})
    return rows


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url
