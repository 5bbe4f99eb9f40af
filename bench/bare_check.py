"""The least work that could tell a CPU stack works: import numpy and the TFLite interpreter, run one model once.

    PYTHON bench/bare_check.py MODEL.tflite

The baseline of the `check` benchmark (bench/run.py). Prints the top class; exit 0 when the model ran.
"""

import sys

import numpy as np

try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:  # pragma: no cover - LiteRT or full TensorFlow instead
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter

interpreter = Interpreter(model_path=sys.argv[1])
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
interpreter.invoke()
output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
print(int(output.argmax()))
