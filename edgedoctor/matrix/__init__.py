"""The matrix engine: load and validate the curated data (`matrix/`), match error texts and Facts to entries,
identify runtime releases, and the statistical fallback for texts no entry names.

The public surface is what the rest of edgedoctor uses; the modules behind it:
`engine` (entries, the table and its matching, loading, the compiled cache, stream readers, timing),
`signatures` and `wordindex` (the search engine), `releases`, `install`, `support` (the release table and what
installs where), `causemodel` (the statistical fallback; trained by `causemodel_build`)."""

from edgedoctor.matrix.engine import (
    CACHE_ENV,
    RUNTIME_KEYS,
    STACK_KEYS,
    ContextCollector,
    Entry,
    Match,
    Matrix,
    Problem,
    entry_times,
    evaluate,
    known_causes,
    load,
    preload,
    read_blocks,
    read_chunks,
    slow_entries,
    stale,
    validate,
)

__all__ = [
    "CACHE_ENV",
    "RUNTIME_KEYS",
    "STACK_KEYS",
    "ContextCollector",
    "Entry",
    "Match",
    "Matrix",
    "Problem",
    "entry_times",
    "evaluate",
    "known_causes",
    "load",
    "preload",
    "read_blocks",
    "read_chunks",
    "slow_entries",
    "stale",
    "validate",
]
