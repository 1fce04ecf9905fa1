"""Write the student edition of the chapters: solutions replaced by stubs.

Usage: python tools/make_student_edition.py [--out student] book/*.ipynb

In each notebook, every code cell tagged `exercise` has each region between
`### BEGIN SOLUTION` and `### END SOLUTION` (markers included) replaced by

    raise NotImplementedError("<exercise id>: replace this line with your code")

indented like the marker; the rest of the cell (signature, docstring) is kept. The
outputs and execution counts of exercise and exercise-check cells are cleared, and
every other cell is left as it is, outputs included. The exercise id comes from the
function the cell defines, looked up in the registry (mlpcore/exercises/chNN.py).

Refuses, with the notebook, cell and line, unbalanced markers, markers in a cell not
tagged `exercise` (they would leak a solution), and an exercise cell whose function
is not a registered exercise. A registered exercise without a cell is a warning.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlpcore.exercises import chapter_exercises  # noqa: E402
from mlpgrader.notebook import (  # noqa: E402
    CHECK_TAG, EXERCISE_TAG, MarkerError, defined_functions, exercise_of_cell,
    has_solution_markers, notebook_chapter, strip_solution)


class StudentEditionError(Exception):
    pass


def stub_line(exercise_id: str) -> str:
    return f'raise NotImplementedError("{exercise_id}: replace this line with your code")'


def _exercise_id(source: str, chapter: str | None, where: str) -> str:
    exercise = exercise_of_cell(source, chapter)
    if exercise is not None:
        return exercise.id
    functions = defined_functions(source)
    raise StudentEditionError(
        f"{where} is tagged `{EXERCISE_TAG}` but defines {', '.join(functions) or 'no function'}, "
        f"not a registered exercise{' of ' + chapter if chapter else ''}: add it to "
        f"mlpcore/exercises/{chapter or 'chNN'}.py")


def student_notebook(nb: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """The student edition of ``nb`` (a copy) and the list of stubbed exercise ids."""
    nb = nbformat.from_dict(nb)  # a deep copy
    cells = [dict(cell) for cell in nb.cells]
    chapter = notebook_chapter(cells, name)
    stubbed = []
    for index, cell in enumerate(nb.cells):
        where = f"{name}: cell {index}"
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code":
            continue
        if EXERCISE_TAG in tags:
            exercise_id = _exercise_id(cell.source, chapter, where)
            if not has_solution_markers(cell.source):
                raise StudentEditionError(f"{where} ({exercise_id}) has no '### BEGIN SOLUTION' "
                                          f"/ '### END SOLUTION' markers")
            try:
                cell.source = strip_solution(cell.source, stub_line(exercise_id), where)
            except MarkerError as exc:
                raise StudentEditionError(str(exc)) from exc
            stubbed.append(exercise_id)
        elif has_solution_markers(cell.source):
            raise StudentEditionError(f"{where} has solution markers but is not tagged "
                                      f"`{EXERCISE_TAG}`: its solution would be published")
        if EXERCISE_TAG in tags or CHECK_TAG in tags:
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    if chapter:
        missing = [e.id for e in chapter_exercises(chapter) if e.id not in stubbed]
        for exercise_id in missing:
            print(f"warning: {name}: no exercise cell for {exercise_id}", file=sys.stderr)
    return nb, stubbed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "student",
                        help="folder for the student edition (default: student/)")
    args = parser.parse_args(argv)
    editions = []
    try:
        for path in args.notebooks:
            nb = nbformat.read(path, as_version=4)
            editions.append((path, *student_notebook(nb, path.stem)))
    except (StudentEditionError, OSError, nbformat.reader.NotJSONError) as exc:
        print(f"make_student_edition: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path, nb, stubbed in editions:  # nothing is written unless every notebook is fine
        target = args.out / path.name
        nbformat.write(nb, target)
        print(f"{target}: {len(stubbed)} exercise(s) stubbed"
              + (f" ({', '.join(stubbed)})" if stubbed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
