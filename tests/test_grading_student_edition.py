"""The student edition: solutions become named stubs, the notebook still runs end to
end, every check says "not attempted yet", and the grader gives it 0 %."""
from __future__ import annotations

import copy
import os

import nbformat
import pytest
from nbclient import NotebookClient

from fixtures.exercise_notebooks import (ROOT, cell_text, chapter0_notebook, load_tool,
                                         read, sandbox_mode, with_cell, write)
from mlpcore.exercises import chapter_exercises
from mlpgrader.grader import grade_all, plan
from mlpgrader.notebook import BEGIN_SOLUTION, END_SOLUTION

make_student = load_tool("make_student_edition")
EXERCISES = chapter_exercises("ch00")


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """(reference notebook path, student edition path)."""
    source = chapter0_notebook(tmp_path_factory.mktemp("book"))
    out = tmp_path_factory.mktemp("student")
    assert make_student.main(["--out", str(out), str(source)]) == 0
    return source, out / source.name


@pytest.fixture(scope="module")
def executed_student(editions, tmp_path_factory):
    """The student edition executed top to bottom in a fresh kernel, as a learner
    opening it would (mlpcore importable from this checkout, quiet output)."""
    _, student = editions
    notebook = nbformat.read(student, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
        patch.setenv("MLPCORE_QUIET", "1")
        patch.setenv("MPLBACKEND", "Agg")
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
    reference, student = map(read, editions)
    for exercise in EXERCISES:
        before, after = cell_text(reference, exercise.function), cell_text(student, exercise.function)
        stub = f'    raise NotImplementedError("{exercise.id}: replace this line with your code")'
        assert stub in after.splitlines(), after
        assert "BEGIN SOLUTION" not in after and "END SOLUTION" not in after
        hidden = solution_lines(before)
        assert hidden and not any(line in after for line in hidden if len(line) > 12)
        head = before.split("### BEGIN SOLUTION")[0].rstrip(" ")
        assert after.startswith(head), "the code before the markers must be kept"


def test_only_exercise_and_check_cells_are_cleared(tmp_path):
    reference = nbformat.read(chapter0_notebook(tmp_path), as_version=4)
    for index, cell in enumerate(reference.cells):
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {index}\n")]
            cell.execution_count = index
    student, stubbed = make_student.student_notebook(reference, "00_mlp_in_numpy")
    assert stubbed == [exercise.id for exercise in EXERCISES]
    assert len(student.cells) == len(reference.cells)
    for before, after in zip(reference.cells, student.cells):
        tags = before.metadata.get("tags", [])
        if "exercise" in tags or "exercise-check" in tags:
            assert after.outputs == [] and after.execution_count is None
            assert after.metadata.get("tags") == tags
        else:
            assert after == before


@pytest.mark.parametrize("body, fragment", [
    ("    ### BEGIN SOLUTION\n    return x\n", "never closed"),
    ("    return x\n    ### END SOLUTION\n", "without a '### BEGIN SOLUTION'"),
    ("    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
     "again before"),
])
def test_unbalanced_markers_are_refused(body, fragment, tmp_path, capsys):
    reference = read(chapter0_notebook(tmp_path))
    first = EXERCISES[0]
    broken = with_cell(reference, first.function,
                       f"def {first.function}({', '.join(first.params)}):\n" + body)
    path = write(broken, tmp_path / "00_mlp_in_numpy.ipynb")
    out = tmp_path / "out"
    assert make_student.main(["--out", str(out), str(path)]) == 1
    error = capsys.readouterr().err
    assert fragment in error and "00_mlp_in_numpy: cell" in error and "line" in error
    assert not out.exists(), "nothing may be written when a notebook is refused"


def test_markers_in_an_untagged_cell_are_refused(tmp_path, capsys):
    notebook = read(chapter0_notebook(tmp_path))
    leaked = copy.deepcopy(notebook)
    leaked["cells"].append({"cell_type": "code", "id": "leak", "metadata": {}, "outputs": [],
                            "execution_count": None,
                            "source": "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"})
    path = write(leaked, tmp_path / "00_mlp_in_numpy.ipynb")
    assert make_student.main(["--out", str(tmp_path / "out"), str(path)]) == 1
    assert "not tagged `exercise`" in capsys.readouterr().err


def test_an_unregistered_exercise_function_is_refused(tmp_path, capsys):
    notebook = read(chapter0_notebook(tmp_path))
    renamed = with_cell(notebook, "accumulated_gradient",
                        "def sgd_step(param, grad):\n    ### BEGIN SOLUTION\n"
                        "    return param - grad\n    ### END SOLUTION\n")
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
