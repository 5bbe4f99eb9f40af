"""The README's set-up commands, read from the README itself, so that CI runs exactly what a newcomer pastes.

`python3 tests/readme_blocks.py install` prints the first ```sh block of "## Set up" (install edgedoctor, run
`edgedoctor check`), `... tests` the second (install the test extra, run the tests). .ci/run runs both.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Tuple

README = Path(__file__).resolve().parent.parent / "README.md"


def setup_blocks(readme: str) -> Tuple[str, str]:
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    if len(blocks) < 2:
        raise ValueError("README.md: '## Set up' must open with two ```sh blocks (install and check; tests)")
    return blocks[0].strip(), blocks[1].strip()


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    install, tests = setup_blocks(README.read_text(encoding="utf-8"))
    if which not in ("install", "tests"):
        sys.exit("usage: readme_blocks.py install|tests")
    print(install if which == "install" else tests)
