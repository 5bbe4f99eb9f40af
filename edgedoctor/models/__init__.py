"""The known-good models: the manifest, the download cache, looking inside .tflite files, and turning a test
image into a model's input.

The public surface is what the rest of edgedoctor uses; the modules behind it: `manifest` (the known-good sets
and their files), `cache` (the per-user cache folder and the size and sha256 check of a copy), `fetch`
(downloads, verified on the way in), `resolve` (where a file comes from: mirror folder, cache or network),
`tflite_inspect` and `flatbuf` (reading .tflite files without TensorFlow), `imageprep` (a test image to input
bytes, without numpy)."""

from edgedoctor.models.cache import cache_root, check_file, models_cache, private_folder
from edgedoctor.models.fetch import STALE_PART, DownloadSettings, FileResult, download
from edgedoctor.models.manifest import FileSpec, Manifest, ModelSet, load_manifest, read_labels
from edgedoctor.models.resolve import DISCOVERY_TIMEOUT, MIRROR, MODELS_URL_ENV, Resolver, verify_cache

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
