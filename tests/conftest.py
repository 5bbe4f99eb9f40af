import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SHARED_MODELS = REPO.parent / "shared" / "models"

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from edgedoctor.cli import main

    def runner(*argv, env=None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return runner


@pytest.fixture(scope="session")
def report_schema():
    return json.loads((REPO / "edgedoctor" / "schema" / "report.schema.json").read_text())


@pytest.fixture
def validate_report(report_schema):
    import jsonschema

    def check(report):
        jsonschema.validate(report, report_schema)
        return report

    return check


@pytest.fixture(autouse=True)
def _examined_python_is_the_test_interpreter(monkeypatch):
    """`check` without --python examines the active virtual environment: make that the interpreter running the
    tests, whatever the developer's shell has active (tests of the choice itself pass their own environment)."""
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test writes to the real user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("EDGEDOCTOR_MODELS_URL", raising=False)
