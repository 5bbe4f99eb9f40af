# Run a TFLite model, with or without the Edge TPU delegate, and time it. Python 3.6+, stdlib + target's numpy.
#
# payload: {"module": "tflite_runtime" | "ai_edge_litert" | "tensorflow" | null (first that imports),
#           "model_path": str, "input_path": str (raw tensor bytes) | "input": [ints],
#           "delegate": {"library": "libedgetpu.so.1", "options": {"device": "usb"}} | null,
#           "iterations": int, "warmup": int, "top_k": int, "num_threads": int | null,
#           "expected_output": [ints] | null, "tolerance": int}
#
# result: {"module", "module_version", "status": "pass" | "fail", "stage": the step reached ("import", "numpy",
#          "delegate", "load", "allocate", "input", "invoke", "done"), "error": "Type: message" | null,
#          "traceback", "stderr", "timings_ms": {"delegate_load", "model_load", "first", "runs": [...]},
#          "input": tensor info, "output": tensor info, "top": [[index, raw value, dequantized score], ...],
#          "raw_output": [...] (outputs of 64 values or fewer), "output_matches": bool (with expected_output),
#          "same_output_every_run": bool}   (top, raw_output: the first inference's answer)
#
# The infer task lets the native stderr of the run flow to the worker's stderr (the parent keeps it even when
# the run crashes) and announces each step (wk_common.stage), so that a segfault or hang inside libedgetpu or
# the interpreter is attributed to "load-delegate", "load-model" or "invoke".
import time

import wk_common
import wk_tflite


def _ms(start):
    return (time.perf_counter() - start) * 1000.0


def _tensor_info(detail):
    quant = detail.get("quantization") or (0.0, 0)
    return {
        "name": detail.get("name"),
        "shape": [int(x) for x in detail.get("shape", [])],
        "dtype": getattr(detail.get("dtype"), "__name__", str(detail.get("dtype"))),
        "scale": float(quant[0]),
        "zero_point": int(quant[1]),
    }


def _load_input(np, spec, detail):
    dtype = detail["dtype"]
    shape = tuple(detail["shape"])
    if spec.get("input_path"):
        with open(spec["input_path"], "rb") as handle:
            raw = handle.read()
        data = np.frombuffer(raw, dtype=dtype)
    else:
        data = np.array(spec.get("input") or [], dtype=dtype)
    expected = int(np.prod(shape))
    if data.size != expected:
        raise ValueError("input has %d values, the model's input %s needs %d" % (data.size, list(shape), expected))
    return data.reshape(shape)


class _NoCapture(object):
    text = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _strip_marks(text):
    lines = [line for line in (text or "").splitlines() if not line.startswith(wk_common.STAGE_MARK)]
    return "\n".join(lines).strip("\n")


def run_with(loaded, spec, capture=True):
    """Run spec (see the payload above) with an imported interpreter module. Never raises.

    capture=True keeps the native stderr of the run in result["stderr"]; capture=False lets it flow to the
    worker's stderr (the parent keeps it, even when the run crashes)."""
    result = {
        "module": loaded.name,
        "module_version": loaded.version,
        "status": "fail",
        "stage": "numpy",
        "error": None,
        "stderr": "",
        "timings_ms": {},
    }
    # Stage announcements: with capture=False they reach the parent, which attributes a crash or hang to
    # "load-delegate", "load-model" or "invoke". With capture=True (the env task's smoke run) they stay in the
    # captured text, so the caller's own stage ("smoke") is the one the parent sees.
    cap = wk_common.CaptureStderr() if capture else _NoCapture()
    with cap:
        try:
            import numpy as np

            interpreter = _load_model(loaded, spec, result)
            in_detail = interpreter.get_input_details()[0]
            out_detail = interpreter.get_output_details()[0]
            result["input"] = _tensor_info(in_detail)
            result["output"] = _tensor_info(out_detail)
            result["stage"] = "input"
            data = _load_input(np, spec, in_detail)
            output, last = _invoke(interpreter, in_detail["index"], out_detail["index"], data, spec, result)
            result["same_output_every_run"] = bool(np.array_equal(output, last))
            _read_answer(np, output, spec, result)
            result["status"] = "pass"
            result["stage"] = "done"
            wk_common.stage("done")
        except BaseException as exc:
            result.update(wk_common.error_info(exc))
    result["stderr"] = _strip_marks(cap.text)
    return result


def _load_model(loaded, spec, result):
    """The delegate (when the spec names one), then the interpreter with its tensors allocated; timed."""
    timings = result["timings_ms"]
    delegates = []
    delegate = spec.get("delegate")
    if delegate:
        result["stage"] = "delegate"
        wk_common.stage("load-delegate")
        start = time.perf_counter()
        delegates.append(loaded.load_delegate(delegate["library"], delegate.get("options") or {}))
        timings["delegate_load"] = _ms(start)
    result["stage"] = "load"
    wk_common.stage("load-model")
    start = time.perf_counter()
    kwargs = {"model_path": spec["model_path"]}
    if delegates:
        kwargs["experimental_delegates"] = delegates
    if spec.get("num_threads"):
        kwargs["num_threads"] = int(spec["num_threads"])
    interpreter = loaded.Interpreter(**kwargs)
    result["stage"] = "allocate"
    interpreter.allocate_tensors()
    timings["model_load"] = _ms(start)
    return interpreter


def _invoke(interpreter, input_index, output_index, data, spec, result):
    """The first inference (timed on its own), the warm-up, then the timed runs. Returns the first
    inference's output and the last one's."""
    timings = result["timings_ms"]
    result["stage"] = "invoke"
    wk_common.stage("invoke")
    # The first inference is timed on its own: on the Edge TPU it also loads the model into the device.
    start = time.perf_counter()
    interpreter.set_tensor(input_index, data)
    interpreter.invoke()
    timings["first"] = _ms(start)
    # The answer is the first inference's: a stateful model (an LSTM keeps its state in variable
    # tensors) answers differently on later runs of the same input.
    output = interpreter.get_tensor(output_index).reshape(-1).copy()
    for _ in range(int(spec.get("warmup", 0))):
        interpreter.set_tensor(input_index, data)
        interpreter.invoke()
    runs = []
    for _ in range(int(spec.get("iterations", 1))):
        start = time.perf_counter()
        interpreter.set_tensor(input_index, data)
        interpreter.invoke()
        runs.append(_ms(start))
    timings["runs"] = runs
    return output, interpreter.get_tensor(output_index).reshape(-1)


def _read_answer(np, output, spec, result):
    """The top-k classes (raw and dequantized), the raw output of a small model, and its match with the
    expected output when the spec gives one."""
    scale = result["output"]["scale"]
    zero = result["output"]["zero_point"]
    top_k = int(spec.get("top_k", 5))
    order = np.argsort(-output.astype(np.float64), kind="stable")[:top_k]
    result["top"] = [
        [int(i), output[i].item(), float((float(output[i]) - zero) * scale) if scale else float(output[i])]
        for i in order
    ]
    if output.size <= 64:
        result["raw_output"] = [x.item() for x in output]
    expected = spec.get("expected_output")
    if expected is not None:
        tolerance = int(spec.get("tolerance", 0))
        got = [x.item() for x in output]
        result["output_matches"] = len(got) == len(expected) and all(
            abs(int(a) - int(b)) <= tolerance for a, b in zip(got, expected)
        )


def run(payload):
    skip = set(payload.get("skip") or ())
    names = [payload["module"]] if payload.get("module") else [c[0] for c in wk_tflite.CANDIDATES]
    capture = bool(payload.get("capture_stderr", False))
    errors = []
    for name in names:
        if "import-" + name in skip:
            continue
        wk_common.stage("import-" + name)
        with wk_common.CaptureStderr() as cap:
            try:
                loaded = wk_tflite.import_interpreter(name)
            except BaseException as exc:
                loaded = None
                errors.append(dict(wk_common.error_info(exc), module=name))
        if loaded is not None:
            return run_with(loaded, payload, capture=capture)
        errors[-1]["stderr"] = _strip_marks(cap.text)
    first = errors[0] if errors else {"error": "no TFLite interpreter is installed"}
    return {
        "status": "fail",
        "stage": "import",
        "error": first.get("error"),
        "stderr": first.get("stderr", ""),
        "traceback": first.get("traceback"),
        "import_errors": errors,
        "timings_ms": {},
    }
