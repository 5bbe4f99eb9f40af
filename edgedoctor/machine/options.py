"""What a check run was asked to do. Built by the CLI, passed to probes and checks; tests build it directly."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class CheckOptions:
    python: str = sys.executable  # the examined interpreter (--python, or edgedoctor.machine.interpreter.choose)
    python_choice: Optional[Dict[str, Any]] = None  # how it was chosen (interpreter.describe), for the report
    timeout: float = 60.0  # seconds for each child-process probe (--timeout)
    offline: bool = False  # never open a network connection (--offline)
    models_dir: Optional[str] = None  # a mirror folder with the known-good files (--models-dir)
    models_url: Optional[str] = None  # a mirror base URL (--models-url / EDGEDOCTOR_MODELS_URL)
    model_set: Optional[str] = None  # which known-good set to run (--model-set); None: the manifest default
    iterations: int = 10  # timed inferences per run (--iterations)
    cache_dir: Optional[str] = None  # overrides the per-user cache folder
    cwd: str = field(default_factory=os.getcwd)  # where the user runs their scripts (shadowing)
    run_models: bool = True  # --no-models skips the model runs
    requirements: List[str] = field(default_factory=list)  # --require NAME[,NAME]
