"""The grader as a pytest plugin: one test per student × exercise.

    python -m pytest grading --submissions PATH [--report report.json]
           [--chapter ch00] [--exercise-timeout 10] [--grading-jobs N]
           [--shard K/N] [--no-sandbox]

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

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # mlpgrader is not installed: it lives beside mlpcore
    sys.path.insert(0, str(_ROOT))

from mlpgrader import grader as _grader  # noqa: E402
from mlpgrader.judge import DEFAULT_TIMEOUT  # noqa: E402
from mlpgrader.sandbox import SandboxUnavailable  # noqa: E402

_STATE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading exercise notebooks (mlpcore)")
    group.addoption("--submissions", action="append", metavar="PATH",
                    help="a notebook, a .py module or a folder of notebooks to grade "
                         "(repeatable)")
    group.addoption("--report", metavar="FILE", help="also write a JSON report here")
    group.addoption("--chapter", metavar="chNN",
                    help="the class's chapter: grade every submission as it, flagging "
                         "another chapter's notebook by name (default: each notebook's own)")
    group.addoption("--exercise-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help=f"time limit per exercise (default {DEFAULT_TIMEOUT:g} s)")
    group.addoption("--grading-jobs", type=int, default=None, metavar="N",
                    help="exercises graded in parallel (default: CPU count, at most 8)")
    group.addoption("--shard", metavar="K/N", default=None,
                    help="grade only slice K of N of the submissions (merge the reports "
                         "with python -m mlpgrader merge)")
    group.addoption("--no-sandbox", action="store_true", default=False,
                    help="grade without the bubblewrap sandbox (unsafe; the table and the "
                         "report say so)")


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
        shard = _grader.parse_shard(config.getoption("shard"))
        mode = _grader.sandbox_mode(config.getoption("no_sandbox"))
        submissions = _grader.plan(paths, config.getoption("chapter"), shard)
    except (ValueError, SandboxUnavailable) as exc:
        raise pytest.UsageError(f"grading: {exc}") from exc
    config.stash[_STATE] = {"submissions": submissions, "futures": None, "mode": mode,
                            "shard": shard, "timeout": config.getoption("exercise_timeout")}


def pytest_ignore_collect(collection_path, config):
    if _STATE not in config.stash and collection_path.name == "test_submissions.py":
        return True  # not grading (e.g. `pytest .`): nothing to collect here
    return None


def pytest_generate_tests(metafunc):
    state = metafunc.config.stash.get(_STATE, None)
    if state is None or "graded" not in metafunc.fixturenames:
        return
    params, ids = [], []
    for submission in state["submissions"]:
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
        state["futures"] = _grader.grade_all(
            state["submissions"], state["timeout"], session.config.getoption("grading_jobs"),
            state["mode"])


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
    for line in _grader.score_table(state["submissions"], state["mode"]):
        terminalreporter.write_line(line)
    report = config.getoption("report")
    if report:
        _grader.write_report(state["submissions"], report, state["timeout"], state["mode"],
                             state["shard"])
        terminalreporter.write_line(f"JSON report written to {report}")
