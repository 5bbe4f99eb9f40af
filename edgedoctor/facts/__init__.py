"""Facts: run the probes (readers) into one snapshot, on the host or inside a container, and the flat view
of it that matrix conditions read."""
