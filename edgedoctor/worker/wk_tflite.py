# Find and import a TFLite interpreter the way Coral's examples do. Python 3.6+, standard library only.
import wk_common

# (distribution name, module holding Interpreter and load_delegate)
CANDIDATES = (
    ("tflite_runtime", "tflite-runtime", "tflite_runtime.interpreter"),
    ("ai_edge_litert", "ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tensorflow", "tensorflow", "tensorflow.lite"),
)


def locate():
    """Each candidate's origin and installed version, without importing anything."""
    found = {}
    for top, dist, _ in CANDIDATES:
        origin, error = wk_common.module_origin(top)
        meta = wk_common.dist_info(dist) or (wk_common.dist_info("tensorflow-cpu") if top == "tensorflow" else None)
        found[top] = {
            "found": origin is not None,
            "path": origin,
            "dist_version": meta["version"] if meta else None,
            "error": error,
        }
    return found


class Loaded(object):
    def __init__(self, name, version, interpreter_cls, load_delegate, module_file):
        self.name = name
        self.version = version
        self.Interpreter = interpreter_cls
        self.load_delegate = load_delegate
        self.module_file = module_file


def import_interpreter(name):
    """Import one candidate; returns Loaded or raises what the import raised."""
    if name == "tensorflow":
        import tensorflow as tf

        return Loaded(
            name,
            getattr(tf, "__version__", None),
            tf.lite.Interpreter,
            tf.lite.experimental.load_delegate,
            getattr(tf, "__file__", None),
        )
    if name == "tflite_runtime":
        import tflite_runtime
        from tflite_runtime import interpreter as mod
    elif name == "ai_edge_litert":
        import ai_edge_litert as tflite_runtime  # noqa: N813
        from ai_edge_litert import interpreter as mod
    else:
        raise ImportError("unknown interpreter %r" % name)
    version = getattr(tflite_runtime, "__version__", None)
    if version is None:
        meta = wk_common.dist_info(name.replace("_", "-"))
        version = meta["version"] if meta else None
    return Loaded(name, version, mod.Interpreter, mod.load_delegate, getattr(mod, "__file__", None))
