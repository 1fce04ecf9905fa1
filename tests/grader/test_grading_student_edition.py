"""The student edition (booktools/make_student_edition.py), built from the notebook
edition: solutions become named stubs, no MyST markup is left, the reference solutions
are gone, the notebook still runs end to end, every check says "not attempted yet", and
the grader gives it 0 %. (That the reference solutions score 100 % is
tests/grader/test_grading.py and tests/exercises/test_exercises_chNN.py.)"""
from __future__ import annotations

import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from booktools import make_student_edition as make_student
from booktools import notebook_edition as edition_tools
from mlpcore.exercises import chapter_exercises
from mlpgrader.grader import grade_all, plan
from mlpgrader.notebook import BEGIN_SOLUTION, END_SOLUTION
from tests._support import ROOT, built_book
from tests.grader._support import cell_text, chapter0_notebook, read, sandbox_mode, with_cell, write

EXERCISES = chapter_exercises("ch00")
# What MyST would still have to resolve (the list, and any role at all).
MYST = re.compile(r"\{glue|\{term\}|\{cite|\{doc\}|\{py:|\{[a-z][\w:+.-]*\}`")


@pytest.fixture(scope="module")
def edition_dir():
    return built_book()[1] / "book"


@pytest.fixture(scope="module")
def editions(edition_dir, tmp_path_factory):
    """(notebook-edition path of chapter 0, its student edition path)."""
    source = edition_dir / "00_mlp_in_numpy.ipynb"
    out = tmp_path_factory.mktemp("student")
    assert make_student.main(["--out", str(out), str(source)]) == 0
    return source, out / source.name


@pytest.fixture(scope="module")
def every_student_edition(edition_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    written = make_student.write_student_edition(sorted(edition_dir.glob("*.ipynb")), out)
    assert written, f"no chapter in {edition_dir}"
    return [path for path, _ in written]


@pytest.fixture(scope="module")
def executed_student(editions, tmp_path_factory):
    """The student edition executed top to bottom in a fresh kernel, as a learner
    opening it would (mlpcore importable from this checkout, quiet output, claims in the
    edition's warn mode: MLPCORE_CLAIMS unset)."""
    _, student = editions
    notebook = nbformat.read(student, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
        patch.setenv("MLPCORE_QUIET", "1")
        patch.setenv("MPLBACKEND", "Agg")
        patch.delenv("MLPCORE_CLAIMS", raising=False)
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(student.parent)}}).execute()
    path = tmp_path_factory.mktemp("executed") / student.name
    nbformat.write(notebook, path)
    return path


def solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_SOLUTION.match(line):
            inside = True
        elif END_SOLUTION.match(line):
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def test_each_solution_becomes_a_stub_naming_the_exercise(editions):
    student = read(editions[1])
    reference = read(chapter0_notebook())
    for exercise in EXERCISES:
        before, after = cell_text(reference, exercise.function), cell_text(student, exercise.function)
        stub = f'    raise NotImplementedError("{exercise.id}: replace this line with your code")'
        assert stub in after.splitlines(), after
        assert "BEGIN SOLUTION" not in after and "END SOLUTION" not in after
        hidden = solution_lines(before)
        assert hidden and not any(line in after for line in hidden if len(line) > 12)
        head = before.split("### BEGIN SOLUTION")[0].rstrip(" ")
        assert after.startswith(head), "the code before the markers must be kept"


def test_no_myst_and_no_solution_in_any_chapter(every_student_edition):
    for path in every_student_edition:
        notebook = read(path)
        text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in notebook["cells"])
        assert not MYST.findall(text), f"{path.name}: MyST left: {MYST.findall(text)[:5]}"
        assert "BEGIN SOLUTION" not in text and "Reference solution" not in text, path.name
        checks = [c for c in notebook["cells"] if "exercise-check" in c["metadata"].get("tags", [])]
        assert checks and all(c["outputs"] == [] for c in checks)


def test_the_yardstick_exercise_2_4_points_at_reads_with_its_numbers(every_student_edition):
    """Exercise 2.4 asks for "the yardstick the 2x2 grid above used for 'both' against
    dropout alone": the grid's paragraph must read, numbers written out, in the student
    edition (it was raw {glue:text} roles)."""
    (chapter,) = [p for p in every_student_edition if p.name.startswith("02_")]
    cells = read(chapter)["cells"]
    text = lambda c: " ".join(("".join(c["source"]) if isinstance(c["source"], list)
                               else c["source"]).split())  # words, whatever the line breaks
    exercise = next(i for i, c in enumerate(cells) if "Exercise 2.4" in text(c))
    assert "yardstick the 2×2 grid above used" in text(cells[exercise])
    grid = [text(c) for c in cells[:exercise] if c["cell_type"] == "markdown"
            and "standard errors of the mean difference" in text(c) and "weight decay" in text(c)]
    assert len(grid) == 1, "the paragraph with the grid's yardstick is gone or duplicated"
    assert re.search(r"paired band is ±\d+\.\d, \$t_9\$ standard errors of the mean difference",
                     grid[0]), grid[0]


def test_only_solution_cells_go_and_only_exercise_and_check_outputs_are_cleared(editions):
    edition = nbformat.read(editions[0], as_version=4)
    student, stubbed = make_student.student_notebook(edition, "00_mlp_in_numpy")
    assert stubbed == [exercise.id for exercise in EXERCISES]
    kept = [c for c in edition.cells if "exercise-solution" not in c.metadata.get("tags", [])]
    assert len(kept) == len(edition.cells) - len(EXERCISES) == len(student.cells)
    for before, after in zip(kept, student.cells):
        tags = before.metadata.get("tags", [])
        if "exercise" in tags or "exercise-check" in tags:
            assert after.outputs == [] and after.execution_count is None
            assert after.metadata.get("tags") == tags and after.source == before.source
        else:
            assert after == before


def test_a_book_chapter_is_refused_build_the_edition_first(tmp_path, capsys):
    out = tmp_path / "out"
    assert make_student.main(["--out", str(out), str(chapter0_notebook())]) == 1
    error = capsys.readouterr().err
    assert "not the notebook edition" in error and "make book" in error
    assert not out.exists(), "nothing may be written when a notebook is refused"


def test_a_solution_left_in_the_edition_is_refused(editions, tmp_path, capsys):
    edition = read(editions[0])
    first = EXERCISES[0]
    leaked = with_cell(edition, first.function, f"def {first.function}({', '.join(first.params)}):\n"
                       "    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
    path = write(leaked, tmp_path / "00_mlp_in_numpy.ipynb")
    out = tmp_path / "out"
    assert make_student.main(["--out", str(out), str(path)]) == 1
    assert "solution markers" in capsys.readouterr().err and not out.exists()
    unstubbed = with_cell(edition, first.function,
                          f"def {first.function}({', '.join(first.params)}):\n    return None\n")
    assert make_student.main(["--out", str(out), str(write(unstubbed, path))]) == 1
    assert "is not a stub" in capsys.readouterr().err


@pytest.mark.parametrize("body, fragment", [
    ("    ### BEGIN SOLUTION\n    return x\n", "never closed"),
    ("    return x\n    ### END SOLUTION\n", "without a '### BEGIN SOLUTION'"),
    ("    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
     "again before"),
])
def test_unbalanced_markers_are_refused_by_the_edition(body, fragment):
    first = EXERCISES[0]
    source = f"def {first.function}({', '.join(first.params)}):\n" + body
    with pytest.raises(edition_tools.EditionError, match=fragment):
        edition_tools.stubbed(source, first.id, "00_mlp_in_numpy: cell 59")


def test_an_unregistered_exercise_function_is_refused(editions, tmp_path, capsys):
    notebook = read(editions[0])
    renamed = with_cell(notebook, "accumulated_gradient",
                        "def sgd_step(param, grad):\n    raise NotImplementedError\n")
    path = write(renamed, tmp_path / "00_mlp_in_numpy.ipynb")
    assert make_student.main(["--out", str(tmp_path / "out"), str(path)]) == 1
    assert "sgd_step" in capsys.readouterr().err


def test_student_edition_runs_end_to_end_and_says_not_attempted(executed_student):
    notebook = read(executed_student)
    errors = [output for cell in notebook["cells"] if cell["cell_type"] == "code"
              for output in cell["outputs"] if output["output_type"] == "error"]
    assert not errors, errors
    checks = [cell for cell in notebook["cells"] if "exercise-check" in
              cell.get("metadata", {}).get("tags", [])]
    assert len(checks) == len(EXERCISES)
    for cell, exercise in zip(checks, EXERCISES):
        text = "".join("".join(o.get("text", "")) for o in cell["outputs"])
        assert text.startswith(f"{exercise.id}: not attempted yet"), text
        assert text.count("\n") == 1, "one line, no traceback"


def test_student_edition_scores_zero_every_exercise_not_attempted(executed_student):
    submissions = plan([str(executed_student)])
    for future in grade_all(submissions, timeout=20, mode=sandbox_mode()).values():
        future.result()
    (submission,) = submissions
    assert submission.chapter == "ch00"
    assert submission.points == 0 and submission.max_points > 0
    assert [r.status for r in submission.results.values()] == ["not_attempted"] * len(EXERCISES)
