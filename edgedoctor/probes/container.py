"""A running Docker or Podman container, examined from the host without installing anything into it.

- `find_container` asks `docker inspect` / `podman inspect` (whichever knows the name, or the one `--engine`
  names) for how the container was started: its devices, bind mounts of /dev, privileges, device cgroup
  rules, environment and compose labels.
- `outside_view` reads what can be read with `ENGINE exec NAME ls|cat` (no shell needed): /dev/bus/usb,
  /dev/apex_N, /etc/os-release, which python3 there is, libedgetpu files.
- When the container has a python3, the worker (stdlib only, Python 3.6+) is streamed into it:
  `ENGINE exec -i NAME python3 - ` reads a bootstrap from standard input that holds the worker's sources, the
  task's payload and the model files it names. The models are put in memory (memfd, or a temporary file
  unlinked at once) and read through /proc/self/fd/N, so nothing is written to the container's disk and
  nothing is left behind even if the interpreter crashes. The bootstrap arms an alarm at the probe's
  deadline, because killing the `exec` client does not stop a process inside the container.
  `WorkerShim` is an executable standing in for the examined interpreter, so the existing readers
  (python_env, runtime, inference) run unchanged with the container's own Python, TFLite and libedgetpu.
- `ContainerSystem` is the seam for the runtime reader: commands (`ldconfig -p`, `dpkg-query`) and file
  tests run inside the container through `ENGINE exec`.

Every command goes through a runner with the seam's signature (`System.run`), so tests replay recorded
`docker`/`podman` transcripts (`TranscriptRunner`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from edgedoctor.machine.system import CommandResult, System, run_command

ENGINES = ("docker", "podman")
PYTHONS = ("python3", "python")
USB_MAJOR = 189  # usb_device character devices (/dev/bus/usb/BBB/DDD)
FILE_LIMIT = 64 << 20  # the largest file streamed into a container (the known-good models are a few MB)
WORKER_DIR = Path(__file__).resolve().parent.parent / "worker"

Runner = Callable[[Sequence[str], float], CommandResult]


class ContainerError(Exception):
    """The container cannot be examined at all (no engine knows it, it is not running): a usage error."""


# --- inspect ----------------------------------------------------------------------------------------------------


def _engine_error(result: CommandResult) -> str:
    text = (result.stderr or result.stdout or "").strip().splitlines()
    return result.error or (text[-1] if text else f"exit code {result.returncode}")


def find_container(
    name: str, run: Runner, engine: Optional[str] = None, timeout: float = 30.0
) -> Tuple[str, Dict[str, Any]]:
    """(engine, parsed inspect) of the container `name`; raises ContainerError saying what each engine said."""
    tried = []
    for candidate in [engine] if engine else ENGINES:
        result = run([candidate, "inspect", "--type", "container", name], timeout)
        if result.ok:
            try:
                data = json.loads(result.stdout)
            except ValueError as exc:
                tried.append(f"{candidate}: inspect printed no JSON ({exc})")
                continue
            if isinstance(data, list) and data and isinstance(data[0], dict):
                return candidate, parse_inspect(data[0], candidate)
            tried.append(f"{candidate}: inspect printed nothing for {name}")
            continue
        tried.append(f"{candidate}: {_engine_error(result)}")
    raise ContainerError(f"no container {name!r}: " + "; ".join(tried))


def _dev_bind(source: str, destination: str) -> bool:
    return any(p == "/dev" or p.startswith("/dev/") for p in (source, destination))


def _as_dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def parse_inspect(obj: Dict[str, Any], engine: str) -> Dict[str, Any]:
    """`docker inspect` / `podman inspect` of one container -> what matters for an Edge TPU."""
    obj = _as_dict(obj)
    host = _as_dict(obj.get("HostConfig"))
    config = _as_dict(obj.get("Config"))
    state = _as_dict(obj.get("State"))
    name = str(obj.get("Name") or "").lstrip("/")
    return {
        "engine": str(engine),
        "id": str(obj.get("Id") or "")[:12] or None,
        "name": name or None,
        "image": config.get("Image") or obj.get("ImageName") or obj.get("Image"),
        "running": bool(state.get("Running")),
        "status": state.get("Status"),
        "privileged": bool(host.get("Privileged")),
        "devices": _devices(host),
        "dev_mounts": _dev_mounts(obj, host),
        "device_cgroup_rules": [str(r) for r in _as_list(host.get("DeviceCgroupRules"))],
        "cap_add": [str(c) for c in _as_list(host.get("CapAdd"))],
        "env": _env(config),
        "compose": _compose(_as_dict(config.get("Labels"))),
        "oci_runtime": obj.get("OCIRuntime") or host.get("Runtime"),
        "working_dir": config.get("WorkingDir") or "/",
    }


def _devices(host: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The devices passed in (`--device`)."""
    return [
        {"host": d.get("PathOnHost"), "container": d.get("PathInContainer"), "permissions": d.get("CgroupPermissions")}
        for d in _as_list(host.get("Devices"))
        if isinstance(d, dict)
    ]


def _dev_mounts(obj: Dict[str, Any], host: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Bind mounts of /dev or below: from Mounts, then the Binds that Mounts does not already list."""
    mounts = []
    for m in _as_list(obj.get("Mounts")):
        if isinstance(m, dict) and _dev_bind(str(m.get("Source") or ""), str(m.get("Destination") or "")):
            mounts.append({"host": m.get("Source"), "container": m.get("Destination"), "rw": m.get("RW")})
    for bind in _as_list(host.get("Binds")):
        parts = str(bind).split(":")
        if (
            len(parts) >= 2
            and _dev_bind(parts[0], parts[1])
            and not any(m["host"] == parts[0] and m["container"] == parts[1] for m in mounts)
        ):
            mounts.append({"host": parts[0], "container": parts[1], "rw": "ro" not in parts[2:]})
    return mounts


def _env(config: Dict[str, Any]) -> Dict[str, str]:
    env: Dict[str, str] = {}
    for item in _as_list(config.get("Env")):
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


def _compose(labels: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Where docker compose started the container from (its labels), or None."""
    if not labels.get("com.docker.compose.service"):
        return None
    return {
        "project": labels.get("com.docker.compose.project"),
        "service": labels.get("com.docker.compose.service"),
        "working_dir": labels.get("com.docker.compose.project.working_dir"),
        "config_files": labels.get("com.docker.compose.project.config_files"),
    }


# --- exec through the runner -----------------------------------------------------------------------------------


def exec_argv(engine: str, name: str, argv: Sequence[str], stdin: bool = False) -> List[str]:
    return [engine, "exec"] + (["-i"] if stdin else []) + [name] + list(argv)


_LS_LINE = re.compile(
    r"^([bcdlps-])[rwxsStT-]{9}[.+@]?\s+\d+\s+(\d+)\s+(\d+)\s+(?:(\d+),\s*(\d+)|\d+)\s+"
    r"\S+\s+\S+\s+\S+\s+(.+?)(?: -> .*)?$"
)


def parse_ls_ln(text: str) -> List[Dict[str, Any]]:
    """`ls -lnR DIR` / `ls -ln DIR` (GNU or busybox) -> entries with their folder, kind, owner and device numbers."""
    entries: List[Dict[str, Any]] = []
    folder = ""
    for line in text.splitlines():
        line = line.rstrip()
        if line.endswith(":") and not line.startswith(("total", "c", "b", "d", "l", "-")):
            folder = line[:-1]
            continue
        if line.endswith(":") and line.startswith("/"):
            folder = line[:-1]
            continue
        found = _LS_LINE.match(line)
        if not found:
            continue
        kind, uid, gid, major, minor, entry = found.groups()
        entries.append(
            {
                "folder": folder,
                "name": entry,
                "kind": kind,
                "mode": line[:10],
                "uid": int(uid),
                "gid": int(gid),
                "major": int(major) if major else None,
                "minor": int(minor) if minor else None,
            }
        )
    return entries


def outside_view(engine: str, name: str, run: Runner, timeout: float = 30.0) -> Dict[str, Any]:
    """What `ENGINE exec NAME ls|cat` shows (no shell needed); each read's failure is kept verbatim."""
    view: Dict[str, Any] = {
        "usb_nodes": [],
        "dev_bus_usb": None,
        "apex_nodes": [],
        "os_release": None,
        "python": None,
        "libedgetpu": [],
        "errors": {},
    }

    def ex(*argv: str) -> CommandResult:
        return run(exec_argv(engine, name, argv), timeout)

    usb = ex("ls", "-lnR", "/dev/bus/usb")
    if usb.ok:
        view["dev_bus_usb"] = True
        view["usb_nodes"] = [
            dict(e, path=f"{e['folder'].rstrip('/')}/{e['name']}") for e in parse_ls_ln(usb.stdout) if e["kind"] == "c"
        ]
    else:
        view["dev_bus_usb"] = False if re.search(r"No such file", usb.stderr + usb.stdout) else None
        view["errors"]["ls /dev/bus/usb"] = _engine_error(usb)
    dev = ex("ls", "-ln", "/dev")
    if dev.ok:
        view["apex_nodes"] = [
            dict(e, path=f"/dev/{e['name']}") for e in parse_ls_ln(dev.stdout) if e["name"].startswith("apex_")
        ]
    else:
        view["errors"]["ls /dev"] = _engine_error(dev)
    release = ex("cat", "/etc/os-release")
    if release.ok:
        values = {}
        for line in release.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.strip():
                values[key.strip()] = value.strip().strip('"')
        view["os_release"] = {k: values.get(k) for k in ("ID", "VERSION_ID", "PRETTY_NAME")}
    else:
        view["errors"]["cat /etc/os-release"] = _engine_error(release)
    for python in PYTHONS:
        probe = ex(python, "-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])")
        if probe.ok and probe.stdout.strip():
            lines = probe.stdout.strip().splitlines()
            version = lines[-1].strip()
            if tuple(int(x) for x in re.findall(r"\d+", version)[:2]) >= (3, 6):
                view["python"] = {"command": python, "executable": lines[0].strip(), "version": version}
                break
            view["errors"][python] = f"{python} is Python {version}; the worker needs 3.6 or newer"
        else:
            view["errors"][python] = _engine_error(probe)
    libs = ex("ls", "-ln", *LIB_DIRS)
    # ls exits 2 when some of the folders do not exist; what it listed of the others is still right.
    for entry in parse_ls_ln(libs.stdout):
        if entry["name"].startswith("libedgetpu"):
            view["libedgetpu"].append(f"{entry['folder'].rstrip('/')}/{entry['name']}")
    return view


LIB_DIRS = (
    "/usr/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/arm-linux-gnueabihf",
    "/usr/local/lib",
    "/lib",
)


# --- the worker streamed in ------------------------------------------------------------------------------------

BOOTSTRAP = r"""# edgedoctor worker, streamed in by `%(engine)s exec -i`: nothing is installed or written to disk.
import base64, io, json, os, signal, sys, tempfile, zlib
if hasattr(signal, "alarm"):
    signal.alarm(%(deadline)d)  # killing the exec client does not stop us: stop at the probe's deadline
import importlib.abc, importlib.util
SOURCES = json.loads(zlib.decompress(base64.b64decode(%(sources)r)).decode("utf-8"))
FILES = json.loads(zlib.decompress(base64.b64decode(%(files)r)).decode("utf-8"))


class _Worker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in SOURCES else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = "<edgedoctor worker>/%%s.py" %% module.__name__
        exec(compile(SOURCES[module.__name__], module.__file__, "exec"), module.__dict__)


sys.meta_path.insert(0, _Worker())
_OPEN = []


def _in_memory(data):
    fd = None
    if hasattr(os, "memfd_create"):
        try:
            fd = os.memfd_create("edgedoctor-model", 0)
        except OSError:
            fd = None
    if fd is None:
        for folder in ("/dev/shm", tempfile.gettempdir(), "/var/tmp"):
            try:
                fd, path = tempfile.mkstemp(prefix=".edgedoctor-", dir=folder)
            except OSError:
                continue
            os.unlink(path)  # gone from the file system at once; readable through /proc/self/fd while we live
            break
    if fd is None:
        raise OSError("no memfd and no writable temporary folder for the model")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    _OPEN.append(fd)
    return "/proc/self/fd/%%d" %% fd


def _swap(obj, paths):
    if isinstance(obj, dict):
        return dict((k, _swap(v, paths)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_swap(v, paths) for v in obj]
    if isinstance(obj, str) and obj in paths:
        return paths[obj]
    return obj


paths = {}
for token, packed in FILES.items():
    try:
        paths[token] = _in_memory(zlib.decompress(base64.b64decode(packed)))
    except OSError as exc:
        paths[token] = "/nonexistent/edgedoctor-could-not-stream-the-file (%%s)" %% exc
payload = _swap(json.loads(%(payload)r), paths)
sys.argv = ["<edgedoctor worker>", %(task)r]
sys.stdin = io.StringIO(json.dumps(payload))
sys.dont_write_bytecode = True
main = {"__name__": "__edgedoctor_worker__", "__file__": "<edgedoctor worker>/__main__.py"}
exec(compile(SOURCES["__main__"], main["__file__"], "exec"), main)
sys.exit(main["main"]())
"""


def _pack(obj: Any) -> bytes:
    return base64.b64encode(zlib.compress(json.dumps(obj).encode("utf-8"), 6))


def build_bootstrap(
    task: str,
    payload: Dict[str, Any],
    deadline: float,
    engine: str = "docker",
    worker_dir: Path = WORKER_DIR,
    workdir: str = "/",
) -> Tuple[str, List[str]]:
    """The program piped into the container's python3, and the host files it carries. Payload values under
    keys ending in `_path` that name a file on this machine are carried in and swapped for an in-memory path;
    `cwd` becomes the container's working folder."""
    sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted(worker_dir.glob("*.py")) if p.stem != "__init__"}
    files: Dict[str, str] = {}
    carried: List[str] = []

    def swap(obj: Any, key: str = "") -> Any:
        if isinstance(obj, dict):
            return {k: swap(v, k) for k, v in obj.items()}
        if isinstance(obj, list):
            return [swap(v, key) for v in obj]
        if isinstance(obj, str) and key.endswith("_path") and os.path.isfile(obj):
            if os.path.getsize(obj) > FILE_LIMIT:
                return obj  # the worker says it cannot open it: named, not streamed
            token = f"@@edgedoctor-file-{len(files)}@@"
            files[token] = base64.b64encode(zlib.compress(Path(obj).read_bytes(), 6)).decode("ascii")
            carried.append(os.path.abspath(obj))
            return token
        return obj

    carried_payload = swap(dict(payload))
    if "cwd" in carried_payload:
        carried_payload["cwd"] = workdir
    text = BOOTSTRAP % {
        "engine": engine,
        "deadline": max(1, int(deadline + 0.999)),
        "sources": _pack(sources),
        "files": _pack(files),
        "payload": json.dumps(carried_payload),
        "task": task,
    }
    return text, carried


def shim_main(engine: str, name: str, python: str, deadline: float, argv: List[str], workdir: str = "/") -> int:
    """What `WorkerShim` runs: called as the worker would be (`-B WORKER_DIR TASK`, payload on stdin), it runs
    the worker inside the container and passes its stdout, stderr and exit status through."""
    task = argv[-1] if argv else ""
    try:
        payload = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        payload = {}
    program, _ = build_bootstrap(task, payload, deadline, Path(engine).name, workdir=workdir)
    argv = _worker_exec_argv(engine, name, python)
    proc = subprocess.run(argv, input=program.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    record = os.environ.get("EDGEDOCTOR_CONTAINER_RECORD")
    if record:  # tests/tiers/record_container_transcripts.py: what the real engine answered, for the fast tier
        _record_answer(record, task, argv, proc)
    sys.stdout.buffer.write(proc.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(proc.stderr)
    sys.stderr.flush()
    _die_of_the_signal(proc.returncode)
    return proc.returncode


def _worker_exec_argv(engine: str, name: str, python: str) -> List[str]:
    """`ENGINE exec -i` of the container's python reading the program from standard input."""
    # TMPDIR on the container's /dev/shm (a tmpfs): the worker's unlinked scratch files do not even touch the
    # image's layer (`podman diff` / `docker diff` stay as they were).
    return [
        engine,
        "exec",
        "-i",
        "-e",
        "PYTHONIOENCODING=utf-8",
        "-e",
        "PYTHONDONTWRITEBYTECODE=1",
        "-e",
        "TMPDIR=/dev/shm",
        name,
        python,
        "-B",
        "-",
    ]


def _record_answer(record: str, task: str, argv: List[str], proc: subprocess.CompletedProcess) -> None:
    """Append the engine's answer as one JSON line to the file `record` (what ReplayShim plays back)."""
    with open(record, "a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                {
                    "task": task,
                    "argv": argv,
                    "returncode": proc.returncode,
                    "stdout": proc.stdout.decode("utf-8", "replace"),
                    "stderr": proc.stderr.decode("utf-8", "replace"),
                }
            )
            + "\n"
        )


def _die_of_the_signal(code: int) -> None:
    """The engine reports a process killed by signal N as 128+N: be killed the same way, so the caller sees the
    signal (a segfault inside the container reads as a segfault, not as "exit code 139")."""
    if 128 < code < 160 and code - 128 in (
        signal.SIGSEGV,
        signal.SIGABRT,
        signal.SIGILL,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGKILL,
        signal.SIGALRM,
        signal.SIGTERM,
    ):
        signal.signal(code - 128, signal.SIG_DFL)
        os.kill(os.getpid(), code - 128)


HOST_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "TMPDIR",
    "LANG",
    "EDGEDOCTOR_CONTAINER_RECORD",
)


class WorkerShim:
    """An executable file that stands in for the examined interpreter (`CheckOptions.python`): the worker
    readers run it as they run any python, and it runs the worker in the container. Removed on close."""

    def __init__(self, engine: str, name: str, python: str, deadline: float, workdir: str = "/"):
        engine_path = shutil.which(engine) or engine
        self.folder = tempfile.mkdtemp(prefix="edgedoctor-container-")
        self.path = os.path.join(self.folder, "python")
        package_parent = str(Path(__file__).resolve().parent.parent.parent)
        # The readers may hand the shim the container's environment (for the worker inside, where the engine
        # applies it anyway): the engine client itself needs the host's.
        host_env = {k: v for k, v in os.environ.items() if k in HOST_ENV or k.startswith(("DOCKER_", "CONTAINER"))}
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(
                f"#!{sys.executable}\n"
                "import os, sys\n"
                f"os.environ.clear()\nos.environ.update({host_env!r})\n"
                f"sys.path.insert(0, {package_parent!r})\n"
                "from edgedoctor.probes.container import shim_main\n"
                f"sys.exit(shim_main({engine_path!r}, {name!r}, {python!r}, {deadline!r}, sys.argv[1:], "
                f"{workdir!r}))\n"
            )
        os.chmod(self.path, stat.S_IRWXU)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "WorkerShim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ReplayShim(WorkerShim):
    """Stands in for the container's python3 with the worker's answers recorded from a real engine (JSON lines
    of {"task", "returncode", "stdout", "stderr"}, as EDGEDOCTOR_CONTAINER_RECORD writes them): the n-th run
    of a task gets the n-th recorded answer for it, through the same child-process boundary."""

    def __init__(self, recorded: Path):  # super().__init__ is not called: no engine is run
        self.folder = tempfile.mkdtemp(prefix="edgedoctor-replay-")
        self.path = os.path.join(self.folder, "python")
        counter = os.path.join(self.folder, "count.json")
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(f"""#!{sys.executable}
import json, os, signal, sys
task = sys.argv[-1]
sys.stdin.read()
counts = json.load(open({counter!r})) if os.path.exists({counter!r}) else {{}}
n = counts.get(task, 0)
counts[task] = n + 1
json.dump(counts, open({counter!r}, "w"))
answers = [json.loads(line) for line in open({str(recorded)!r}, encoding="utf-8") if line.strip()]
answers = [a for a in answers if a["task"] == task]
if not answers:
    sys.stderr.write("no recorded answer for task " + task)
    sys.exit(127)
answer = answers[min(n, len(answers) - 1)]
sys.stdout.write(answer["stdout"])
sys.stdout.flush()
sys.stderr.write(answer["stderr"])
sys.stderr.flush()
code = answer["returncode"]
if 128 < code < 160:
    signal.signal(code - 128, signal.SIG_DFL)
    os.kill(os.getpid(), code - 128)
sys.exit(code)
""")
        os.chmod(self.path, stat.S_IRWXU)


# --- the seam for the runtime reader ------------------------------------------------------------------------------


class ContainerSystem(System):
    """Commands and file tests inside the container, through `ENGINE exec`. With a python3 there (`worker`),
    the runtime reader loads libedgetpu through the worker; without, it reads what it can from outside."""

    def __init__(self, engine: str, name: str, env: Dict[str, str], run: Runner = run_command, worker: bool = True):
        super().__init__(root=Path("/"), env=dict(env), run=self._exec, platform="linux")
        self.engine, self.name, self._runner, self._worker = engine, name, run, worker
        self._exists: Dict[str, bool] = {}

    def _exec(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        result = self._runner(exec_argv(self.engine, self.name, argv), timeout)
        return CommandResult(list(argv), result.returncode, result.stdout, result.stderr, result.error)

    @property
    def is_host(self) -> bool:  # the readers' "run the worker here" switch
        return self._worker

    def exists(self, absolute: str) -> bool:
        if absolute not in self._exists:
            self._exists[absolute] = self._exec(["ls", "-d", absolute]).ok
        return self._exists[absolute]

    def realpath(self, absolute: str) -> str:
        result = self._exec(["readlink", "-f", absolute])
        return result.stdout.strip() if result.ok and result.stdout.strip() else absolute

    def read_bytes(self, absolute: str, limit: int = 1 << 20) -> Optional[bytes]:
        text = self.read_text(absolute, limit)
        return None if text is None else text.encode("utf-8", "surrogateescape")

    def read_text(self, absolute: str, limit: int = 1 << 20) -> Optional[str]:
        if absolute.startswith("/.edgedoctor/"):
            return None  # recorded answers belong to fixture trees, not to containers
        result = self._exec(["cat", absolute], 30.0)
        return result.stdout[:limit] if result.ok else None

    def listdir(self, absolute: str) -> List[str]:
        result = self._exec(["ls", "-1A", absolute])
        return sorted(line for line in result.stdout.splitlines() if line) if result.ok else []

    def access(self, absolute: str, mode: int) -> Optional[bool]:
        return self.exists(absolute) or False


# --- recorded transcripts for tests -------------------------------------------------------------------------------


class TranscriptRunner:
    """Answers commands from a transcript recorded from a real engine: a JSON list of
    {"argv": [...], "returncode": N, "stdout": "...", "stderr": "..."}. A command that is not in it fails the
    way the engine fails for an unknown executable, and is remembered in `missing` for the test to see."""

    def __init__(self, entries: Iterable[Dict[str, Any]], engine_found: bool = True):
        self.entries = list(entries)
        self.calls: List[List[str]] = []
        self.missing: List[List[str]] = []
        self.engine_found = engine_found

    @classmethod
    def load(cls, path: Path) -> "TranscriptRunner":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def __call__(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        argv = list(argv)
        self.calls.append(argv)
        for entry in self.entries:
            if entry["argv"] == argv:
                return CommandResult(
                    argv,
                    entry.get("returncode", 0),
                    entry.get("stdout", ""),
                    entry.get("stderr", ""),
                    entry.get("error"),
                )
        self.missing.append(argv)
        return CommandResult(argv, 127, "", f"not in the transcript: {' '.join(argv)}")
