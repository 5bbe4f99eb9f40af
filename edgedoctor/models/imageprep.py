"""Turn a test image into the raw input tensor of a model, in edgedoctor's own process (Pillow, no numpy).

This follows pycoral's examples/classify_image.py: `Image.open(path).convert('RGB').resize(size,
Image.LANCZOS)`, then the uint8 pixels go in unchanged, because Coral's classification models take uint8 with
scale ~1/128 and zero point 128 (so no normalisation is needed). Grey models (mode "L", e.g. the 28x28 MNIST
LSTM) take the grey pixels. For an int8 input the pixels are shifted by -128; for a float32 input they are
scaled to [0, 1]. The bytes are written to a temporary file whose path goes to the worker as "input_path".
"""

from __future__ import annotations

import array
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple


class ImagePrepError(Exception):
    pass


def _geometry(shape: Sequence[int], mode: str) -> Tuple[int, int, int]:
    """(height, width, channels) from an input shape [1, H, W, C] or [1, H, W] (grey)."""
    dims = [int(d) for d in shape]
    if len(dims) == 4:
        _, height, width, channels = dims
    elif len(dims) == 3:
        _, height, width = dims
        channels = 1
    elif len(dims) == 2:  # [H, W]
        height, width = dims
        channels = 1
    else:
        raise ImagePrepError(f"cannot feed an image to an input of shape {dims}")
    if channels not in (1, 3):
        raise ImagePrepError(f"an input with {channels} channels is not an image")
    if mode == "L" and channels != 1 or mode == "RGB" and channels != 3:
        raise ImagePrepError(f"input mode {mode} does not fit an input of shape {dims}")
    return height, width, channels


def _resample(name: str):
    from PIL import Image

    holder = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 has Image.Resampling
    return getattr(holder, name.upper())


def image_tensor(
    path, shape: Sequence[int], dtype: str = "uint8", mode: Optional[str] = None, resample: str = "LANCZOS"
) -> bytes:
    """The raw input tensor bytes (little-endian, row-major) for one image."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a dependency of edgedoctor
        raise ImagePrepError(f"Pillow is not available: {exc}") from None
    channels_mode = mode or ("L" if len(shape) == 3 or (len(shape) == 4 and int(shape[3]) == 1) else "RGB")
    height, width, _channels = _geometry(shape, channels_mode)
    try:
        with Image.open(path) as image:
            image = image.convert(channels_mode)
            if image.size != (width, height):
                image = image.resize((width, height), _resample(resample))
            pixels = image.tobytes()
    except (OSError, ValueError) as exc:
        raise ImagePrepError(f"cannot read the test image {path}: {exc}") from None
    if dtype == "uint8":
        return pixels
    if dtype == "int8":
        return bytes((p - 128) & 0xFF for p in pixels)
    if dtype == "float32":
        values = array.array("f", (p / 255.0 for p in pixels))
        if sys.byteorder != "little":
            values.byteswap()
        return values.tobytes()
    raise ImagePrepError(f"cannot feed an image to a {dtype} input")


def write_input_file(data: bytes, folder: Optional[str] = None) -> str:
    """Write tensor bytes to a temporary file (the caller removes it); returns its path."""
    fd, path = tempfile.mkstemp(prefix="edgedoctor-input-", suffix=".bin", dir=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def prepare(
    path,
    input_info: Dict[str, Any],
    mode: Optional[str] = None,
    resample: str = "LANCZOS",
    folder: Optional[str] = None,
) -> Dict[str, Any]:
    """Image + model input description (from tflite_inspect) -> {"input_path", "bytes", "shape", "dtype"}."""
    shape: List[int] = list(input_info.get("shape") or [])
    dtype = input_info.get("dtype") or "uint8"
    data = image_tensor(path, shape, dtype, mode, resample)
    return {
        "input_path": write_input_file(data, folder),
        "bytes": len(data),
        "shape": shape,
        "dtype": dtype,
        "mode": mode,
        "resample": resample,
    }
