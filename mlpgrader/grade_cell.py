"""Grade one exercise cell: send it to the sandbox, judge what comes back.

``grade_source`` builds each case's inputs here (from the held-out cases of
``cases_seed`` when the instructor gives one, else the book's public cases), keeps a
pristine copy, sends the inputs (only the inputs) to the child, reads back what the
learner's function did, and hands it to the very ``judge_case`` that ``check`` uses in
a notebook. Nothing the child sends is executed or trusted beyond its value: any
reply that is not well-formed, and any failure while reading or judging it, costs
this exercise, never the grader.
"""
from __future__ import annotations

import copy
import signal
from typing import Optional

from mlpcore.exercises import Exercise, ExerciseResult, collect, judge_case
from mlpgrader import sandbox, wire
from mlpgrader.sandbox import DEFAULT_TIMEOUT
from mlpgrader.text import clean

__all__ = ["DEFAULT_TIMEOUT", "GraderError", "build_job", "exercise_cases", "grade_source",
           "result_from_reply"]


class GraderError(Exception):
    """The grader itself cannot grade this exercise (a case input it cannot send)."""


def exercise_cases(exercise: Exercise, cases_seed: Optional[int] = None) -> tuple:
    """The cases to grade with: drawn from ``cases_seed`` (the instructor's private
    seed), or the public cases the book's inline check uses when it is None."""
    if cases_seed is None:
        return tuple(exercise.cases)
    return tuple(exercise.cases_for(cases_seed))


def build_job(exercise: Exercise, source: str, mode: str, timeout: float = DEFAULT_TIMEOUT,
              cases: Optional[tuple] = None) -> tuple[bytes, list[tuple]]:
    """The child's job (JSON bytes) and the pristine inputs of every case."""
    pristines, encoded = [], []
    for case in (exercise.cases if cases is None else cases):
        arguments = case.make_inputs()
        pristines.append(copy.deepcopy(arguments))
        try:
            encoded.append(wire.encode(tuple(arguments), strict=True))
        except wire.WireError as exc:
            raise GraderError(f"{exercise.id}, case {case.name!r}: {exc}") from None
    job = wire.job_message(exercise.function, exercise.params, exercise.may_modify,
                           exercise.preamble, source, encoded,
                           dict(sandbox.LIMITS, RLIMIT_CPU=int(timeout) + 1),
                           no_processes=mode != "inprocess")
    return job, pristines


def grade_source(exercise: Exercise, source: str, mode: str = "bwrap",
                 timeout: float = DEFAULT_TIMEOUT,
                 cases_seed: Optional[int] = None) -> ExerciseResult:
    """Grade the source of an exercise cell (see the module docstring)."""
    cases = exercise_cases(exercise, cases_seed)
    job, pristines = build_job(exercise, source, mode, timeout, cases)
    run = sandbox.run_child(job, mode, timeout)
    if run.timed_out:
        return ExerciseResult.error(exercise, f"timed out after {timeout:g} s (an infinite "
                                              f"loop, or far too much work?)")
    if run.overflow:
        return ExerciseResult.error(exercise, f"the exercise's answer is over "
                                              f"{wire.REPLY_LIMIT // 2 ** 20} MiB")
    if not run.reply:
        return _no_reply(exercise, run)
    try:
        reply = wire.loads(run.reply)
        return result_from_reply(exercise, reply, pristines, cases)
    except Exception as exc:  # whatever the answer, it costs this exercise only
        return ExerciseResult.error(exercise, f"the exercise's process sent an unreadable "
                                              f"answer ({type(exc).__name__}: "
                                              f"{clean(str(exc), 120)})")


def result_from_reply(exercise: Exercise, reply: dict, pristines: list[tuple],
                      cases: Optional[tuple] = None) -> ExerciseResult:
    """The exercise's verdict from the child's reply."""
    cases = tuple(exercise.cases) if cases is None else cases
    if not isinstance(reply, dict):
        raise wire.WireError("the answer is not a JSON object")
    problem = clean(wire._string(reply.get("problem")), 400)
    if reply.get("fatal") is True:
        if reply.get("stub") is True:
            return collect(exercise, [])  # not attempted: no case ran
        return ExerciseResult.error(exercise, problem or "the exercise cell could not be run")
    described = reply.get("cases")
    if not isinstance(described, list) or len(described) != len(cases):
        raise wire.WireError("the answer does not have one entry per case")
    verdicts = [judge_case(exercise, case, pristine,
                           wire.read_call(entry, exercise.params, clean))
                for case, pristine, entry in zip(cases, pristines, described)]
    note = f"note: {problem} (ignored: the function was graded)" if problem else ""
    result = collect(exercise, verdicts, note)
    result.lines()  # summarising must work here, where a failure costs this exercise
    return result


def _no_reply(exercise: Exercise, run: sandbox.ChildRun) -> ExerciseResult:
    tail = clean(" ".join(run.stderr.strip().splitlines()[-3:]), 300)
    said = f" Its last output: {tail}" if tail else ""
    code = run.returncode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = {"SIGKILL": " (out of memory?)", "SIGXCPU": " (CPU time limit)",
                 "SIGXFSZ": " (wrote a file over the size limit)",
                 "SIGSYS": " (a forbidden system call)"}.get(name, "")
        return ExerciseResult.error(exercise, f"the exercise crashed Python: killed by "
                                              f"{name}{cause}.{said}")
    return ExerciseResult.error(
        exercise, f"the exercise ended its Python process (exit code {code}) before the "
                  f"tests could report, e.g. by calling os._exit or exit() at the top "
                  f"level of the cell.{said}")
