"""The one seam between edgedoctor and the machine it examines.

Every reader (probe) touches the machine only through a `System`: files under a root folder (so `--root DIR`
and tests can swap in a fixture tree), the environment, a command runner, a clock, the platform name and an
optional USB backend. Readers return plain data; they never judge.

With a root other than "/", commands are not run on this machine: their recorded outputs are read from
`ROOT/.edgedoctor/commands/<name>.out` (see `RecordedRunner`). A fixture tree can also name the platform
in `ROOT/.edgedoctor/platform` (`linux`, `darwin`, `windows`) and the page size in `ROOT/.edgedoctor/page_size`.
What the child-process probes would have said on that machine can be recorded too: `ROOT/.edgedoctor/usb_backend.json`
(what pyusb saw) and `ROOT/.edgedoctor/runtime.json` (what the runtime worker reported); without them, nothing of
this machine's USB bus or runtime leaks into a fixture-root report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Sequence, Set


@dataclass
class CommandResult:
    """What a command did. `error` is set (and returncode is None) when it could not run at all."""

    argv: List[str]
    returncode: Optional[int]
    stdout: str = ""
    stderr: str = ""
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


CommandRunner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
    """Run a command on this machine; never raises."""
    argv = list(argv)
    if not argv or shutil.which(argv[0]) is None:
        return CommandResult(argv, None, error=f"{argv[0] if argv else '(empty)'}: command not found")
    from edgedoctor.machine import workerproc

    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=(os.name == "posix"),
        )
    except (OSError, ValueError) as exc:
        return CommandResult(argv, None, error=str(exc))
    # The workers' exchange: a deadline that holds whatever the command leaves behind, output capped, the
    # command's process group killed at the end (and on SIGINT/SIGTERM).
    workerproc.LIVE.add(proc)
    try:
        out, err, timed_out = workerproc.exchange(proc, b"", timeout)
    finally:
        workerproc._kill(proc)
        workerproc.LIVE.discard(proc)
    if timed_out:
        return CommandResult(argv, None, error=f"timed out after {timeout:g} s")
    return CommandResult(argv, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def recorded_name(argv: Sequence[str]) -> str:
    """File name under which a command's recorded output is kept: `dkms status` -> `dkms_status`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", " ".join(argv)).strip("_")[:120]


RECORDED_LIMIT = 4 << 20  # bytes of a recorded command output read


class RecordedRunner:
    """Answers commands from recorded outputs in a folder: `<name>.out`, optional `<name>.err`, `<name>.rc`.

    A command with no recording is reported as not found, as it would be on a machine without it.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def __call__(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        argv = list(argv)
        name = recorded_name(argv)
        output = read_regular(self.folder / f"{name}.out", RECORDED_LIMIT)
        if output is None:
            return CommandResult(argv, None, error=f"{argv[0]}: command not found")
        err = read_regular(self.folder / f"{name}.err", RECORDED_LIMIT) or b""
        code = (read_regular(self.folder / f"{name}.rc", 64) or b"0").strip() or b"0"
        try:
            returncode = int(code)
        except ValueError:
            return CommandResult(argv, None, error=f"{argv[0]}: recorded exit code {code[:20]!r} is not a number")
        return CommandResult(argv, returncode, output.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


MAX_LINKS = 40  # symlinks followed in one path under a root, as the kernel's own limit


def resolve_in_root(root: Path, absolute: str) -> Path:
    """Where an absolute path of the examined machine is under `root`, with its symlinks followed *inside* the
    root: an absolute link target (`/etc/os-release -> /usr/lib/os-release` on a mounted SD card) is taken
    under the root, never on this machine, and `..` stops at the root. A loop or too many links leave the
    path where it got to (reading it then fails)."""
    parts = [part for part in str(absolute).replace("\\", "/").split("/") if part not in ("", ".")]
    done: List[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        try:
            target = os.readlink(candidate) if candidate.is_symlink() else None
        except OSError:
            target = None
        if target is None:
            done.append(part)
            continue
        hops += 1
        if hops > MAX_LINKS:
            return root.joinpath(*done, part, *parts)
        if target.startswith("/"):
            done = []
        parts = [x for x in target.split("/") if x not in ("", ".")] + parts
    return root.joinpath(*done)


def read_regular(path, limit: int) -> Optional[bytes]:
    """At most `limit` bytes of a regular file; None for anything else (a FIFO, which would block forever; a
    device such as /dev/zero, which never ends; a folder) and when it cannot be read. Never blocks on open."""
    import stat

    try:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return None
        except FileNotFoundError:
            # qemu-arm answers stat() of a /proc path from the host but open() from the emulated sysroot; the
            # fstat below still refuses anything that is not a regular file.
            pass
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        )
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else after the look
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _host_platform() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


@dataclass
class System:
    """Everything a reader may touch. Build one with `System.host()` or `System.from_root(path)`."""

    root: Path = Path("/")
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run: CommandRunner = run_command
    clock: Callable[[], float] = time.monotonic
    platform: str = field(default_factory=_host_platform)
    usb_backend: object = None  # a pyusb backend, or None for pyusb's default lookup
    page_size: Optional[int] = None

    @classmethod
    def host(cls) -> "System":
        page_size = None
        try:
            page_size = os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            pass
        return cls(page_size=page_size)

    @classmethod
    def from_root(cls, root: Path, env: Optional[Mapping[str, str]] = None) -> "System":
        """A fixture tree or a mounted image: files, recorded commands and platform all from `root`."""
        root = Path(root)
        meta = root / ".edgedoctor"

        def meta_text(name: str) -> str:
            data = read_regular(resolve_in_root(root, f"/.edgedoctor/{name}"), 1 << 16)
            return data.decode("utf-8", "replace") if data else ""

        platform = meta_text("platform").strip().lower()
        if platform not in ("linux", "darwin", "windows"):  # missing or malformed: a Linux image
            platform = "linux"
        page_size = None
        try:
            page_size = int(meta_text("page_size").strip())
        except ValueError:
            page_size = None
        if page_size is not None and not 512 <= page_size <= 1 << 24:
            page_size = None
        environ = dict(env) if env is not None else {}
        if meta_text("env"):
            for line in meta_text("env").splitlines():
                if "=" in line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    environ.setdefault(key.strip(), value.strip())
        return cls(
            root=root, env=environ, run=RecordedRunner(meta / "commands"), platform=platform, page_size=page_size
        )

    @property
    def is_host(self) -> bool:
        return self.root == Path("/")

    # --- files under the root -------------------------------------------------------------------
    def path(self, absolute: str) -> Path:
        """Map an absolute machine path ("/sys/bus/usb") to where it is under the root."""
        if self.is_host:
            return Path(absolute)
        return resolve_in_root(self.root, str(absolute))

    def read_text(self, absolute: str, limit: int = 1 << 20) -> Optional[str]:
        """The file's text (its first `limit` bytes), or None when it is missing, unreadable (a device
        unplugged mid-read) or not a regular file (a FIFO or a device is never opened to wait on)."""
        data = read_regular(self.path(absolute), limit)
        return None if data is None else data.decode("utf-8", "replace")

    def read_bytes(self, absolute: str, limit: int = 1 << 20) -> Optional[bytes]:
        return read_regular(self.path(absolute), limit)

    def exists(self, absolute: str) -> bool:
        try:
            return self.path(absolute).exists()
        except OSError:
            return False

    def listdir(self, absolute: str) -> List[str]:
        """Sorted entry names, or [] when the folder is missing or unreadable."""
        try:
            return sorted(os.listdir(self.path(absolute)))
        except OSError:
            return []

    def glob(self, absolute_dir: str, pattern: str) -> Iterator[str]:
        """Absolute machine paths of entries of `absolute_dir` matching a glob pattern. Under a root, each
        level is listed and its symlinks followed inside the root (never on this machine)."""
        if not self.is_host:
            import fnmatch

            found = [str(absolute_dir).rstrip("/")]
            for part in [x for x in pattern.split("/") if x]:
                found = [
                    f"{folder}/{name}"
                    for folder in found
                    for name in self.listdir(folder or "/")
                    if fnmatch.fnmatchcase(name, part)
                ]
            return iter(sorted(found))
        base = self.path(absolute_dir)
        try:
            matches = sorted(base.glob(pattern))
        except OSError:
            return iter(())
        prefix = str(absolute_dir).rstrip("/")
        return iter(f"{prefix}/{m.relative_to(base).as_posix()}" for m in matches)

    def access(self, absolute: str, mode: int) -> Optional[bool]:
        """os.access through the root. In a fixture tree, `ROOT/.edgedoctor/denied` lists paths this
        user may not open (one absolute path a line), since fixture files are always readable to the tests."""
        if not self.is_host:
            denied = self.read_text("/.edgedoctor/denied") or ""
            if str(absolute) in {line.strip() for line in denied.splitlines()}:
                return False
            return self.exists(absolute)
        try:
            return os.access(absolute, mode)
        except OSError:
            return None

    def realpath(self, absolute: str) -> str:
        """Resolve symlinks inside the root, returning an absolute machine path."""
        if self.is_host:
            return os.path.realpath(absolute)
        resolved = resolve_in_root(self.root, str(absolute))
        try:
            return "/" + resolved.relative_to(self.root).as_posix()
        except ValueError:  # pragma: no cover - resolve_in_root stays under the root
            return str(absolute)

    def getenv(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.env.get(key, default)

    # --- who is asking ------------------------------------------------------------------------------
    def user_name(self) -> Optional[str]:
        """The examined user: `ROOT/.edgedoctor/user` in a fixture tree, else USER/LOGNAME/the password db."""
        if not self.is_host:
            recorded = self.read_text("/.edgedoctor/user")
            return recorded.strip() if recorded else self.env.get("USER")
        name = self.env.get("USER") or self.env.get("LOGNAME") or self.env.get("USERNAME")
        if name:
            return name
        try:
            import pwd

            return pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError, OSError):
            return None

    def user_groups(self) -> Optional[List[str]]:
        """Group names of the examined user: from this process on the host; from `/etc/group` (members)
        plus `ROOT/.edgedoctor/groups` in a fixture tree. None when unknown (Windows)."""
        if self.is_host:
            try:
                import grp

                names = []
                for gid in os.getgroups():
                    try:
                        names.append(grp.getgrgid(gid).gr_name)
                    except KeyError:
                        names.append(str(gid))
                return sorted(set(names))
            except (ImportError, OSError):
                return None
        user = self.user_name()
        groups: Set[str] = set()
        listed = self.read_text("/.edgedoctor/groups")
        if listed:
            groups.update(g for g in listed.split() if g)
        for line in (self.read_text("/etc/group") or "").splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and user and user in parts[3].split(","):
                groups.add(parts[0])
        return sorted(groups)
