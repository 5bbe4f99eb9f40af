"""From Facts to a judged Report: the checks plus the matrix (diagnoses), lab requirements, the plan, and
`explain` for error texts. Pure: no I/O."""
