"""Readers: each module's `read(ctx) -> dict` returns one section of Facts. Only readers touch the machine,
and only through `ctx.system` (files under a root, environment, commands) and the worker (child process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System


@dataclass
class ProbeContext:
    system: System
    options: CheckOptions
    facts: Dict[str, Any] = field(default_factory=dict)  # sections read so far (inference reads the others)
