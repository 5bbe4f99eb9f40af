"""Look inside a .tflite file without TensorFlow, numpy or hardware.

A TFLite model is a FlatBuffer whose file identifier `TFL3` sits at bytes 4..8 (schema:
tensorflow/lite/schema/schema.fbs). We read it with the pure-Python `flatbuffers` package
(`flatbuffers.table.Table` for tables, `flatbuffers.flexbuffers` for a custom op's options), checking every
offset against the file's length, so that an HTML page saved as `.tflite` or a download cut short is named as
such (`model-not-tflite`) instead of raising somewhere deep inside.

For an Edge TPU model, each `edgetpu-custom-op` carries a FlexBuffer map in its custom options; key "4" holds
the DarwiNN `Package` (a FlatBuffer with identifier `DWN1`, schema libedgetpu executable/executable.fbs), whose
field 0 is `min_runtime_version` and field 4 `compiler_version`. libedgetpu refuses a package whose
min_runtime_version is above its own RuntimeVersion (`model-needs-newer-runtime`).

`inspect_file(path)` / `inspect_bytes(data)` return plain JSON-serialisable data and never raise for the
file's sake.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Any, Dict, List, Optional

from edgedoctor.models import flatbuf

N, fb_table, flexbuffers = flatbuf.load()  # flatbuffers without numpy in edgedoctor's process

TFLITE_IDENTIFIER = b"TFL3"
DARWINN_IDENTIFIER = b"DWN1"
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"

# tflite::TensorType, in enum order.
TENSOR_TYPES = (
    "float32",
    "float16",
    "int32",
    "uint8",
    "int64",
    "string",
    "bool",
    "int16",
    "complex64",
    "int8",
    "float64",
    "complex128",
    "uint64",
    "resource",
    "variant",
    "uint32",
    "uint16",
    "int4",
)

# tflite::BuiltinOperator, in enum order (0..205; 5 was DEPTH_TO_SPACE, 225 is a temporary op).
BUILTIN_OPERATORS = (
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
)
_EXTRA_BUILTINS = {225: "TEMP_STREAMING_CONV_2D"}
CUSTOM_CODE = 32

# platforms.darwinn.ExecutableType
EXECUTABLE_TYPES = ("STAND_ALONE", "PARAMETER_CACHING", "EXECUTION_ONLY")


class Malformed(Exception):
    """The bytes are not a well-formed FlatBuffer of the expected kind (an offset points outside the data)."""


def builtin_name(code: int) -> str:
    if 0 <= code < len(BUILTIN_OPERATORS):
        return BUILTIN_OPERATORS[code]
    return _EXTRA_BUILTINS.get(code, f"BUILTIN_{code}")


def dtype_name(code: int) -> str:
    return TENSOR_TYPES[code] if 0 <= code < len(TENSOR_TYPES) else f"type_{code}"


# --- a bounds-checked view over flatbuffers.table.Table --------------------------------------------------
class _Table:
    """One FlatBuffer table; every read is checked against the buffer's length."""

    __slots__ = ("buf", "pos", "t", "_vtable_len")

    def __init__(self, buf, pos: int):
        size = len(buf)
        if pos < 0 or pos + 4 > size:
            raise Malformed(f"table at {pos} lies outside the {size}-byte data")
        self.buf = buf
        self.pos = pos
        self.t = fb_table.Table(buf, pos)
        vtable = pos - self.t.Get(N.SOffsetTFlags, pos)
        if vtable < 0 or vtable + 4 > size:
            raise Malformed(f"vtable of the table at {pos} lies outside the data")
        self._vtable_len = self.t.Get(N.VOffsetTFlags, vtable)
        if vtable + self._vtable_len > size:
            raise Malformed(f"vtable at {vtable} runs past the end of the data")

    @classmethod
    def root(cls, buf) -> "_Table":
        if len(buf) < 8:
            raise Malformed(f"only {len(buf)} bytes")
        return cls(buf, fb_table.encode.Get(N.UOffsetTFlags.packer_type, buf, 0))

    def _field(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def has(self, slot: int) -> bool:
        return bool(self._field(slot))

    def scalar(self, slot: int, flags, default=0):
        off = self._field(slot)
        if not off:
            return default
        where = self.pos + off
        if where + flags.bytewidth > len(self.buf):
            raise Malformed("a field runs past the end of the data")
        return self.t.Get(flags, where)

    def _vector_bounds(self, slot: int, elem_size: int):
        off = self._field(slot)
        if not off:
            return None
        where = self.pos + off
        if where + 4 > len(self.buf):
            raise Malformed("a vector offset runs past the end of the data")
        start = self.t.Vector(off)
        if start < 4 or start > len(self.buf):
            raise Malformed("a vector lies outside the data")
        count = self.t.VectorLen(off)
        if start + count * elem_size > len(self.buf):
            raise Malformed(f"a vector of {count} elements runs past the end of the data (truncated file?)")
        return start, count

    def string(self, slot: int) -> Optional[str]:
        raw = self.raw_bytes(slot)
        return None if raw is None else bytes(raw).decode("utf-8", "replace")

    def raw_bytes(self, slot: int):
        bounds = self._vector_bounds(slot, 1)
        if bounds is None:
            return None
        start, count = bounds
        return self.buf[start : start + count]

    def scalars(self, slot: int, flags) -> List:
        bounds = self._vector_bounds(slot, flags.bytewidth)
        if bounds is None:
            return []
        start, count = bounds
        fmt = "<%d%s" % (count, flags.packer_type.format.lstrip("<"))
        return list(struct.unpack_from(fmt, self.buf, start))

    def vector_count(self, slot: int) -> int:
        bounds = self._vector_bounds(slot, 4)
        return 0 if bounds is None else bounds[1]

    def tables(self, slot: int) -> List["_Table"]:
        bounds = self._vector_bounds(slot, 4)
        if bounds is None:
            return []
        start, count = bounds
        return [_Table(self.buf, self.t.Indirect(start + 4 * i)) for i in range(count)]

    def table(self, slot: int) -> Optional["_Table"]:
        off = self._field(slot)
        if not off:
            return None
        where = self.pos + off
        if where + 4 > len(self.buf):
            raise Malformed("a table offset runs past the end of the data")
        return _Table(self.buf, self.t.Indirect(where))

    def strings(self, slot: int) -> List[bytes]:
        """A vector of strings (or of byte vectors serialised as strings)."""
        bounds = self._vector_bounds(slot, 4)
        if bounds is None:
            return []
        start, count = bounds
        out = []
        for i in range(count):
            at = self.t.Indirect(start + 4 * i)
            if at + 4 > len(self.buf):
                raise Malformed("a string lies outside the data")
            length = fb_table.encode.Get(N.UOffsetTFlags.packer_type, self.buf, at)
            if at + 4 + length > len(self.buf):
                raise Malformed("a string runs past the end of the data")
            out.append(self.buf[at + 4 : at + 4 + length])
        return out


# --- what is not a TFLite file --------------------------------------------------------------------------
def _describe_not_tflite(data: bytes) -> Dict[str, str]:
    head = bytes(data[:512])
    lowered = head.lstrip().lower()
    if not data:
        return {"kind": "empty", "reason": "the file is empty"}
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml", b"<")) or b"<html" in lowered:
        return {
            "kind": "html",
            "reason": "it is an HTML/XML page (a web page saved as .tflite, e.g. GitHub's "
            "'blob' page instead of the raw file, or an error or login page)",
        }
    if head.startswith(b"PK\x03\x04"):
        return {"kind": "zip", "reason": "it is a ZIP archive (unpack it first)"}
    if head.startswith(b"\x1f\x8b"):
        return {"kind": "gzip", "reason": "it is gzip-compressed (unpack it first)"}
    if head.startswith(b"version https://git-lfs"):
        return {"kind": "git-lfs-pointer", "reason": "it is a Git LFS pointer, not the model (run `git lfs pull`)"}
    if lowered.startswith((b"{", b"[")):
        return {"kind": "json", "reason": "it is a JSON text (an API error answer?)"}
    if len(data) < 8:
        return {"kind": "truncated", "reason": f"it has only {len(data)} bytes"}
    ident = bytes(data[4:8])
    shown = ident.decode("latin-1").encode("unicode_escape").decode("ascii")
    return {"kind": "unknown", "reason": f"it has no TFLite identifier 'TFL3' at byte 4 (found '{shown}')"}


# --- Edge TPU (DarwiNN) package --------------------------------------------------------------------------
def _darwinn_package(raw) -> Dict[str, Any]:
    """Fields of a DarwiNN Package FlatBuffer (executable.fbs)."""
    buf = bytes(raw)
    pkg = _Table.root(buf)
    info: Dict[str, Any] = {
        "identifier": buf[4:8].decode("latin-1"),
        "min_runtime_version": pkg.scalar(0, N.Int32Flags, 0),
        "keypair_version": pkg.scalar(3, N.Int32Flags, 0),
        "compiler_version": pkg.string(4),
        "virtual_chip_id": pkg.scalar(5, N.Int32Flags, 0),
        "model_identifier": pkg.string(7),
        "signed": bool(pkg.raw_bytes(2)),
        "executables": [],
    }
    multi = pkg.raw_bytes(1)
    if multi:
        try:
            multi_table = _Table.root(bytes(multi))
            for serialized in multi_table.strings(0):
                info["executables"].append(_darwinn_executable(bytes(serialized)))
        except (Malformed, struct.error, IndexError, ValueError) as exc:
            info["executables_error"] = str(exc)
    return info


def _darwinn_executable(buf: bytes) -> Dict[str, Any]:
    exe = _Table.root(buf)
    kind = exe.scalar(13, N.Int16Flags, 0)
    params = exe._vector_bounds(6, 1)
    return {
        "name": exe.string(1),
        "chip": exe.string(10),
        "type": EXECUTABLE_TYPES[kind] if 0 <= kind < len(EXECUTABLE_TYPES) else str(kind),
        "batch_size": exe.scalar(3, N.Int32Flags, 0),
        "parameters_bytes": params[1] if params else 0,
        "estimated_cycles": exe.scalar(16, N.Int64Flags, 0) or exe.scalar(11, N.Int32Flags, 0),
    }


def _edgetpu_packages(custom_options) -> List[Dict[str, Any]]:
    """The DarwiNN packages in an edgetpu-custom-op's options: FlexBuffer map key "4", else a search for DWN1."""
    raw = bytes(custom_options)
    found: List[Dict[str, Any]] = []
    blobs = []
    if flexbuffers is not None:
        try:
            root = flexbuffers.GetRoot(raw)
            if root.IsMap:
                options = root.AsMap
                keys = [k for k in options.Keys.Value]
                if "4" in keys:
                    ref = options["4"]
                    blobs.append(bytes(ref.AsBlob if ref.IsBlob else ref.AsStringBytes))
        except Exception:  # noqa: BLE001 - a malformed FlexBuffer: fall back to the byte search
            blobs = []
    if not blobs:
        at = raw.find(DARWINN_IDENTIFIER)
        while at >= 4:
            blobs.append(raw[at - 4 :])
            break
    for blob in blobs:
        try:
            found.append(_darwinn_package(blob))
        except (Malformed, struct.error, IndexError, ValueError) as exc:
            found.append({"error": f"cannot read the Edge TPU package: {exc}"})
    return found


# --- the model ---------------------------------------------------------------------------------------------
def _quantization(tensor: _Table) -> Optional[Dict[str, Any]]:
    quant = tensor.table(4)
    if quant is None:
        return None
    scales = quant.scalars(2, N.Float32Flags)
    zeros = quant.scalars(3, N.Int64Flags)
    if not scales and not zeros:
        return None
    return {
        "scale": scales[0] if len(scales) == 1 else scales,
        "zero_point": zeros[0] if len(zeros) == 1 else zeros,
        "per_channel": len(scales) > 1,
        "quantized_dimension": quant.scalar(6, N.Int32Flags, 0),
    }


def _tensor_info(tensors: List[_Table], index: int) -> Dict[str, Any]:
    if not 0 <= index < len(tensors):
        return {"index": index, "error": "no such tensor"}
    tensor = tensors[index]
    return {
        "index": index,
        "name": tensor.string(3),
        "shape": tensor.scalars(0, N.Int32Flags),
        "dtype": dtype_name(tensor.scalar(1, N.Int8Flags, 0)),
        "quantization": _quantization(tensor),
    }


def _parse_model(data: bytes) -> Dict[str, Any]:
    model = _Table.root(data)
    info: Dict[str, Any] = {"schema_version": model.scalar(0, N.Uint32Flags, 0), "description": model.string(3)}
    codes = _operator_codes(model)
    info["operator_codes"] = codes
    info["buffers"] = _count_buffers(model, data)
    subgraphs = model.tables(2)
    if not subgraphs:
        raise Malformed("the model has no subgraph")
    operators: List[Dict[str, Any]] = []
    packages: List[Dict[str, Any]] = []
    info["subgraphs"] = []
    for sg_index, subgraph in enumerate(subgraphs):
        tensors, sg_ops = subgraph.tables(0), subgraph.tables(3)
        info["subgraphs"].append(_subgraph_info(subgraph, tensors, sg_ops))
        for op in sg_ops:
            entry = _operator_entry(codes, op, sg_index)
            operators.append(entry)
            if entry["name"] == EDGETPU_CUSTOM_OP:
                custom_options = _custom_options(op, data)
                if custom_options:
                    packages.extend(_edgetpu_packages(custom_options))
    main = info["subgraphs"][0]
    info["inputs"] = main["inputs"]
    info["outputs"] = main["outputs"]
    info.update(_operator_counts(operators))
    info["is_edgetpu"] = any(op["name"] == EDGETPU_CUSTOM_OP for op in operators)
    info["edgetpu"] = _edgetpu_summary(operators, packages)
    return info


def _operator_codes(model: _Table) -> List[Dict[str, Any]]:
    codes = []
    for code in model.tables(1):
        deprecated = code.scalar(0, N.Int8Flags, 0)
        builtin = code.scalar(3, N.Int32Flags, 0)
        number = max(deprecated, builtin)
        custom = code.string(1)
        codes.append(
            {
                "builtin_code": number,
                "name": custom if number == CUSTOM_CODE and custom else builtin_name(number),
                "custom": number == CUSTOM_CODE,
                "version": code.scalar(2, N.Int32Flags, 1),
            }
        )
    return codes


def _count_buffers(model: _Table, data: bytes) -> int:
    """How many buffers the model has, having touched every one: a file cut short fails here."""
    buffers = model.tables(4)
    for buffer in buffers:
        buffer._vector_bounds(0, 1)
        offset = buffer.scalar(1, N.Uint64Flags, 0)
        size = buffer.scalar(2, N.Uint64Flags, 0)
        if offset > 1 and offset + size > len(data):
            raise Malformed(
                f"a buffer at {offset}+{size} lies past the end of the {len(data)}-byte file (truncated file?)"
            )
    return len(buffers)


def _subgraph_info(subgraph: _Table, tensors: List[_Table], sg_ops: List[_Table]) -> Dict[str, Any]:
    return {
        "name": subgraph.string(4),
        "tensors": len(tensors),
        "operators": len(sg_ops),
        "inputs": [_tensor_info(tensors, i) for i in subgraph.scalars(1, N.Int32Flags)],
        "outputs": [_tensor_info(tensors, i) for i in subgraph.scalars(2, N.Int32Flags)],
    }


def _operator_entry(codes: List[Dict[str, Any]], op: _Table, sg_index: int) -> Dict[str, Any]:
    index = op.scalar(0, N.Uint32Flags, 0)
    code = codes[index] if index < len(codes) else {"name": f"opcode_{index}", "custom": False}
    return {"subgraph": sg_index, "name": code["name"], "custom": code["custom"]}


def _custom_options(op: _Table, data: bytes) -> Optional[bytes]:
    """An operator's custom options: in the flatbuffer, or (a model over 2 GB) at an offset in the file."""
    custom_options = op.raw_bytes(5)
    if custom_options is None:
        large_off = op.scalar(9, N.Uint64Flags, 0)
        large_size = op.scalar(10, N.Uint64Flags, 0)
        if large_off > 1 and large_off + large_size <= len(data):
            custom_options = data[large_off : large_off + large_size]
    return custom_options


def _operator_counts(operators: List[Dict[str, Any]]) -> Dict[str, Any]:
    counts: Dict[str, int] = {}
    for op in operators:
        counts[op["name"]] = counts.get(op["name"], 0) + 1
    return {
        "operator_count": len(operators),
        "operators": counts,
        "custom_ops": sorted({op["name"] for op in operators if op["custom"]}),
    }


def _edgetpu_summary(operators: List[Dict[str, Any]], packages: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What the Edge TPU part of the model needs (None when it has no edgetpu-custom-op)."""
    tpu_ops = sum(1 for op in operators if op["name"] == EDGETPU_CUSTOM_OP)
    if not tpu_ops:
        return None
    cpu_ops = [op["name"] for op in operators if op["name"] != EDGETPU_CUSTOM_OP]
    versions = [p["min_runtime_version"] for p in packages if isinstance(p.get("min_runtime_version"), int)]
    compilers = sorted({p["compiler_version"] for p in packages if p.get("compiler_version")})
    return {
        "tpu_ops": tpu_ops,
        "cpu_ops": len(cpu_ops),
        "cpu_op_names": sorted(set(cpu_ops)),
        "fully_mapped": not cpu_ops,
        "packages": packages,
        "min_runtime_version": max(versions) if versions else None,
        "compiler_versions": compilers,
        "multi_chip": any(p.get("virtual_chip_id") == -1 for p in packages),
    }


def inspect_bytes(data: bytes, name: Optional[str] = None) -> Dict[str, Any]:
    """Everything we can tell about a .tflite file's bytes. Never raises for the data's sake."""
    result: Dict[str, Any] = {
        "path": name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "is_tflite": False,
        "cause": None,
        "error": None,
    }
    if len(data) < 8 or bytes(data[4:8]) != TFLITE_IDENTIFIER:
        what = _describe_not_tflite(data)
        result.update(cause="model-not-tflite", not_tflite=what["kind"], error=f"not a TFLite model: {what['reason']}")
        return result
    try:
        result.update(_parse_model(data))
    except (Malformed, struct.error, IndexError, ValueError, OverflowError, RecursionError) as exc:
        result.update(
            cause="model-not-tflite",
            not_tflite="truncated",
            error=f"not a readable TFLite model (truncated or damaged download?): {exc}",
        )
        return result
    result["is_tflite"] = True
    return result


def inspect_file(path) -> Dict[str, Any]:
    """Inspect a model file; a missing or unreadable file comes back with `error` set."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return {
            "path": path,
            "size": None,
            "sha256": None,
            "is_tflite": False,
            "cause": None,
            "error": f"cannot read {path}: {exc.strerror or exc}",
        }
    return inspect_bytes(data, path)


def judge_runtime(info: Dict[str, Any], runtime_version: Optional[int]) -> Optional[Dict[str, Any]]:
    """Whether an Edge TPU runtime with RuntimeVersion(`runtime_version`) can load the inspected model (None
    when there is no version to compare: no version given, or not an Edge TPU model)."""
    needed = (info.get("edgetpu") or {}).get("min_runtime_version")
    if runtime_version is None or needed is None:
        return None
    ok = needed <= runtime_version
    return {
        "runtime_version": runtime_version,
        "min_runtime_version": needed,
        "loads": ok,
        "cause": None if ok else "model-needs-newer-runtime",
    }


def summary(info: Dict[str, Any]) -> Dict[str, Any]:
    """The compact part of an inspection that goes into Facts for each model run."""
    keep = {
        k: info.get(k)
        for k in ("path", "size", "sha256", "is_tflite", "cause", "error", "is_edgetpu", "operator_count", "custom_ops")
    }
    keep["inputs"] = info.get("inputs")
    keep["outputs"] = info.get("outputs")
    tpu = info.get("edgetpu")
    if tpu:
        keep["edgetpu"] = {
            k: tpu.get(k)
            for k in (
                "tpu_ops",
                "cpu_ops",
                "cpu_op_names",
                "fully_mapped",
                "min_runtime_version",
                "compiler_versions",
                "multi_chip",
            )
        }
        keep["min_runtime_version"] = tpu.get("min_runtime_version")
    else:
        keep["edgetpu"] = None
        keep["min_runtime_version"] = None
    return keep
