"""Train the cause model on every labelled real error text the project keeps (tests/fixtures) and write it to
`matrix/cause_model.json`: `python -m edgedoctor.matrix.causemodel_build`. Apart from `causemodel` because it
needs the matrix (each labelled text's cause is its entry's), and the matrix needs the model."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from edgedoctor.matrix.causemodel import MODEL_FILE, build


def labelled_cases(
    fixtures: Path, entry_causes: Dict[str, str], include_holdouts: Sequence[str] = ()
) -> List[Tuple[str, str]]:
    """(cause, text) from tests/fixtures: real_errors/*.toml (cause of their entry) and the named holdout files."""
    from edgedoctor.util.tomlcompat import load_toml

    cases = []
    for path in sorted((fixtures / "real_errors").glob("*.toml")):
        for case in load_toml(path).get("error") or []:
            cause = entry_causes.get(case.get("entry"))
            if cause and case.get("text"):
                cases.append((cause, case["text"]))
    for name in include_holdouts:
        for case in load_toml(fixtures / f"{name}.toml").get("error") or []:
            cases.append((case["cause"], case["text"]))
    return cases


HOLDOUTS = ("holdout", "holdout2", "holdout3")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m edgedoctor.matrix.causemodel_build`: train on every labelled real text and write the model."""
    import argparse
    import json

    from edgedoctor import matrix
    from edgedoctor.util import datafiles

    parser = argparse.ArgumentParser(prog="python -m edgedoctor.matrix.causemodel_build")
    parser.add_argument("--fixtures", default=str(Path(__file__).resolve().parents[2] / "tests" / "fixtures"))
    args = parser.parse_args(argv)
    table = matrix.load()
    causes = {e.id: e.cause for e in table.entries}
    data = build(labelled_cases(Path(args.fixtures), causes, HOLDOUTS))
    out = datafiles.matrix_dir() / MODEL_FILE
    out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{out}: {data['documents']} texts, {len(data['causes'])} causes, {len(data['vocabulary'])} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
