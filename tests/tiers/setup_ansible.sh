#!/bin/sh
# Ansible fleet test (pytest -m container_tier tests/test_ansible_fleet.py): ansible-core and pipx from PyPI in
# their own venv; the test finds ansible-playbook there (or on PATH). Python 3.7 for the hosts' examined
# interpreter comes from the test venv cache (tests/venvs.py, pyenv).
set -eu
VENV=${EDGEDOCTOR_ANSIBLE_VENV:-/var/tmp/edgedoctor-ansible}
[ -x "$VENV/bin/ansible-playbook" ] && [ -x "$VENV/bin/pipx" ] && exit 0
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q ansible-core pipx
