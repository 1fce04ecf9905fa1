"""The grader: the same cases as the inline checks, one sandbox per exercise, and a
zero with a clear message (never a crash) for whatever a submission does wrong.
(Deliberate attacks are in test_grading_hostile.py, malformed files in
test_grading_malformed.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from booktools import make_student_edition as make_student
from mlpcore.exercises import run_exercise
from mlpgrader.grader import (discover, grade_all, grade_exercise, plan, score_table,
                              write_report)
from tests._support import ROOT, edition_path
from tests.exercises._support import define
from tests.exercises.test_exercises_ch00 import MUTANTS
from tests.grader._support import (cell_text, ch00_exercises, chapter0_notebook, sandbox_mode,
                                   signature, with_cell, write)

EXERCISES = ch00_exercises()
FIRST, SECOND, LAST = EXERCISES[0], EXERCISES[1], EXERCISES[-1]
MAX = sum(exercise.max_points for exercise in EXERCISES)
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def reference_path(tmp_path_factory) -> Path:
    return chapter0_notebook(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def reference(reference_path) -> dict:
    return json.loads(nbformat.writes(nbformat.read(reference_path, as_version=4)))


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder outside every exercise's temporary folder: nothing may appear in it."""
    return tmp_path_factory.mktemp("outside")


def first_mutant(exercise_id: str) -> str:
    return textwrap.dedent(next(m[2] for m in MUTANTS if m[0] == exercise_id))


def prepend(reference: dict, function: str, lines: str) -> dict:
    return with_cell(reference, function, lines + cell_text(reference, function))


@pytest.fixture(scope="module")
def mode() -> str:
    return sandbox_mode()


@pytest.fixture(scope="module")
def graded(reference, reference_path, outside, tmp_path_factory, mode):
    """A class of submissions, graded once: student name -> Submission."""
    folder = tmp_path_factory.mktemp("class")
    write(reference, folder / "reference.ipynb")
    student, _ = make_student.student_notebook(nbformat.read(edition_path(reference_path), as_version=4),
                                               "00_mlp_in_numpy")
    nbformat.write(student, folder / "student.ipynb")
    mutant = reference
    for exercise in EXERCISES:
        mutant = with_cell(mutant, exercise.function, first_mutant(exercise.id))
    write(mutant, folder / "mutants.ipynb")
    (folder / "not_json.ipynb").write_text("{ this is not a notebook", encoding="utf-8")
    missing = dict(reference, cells=[c for c in reference["cells"]
                                     if f"def {LAST.function}(" not in "".join(c["source"])])
    write(missing, folder / "missing_exercise.ipynb")
    write(with_cell(reference, FIRST.function, signature(FIRST) + "    return x y\n"),
          folder / "syntax_error.ipynb")
    write(with_cell(reference, SECOND.function,
                    f"def {SECOND.function}(only_one):\n    return only_one\n"),
          folder / "wrong_signature.ipynb")
    write(with_cell(reference, LAST.function, signature(LAST) + "    while True:\n        pass\n"),
          folder / "infinite_loop.ipynb")
    write(prepend(reference, SECOND.function, "import sys\nsys.exit(3)\n"),
          folder / "sys_exit.ipynb")
    write(prepend(reference, FIRST.function, "import os\nos._exit(7)\n"),
          folder / "os_exit.ipynb")
    write(prepend(reference, LAST.function,
                  f"open({str(outside / 'written.txt')!r}, 'w').write('x')\n"),
          folder / "writes_outside.ipynb")
    write(prepend(reference, LAST.function,
                  f"import subprocess\nsubprocess.run(['touch', {str(outside / 'spawned')!r}])\n"),
          folder / "spawns.ipynb")
    write(prepend(reference, FIRST.function,
                  "import os\nopen('scratch.txt', 'w').write('fine')\nos.remove('scratch.txt')\n"),
          folder / "writes_inside.ipynb")
    module = tmp_path_factory.mktemp("module") / "module_student.py"
    module.write_text("import numpy as np\n\n" + "\n\n".join(
        cell_text(reference, e.function) for e in EXERCISES) + "\n", encoding="utf-8")

    submissions = plan([str(folder), str(module)])
    for future in grade_all(submissions, timeout=TIMEOUT, mode=mode).values():
        future.result()
    return {submission.student: submission for submission in submissions}


def results(submission) -> dict:
    return {exercise_id.split(".")[1]: result for exercise_id, result in submission.results.items()}


@pytest.mark.parametrize("student", ["reference", "module_student", "writes_inside"])
def test_reference_solutions_score_100_percent(graded, student):
    submission = graded[student]
    assert submission.chapter == "ch00"
    assert submission.points == submission.max_points > 0, score_table([submission])


def test_student_edition_scores_zero_not_attempted(graded):
    submission = graded["student"]
    assert submission.points == 0
    assert {r.status for r in submission.results.values()} == {"not_attempted"}


def test_grader_and_inline_check_agree_on_mutants(graded):
    """Same cases, same verdicts: what `check` says in the notebook is what the grader
    scores."""
    for exercise in EXERCISES:
        by_grader = graded["mutants"].results[exercise.id]
        inline = run_exercise(exercise, define(first_mutant(exercise.id), exercise.function))
        assert by_grader.points < exercise.max_points
        assert [(c.name, c.status, c.points, c.hint) for c in by_grader.cases] == \
               [(c.name, c.status, c.points, c.hint) for c in inline.cases]


@pytest.mark.parametrize("student, function, fragment", [
    ("missing_exercise", LAST.function, "exercise cell not found"),
    ("syntax_error", FIRST.function, "syntax error in the exercise cell, line 2"),
    ("wrong_signature", SECOND.function, "wrong signature"),
    ("infinite_loop", LAST.function, f"timed out after {TIMEOUT:g} s"),
    ("sys_exit", SECOND.function, "called sys.exit(3)"),
    ("os_exit", FIRST.function, "exit code 7"),
    ("writes_outside", LAST.function, "raised FileNotFoundError, line 1"),
    ("spawns", LAST.function, "raised PermissionError, line 2: [Errno 1]"),
])
def test_a_broken_exercise_costs_that_exercise_only(graded, student, function, fragment):
    submission = graded[student]
    broken = results(submission)[function]
    assert broken.points == 0 and broken.status == "error"
    assert fragment in broken.message, broken.message
    for name, result in results(submission).items():
        if name != function:
            assert result.points == result.max_points, (name, result.summary())


def test_nothing_is_written_outside_the_temporary_folder(graded, outside):
    assert graded["writes_outside"].results and graded["spawns"].results
    assert list(outside.iterdir()) == []
    assert not (ROOT / "scratch.txt").exists() and not Path("scratch.txt").exists()


def test_unreadable_notebook_scores_zero_with_a_clear_message(graded):
    submission = graded["not_json"]
    assert submission.chapter == "ch00", "the chapter comes from the rest of the class"
    assert len(submission.results) == len(EXERCISES) and submission.points == 0
    for result in submission.results.values():
        assert result.message.startswith("could not read notebook: not valid JSON")


def test_report_has_points_and_messages_per_student_and_exercise(graded, tmp_path):
    path = tmp_path / "report.json"
    write_report(list(graded.values()), str(path), TIMEOUT)
    report = json.loads(path.read_text(encoding="utf-8"))
    by_student = {s["student"]: s for s in report["submissions"]}
    assert set(by_student) == set(graded)
    assert by_student["reference"]["percent"] == 100.0
    syntax = {e["id"]: e for e in by_student["syntax_error"]["exercises"]}
    assert syntax[FIRST.id]["points"] == 0
    assert "syntax error" in syntax[FIRST.id]["messages"][0]
    assert report["max_points"] == sum(s["max_points"] for s in report["submissions"])


def test_score_table_lists_every_student_with_a_total(graded):
    table = "\n".join(score_table(list(graded.values())))
    for student in graded:
        assert f"\n{student} " in table
    assert f"{MAX}/{MAX} (100 %)" in table and f"0/{FIRST.max_points} not attempted" in table


def test_discover_names_students_by_file_and_skips_checkpoints(tmp_path):
    (tmp_path / "group" / ".ipynb_checkpoints").mkdir(parents=True)
    for name in ["alice.ipynb", "group/bob.ipynb", "group/.ipynb_checkpoints/bob-checkpoint.ipynb"]:
        (tmp_path / name).write_text("{}", encoding="utf-8")
    assert [s for s, _ in discover([str(tmp_path)])] == ["alice", "group/bob"]
    twin = tmp_path / "other" / "alice.ipynb"
    twin.parent.mkdir()
    twin.write_text("{}", encoding="utf-8")
    names = [s for s, _ in discover([str(tmp_path / "alice.ipynb"), str(twin), str(twin)])]
    assert len(set(names)) == 3 and names[1].startswith("other/alice")
    with pytest.raises(ValueError, match="no such file"):
        discover([str(tmp_path / "nobody")])
    with pytest.raises(ValueError, match="no notebooks"):
        discover([str(tmp_path / "group" / ".ipynb_checkpoints")])


def test_chapter_comes_from_content_then_name_then_instructor(tmp_path, reference):
    write(reference, tmp_path / "alice.ipynb")
    (tmp_path / "bob_ch00.ipynb").write_text("not json", encoding="utf-8")
    chapters = {s.student: s.chapter for s in plan([str(tmp_path)])}
    assert chapters == {"alice": "ch00", "bob_ch00": "ch00"}
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "carol.ipynb").write_text("not json", encoding="utf-8")
    (carol,) = plan([str(lonely)])
    assert carol.chapter is None and "--chapter" in carol.error
    (carol,) = plan([str(lonely)], chapter="ch00")
    assert carol.chapter == "ch00"
    with pytest.raises(ValueError, match="unknown chapter"):
        plan([str(lonely)], chapter="ch99")


def test_timeout_message_and_exercise_process_is_killed(reference, tmp_path, mode):
    notebook = with_cell(reference, FIRST.function,
                         signature(FIRST) + "    while True:\n        pass\n")
    (submission,) = plan([str(write(notebook, tmp_path / "loop.ipynb"))])
    result = grade_exercise(submission, FIRST, mode, timeout=1.0)
    assert result.status == "error" and "timed out after 1 s" in result.message


def run_grader(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pytest", "grading", "-p", "no:cacheprovider",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_pytest_command_grades_a_folder_and_writes_a_report(reference, tmp_path, mode):
    folder = tmp_path / "submissions"
    folder.mkdir()
    write(reference, folder / "ada.ipynb")
    (folder / "bob.ipynb").write_text("not a notebook", encoding="utf-8")
    report = tmp_path / "report.json"
    run = run_grader("--submissions", str(folder), "--report", str(report),
                     "--exercise-timeout", "10")
    assert run.returncode == 1, run.stdout + run.stderr  # bob's tests fail; the grader does not crash
    out = run.stdout
    assert "exercise scores" in out and "JSON report written" in out
    assert f"{len(EXERCISES)} failed, {len(EXERCISES)} passed" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(("ada ", "bob "))}
    assert lines["ada"].endswith(f"{MAX}/{MAX} (100 %)") and lines["bob"].endswith(f"0/{MAX} (0 %)")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [s["points"] for s in data["submissions"]] == [MAX, 0]


def test_the_pytest_command_explains_a_missing_submissions_option():
    run = run_grader()
    assert run.returncode == 4
    assert "--submissions PATH" in run.stderr


# ---- the sandbox's absence, and Generator inputs ---------------------------------
def test_without_a_sandbox_the_grader_refuses_unless_told(reference, tmp_path, monkeypatch):
    from mlpgrader import grader, sandbox
    write(reference, tmp_path / "ada.ipynb")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH="/nonexistent")  # no bwrap on PATH
    refused = subprocess.run([sys.executable, "-m", "pytest", "grading", "-p", "no:cacheprovider",
                              "--submissions", str(tmp_path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 4 and "refusing to grade" in refused.stderr
    assert "--no-sandbox" in refused.stderr
    report = tmp_path / "report.json"
    allowed = subprocess.run([sys.executable, "-m", "mlpgrader", "grade", str(tmp_path / "ada.ipynb"),
                              "--no-sandbox", "--report", str(report)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith(f"WARNING: {sandbox.UNSANDBOXED_WARNING}")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["grader"]["sandbox"] == "none" and data["grader"]["warning"]
    assert data["points"] == MAX
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.check_sandbox.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
            grader.sandbox_mode(no_sandbox=False)
    finally:
        sandbox.check_sandbox.cache_clear()


def dropout_exercise():
    """A chapter-2-style exercise: the mask is drawn from the Generator argument and
    the judge replays the same generator from its pristine copy."""
    from mlpcore.exercises import Case, Exercise, compare_array, fixed_cases

    def judge(inputs, output):
        x, p, rng = inputs
        mask = rng.random(x.shape) >= p
        return compare_array("y", output, x * mask / (1 - p))

    def inputs(seed):
        return lambda: (np.random.default_rng(seed).standard_normal((4, 5)), 0.5,
                        np.random.default_rng(seed + 100))
    return Exercise(id="ch02.dropout_forward", function="dropout_forward",
                    params=("x", "p", "rng"),
                    case_generator=fixed_cases(Case("a", inputs(1), judge), Case("b", inputs(2), judge)))


DROPOUT = "def dropout_forward(x, p, rng):\n    return x * (rng.random(x.shape) >= p) / (1 - p)\n"
FRESH_RNG = ("def dropout_forward(x, p, rng):\n    rng = np.random.default_rng(0)\n"
             "    return x * (rng.random(x.shape) >= p) / (1 - p)\n")


def test_generator_inputs_reach_the_sandbox_in_the_same_state(mode):
    from mlpgrader.grade_cell import grade_source
    exercise = dropout_exercise()
    namespace = {"np": np}
    exec(DROPOUT, namespace)
    assert run_exercise(exercise, namespace["dropout_forward"]).points == 2
    assert grade_source(exercise, DROPOUT, mode).points == 2
    assert grade_source(exercise, FRESH_RNG, mode).points == 0


def inplace_exercise():
    """An in-place update: `param` may change and the judge reads it after the call
    (a three-argument judge); `grad` may not change."""
    from mlpcore.exercises import Case, Exercise, Failure, compare_array, fixed_cases

    def judge(inputs, output, after):
        param, grad, lr = inputs
        if output is not None:
            return Failure("return nothing: the update happens in place")
        return compare_array("param after the step", after[0], param - lr * grad)

    def inputs(seed):
        rng = np.random.default_rng(seed)
        return lambda: (rng.standard_normal(3), rng.standard_normal(3), 0.1)
    return Exercise(id="ch02.sgd_step_", function="sgd_step_", params=("param", "grad", "lr"),
                    may_modify=frozenset({"param"}),
                    case_generator=fixed_cases(Case("a", inputs(1), judge), Case("b", inputs(2), judge)))


@pytest.mark.parametrize("source, points, fragment", [
    ("def sgd_step_(param, grad, lr):\n    param -= lr * grad\n", 2, ""),
    ("def sgd_step_(param, grad, lr):\n    return param - lr * grad\n", 0, "return nothing"),
    ("def sgd_step_(param, grad, lr):\n    grad *= lr\n    param -= grad\n", 0,
     "changed its input `grad` in place"),
])
def test_arguments_an_exercise_may_modify_come_back_from_the_sandbox(mode, source, points, fragment):
    from mlpgrader.grade_cell import grade_source
    exercise = inplace_exercise()
    namespace = {"np": np}
    exec(source, namespace)
    inline = run_exercise(exercise, namespace["sgd_step_"])
    sandboxed = grade_source(exercise, source, mode)
    assert inline.points == sandboxed.points == points, sandboxed.summary()
    assert fragment in sandboxed.summary()
    assert [c.message for c in inline.cases] == [c.message for c in sandboxed.cases]


@pytest.mark.parametrize("reply", [b"[]", b"{}", b'{"fatal": false, "cases": [1, 2, 3]}',
                                   b'{"fatal": false, "cases": 7}', b"[" * 100_000,
                                   b'{"fatal": false, "cases": [{"output": {"$": "array", '
                                   b'"dtype": "|O8", "shape": [1], "data": ""}}]}'])
def test_a_malformed_answer_from_the_child_costs_the_exercise_only(reply, monkeypatch):
    """Whatever bytes come back over the pipe, the parent judges or refuses them as
    data: an unreadable answer is a zero with a message, never a crash."""
    from mlpgrader import grade_cell, sandbox
    monkeypatch.setattr(sandbox, "run_child",
                        lambda *args, **kwargs: sandbox.ChildRun(reply, 0, ""))
    result = grade_cell.grade_source(FIRST, "", "bwrap")
    assert result.points == 0 and result.status in ("error", "failed"), result.summary()


def test_a_function_input_reaches_the_sandbox_and_code_never_comes_back(mode):
    """A case may pass a function (f in numerical_gradient(f, x, eps)): the grader
    sends its code and closure to the child; the grader itself refuses to decode
    code, whatever the child sends."""
    from mlpcore.exercises import Case, Exercise, compare_array, fixed_cases
    from mlpgrader import wire
    from mlpgrader.grade_cell import grade_source

    def inputs(seed):
        def make():
            weights = np.random.default_rng(seed).standard_normal(4)
            return (lambda z: float(np.sum(weights * np.sin(z)))), np.arange(4.0)
        return make

    def judge(args, output):
        f, x = args
        return compare_array("f at x", output, np.array([f(x)]))
    exercise = Exercise(id="ch02.evaluate", function="evaluate", params=("f", "x"),
                        case_generator=fixed_cases(Case("a", inputs(1), judge),
                                                   Case("b", inputs(2), judge)))
    assert grade_source(exercise, "def evaluate(f, x):\n    return np.array([f(x)])\n",
                        mode).points == 2
    assert grade_source(exercise, "def evaluate(f, x):\n    return np.array([f(x + 1)])\n",
                        mode).points == 0
    sent = wire.encode((lambda: 1), strict=True)
    with pytest.raises(wire.WireError, match="never read from it"):
        wire.decode(sent)
    stand_in = wire.decode(wire.encode(lambda: 1))  # a learner's function: a name only
    assert isinstance(stand_in, wire.Opaque) and not callable(stand_in)
