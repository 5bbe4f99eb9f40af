"""The known-good models: the manifest, the download cache, looking inside .tflite files, and turning a test
image into a model's input."""

# TRANSITIONAL facade (being split): the old module's whole namespace.
from edgedoctor.models import store as _store

globals().update({k: v for k, v in vars(_store).items() if not k.startswith("__")})
