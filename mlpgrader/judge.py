"""Grade one exercise cell: the child computes, this process judges.

``grade_source`` builds each case's inputs here, keeps a pristine copy, sends the
inputs (only the inputs) to the child, reads back what the learner's function did,
and hands it to the very ``judge_case`` that ``check`` uses in a notebook. Nothing the
child sends is executed or trusted beyond its value: a reply that is not well-formed
costs the exercise, never the grader.
"""
from __future__ import annotations

import builtins
import copy
import json
import signal
from typing import Any

from mlpcore.exercises import (CallOutcome, Exercise, ExerciseResult, collect, judge_case)
from mlpgrader import sandbox, wire
from mlpgrader.text import clean

DEFAULT_TIMEOUT = 10.0
_REPLY_LIMIT = 32 * 2 ** 20


class GraderError(Exception):
    """The grader itself cannot grade this exercise (a case input it cannot send)."""


def build_job(exercise: Exercise, source: str, mode: str,
              timeout: float = DEFAULT_TIMEOUT) -> tuple[bytes, list[tuple]]:
    """The child's job (JSON bytes) and the pristine inputs of every case."""
    pristines, encoded = [], []
    for case in exercise.cases:
        arguments = case.make_inputs()
        pristines.append(copy.deepcopy(arguments))
        try:
            encoded.append(wire.encode(tuple(arguments), strict=True))
        except wire.WireError as exc:
            raise GraderError(f"{exercise.id}, case {case.name!r}: {exc}") from None
    params = list(exercise.params)
    job = {"function": exercise.function, "params": params,
           "may_modify": [params.index(name) for name in exercise.may_modify if name in params],
           "preamble": exercise.preamble, "source": source, "cases": encoded,
           "limits": dict(sandbox.LIMITS, RLIMIT_CPU=int(timeout) + 1),
           "no_processes": mode != "inprocess"}
    return json.dumps(job).encode("ascii"), pristines


def grade_source(exercise: Exercise, source: str, mode: str = "bwrap",
                 timeout: float = DEFAULT_TIMEOUT) -> ExerciseResult:
    """Grade the source of an exercise cell (see the module docstring)."""
    job, pristines = build_job(exercise, source, mode, timeout)
    run = sandbox.run_child(job, mode, timeout, _REPLY_LIMIT)
    if run.timed_out:
        return ExerciseResult.error(exercise, f"timed out after {timeout:g} s (an infinite "
                                              f"loop, or far too much work?)")
    if run.overflow:
        return ExerciseResult.error(exercise, f"the exercise's answer is over "
                                              f"{_REPLY_LIMIT // 2 ** 20} MiB")
    try:
        reply = wire.loads(run.reply, _REPLY_LIMIT) if run.reply else None
        if reply is not None:
            return result_from_reply(exercise, reply, pristines)
    except (wire.WireError, AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        return ExerciseResult.error(exercise, f"the exercise's process sent an unreadable "
                                              f"answer ({clean(str(exc), 120)})")
    return _no_reply(exercise, run)


def result_from_reply(exercise: Exercise, reply: dict, pristines: list[tuple]) -> ExerciseResult:
    """The exercise's verdict from the child's reply."""
    problem = clean(_string(reply.get("problem")), 400)
    if reply.get("fatal") is True:
        if reply.get("stub") is True:
            return collect(exercise, [])  # not attempted: no case ran
        return ExerciseResult.error(exercise, problem or "the exercise cell could not be run")
    cases = reply["cases"]
    if not isinstance(cases, list) or len(cases) != len(exercise.cases):
        raise wire.WireError("the answer does not have one entry per case")
    verdicts = [judge_case(exercise, case, pristine, _outcome(described, len(exercise.params)))
                for case, pristine, described in zip(exercise.cases, pristines, cases)]
    note = f"note: {problem} (ignored: the function was graded)" if problem else ""
    return collect(exercise, verdicts, note)


def _outcome(described: dict, n_params: int) -> CallOutcome:
    outcome = CallOutcome(changed=_name(described.get("changed")),
                          warning=clean(_string(described.get("warning")), 120))
    raised = described.get("raised")
    if raised is not None:
        if not isinstance(raised, dict):
            raise wire.WireError("a malformed exception")
        outcome.raised = rebuild_exception(raised)
        outcome.where = clean(_string(raised.get("where")), 200)
        outcome.exit_code = clean(_string(raised.get("exit_code")), 80)
        return outcome
    outcome.output = wire.decode(described["output"])
    after: list[Any] = [None] * n_params
    for index, value in (described.get("after") or {}).items():
        if str(index).isdigit() and int(index) < n_params:
            after[int(index)] = wire.decode(value)
    outcome.after = tuple(after)
    return outcome


def rebuild_exception(raised: dict) -> BaseException:
    """An exception of the same name and message, built here from plain data: a
    builtin class if that is what was raised, else a stand-in class of that name
    derived from the nearest builtin base (so hints that test isinstance still work)."""
    name = clean(_string(raised.get("type")), 80) or "Exception"
    message = clean(_string(raised.get("message")), 600)
    if name == "SystemExit":
        return SystemExit()
    bases = [getattr(builtins, base, None) for base in raised.get("bases") or []
             if isinstance(base, str)]
    bases = [base for base in bases if isinstance(base, type) and issubclass(base, Exception)]
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin(message)
    base = bases[0] if bases else Exception
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "Exception"
    return type(safe, (base,), {})(message)


def _string(value) -> str:
    return value if isinstance(value, str) else ""


def _name(value) -> str | None:
    return clean(value, 80) if isinstance(value, str) and value else None


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
