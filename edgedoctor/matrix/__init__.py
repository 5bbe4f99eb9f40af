"""The matrix engine: load and validate the curated data (`matrix/`), match error texts and Facts to entries,
identify runtime releases, and the statistical fallback for texts no entry names."""

# TRANSITIONAL facade (being split): the old module's whole namespace.
from edgedoctor.matrix import engine as _engine

globals().update({k: v for k, v in vars(_engine).items() if not k.startswith("__")})
