"""The machine seam and how edgedoctor runs things on it: `System` (files under a root, environment, commands),
the examined interpreter, emulation, and the worker child process."""
