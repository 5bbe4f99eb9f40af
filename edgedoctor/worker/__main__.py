# The worker's entry point: python -B <worker folder> TASK < payload.json > result.json
# Python 3.6+, standard library only.
import json
import os
import sys

import wk_common  # noqa: E402  (sys.path[0] is this folder)


def _tasks():
    import wk_env
    import wk_infer
    import wk_runtime

    return {"env": wk_env.run, "infer": wk_infer.run, "runtime": wk_runtime.run}


def main():
    wk_common.take_stdout()
    task = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        payload = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        wk_common.emit({"ok": False, "task": task, "error": "bad payload: %s" % exc})
        return 2
    try:
        tasks = _tasks()
    except Exception as exc:
        wk_common.emit(dict({"ok": False, "task": task}, **wk_common.error_info(exc)))
        return 3
    if task not in tasks:
        wk_common.emit({"ok": False, "task": task, "error": "unknown task %r" % task})
        return 2
    # Users run their scripts from their project folder: that folder comes first on sys.path for them, so a
    # cloned pycoral or tflite_runtime source tree there shadows the installed package. Examine it the same way.
    cwd = payload.get("cwd") or os.getcwd()
    if payload.get("cwd_on_path", True) and cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        result = tasks[task](payload)
    except BaseException as exc:  # the task's own bug: still a clean, parseable answer
        wk_common.emit(dict({"ok": False, "task": task}, **wk_common.error_info(exc)))
        return 3
    wk_common.emit({"ok": True, "task": task, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
