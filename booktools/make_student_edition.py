"""Write the student edition of the chapters, from the notebook edition.

Usage: python -m booktools student-edition [--out student] _build/edition/book/*.ipynb
       (`make student` builds the book first, then runs this on its edition)

The student edition is the notebook edition (booktools/notebook_edition.py: glued values
written out, no MyST roles, hidden cells collapsed, every exercise cell already a stub
``raise NotImplementedError("<exercise id>: replace this line with your code")``)
without the revealed reference solutions: the cells tagged ``exercise-solution`` are
dropped. The outputs and execution counts of exercise and exercise-check cells are
cleared (the student's run fills them); every other cell is left as it is, outputs
included, so the text, the figures and the hidden cells the exercises refer to read as
in the edition.

Refuses, with the notebook and cell: a notebook that is not the notebook edition (a
book chapter still has MyST roles and its solutions: build the edition first), a
solution marker or an unstubbed exercise left in any code cell, and an exercise cell
whose function is not a registered exercise. A registered exercise without a cell is a
warning.

``write_student_edition(paths, out)`` is the same as a function, for other tools
(``mlpgrader student``).

With ``--nbgrader FOLDER`` it also writes, for instructors who use nbgrader, the
source of nbgrader's release from the same edition: the reference solutions folded
back into the exercise cells (markers intact, for ``nbgrader generate_assignment``)
and nbgrader's cell metadata stamped (``python -m mlpgrader stamp``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from booktools.notebook_edition import (
    CHECK_TAG, EDITION_KEY, EXERCISE_TAG, SOLUTION_TAG, EditionError, exercise_id,
    nbgrader_source, stub_line)
from mlpcore.exercises import chapter_exercises
from mlpgrader.notebook import has_solution_markers, notebook_chapter

ROOT = Path(__file__).resolve().parents[1]

EDITION = ROOT / "_build" / "edition" / "book"


class StudentEditionError(Exception):
    pass


def student_notebook(nb: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """The student edition of the notebook edition ``nb`` (a copy) and the exercise
    ids it leaves to the student, in order."""
    if nb.get("metadata", {}).get(EDITION_KEY) != "notebook":
        raise StudentEditionError(
            f"{name} is not the notebook edition (a book chapter still has its MyST roles and "
            f"its solutions): build it with `make book`, then pass {EDITION.relative_to(ROOT)}/"
            f"{name}.ipynb")
    nb = nbformat.from_dict(nb)  # a deep copy
    cells = [dict(cell) for cell in nb.cells]
    chapter = notebook_chapter(cells, name)
    stubbed, kept = [], []
    for index, cell in enumerate(nb.cells):
        where = f"{name}: cell {index}"
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG in tags:
            continue
        kept.append(cell)
        if cell.cell_type != "code":
            continue
        if has_solution_markers(cell.source):
            raise StudentEditionError(f"{where} still has solution markers: its solution "
                                      f"would be published")
        if EXERCISE_TAG in tags:
            try:
                exercise = exercise_id(cell.source, chapter, where)
            except EditionError as exc:
                raise StudentEditionError(str(exc)) from exc
            if stub_line(exercise) not in cell.source:
                raise StudentEditionError(f"{where} ({exercise}) is not a stub: the edition "
                                          f"must replace its solution by {stub_line(exercise)!r}")
            stubbed.append(exercise)
        if EXERCISE_TAG in tags or CHECK_TAG in tags:
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    nb.cells = kept
    nb.metadata[EDITION_KEY] = "student"
    if chapter:
        for exercise in (e.id for e in chapter_exercises(chapter) if e.id not in stubbed):
            print(f"warning: {name}: no exercise cell for {exercise}", file=sys.stderr)
    return nb, stubbed


def write_student_edition(paths: list[Path], out: Path) -> list[tuple[Path, list[str]]]:
    """Write the student edition of each notebook-edition file in ``paths`` into the
    folder ``out``; returns (written file, stubbed exercise ids) per notebook. Nothing
    is written unless every notebook is fine (StudentEditionError says which is not)."""
    editions = []
    for path in map(Path, paths):
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, nbformat.reader.NotJSONError) as exc:
            raise StudentEditionError(f"{path}: {exc}") from exc
        editions.append((path, *student_notebook(nb, path.stem)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb, stubbed in editions:
        target = out / path.name
        nbformat.write(nb, target)
        written.append((target, stubbed))
    return written


def write_nbgrader_source(paths: list[Path], out: Path) -> list[Path]:
    """nbgrader's source notebooks from the notebook-edition files ``paths``, stamped,
    one per chapter in ``out``."""
    from mlpgrader import nbgrader_meta

    written = []
    for path in map(Path, paths):
        edition = nbformat.read(path, as_version=4)
        if edition.metadata.get(EDITION_KEY) != "notebook":
            raise StudentEditionError(f"{path} is not the notebook edition: build it with `make book`")
        source = nbgrader_source(edition)
        notebook = nbformat.from_dict(source)
        nbgrader_meta.stamp(notebook, path.stem)
        problems = [p for p in nbgrader_meta.problems(notebook, path.stem)]
        if problems:
            raise StudentEditionError("\n".join(problems))
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out / path.name)
        written.append(out / path.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools student-edition",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path,
                        help=f"notebook-edition files ({EDITION.relative_to(ROOT)}/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student",
                        help="folder for the student edition (default: student/)")
    parser.add_argument("--nbgrader", type=Path, metavar="FOLDER",
                        help="also write nbgrader's source notebooks (solutions intact, stamped) here")
    args = parser.parse_args(argv)
    try:
        written = write_student_edition(args.notebooks, args.out)
        sources = write_nbgrader_source(args.notebooks, args.nbgrader) if args.nbgrader else []
    except StudentEditionError as exc:
        print(f"make_student_edition: {exc}", file=sys.stderr)
        return 1
    for target, stubbed in written:
        print(f"{target}: {len(stubbed)} exercise(s) left to the student"
              + (f" ({', '.join(stubbed)})" if stubbed else ""))
    for source in sources:
        print(f"{source}: nbgrader source (solutions intact, stamped)")
    return 0

