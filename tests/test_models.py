"""The manifest, the cache and downloads: mirror folder first, then the cache, then the network (a loopback
mirror here), every file checked by sha256, nothing bad ever kept, no socket when offline."""

import hashlib
import json
import socket
import threading

import pytest
from helpers_models import SHARED_MODELS, model_server, no_proxy, part_files, require_shared_models  # noqa: F401

from edgedoctor import models

FAST = models.DownloadSettings(
    connect_timeout=2.0, read_timeout=0.5, total_timeout=20.0, retries=2, backoff=0.05, progress=False
)


@pytest.fixture
def manifest():
    return models.load_manifest()


def test_manifest_matches_the_known_good_files(manifest):
    require_shared_models()
    assert manifest.default_set == "inat-bird"
    assert set(manifest.sets) == {"inat-bird", "mobilenet-v1-025", "mnist-lstm"}
    for name, spec in manifest.files.items():
        data = (SHARED_MODELS / name).read_bytes()
        assert len(data) == spec.size and hashlib.sha256(data).hexdigest() == spec.sha256, name
        assert spec.url == f"{manifest.upstream}/{spec.commit}/{name}"
        assert spec.commit in ("c21de4450f88a20ac5968628d375787745932a5a", "104342d2d3480b3e66203073dac24f4e2dbb4c41")
    inat = manifest.get_set(None)
    assert inat.expected == {"id": 923, "label": "Ara macao (Scarlet Macaw)"}
    assert manifest.get_set("mobilenet-v1-025").expected["label"] == "macaw"
    assert manifest.get_set("mnist-lstm").expected["id"] == 9
    for model_set in manifest.sets.values():
        for kind in ("tpu", "cpu"):
            for key, entry in (model_set.reference.get(kind) or {}).items():
                assert entry["ms"] > 0 and entry["source"] in manifest.sources, (model_set.name, key)
    assert inat.reference_ms("tpu", "usb3")["ms"] == 2.6
    with pytest.raises(KeyError):
        manifest.get_set("no-such-set")


def test_labels_are_read_like_pycoral(manifest, tmp_path):
    labels = models.read_labels(SHARED_MODELS / "inat_bird_labels.txt")
    assert len(labels) == 965 and labels[923] == "Ara macao (Scarlet Macaw)"
    imagenet = models.read_labels(SHARED_MODELS / "imagenet_labels.txt")
    assert imagenet[0] == "background" and imagenet[89] == "macaw"
    bare = tmp_path / "bare.txt"
    bare.write_text("cat\ndog\n")
    assert models.read_labels(bare) == {0: "cat", 1: "dog"}


def test_cache_honours_xdg_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.models_cache() == tmp_path / "xdg" / "edgedoctor" / "models"
    assert models.models_cache(str(tmp_path / "mine")) == tmp_path / "mine" / "models"


def test_mirror_folder_is_used_first(manifest, tmp_path):
    resolver = models.Resolver(manifest, models_dir=str(require_shared_models()), cache_dir=str(tmp_path), offline=True)
    result = resolver.resolve_set(manifest.get_set("mnist-lstm"))
    assert result["ok"] and {f["origin"] for f in result["files"].values()} == {"mirror"}
    assert not (tmp_path / "models").exists()  # nothing copied


def test_a_damaged_mirror_file_is_not_used(manifest, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "mnist_nine.bmp").write_bytes(b"BM" + b"\0" * 1860)  # right size, wrong bytes
    resolver = models.Resolver(manifest, models_dir=str(mirror), cache_dir=str(tmp_path / "c"), offline=True)
    result = resolver.resolve("mnist_nine.bmp")
    assert not result.ok and "offline" in result.error
    assert any("sha256" in a for a in result.attempts)


def test_download_into_an_empty_cache_then_cache_hit(manifest, tmp_path, model_server):
    resolver = models.Resolver(manifest, models_url=model_server.url, cache_dir=str(tmp_path), settings=FAST)
    result = resolver.resolve_set(manifest.get_set("mnist-lstm"))
    assert result["ok"], result
    assert {f["origin"] for f in result["files"].values()} == {"download"}
    cache = tmp_path / "models"
    for name in manifest.get_set("mnist-lstm").files:
        assert (cache / name).read_bytes() == (SHARED_MODELS / name).read_bytes()
    assert part_files(cache) == []
    again = models.Resolver(manifest, models_url=model_server.url, cache_dir=str(tmp_path), settings=FAST)
    hit = again.resolve("keras_lstm_mnist_ptq.tflite")
    assert hit.ok and hit.origin == "cache"
    assert model_server.hits["keras_lstm_mnist_ptq.tflite"] == 1


def test_models_url_from_the_environment(manifest, tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("EDGEDOCTOR_MODELS_URL", model_server.url + "/")
    from edgedoctor.machine.options import CheckOptions

    resolver = models.Resolver.from_options(manifest, CheckOptions(cache_dir=str(tmp_path)), settings=FAST)
    spec = manifest.files["mnist_nine.bmp"]
    assert resolver.url_for(spec) == model_server.url + "/mnist_nine.bmp"
    assert resolver.resolve("mnist_nine.bmp").ok


@pytest.mark.parametrize(
    "mode,words",
    [
        ("tamper", "sha256 mismatch"),
        ("truncate", "closed after"),
        ("404", "HTTP 404"),
        ("500", "HTTP 500"),
        ("stall", "stopped sending"),
        ("html", "bytes"),
    ],
)
def test_bad_downloads_are_clear_and_never_kept(manifest, tmp_path, model_server, mode, words):
    name = "keras_lstm_mnist_ptq_edgetpu.tflite"
    model_server.behaviour[name] = mode
    model_server.stall_seconds = 3.0
    resolver = models.Resolver(manifest, models_url=model_server.url, cache_dir=str(tmp_path), settings=FAST)
    result = resolver.resolve(name)
    assert not result.ok
    assert words in result.error, result.error
    cache = tmp_path / "models"
    assert not (cache / name).exists()
    assert part_files(cache) == []
    retried = mode in ("truncate", "500", "stall")
    assert model_server.hits[name] == (FAST.retries if retried else 1)
    if retried:
        assert f"attempt {FAST.retries} of {FAST.retries}" in result.attempts[-1]


def test_a_damaged_cached_file_is_replaced(manifest, tmp_path, model_server):
    cache = tmp_path / "models"
    cache.mkdir(parents=True)
    (cache / "mnist_nine.bmp").write_bytes(b"not the image")
    resolver = models.Resolver(manifest, models_url=model_server.url, cache_dir=str(tmp_path), settings=FAST)
    result = resolver.resolve("mnist_nine.bmp")
    assert result.ok and result.origin == "download"
    assert any("removed" in a for a in result.attempts)
    assert (cache / "mnist_nine.bmp").read_bytes() == (SHARED_MODELS / "mnist_nine.bmp").read_bytes()


def test_two_runs_at_once(manifest, tmp_path, model_server):
    results = []

    def fetch():
        resolver = models.Resolver(manifest, models_url=model_server.url, cache_dir=str(tmp_path), settings=FAST)
        results.append(resolver.resolve("mobilenet_v1_0.25_128_quant_edgetpu.tflite"))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 and all(r.ok for r in results)
    cache = tmp_path / "models"
    assert (
        models.check_file(
            cache / "mobilenet_v1_0.25_128_quant_edgetpu.tflite",
            manifest.files["mobilenet_v1_0.25_128_quant_edgetpu.tflite"],
        )
        is None
    )
    assert part_files(cache) == []


def test_offline_opens_no_socket(manifest, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened while offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    resolver = models.Resolver(manifest, models_url="http://127.0.0.1:9/x", cache_dir=str(tmp_path), offline=True)
    result = resolver.resolve_set(manifest.get_set(None))
    assert not result["ok"]
    assert all("offline" in f["error"] for f in result["files"].values())


def test_connection_refused_is_clear(manifest, tmp_path, no_proxy):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    resolver = models.Resolver(manifest, models_url=f"http://127.0.0.1:{port}", cache_dir=str(tmp_path), settings=FAST)
    result = resolver.resolve_set(manifest.get_set("mnist-lstm"))
    first, *others = result["files"].values()
    assert not first["ok"] and "Connection refused" in first["error"]
    assert first["error"].startswith("cannot connect: ")
    # one unreachable server is not asked again for every other file
    assert all(f["error"].startswith("not tried: 127.0.0.1:") for f in others)
    assert part_files(tmp_path / "models") == []


# --- edgedoctor models list | fetch | verify -------------------------------------------------------------------
def test_models_list(run_cli, tmp_path):
    code, out, _ = run_cli(
        "models", "list", "--models-dir", require_shared_models(), "--cache-dir", tmp_path, "--format", "json"
    )
    data = json.loads(out)
    assert code == 0 and data["default_set"] == "inat-bird"
    names = [s["name"] for s in data["sets"]]
    assert names == ["inat-bird", "mobilenet-v1-025", "mnist-lstm"]
    assert all(f["available"] and f["origin"] == "mirror" for s in data["sets"] for f in s["files"])
    code, out, _ = run_cli("models", "list", "--cache-dir", tmp_path)
    assert code == 0 and "inat-bird (default)" in out and "not fetched" in out


def test_models_fetch_and_verify(run_cli, tmp_path, model_server):
    code, out, err = run_cli("models", "fetch", "mnist-lstm", "--models-url", model_server.url, "--cache-dir", tmp_path)
    assert code == 0, out + err
    assert out.count(": ok (download") == 3
    code, out, _ = run_cli("models", "verify", "mnist-lstm", "--cache-dir", tmp_path, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["damaged"] == 0 and data["missing"] == 0
    (tmp_path / "models" / "mnist_nine.bmp").write_bytes(b"x" * 1862)
    code, out, _ = run_cli("models", "verify", "mnist-lstm", "--cache-dir", tmp_path)
    assert code == 1 and "mnist_nine.bmp: DAMAGED" in out


def test_models_fetch_failure_exit_code(run_cli, tmp_path, model_server):
    model_server.behaviour["mnist_nine.bmp"] = "tamper"
    code, out, _ = run_cli("models", "fetch", "mnist-lstm", "--models-url", model_server.url, "--cache-dir", tmp_path)
    assert code == 1 and "sha256 mismatch" in out and "nothing bad was kept" in out
    assert not (tmp_path / "models" / "mnist_nine.bmp").exists()


def test_models_fetch_offline_and_unknown_set(run_cli, tmp_path):
    code, out, _ = run_cli("models", "fetch", "--offline", "--cache-dir", tmp_path)
    assert code == 1 and "offline" in out
    code, _, err = run_cli("models", "fetch", "nope", "--cache-dir", tmp_path)
    assert code == 2 and "unknown model set" in err
