"""Small helpers every floor may use: TOML on every Python, where the curated data lives, text made safe to print."""
