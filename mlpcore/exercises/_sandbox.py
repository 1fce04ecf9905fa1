"""Grade one exercise cell in a separate Python process with a time limit.

Whatever the cell does (loop forever, crash, call sys.exit or os._exit, try to write
outside its folder), the outcome is an ExerciseResult for that exercise alone. See
``_child`` for what the child refuses, and why it is a guard, not a sandbox.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from mlpcore.exercises._registry import Exercise
from mlpcore.exercises._runner import ExerciseResult

DEFAULT_TIMEOUT = 10.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from mlpcore.exercises._child import main; main()")
_OUTPUT_TAIL = 300


def _child_env(workdir: str) -> dict:
    """A small, fixed environment: nothing of the grader's own (tokens, paths) leaks
    in, and numerical libraries stay on one thread so parallel jobs do not fight."""
    env = {"HOME": workdir, "TMPDIR": workdir, "TEMP": workdir, "TMP": workdir,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "MLPCORE_QUIET": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    if os.name == "nt":  # Python needs these to start on Windows
        env.update({key: os.environ[key] for key in ("SYSTEMROOT", "COMSPEC") if key in os.environ})
    return env


def run_in_child(exercise: Exercise, source: str, timeout: float = DEFAULT_TIMEOUT) -> ExerciseResult:
    """Run ``source`` (an exercise cell) and the exercise's cases in a fresh process
    whose working folder, HOME and TMPDIR are a new temporary folder."""
    with tempfile.TemporaryDirectory(prefix="mlpcore-grade-") as private:
        workdir = os.path.join(private, "work")
        os.mkdir(workdir)
        result_path = os.path.join(private, "result.json")
        output_path = os.path.join(private, "output.txt")
        job = {"exercise": exercise.id, "source": source, "workdir": workdir,
               "result": result_path, "timeout": timeout}
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, _PACKAGE_ROOT],
                stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT,
                cwd=workdir, env=_child_env(workdir),
                start_new_session=(os.name == "posix"))
            try:
                process.communicate(json.dumps(job).encode("utf-8"), timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(process)
                return ExerciseResult.error(
                    exercise, f"timed out after {timeout:g} s (an infinite loop, or far too "
                              f"much work?)")
        return _read_result(exercise, result_path, process.returncode,
                            Path(output_path).read_bytes()[-4000:].decode("utf-8", "replace"))


def _kill(process: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _read_result(exercise: Exercise, result_path: str, returncode: int, output: str) -> ExerciseResult:
    try:
        with open(result_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        text = ""
    if text:
        try:
            result = ExerciseResult.from_dict(json.loads(text))
        except (ValueError, TypeError) as exc:
            return ExerciseResult.error(exercise, f"the exercise's process wrote an unreadable "
                                                  f"result ({type(exc).__name__})")
        if result.exercise != exercise.id:
            return ExerciseResult.error(exercise, "the exercise's process reported on another "
                                                  "exercise")
        # A result can never claim more than the exercise is worth.
        result.points = max(0, min(int(result.points), exercise.max_points))
        result.max_points = exercise.max_points
        return result
    tail = " ".join(output.strip().splitlines()[-3:])[-_OUTPUT_TAIL:]
    said = f" Its last output: {tail}" if tail else ""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        cause = {"SIGKILL": " (out of memory?)", "SIGXCPU": " (CPU time limit)",
                 "SIGXFSZ": " (wrote a file over the size limit)"}.get(name, "")
        return ExerciseResult.error(exercise, f"the exercise crashed Python: killed by "
                                              f"{name}{cause}.{said}")
    return ExerciseResult.error(
        exercise, f"the exercise ended its Python process (exit code {returncode}) before "
                  f"the tests could report, e.g. by calling os._exit or exit() at the top "
                  f"level of the cell.{said}")
