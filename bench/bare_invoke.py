"""A bare loop of `invoke()`: the reference for edgedoctor's reported CPU latency.

    PYTHON bench/bare_invoke.py MODEL.tflite [ITERATIONS] [WARMUP]

Loads the model with the interpreter's default options (as edgedoctor's worker does), fills the input with
fixed pseudo-random bytes, runs WARMUP untimed inferences, then ITERATIONS timed `invoke()` calls, and prints
{"median_ms", "min_ms", "runs_ms"} as JSON.
"""

import json
import statistics
import sys
import time

import numpy as np

try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:  # pragma: no cover
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter

model = sys.argv[1]
iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 10
warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 1

interpreter = Interpreter(model_path=model)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
data = np.random.default_rng(1).integers(0, 256, size=detail["shape"]).astype(detail["dtype"])
interpreter.set_tensor(detail["index"], data)
interpreter.invoke()  # the first inference, as edgedoctor times it on its own
for _ in range(warmup):
    interpreter.invoke()
runs = []
for _ in range(iterations):
    start = time.perf_counter()
    interpreter.invoke()
    runs.append((time.perf_counter() - start) * 1000.0)
print(json.dumps({"median_ms": statistics.median(runs), "min_ms": min(runs), "runs_ms": runs}))
