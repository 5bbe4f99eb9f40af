#!/bin/sh
# Setup for the plan tier (tests/test_plan_venvs.py: the plan's pip and venv commands followed for real) and the
# tmux terminal test (tests/test_terminal_plan.py, fast tier, skipped without tmux).
# Needs: PyPI reachable (or the local index pip is configured with), Python 3.11 and 3.12 (pyenv or PATH;
# the tests skip without them), and tmux. Run: python3 -m pytest -m plan_tier
set -e
if ! command -v tmux >/dev/null 2>&1; then
    sudo apt-get update && sudo apt-get install -y tmux
fi
for version in 3.11 3.12; do
    command -v "python$version" >/dev/null 2>&1 || echo "note: python$version not found; its plan-tier cases will skip"
done
