"""Known-good model sets: the manifest, the per-user cache, downloads and sha256 verification.

`models/manifest.toml` names each file of each set with its upstream URL, size and sha256. A file is looked
for, in order, in the mirror folder (`--models-dir`), in the cache (platformdirs' user cache folder, which
honours XDG_CACHE_HOME; `--cache-dir` overrides it), and then on the network: the file's upstream URL, or
`--models-url` / `EDGEDOCTOR_MODELS_URL` + "/" + the file name. A file is used only when its size and sha256
match. Downloads stream into a temporary file next to the final one, are hashed on the way, and are renamed
into place (os.replace) only when they match, so a failed, cut or tampered download is never kept and two
runs at once each see either nothing or a whole, verified file. `offline` never opens a socket.

Nothing here raises for the network's or the files' sake: every outcome is a `FileResult` with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

from edgedoctor.util import datafiles
from edgedoctor.util.tomlcompat import load_toml

MODELS_URL_ENV = "EDGEDOCTOR_MODELS_URL"
TIMEOUT_ENV = "EDGEDOCTOR_DOWNLOAD_TIMEOUT"  # read timeout in seconds
RETRIES_ENV = "EDGEDOCTOR_DOWNLOAD_RETRIES"
MANIFEST_NAME = "manifest.toml"

MIRROR = "mirror"
CACHE = "cache"
DOWNLOAD = "download"


# --- the manifest -------------------------------------------------------------------------------------------
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


def load_manifest(path=None) -> Manifest:
    """Read models/manifest.toml (raises OSError or ValueError when it is missing or malformed)."""
    path = Path(path) if path else datafiles.models_dir() / MANIFEST_NAME
    data = load_toml(path)
    files = {}
    for name, spec in (data.get("files") or {}).items():
        files[name] = FileSpec(
            name=name,
            url=spec["url"],
            size=int(spec["size"]),
            sha256=spec["sha256"].lower(),
            commit=spec.get("commit"),
            licence=spec.get("licence"),
        )
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


# --- where files live ------------------------------------------------------------------------------------------
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


# --- downloads ------------------------------------------------------------------------------------------------
@dataclass
class DownloadSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # seconds without a byte from the server
    total_timeout: float = 900.0  # seconds for one file, all attempts together
    retries: int = 3  # attempts per file for errors that may pass (timeouts, resets, 5xx)
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled after each
    chunk_size: int = 64 * 1024
    progress: Optional[bool] = None  # None: a progress bar only when stderr is a terminal

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DownloadSettings":
        settings = cls()
        try:
            if env.get(TIMEOUT_ENV):
                settings.read_timeout = settings.connect_timeout = float(env[TIMEOUT_ENV])
            if env.get(RETRIES_ENV):
                settings.retries = max(1, int(env[RETRIES_ENV]))
        except ValueError:
            pass
        return settings


@dataclass
class FileResult:
    name: str
    ok: bool = False
    path: Optional[str] = None
    origin: Optional[str] = None  # mirror | cache | download
    url: Optional[str] = None
    error: Optional[str] = None
    attempts: List[str] = field(default_factory=list)  # what was tried and how it went, in order
    duration_ms: float = 0.0
    host_down: bool = False  # the server could not be reached or stalled: other files from it are not tried

    def to_fact(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "path": self.path,
            "origin": self.origin,
            "url": self.url,
            "error": self.error,
            "attempts": list(self.attempts),
            "duration_ms": round(self.duration_ms, 1),
        }


class _Retryable(Exception):
    pass


OFFLINE_WORDS = "offline: using the cache / embedded model; `--offline` skips this"
DISCOVERY_TIMEOUT = 2.0  # seconds to connect to a host not yet heard from in this run (no network: found fast)


def _stopping() -> bool:
    """Whether edgedoctor is being stopped (SIGINT, SIGTERM): downloads give up at their next read."""
    workerproc = sys.modules.get("edgedoctor.machine.workerproc")
    return bool(workerproc is not None and workerproc.STOPPING.is_set())


def _stopping_wait(seconds: float) -> bool:
    """Sleep `seconds` unless edgedoctor is being stopped first (then True at once)."""
    workerproc = sys.modules.get("edgedoctor.machine.workerproc")
    if workerproc is None:
        time.sleep(seconds)
        return False
    return workerproc.STOPPING.wait(seconds)


class _HostDown(_Retryable):
    """The host could not be reached at all (name resolution, refused, connect timeout)."""


class _Unreachable(_HostDown):
    """No connection at all (no network, no such name, refused, connect timeout): not retried in this run."""


class _Final(Exception):
    pass


def _progress_bar(enabled: Optional[bool]):
    show = enabled if enabled is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    if not show:
        return None
    try:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
    except ImportError:  # pragma: no cover
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )


def download(
    url: str, dest: Path, spec: FileSpec, settings: Optional[DownloadSettings] = None, session=None
) -> FileResult:
    """Fetch `url` into `dest`, verified against `spec`. Never raises; never leaves a bad file behind."""
    settings = settings or DownloadSettings()
    result = FileResult(name=spec.name, url=url)
    start = time.monotonic()
    try:
        import requests
    except ImportError as exc:  # pragma: no cover - a dependency of edgedoctor
        result.error = f"cannot download: {exc}"
        return result
    own_session = session is None
    session = session or requests.Session()
    delay = settings.backoff
    try:
        for attempt in range(1, max(1, settings.retries) + 1):
            try:
                _fetch_once(session, url, dest, spec, settings, start)
                result.ok, result.path, result.origin, result.error = True, str(dest), DOWNLOAD, None
                result.attempts.append(f"download {url}: ok (attempt {attempt})")
                break
            except _Final as exc:
                result.error = str(exc)
                result.attempts.append(f"download {url}: {exc}")
                break
            except OSError as exc:  # writing the cache: disk full, read-only folder, I/O error
                result.error = f"cannot write {dest}: {exc.strerror or exc}"
                result.attempts.append(f"download {url}: {result.error}")
                break
            except _Unreachable as exc:  # no network, no such host, refused: trying again soon finds the same
                result.error = f"{exc}; {OFFLINE_WORDS}"
                result.host_down = True
                result.attempts.append(f"download {url}: {exc} (not retried: the host cannot be reached)")
                break
            except _Retryable as exc:
                result.error = str(exc)
                result.host_down = isinstance(exc, _HostDown)
                result.attempts.append(f"download {url}: {exc} (attempt {attempt} of {settings.retries})")
                remaining = settings.total_timeout - (time.monotonic() - start)
                if attempt >= settings.retries or remaining <= delay or _stopping():
                    break
                if _stopping_wait(delay):
                    break
                delay *= 2
    finally:
        if own_session:
            session.close()
    result.duration_ms = (time.monotonic() - start) * 1000
    return result


def _fetch_once(session, url: str, dest: Path, spec: FileSpec, settings: DownloadSettings, start: float) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Final(f"cannot create {dest.parent}: {exc.strerror or exc}") from None
    response = _request(session, url, settings)
    with response:
        _accept(response, spec)
        remove_stale_parts(dest.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=str(dest.parent))
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                received, actual = _receive(response, out, spec, settings, start)
                out.flush()
                os.fsync(out.fileno())
            if received != spec.size:
                raise _Final(f"the server's answer has {received} bytes, expected {spec.size}; it was not kept")
            if actual != spec.sha256:
                raise _Final(
                    f"sha256 mismatch: the server's file has sha256 {actual}, the manifest expects "
                    f"{spec.sha256} (a changed or tampered copy; it was not kept)"
                )
            os.replace(tmp, dest)
        finally:
            try:
                tmp.unlink()
            except OSError:
                pass


def _request(session, url: str, settings: DownloadSettings):
    """The GET, streamed; a failure to connect becomes the right kind of retry (or none)."""
    import requests

    try:
        return session.get(
            url,
            stream=True,
            timeout=(settings.connect_timeout, settings.read_timeout),
            headers={"Accept-Encoding": "identity"},
        )
    except requests.exceptions.ConnectTimeout:
        raise _Unreachable(f"no connection within {settings.connect_timeout:g} s") from None
    except requests.exceptions.ReadTimeout:
        raise _HostDown(f"the server sent nothing for {settings.read_timeout:g} s (read timeout)") from None
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ) as exc:
        raise _Final(f"invalid URL: {exc}") from None
    except requests.exceptions.ConnectionError as exc:
        raise _Unreachable(f"cannot connect: {_short(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise _Retryable(f"cannot connect: {_short(exc)}") from None


def _accept(response, spec: FileSpec) -> None:
    """Refuse an answer that is not the file: an HTTP error, or a size other than the manifest's."""
    if response.status_code != 200:
        reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise _Retryable(reason)
        raise _Final(reason)
    announced = response.headers.get("Content-Length")
    if announced and announced.isdigit() and int(announced) != spec.size:
        kind = response.headers.get("Content-Type", "")
        raise _Final(
            f"the server's answer has {announced} bytes, expected {spec.size}"
            + (f" (a {kind.split(';')[0]} page, not the file)" if kind.startswith("text/") else "")
            + "; it was not kept"
        )


def _receive(response, out, spec: FileSpec, settings: DownloadSettings, start: float):
    """Write the body to `out`, never more than the manifest's size; (bytes received, their sha256)."""
    import requests

    digest = hashlib.sha256()
    received = 0
    bar = _progress_bar(settings.progress)
    task = None
    if bar is not None:
        bar.start()
        task = bar.add_task(f"downloading {spec.name}", total=spec.size)
    try:
        for chunk in _chunks(response, settings, start):
            received += len(chunk)
            if received > spec.size:
                raise _Final(f"the server sent more than the expected {spec.size} bytes")
            digest.update(chunk)
            out.write(chunk)
            if bar is not None:
                bar.update(task, completed=received)
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower():
            raise _HostDown(
                f"the server stopped sending after {received} of {spec.size} bytes "
                f"(no data for {settings.read_timeout:g} s)"
            ) from None
        raise _Retryable(f"the connection broke after {received} of {spec.size} bytes: {_short(exc)}") from None
    except requests.exceptions.ChunkedEncodingError as exc:
        raise _Retryable(
            f"the connection closed after {received} of {spec.size} bytes (truncated response: {_short(exc)})"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise _Retryable(f"download failed after {received} bytes: {_short(exc)}") from None
    finally:
        if bar is not None:
            bar.stop()
    return received, digest.hexdigest()


STALE_PART = 24 * 3600  # seconds after which a .part file is a leftover of a run that was killed (SIGKILL)


def remove_stale_parts(folder: Path, older_than: float = STALE_PART) -> List[str]:
    """Remove the .part files a killed run left in the cache (a run that is stopped removes its own; one killed
    by SIGKILL or a power cut cannot). Only ours (`.<name>.<random>.part`) and only old ones: a download of
    another run going on now is left alone."""
    removed: List[str] = []
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(".") and name.endswith(".part")):
            continue
        path = Path(folder) / name
        try:
            info = path.lstat()
            if now - info.st_mtime > older_than and not path.is_symlink():
                path.unlink()
                removed.append(name)
        except OSError:
            pass
    return removed


def _chunks(response, settings: DownloadSettings, start: float) -> Iterator[bytes]:
    """The body, in pieces as they arrive (one read of the socket each: a server sending a byte a second
    gives a byte a second, not a 64 KB chunk after 18 hours). The total deadline is checked after every read,
    and a watchdog closes the connection when it passes, so a read that blocks cannot outlast it."""
    import threading

    deadline = start + settings.total_timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Retryable(f"not finished within {settings.total_timeout:g} s")
    watchdog = threading.Timer(left, response.close)
    watchdog.daemon = True
    watchdog.start()
    raw = response.raw
    read = getattr(raw, "read1", None)
    try:
        while True:
            if read is not None:
                chunk = read(settings.chunk_size)
            else:  # an older urllib3: small reads, so the deadline is checked often
                chunk = raw.read(min(settings.chunk_size, 1024), decode_content=True)
            if time.monotonic() > deadline:
                raise _Retryable(f"not finished within {settings.total_timeout:g} s")
            if _stopping():
                raise _Final("stopped: edgedoctor was interrupted")
            if not chunk:
                if response.raw.closed and time.monotonic() >= deadline - 0.05:
                    raise _Retryable(f"not finished within {settings.total_timeout:g} s")
                return
            yield chunk
    except Exception as exc:  # urllib3's own errors, or the watchdog closed the connection under the read
        if isinstance(exc, (_Retryable, _Final)):
            raise
        if time.monotonic() >= deadline - 0.05:
            raise _Retryable(f"not finished within {settings.total_timeout:g} s") from None
        import requests

        name = type(exc).__name__
        if "Timeout" in name:
            raise requests.exceptions.ConnectionError(f"Read timed out: {exc}") from None
        if name in ("ProtocolError", "IncompleteRead") or "IncompleteRead" in str(exc):
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
        raise requests.exceptions.ConnectionError(str(exc)) from None
    finally:
        watchdog.cancel()


def _short(exc: BaseException) -> str:
    """requests' messages nest urllib3's; keep the readable root cause ("Failed to resolve 'host' (...)")."""
    root = exc.args[0] if getattr(exc, "args", None) else exc
    root = getattr(root, "reason", None) or root
    text = str(root)
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    text = re.sub(r"^HTTPS?Connection(?:Pool)?\(host='[^']*', port=\d+\):\s*", "", text)
    return text[:300]


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


# --- resolution: mirror, cache, network ------------------------------------------------------------------
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
                result.error = ("offline: " if self.offline else "") + (
                    f"the mirror folder's copy fails its check ({mirror_problem}), it is not in the cache, and "
                    "downloads are off"
                    if mirror_problem
                    else f"{name} is not in the mirror folder or the cache, and downloads are off"
                )
                result.attempts.append("network: not used (offline)" if self.offline else "network: not used")
            else:
                url = self.url_for(spec)
                host = _host(url)
                if host in self._down:
                    fetched = FileResult(
                        name=name, url=url, error=f"not tried: {host} could not be reached (see {self._down[host][0]})"
                    )
                    fetched.attempts.append(f"download {url}: {fetched.error}")
                else:
                    settings = self.settings
                    if host not in self._heard:  # no network is found out in seconds, not a connect timeout
                        settings = dataclasses.replace(
                            settings, connect_timeout=min(settings.connect_timeout, DISCOVERY_TIMEOUT)
                        )
                    fetched = download(url, self.cache / name, spec, settings, self.session)
                    if fetched.host_down and not fetched.ok:
                        self._down[host] = (name, fetched.error)
                    elif fetched.ok:
                        self._heard.add(host)
                result.attempts.extend(fetched.attempts)
                result.url = fetched.url
                result.ok, result.path, result.origin, result.error = (
                    fetched.ok,
                    fetched.path,
                    fetched.origin,
                    fetched.error,
                )
        if not result.ok and not result.error:
            result.error = result.attempts[-1] if result.attempts else f"{name} not found"
        if not result.ok and mirror_problem and "mirror" not in (result.error or ""):
            result.error = f"the mirror folder's copy fails its check ({mirror_problem}); {result.error}"
        result.duration_ms = (time.monotonic() - start) * 1000
        self._done[name] = result
        return result

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
