"""Test helpers for the model sets: the real tflite-runtime venv, a loopback HTTP mirror of ../shared/models
that can misbehave on request, and shortcuts to run the inference probe and checks.

Test files import what they use explicitly, e.g.::

    from helpers_models import tflite_venv, model_server  # noqa: F401  (pytest fixtures)

The known-good files are never copied into the repo: tests read ../shared/models as the mirror folder and
serve a temporary copy of it on 127.0.0.1. Nothing here reaches the internet.
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_MODELS = REPO.parent / "shared" / "models"
TFLITE_REQUIREMENTS = ["tflite-runtime==2.14.0", "numpy<2"]

EDGETPU_MODELS = (
    "mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite",
    "mobilenet_v1_0.25_128_quant_edgetpu.tflite",
    "keras_lstm_mnist_ptq_edgetpu.tflite",
)
CPU_MODELS = (
    "mobilenet_v2_1.0_224_inat_bird_quant.tflite",
    "mobilenet_v1_0.25_128_quant.tflite",
    "keras_lstm_mnist_ptq.tflite",
)


def require_shared_models() -> Path:
    if not (SHARED_MODELS / "parrot.jpg").exists():
        pytest.skip(f"the known-good models mirror {SHARED_MODELS} is not here")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def shared_models() -> Path:
    return require_shared_models()


@pytest.fixture(scope="session")
def tflite_venv() -> str:
    """The python of a real venv with tflite-runtime 2.14.0 and numpy<2 (Python 3.11), built once and cached
    (tests/venvs.py; shared with the python-env tests)."""
    from venvs import make_venv

    return make_venv("3.11", TFLITE_REQUIREMENTS, name="tflite214-np1")


@pytest.fixture(autouse=False)
def no_proxy(monkeypatch):
    """Loopback requests must not go through a proxy from the environment."""
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# --- a loopback mirror that can misbehave ----------------------------------------------------------------
class MirrorServer:
    """Serves a folder on 127.0.0.1 in a thread. `behaviour[name]` selects, per file name:
    "ok", "404", "500", "tamper" (bytes changed, same length), "truncate" (Content-Length of the whole file,
    half the body, then the connection closes), "stall" (headers and a first chunk, then silence for
    `stall_seconds`), "html" (a 200 HTML page). `hits[name]` counts requests."""

    def __init__(self, folder: Path, stall_seconds: float = 5.0):
        self.folder = Path(folder)
        self.behaviour: Dict[str, str] = {}
        self.hits: Dict[str, int] = {}
        self.stall_seconds = stall_seconds
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                name = self.path.rsplit("/", 1)[-1]
                server.hits[name] = server.hits.get(name, 0) + 1
                mode = server.behaviour.get(name, "ok")
                path = server.folder / name
                if mode == "404" or not path.is_file():
                    self._send(404, b"Not Found", "text/plain")
                    return
                if mode == "500":
                    self._send(500, b"Internal Server Error", "text/plain")
                    return
                if mode == "html":
                    self._send(200, b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "text/html")
                    return
                data = path.read_bytes()
                if mode == "tamper":
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if mode == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if mode == "stall":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:1024])
                    self.wfile.flush()
                    server._stop.wait(server.stall_seconds)
                    self.close_connection = True
                    return
                self._send(200, data, "application/octet-stream")

            def _send(self, code, body, kind):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/models"

    def start(self) -> "MirrorServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def model_server(tmp_path, no_proxy):
    """A loopback HTTP mirror serving a temporary copy of ../shared/models."""
    source = require_shared_models()
    folder = tmp_path / "served"
    shutil.copytree(source, folder)
    server = MirrorServer(folder).start()
    try:
        yield server
    finally:
        server.stop()


# --- running the probe ----------------------------------------------------------------------------------
def probe_context(
    python: str,
    tmp_path: Path,
    facts: Optional[Dict[str, Any]] = None,
    env: Optional[Dict[str, str]] = None,
    **options: Any,
) -> ProbeContext:
    opts = dict(python=python, timeout=60.0, iterations=3, cache_dir=str(tmp_path / "cache"))
    opts.update(options)
    system = System(env=dict(os.environ if env is None else env))
    base = {
        "python_env": {"tflite": {"module": "tflite_runtime", "version": "2.14.0"}},
        "platform": {"os": "linux"},
        "usb": {"devices": []},
        "pcie": {"devices": []},
        "runtime": {"found": False, "path": None, "runtime_version": None},
    }
    base.update(facts or {})
    return ProbeContext(system, CheckOptions(**opts), facts=base)


def run_probe(python: str, tmp_path: Path, facts: Optional[Dict[str, Any]] = None, env=None, **options: Any):
    """facts["inference"] and its findings."""
    import json

    from edgedoctor.checks import inference as check_inference
    from edgedoctor.probes import inference

    ctx = probe_context(python, tmp_path, facts, env, **options)
    start = time.monotonic()
    section = inference.read(ctx)
    section["probe_s"] = round(time.monotonic() - start, 2)
    json.dumps(section)  # Facts must be JSON-serialisable
    facts_all = dict(ctx.facts, inference=section)
    return section, check_inference.check(facts_all)


def finding(findings, finding_id):
    found = [f for f in findings if f.id == finding_id]
    assert found, f"no finding {finding_id}: {[f.id for f in findings]}"
    return found[0]


def part_files(folder: Path):
    """Temporary download files left behind (there must be none)."""
    if not Path(folder).exists():
        return []
    return sorted(p.name for p in Path(folder).rglob("*") if p.name.endswith(".part") or p.name.startswith("."))
