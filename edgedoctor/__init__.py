"""edgedoctor: diagnose Google Coral Edge TPU setups."""

__version__ = "0.1.0"
