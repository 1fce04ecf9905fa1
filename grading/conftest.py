"""The grader as a pytest plugin: one test per student × exercise.

    python -m pytest grading --submissions PATH [--report report.json]
           [--chapter ch00] [--exercise-timeout 10] [--jobs N]
           [--shard K/N] [--no-sandbox] [--cases-seed N | --cases-seed-file PATH]

PATH is a notebook, a .py module, or a folder of notebooks (repeat --submissions for
several). Every exercise runs in its own bubblewrap sandbox with a time limit; the
sandbox only computes the learner's outputs, and the same cases as the inline checks
(mlpcore/exercises/chNN.py) judge them here. At the end a score table is printed,
and with --report a JSON file with every student's points and messages. Without a
working sandbox the grader refuses, unless --no-sandbox is given.
A test passes only with full points, so the exit status is 0 only if every
submission is perfect, 1 if the class was graded and some submission has less, 4 if
nothing was graded (bad options): the same as `mlpgrader grade` (docs/grading.md).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mlpgrader import options as _options
from mlpgrader.sandbox import SandboxUnavailable

_STATE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading exercise notebooks (mlpcore)")
    group.addoption("--submissions", action="append", metavar="PATH",
                    help="a notebook, a .py module or a folder of notebooks to grade "
                         "(repeatable)")
    _options.add_to(group.addoption)  # the same options as python -m mlpgrader grade


def _grading_requested(config) -> bool:
    here = Path(__file__).resolve().parent
    return any(Path(str(arg).split("::")[0]).resolve().is_relative_to(here)
               for arg in config.args)


def pytest_configure(config):
    try:
        paths = config.getoption("submissions")
    except ValueError:  # this conftest was found late: the options do not exist
        paths = None
    if not paths:
        if _grading_requested(config):
            raise pytest.UsageError(
                "the grader needs submissions: python -m pytest grading --submissions PATH "
                "(a notebook, a .py module or a folder of notebooks); see docs/grading.md")
        return
    try:
        run = _options.start(paths, config.getoption)
    except (ValueError, SandboxUnavailable) as exc:
        raise pytest.UsageError(f"grading: {exc}") from exc
    config.stash[_STATE] = {"run": run, "futures": None}


def pytest_ignore_collect(collection_path, config):
    if _STATE not in config.stash and collection_path.name == "test_submissions.py":
        return True  # not grading (e.g. `pytest .`): nothing to collect here
    return None


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash.get(_STATE, None)
    if state is None or "graded" not in metafunc.fixturenames:
        return
    params, ids = [], []
    for submission in state["run"].submissions:
        if submission.error:
            params.append((submission, None))
            ids.append(f"{_ascii(submission.student)}/notebook")
        for exercise in submission.exercises:
            params.append((submission, exercise))
            ids.append(f"{_ascii(submission.student)}/{exercise.id}")
    metafunc.parametrize("graded", params, ids=ids, indirect=True)


def _ascii(name: str) -> str:
    """A test id that is safe in any terminal (student names are already escaped)."""
    return name.encode("ascii", "backslashreplace").decode("ascii")


def pytest_collection_finish(session):
    state = session.config.stash.get(_STATE, None)
    if state is not None and state["futures"] is None:
        state["futures"] = state["run"].grade()


@pytest.fixture
def graded(request):
    """(submission, exercise, result): waits for that exercise's grading process."""
    submission, exercise = request.param
    if exercise is None:
        return submission, None, None
    future = request.config.stash[_STATE]["futures"][(submission.student, exercise.id)]
    return submission, exercise, future.result()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = config.stash.get(_STATE, None)
    if state is None or state["futures"] is None:
        return
    for future in state["futures"].values():  # e.g. after -x, let the rest finish
        future.result()
    terminalreporter.section("exercise scores")
    for line in _options.finish(state["run"]):
        terminalreporter.write_line(line)
    if state["run"].report:
        terminalreporter.write_line(f"JSON report written to {state['run'].report}")
