"""Sub-commands. Each module has `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int` (an exit code
from `edgedoctor.exitcodes`). `edgedoctor.cli` imports a command's module only when it runs, so start-up
stays fast. Commands stay thin: they parse, call the core, render."""

# (module name under edgedoctor.commands, command name, one-line help); the CLI lists them in this order.
COMMANDS = (
    ("check", "check", "examine this machine's Coral Edge TPU setup"),
    ("plan", "plan", "print one ordered plan that takes this machine to a known-good stack (never runs it)"),
    ("explain", "explain", "name the known cause of an error text or log"),
    ("diagnose", "diagnose", "re-judge a saved JSON report with today's matrix"),
    ("summarize", "summarize", "a fleet view over many JSON reports"),
    ("models_cmd", "models", "list, fetch and verify the known-good models"),
    ("model_info", "model-info", "look inside a .tflite model without hardware"),
    ("matrix_cmd", "matrix", "list, show and validate the compatibility matrix"),
)
