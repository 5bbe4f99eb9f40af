#!/usr/bin/env python3
"""Record what a real engine answers for `check --container`, for the fast tier's transcript tests.

    python3 tests/tiers/record_container_transcripts.py [--engine podman] LABEL=CONTAINER ...

Run after tests/tiers/setup_containers.sh has started the test containers. For each container, writes under
tests/fixtures/containers/LABEL/:
  engine.json   every docker/podman command edgedoctor ran (inspect, exec ls/cat/python3 -c, ...) with its
                exit code, stdout and stderr, verbatim
  worker.jsonl  each worker run streamed into the container (`exec -i NAME python3 -B -`): task, exit code,
                stdout, stderr
  report.json   the report it gave (for reference; the tests judge the facts again)
"""

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from edgedoctor.diagnosis.judge import judge  # noqa: E402
from edgedoctor.facts import collect_container  # noqa: E402
from edgedoctor.machine.options import CheckOptions  # noqa: E402
from edgedoctor.machine.system import System, run_command  # noqa: E402
from edgedoctor.report import redact  # noqa: E402


class Recorder:
    def __init__(self):
        self.entries = []

    def __call__(self, argv, timeout=10.0):
        result = run_command(argv, timeout)
        if argv and os.path.basename(argv[0]) in ("docker", "podman"):
            self.entries.append(
                {
                    "argv": list(argv),
                    "returncode": result.returncode,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "error": result.error,
                }
            )
        return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default=None)
    parser.add_argument("--models-dir", default=str(REPO.parent / "shared" / "models"))
    parser.add_argument("pairs", nargs="+", metavar="LABEL=CONTAINER")
    args = parser.parse_args()
    for pair in args.pairs:
        label, _, name = pair.partition("=")
        out = REPO / "tests" / "fixtures" / "containers" / label
        out.mkdir(parents=True, exist_ok=True)
        worker = out / "worker.jsonl"
        worker.write_text("")
        os.environ["EDGEDOCTOR_CONTAINER_RECORD"] = str(worker)
        recorder = Recorder()
        options = CheckOptions(
            offline=True,
            timeout=120,
            models_dir=args.models_dir if Path(args.models_dir).is_dir() else None,
            iterations=3,
        )
        facts = collect_container.collect(System.host(), options, name, args.engine, engine_run=recorder)
        (out / "engine.json").write_text(json.dumps(recorder.entries, indent=1) + "\n")
        (out / "report.json").write_text(json.dumps(redact.redact_report(judge(facts)), indent=1) + "\n")
        print(
            f"{label}: {len(recorder.entries)} engine commands, "
            f"{len(worker.read_text().splitlines())} worker runs -> {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
