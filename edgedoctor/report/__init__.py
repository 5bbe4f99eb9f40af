"""The Report: findings, the JSON document and its summary, reading saved reports as untrusted data,
redaction, and the fleet view over many reports."""
