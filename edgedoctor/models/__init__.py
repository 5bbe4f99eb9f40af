"""The known-good models: the manifest, the download cache, looking inside .tflite files, and turning a test
image into a model's input.

The public surface is what the rest of edgedoctor uses; the modules behind it: `store` (the manifest, the
per-user cache, downloads and sha256 verification, where files come from), `tflite_inspect` and `flatbuf`
(reading .tflite files without TensorFlow), `imageprep` (a test image to input bytes, without numpy)."""

from edgedoctor.models.store import (
    DISCOVERY_TIMEOUT,
    MIRROR,
    MODELS_URL_ENV,
    STALE_PART,
    DownloadSettings,
    FileResult,
    FileSpec,
    Manifest,
    ModelSet,
    Resolver,
    cache_root,
    check_file,
    download,
    load_manifest,
    models_cache,
    private_folder,
    read_labels,
    verify_cache,
)

__all__ = [
    "DISCOVERY_TIMEOUT",
    "MIRROR",
    "MODELS_URL_ENV",
    "STALE_PART",
    "DownloadSettings",
    "FileResult",
    "FileSpec",
    "Manifest",
    "ModelSet",
    "Resolver",
    "cache_root",
    "check_file",
    "download",
    "load_manifest",
    "models_cache",
    "private_folder",
    "read_labels",
    "verify_cache",
]
