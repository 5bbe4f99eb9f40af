"""The network fails in every way it can (loopback servers only, never the internet): a name that does not
resolve, a server that takes the connection and says nothing, one that hangs up, a redirect loop; and
`check --offline` opens no socket at all, in edgedoctor's own process or in any Python child it starts."""

import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers_models import no_proxy  # noqa: F401  (pytest fixture)

from edgedoctor import models

REPO = Path(__file__).resolve().parent.parent
FAST = models.DownloadSettings(
    connect_timeout=1.0, read_timeout=0.5, total_timeout=10.0, retries=2, backoff=0.05, progress=False
)
NAME = "mnist_nine.bmp"


@pytest.fixture
def manifest():
    return models.load_manifest()


def resolve(manifest, url, tmp_path):
    resolver = models.Resolver(manifest, models_url=url, cache_dir=str(tmp_path / "cache"), settings=FAST)
    start = time.monotonic()
    result = resolver.resolve(NAME)
    return result, time.monotonic() - start


def nothing_kept(tmp_path):
    folder = tmp_path / "cache" / "models"
    return not folder.exists() or not any(folder.iterdir())


def test_a_name_that_does_not_resolve(manifest, tmp_path, monkeypatch, no_proxy):
    asked = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result, seconds = resolve(manifest, "http://mirror.lab.invalid/models", tmp_path)
    assert asked and set(asked) == {"mirror.lab.invalid"}
    assert not result.ok and "cannot connect" in result.error and "Name or service not known" in result.error
    assert seconds < 10 and nothing_kept(tmp_path)


class RawServer:
    """A TCP server on 127.0.0.1 that does one thing to every connection: `silent` (accept, say nothing),
    `hangup` (accept, close at once) or `garbage` (answer with bytes that are not HTTP)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.held = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/models" % self.sock.getsockname()[1]

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.mode == "hangup":
                conn.close()
            elif self.mode == "garbage":
                conn.sendall(b"\x00\xffSSH-2.0-OpenSSH_9.2\r\n" * 10)
                conn.close()
            else:
                self.held.append(conn)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize(
    "mode,words", [("silent", "sent nothing"), ("hangup", "cannot connect"), ("garbage", "cannot connect")]
)
def test_servers_that_misbehave_before_answering(manifest, tmp_path, no_proxy, mode, words):
    server = RawServer(mode)
    try:
        result, seconds = resolve(manifest, server.url, tmp_path)
    finally:
        server.close()
    assert not result.ok and words in result.error, result.error
    assert seconds < 10 and nothing_kept(tmp_path)


def test_a_redirect_loop(manifest, tmp_path, no_proxy):
    hits = []

    class Loop(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", self.path + "x" if len(self.path) < 4000 else self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loop)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        result, seconds = resolve(manifest, "http://127.0.0.1:%d/models" % httpd.server_address[1], tmp_path)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not result.ok and "redirect" in result.error.lower(), result.error
    assert len(hits) <= 2 * 31 and seconds < 10 and nothing_kept(tmp_path)


# --- --offline opens no socket, in this process or any Python child ---------------------------------------------------
SITECUSTOMIZE = textwrap.dedent("""
    import os, socket

    _LOG = os.environ.get("EDGEDOCTOR_SOCKET_LOG")

    def _record(kind, detail):
        if _LOG:
            with open(_LOG, "a") as handle:
                handle.write("%d %s %r\\n" % (os.getpid(), kind, detail))
        raise OSError("sockets are switched off by the test")

    def _connect(self, address):
        _record("connect", address)

    def _connect_ex(self, address):
        _record("connect_ex", address)

    def _create_connection(address, *args, **kwargs):
        _record("create_connection", address)

    def _getaddrinfo(host, *args, **kwargs):
        _record("getaddrinfo", host)

    if _LOG:
        socket.socket.connect = _connect
        socket.socket.connect_ex = _connect_ex
        socket.create_connection = _create_connection
        socket.getaddrinfo = _getaddrinfo
""")


def run_recording(tmp_path, *argv):
    """Run edgedoctor with every Python process it starts recording (and refusing) socket use."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "sockets.log"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), str(REPO)]),
        EDGEDOCTOR_SOCKET_LOG=str(log),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
    )
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "edgedoctor", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
    )
    return done, (log.read_text() if log.exists() else "")


def test_offline_check_opens_no_socket_anywhere(tmp_path):
    models_dir = REPO.parent / "shared" / "models"
    argv = [
        "check",
        "--offline",
        "--format",
        "json",
        "--timeout",
        "60",
        "--cache-dir",
        tmp_path / "cache",
        "--models-url",
        "http://127.0.0.1:9/never",
    ]
    if models_dir.is_dir():
        argv += ["--models-dir", models_dir]
    done, used = run_recording(tmp_path, *argv)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["facts"]["python_env"]["python"], "the worker did not run (so it was not watched)"
    assert used == "", f"sockets used while --offline:\n{used}"


def test_the_socket_recorder_sees_a_download(tmp_path):
    """The control for the test above: without --offline, a download attempt is seen (and refused)."""
    done, used = run_recording(tmp_path, "check", "--format", "json", "--timeout", "60", "--no-models")
    assert done.returncode in (0, 1)
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from edgedoctor import models\n"
        "r = models.Resolver(models.load_manifest(), models_url='http://127.0.0.1:9/x', cache_dir=%r,"
        " settings=models.DownloadSettings(retries=1, progress=False))\n"
        "print(r.resolve('mnist_nine.bmp').error)\n"
    ) % (str(REPO), str(tmp_path / "c"))
    site = tmp_path / "site"
    log = tmp_path / "sockets.log"
    env = dict(os.environ, PYTHONPATH=str(site), EDGEDOCTOR_SOCKET_LOG=str(log))
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert "127.0.0.1" in log.read_text()


def test_check_with_an_unreachable_mirror_still_reports(run_cli, tmp_path, no_proxy, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EDGEDOCTOR_DOWNLOAD_RETRIES", "1")
    start = time.monotonic()
    code, out, err = run_cli(
        "check",
        "--models-url",
        f"http://127.0.0.1:{port}/models",
        "--cache-dir",
        tmp_path,
        "--format",
        "json",
        "--timeout",
        "60",
    )
    assert time.monotonic() - start < 120
    assert code in (0, 1) and "Traceback" not in err
    inference = json.loads(out)["facts"]["inference"]
    errors = " ".join(str(f.get("error")) for f in inference["source"]["files"].values())
    assert "Connection refused" in errors or "not tried" in errors, errors
