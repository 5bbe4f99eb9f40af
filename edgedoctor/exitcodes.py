"""Named exit codes: the contract that users' scripts and lab CI rely on."""

SUCCESS = 0  # no failure
FAILURE = 1  # at least one failure, or a --require not met (warnings too with --strict)
USAGE_ERROR = 2  # bad command line
INTERNAL_ERROR = 3  # edgedoctor's own bug (it still prints what it has)
