"""nbgrader's cell metadata on the book's exercises, so instructors who run nbgrader
can use the chapters as they are.

    python -m mlpgrader stamp book/*.ipynb           # write the metadata
    python -m mlpgrader stamp --check book/*.ipynb   # change nothing; exit 1 if stale

A code cell tagged ``exercise`` becomes an nbgrader *autograded answer* (solution,
not graded, not locked; grade_id ``chNN_<function>``); the cell tagged
``exercise-check`` under it becomes its *autograder test* (graded, locked, worth the
exercise's points; grade_id ``ch00_bce_with_logits_check``). Stale nbgrader metadata on
any other cell is removed. Only metadata changes: sources and outputs stay as they
are. ``--check`` also reports what nbgrader's ``generate_assignment`` would refuse:
the words ``BEGIN SOLUTION`` / ``END SOLUTION`` anywhere outside an exercise cell
(nbgrader takes them as a solution region in a non-solution cell, even quoted in
prose).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from mlpcore.exercises import chapter_exercises, chapter_names
from mlpgrader.notebook import (CHECK_TAG, EXERCISE_TAG, cell_source, cell_tags, check_calls,
                                exercise_of_cell, notebook_chapter)

SCHEMA_VERSION = 3
_MARKER_WORDS = ("BEGIN SOLUTION", "END SOLUTION")


class StampError(ValueError):
    """A cell tagged as an exercise that names no registered exercise."""


def _exercise_of(cell: dict, chapter: str | None, where: str):
    source = cell_source(cell)
    if EXERCISE_TAG in cell_tags(cell):
        exercise = exercise_of_cell(source, chapter)
        if exercise is not None:
            return exercise
        raise StampError(f"{where} is tagged `{EXERCISE_TAG}` but defines no registered exercise")
    ids = check_calls(source)
    known = {e.id: e for c in chapter_names() for e in chapter_exercises(c)}
    if len(ids) != 1 or ids[0] not in known:
        raise StampError(f"{where} is tagged `{CHECK_TAG}` but does not call check() on one "
                         f"registered exercise")
    return known[ids[0]]


def expected_metadata(cell: dict, chapter: str | None, where: str) -> dict | None:
    """The nbgrader metadata this cell should carry (None: none)."""
    tags = cell_tags(cell)
    if cell.get("cell_type") != "code" or not ({EXERCISE_TAG, CHECK_TAG} & set(tags)):
        return None
    exercise = _exercise_of(cell, chapter, where)
    grade_id = exercise.id.replace(".", "_")
    if EXERCISE_TAG in tags:
        return {"grade": False, "grade_id": grade_id, "locked": False,
                "schema_version": SCHEMA_VERSION, "solution": True, "task": False}
    return {"grade": True, "grade_id": f"{grade_id}_check", "locked": True,
            "points": exercise.max_points, "schema_version": SCHEMA_VERSION,
            "solution": False, "task": False}


def stamp(notebook: dict, name: str) -> int:
    """Write the nbgrader metadata into ``notebook`` (in place); the number of cells
    whose metadata changed."""
    chapter = notebook_chapter(notebook.get("cells", []), name)
    changed = 0
    for index, cell in enumerate(notebook.get("cells", [])):
        metadata = cell.setdefault("metadata", {})
        wanted = expected_metadata(cell, chapter, f"{name}: cell {index}")
        if metadata.get("nbgrader") == wanted or (wanted is None and "nbgrader" not in metadata):
            continue
        if wanted is None:
            del metadata["nbgrader"]
        else:
            metadata["nbgrader"] = wanted
        changed += 1
    return changed


def problems(notebook: dict, name: str) -> list[str]:
    """Why nbgrader could not use this notebook as it is (empty: it can)."""
    chapter = notebook_chapter(notebook.get("cells", []), name)
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        where = f"{name}: cell {index}"
        try:
            wanted = expected_metadata(cell, chapter, where)
        except StampError as exc:
            found.append(str(exc))
            continue
        if (cell.get("metadata") or {}).get("nbgrader") != wanted:
            found.append(f"{where}: nbgrader metadata missing or stale "
                         f"(run: python -m mlpgrader stamp on this notebook)")
        if EXERCISE_TAG not in cell_tags(cell):
            for word in _MARKER_WORDS:
                if word in cell_source(cell):
                    found.append(f"{where} ({cell.get('cell_type')}) contains '{word}': "
                                 f"nbgrader takes it for a solution region in a non-solution "
                                 f"cell; reword it (e.g. 'the solution markers')")
    return found


def main(paths: list[str], check: bool = False) -> int:
    failed = False
    for raw in paths:
        path = Path(raw)
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        if check:
            found = problems(notebook, path.stem)
            for line in found:
                print(line, file=sys.stderr)
            failed |= bool(found)
            continue
        try:
            changed = stamp(notebook, path.stem)
        except StampError as exc:
            print(f"stamp: {exc}", file=sys.stderr)
            return 1
        if changed:  # nbformat's own layout: one-space indent, a final newline
            path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        print(f"{path}: {changed} cell(s) stamped")
        for line in (p for p in problems(notebook, path.stem) if "stale" not in p):
            print(f"warning: {line}", file=sys.stderr)
    return 1 if failed else 0
