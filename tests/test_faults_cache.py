"""Two edgedoctor runs at once share the caches safely: the compiled matrix (written by atomic rename, read
whole or not at all) and the models cache (each download into its own temporary file, renamed into place)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_models import no_proxy  # noqa: F401  (pytest fixture)

from edgedoctor import matrix
from edgedoctor.matrix import engine

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"
MISMATCH = (
    "RuntimeError: Internal: Unsupported data type in custom op handler: 0Node number 1 "
    "(EdgeTpuDelegateForCustomOp) failed to prepare."
)


def start(argv, env):
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(REPO))


def test_many_explains_at_once_share_the_compiled_matrix(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop(matrix.CACHE_ENV, None)
    for _round in range(2):  # a cold cache (all write at once), then a warm one (all read at once)
        procs = [
            start([sys.executable, "-m", "edgedoctor", "explain", MISMATCH, "--format", "json"], env) for _ in range(6)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert json.loads(out)["matches"][0]["entry"] == "tflite-runtime-libedgetpu-mismatch"
    compiled = list((tmp_path / "xdg").rglob("compiled-*.json"))
    assert len(compiled) == 1
    json.loads(compiled[0].read_text())
    assert not [p for p in compiled[0].parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"key": "wrong"}', b"\xff" * 100, b'{"key": "%s", "entries": [{"id": 5}], "problems": []}'],
)
def test_a_damaged_compiled_matrix_is_rebuilt(tmp_path, monkeypatch, content):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(matrix.CACHE_ENV, raising=False)
    engine._load_cached.cache_clear()
    try:
        matrix.load()
        compiled = next(tmp_path.rglob("compiled-*.json"))
        key = json.loads(compiled.read_text())["key"]
        compiled.write_bytes(content.replace(b"%s", key.encode()))
        engine._load_cached.cache_clear()
        table = matrix.load()
        assert table.match(MISMATCH)[0].entry.id == "tflite-runtime-libedgetpu-mismatch"
        assert len(table.entries) > 10
        assert json.loads(compiled.read_text())["key"] == key  # written again, whole
    finally:
        engine._load_cached.cache_clear()


def test_the_compiled_matrix_follows_edits_of_the_matrix(tmp_path, monkeypatch):
    folder = tmp_path / "matrix"
    shutil.copytree(REPO / "matrix", folder)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(matrix.CACHE_ENV, raising=False)
    engine._load_cached.cache_clear()
    try:
        assert not matrix.load(folder).match("zebra-quokka-marker")
        entry = (
            '\n[[entry]]\nid = "zebra"\ncause = "runtime-missing"\ntitle = "t"\nexplanation = "e"\n'
            'remedy = { all = "r" }\nreferences = ["https://example.org"]\nsignatures = ["zebra-quokka"]\n'
        )
        with open(folder / "entries" / "runtime.toml", "a") as handle:
            handle.write(entry)
        engine._load_cached.cache_clear()
        assert matrix.load(folder).match("zebra-quokka-marker")[0].entry.id == "zebra"
        mine = [
            p
            for p in (tmp_path / "xdg").rglob("compiled-*.json")
            if json.loads(p.read_text())["entries"]
            and any(e["id"] == "zebra" for e in json.loads(p.read_text())["entries"])
        ]
        assert len(mine) == 1 and len(list(mine[0].parent.glob(mine[0].name.rsplit("-", 1)[0] + "-*"))) == 1
    finally:
        engine._load_cached.cache_clear()


DOWNLOAD = """
import sys
sys.path.insert(0, {repo!r})
from edgedoctor import models
settings = models.DownloadSettings(connect_timeout=5, read_timeout=5, total_timeout=60, retries=2, progress=False)
resolver = models.Resolver(models.load_manifest(), models_url={url!r}, cache_dir={cache!r}, settings=settings)
result = resolver.resolve({name!r})
print(result.ok, result.origin, result.error)
"""


def test_two_processes_download_into_one_cache(tmp_path, no_proxy):
    from helpers_models import MirrorServer

    if not SHARED_MODELS.is_dir():
        pytest.skip("no ../shared/models")
    folder = tmp_path / "served"
    shutil.copytree(SHARED_MODELS, folder)
    server = MirrorServer(folder).start()
    name = "mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite"
    try:
        code = DOWNLOAD.format(repo=str(REPO), url=server.url, cache=str(tmp_path / "cache"), name=name)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        procs = [start([sys.executable, "-c", code], env) for _ in range(4)]
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        server.stop()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert out.decode().startswith("True"), out
    from edgedoctor import models

    cache = tmp_path / "cache" / "models"
    assert models.check_file(cache / name, models.load_manifest().files[name]) is None
    assert sorted(p.name for p in cache.iterdir()) == [name]
