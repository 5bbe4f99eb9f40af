"""The child-process worker. Its modules run under the *examined* interpreter (Python 3.6 and newer) with
the standard library only, so they are never imported by edgedoctor itself: `edgedoctor.machine.workerproc` runs
this folder as a script (`python -B <folder> TASK`), the payload as JSON on stdin, the result as JSON on
stdout. Module names carry a `wk_` prefix so they cannot collide with the target's packages."""

import os

WORKER_DIR = os.path.dirname(os.path.abspath(__file__))
