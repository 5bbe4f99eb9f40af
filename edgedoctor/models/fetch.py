"""Downloads of manifest files, verified on the way in.

A download streams into a temporary `.<name>.<random>.part` file next to the final one, is hashed as it
arrives, and is renamed into place (os.replace) only when its size and sha256 match the manifest, so a failed,
cut or tampered download is never kept and two runs at once each see either nothing or a whole, verified file.
Errors that may pass (timeouts, resets, 5xx) are retried with a growing pause; a host that cannot be reached
at all is not. Nothing here raises for the network's sake: every outcome is a `FileResult` with the reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

from edgedoctor.models.manifest import FileSpec

TIMEOUT_ENV = "EDGEDOCTOR_DOWNLOAD_TIMEOUT"  # read timeout in seconds
RETRIES_ENV = "EDGEDOCTOR_DOWNLOAD_RETRIES"
DOWNLOAD = "download"  # a FileResult's origin when the file was downloaded in this run
OFFLINE_WORDS = "offline: using the cache / embedded model; `--offline` skips this"


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


# --- what went wrong, and whether trying again may help ----------------------------------------------------------


class _Retryable(Exception):
    pass


class _HostDown(_Retryable):
    """The host could not be reached at all (name resolution, refused, connect timeout)."""


class _Unreachable(_HostDown):
    """No connection at all (no network, no such name, refused, connect timeout): not retried in this run."""


class _Final(Exception):
    pass


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


# --- a download: attempts until one succeeds or trying again cannot help -----------------------------------------


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
            except (_Final, OSError, _Retryable) as exc:
                if not _note_failure(result, exc, url, dest, attempt, settings.retries):
                    break
                if not _try_again(settings, attempt, start, delay):
                    break
                delay *= 2
                continue
            result.ok, result.path, result.origin, result.error = True, str(dest), DOWNLOAD, None
            result.attempts.append(f"download {url}: ok (attempt {attempt})")
            break
    finally:
        if own_session:
            session.close()
    result.duration_ms = (time.monotonic() - start) * 1000
    return result


def _note_failure(result: FileResult, exc: Exception, url: str, dest: Path, attempt: int, retries: int) -> bool:
    """Note a failed attempt in `result`; True when it is worth trying again."""
    if isinstance(exc, _Final):
        result.error = str(exc)
        result.attempts.append(f"download {url}: {exc}")
        return False
    if isinstance(exc, OSError):  # writing the cache: disk full, read-only folder, I/O error
        result.error = f"cannot write {dest}: {exc.strerror or exc}"
        result.attempts.append(f"download {url}: {result.error}")
        return False
    if isinstance(exc, _Unreachable):  # no network, no such host, refused: trying again soon finds the same
        result.error = f"{exc}; {OFFLINE_WORDS}"
        result.host_down = True
        result.attempts.append(f"download {url}: {exc} (not retried: the host cannot be reached)")
        return False
    result.error = str(exc)
    result.host_down = isinstance(exc, _HostDown)
    result.attempts.append(f"download {url}: {exc} (attempt {attempt} of {retries})")
    return True


def _try_again(settings: DownloadSettings, attempt: int, start: float, delay: float) -> bool:
    """After an attempt that may pass: whether attempts and time are left, having waited `delay` seconds (False
    at once when edgedoctor is being stopped)."""
    remaining = settings.total_timeout - (time.monotonic() - start)
    if attempt >= settings.retries or remaining <= delay or _stopping():
        return False
    return not _stopping_wait(delay)


def _fetch_once(session, url: str, dest: Path, spec: FileSpec, settings: DownloadSettings, start: float) -> None:
    """One GET of `url` into `dest`; raises _Final, _Retryable (or one of its kinds) or OSError."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Final(f"cannot create {dest.parent}: {exc.strerror or exc}") from None
    response = _request(session, url, settings)
    with response:
        _accept(response, spec)
        remove_stale_parts(dest.parent)
        _receive_into(response, dest, spec, settings, start)


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


# --- the body: into a .part file, renamed into place only when it is the manifest's file -------------------------


def _receive_into(response, dest: Path, spec: FileSpec, settings: DownloadSettings, start: float) -> None:
    """The body into a fresh .part file next to `dest`, renamed to `dest` only when its size and sha256 match
    `spec`; the .part file never stays behind."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=str(dest.parent))
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            received, actual = _receive(response, out, spec, settings, start)
            out.flush()
            os.fsync(out.fileno())
        _verify_received(received, actual, spec)
        os.replace(tmp, dest)
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def _verify_received(received: int, actual: str, spec: FileSpec) -> None:
    """Raise _Final unless the bytes received are the manifest's file."""
    if received != spec.size:
        raise _Final(f"the server's answer has {received} bytes, expected {spec.size}; it was not kept")
    if actual != spec.sha256:
        raise _Final(
            f"sha256 mismatch: the server's file has sha256 {actual}, the manifest expects "
            f"{spec.sha256} (a changed or tampered copy; it was not kept)"
        )


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
