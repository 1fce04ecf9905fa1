"""Notebooks as the exercises see them: cells, tags, solution markers, chapters.

Plain ``json`` only (mlpcore depends on NumPy alone): a notebook is a dict whose
"cells" each have "cell_type", "source" (a string or a list of lines) and
"metadata" -> "tags". A ``.py`` submission counts as one code cell tagged exercise.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Optional

from mlpcore.exercises._registry import Exercise, chapter_names, find_by_function

EXERCISE_TAG = "exercise"
CHECK_TAG = "exercise-check"
BEGIN_SOLUTION = re.compile(r"^(\s*)###\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*###\s*END SOLUTION\s*$")
_TOP_LEVEL_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_CHECK_CALL = re.compile(r"""check\(\s*["'](ch\d\d)\.\w+["']""")
_NAME_CHAPTER = re.compile(r"^(\d\d)_|(?:^|[^a-z])ch(\d\d)(?:$|[^0-9])", re.IGNORECASE)


class NotebookError(Exception):
    """A submission that cannot be read, with a message for the report."""


class MarkerError(ValueError):
    """Unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers."""


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_tags(cell: dict) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def load_cells(path: Path) -> list[dict]:
    """The cells of a notebook (or a .py file as one exercise cell); NotebookError
    with a one-line reason if the file cannot be read as one."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"could not read notebook: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise NotebookError(f"could not read notebook: {exc.strerror or exc}") from exc
    if Path(path).suffix == ".py":
        return [{"cell_type": "code", "source": text, "metadata": {"tags": [EXERCISE_TAG]}}]
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"could not read notebook: not valid JSON ({exc})") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise NotebookError("could not read notebook: the JSON has no list of cells "
                            "(is it a Jupyter notebook in format 4?)")
    return cells


def defined_functions(source: str) -> list[str]:
    """Names of the top-level functions a cell defines (works on broken code too)."""
    return _TOP_LEVEL_DEF.findall(source)


def find_exercise_source(cells: list[dict], exercise: Exercise) -> Optional[str]:
    """The source of the cell that defines the exercise's function: among code cells
    tagged ``exercise`` if any defines it, else among all code cells; the last such
    cell wins (a learner who copied the cell to try again is graded on the copy)."""
    code_cells = [cell for cell in cells if cell.get("cell_type") == "code"]
    tagged = [cell for cell in code_cells if EXERCISE_TAG in cell_tags(cell)]
    for pool in (tagged, code_cells):
        matches = [cell for cell in pool
                   if exercise.function in defined_functions(cell_source(cell))]
        if matches:
            return cell_source(matches[-1])
    return None


def chapter_from_name(name: str) -> Optional[str]:
    """'00_mlp_in_numpy' or 'alice_ch00' -> 'ch00' (if chapter 0 has exercises)."""
    match = _NAME_CHAPTER.search(name)
    if not match:
        return None
    chapter = f"ch{match.group(1) or match.group(2)}"
    return chapter if chapter in chapter_names() else None


def infer_chapter(cells: list[dict], name: str = "") -> Optional[str]:
    """The chapter a notebook belongs to: from its check calls and the exercise
    functions it defines (the most frequent chapter wins), else from its file name."""
    known = set(chapter_names())
    votes: Counter = Counter()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        votes.update(chapter for chapter in _CHECK_CALL.findall(source) if chapter in known)
        for function in defined_functions(source):
            votes.update(exercise.chapter for exercise in find_by_function(function))
    if votes:
        best = max(votes.values())
        return min(chapter for chapter, count in votes.items() if count == best)
    return chapter_from_name(name)


def strip_solution(source: str, stub: str, where: str = "cell") -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region (markers
    included) by the single line ``stub``, indented like the BEGIN marker."""
    lines = source.split("\n")
    output: list[str] = []
    begin_line = None
    for number, line in enumerate(lines, start=1):
        begin = BEGIN_SOLUTION.match(line)
        if begin:
            if begin_line is not None:
                raise MarkerError(f"{where}, line {number}: '### BEGIN SOLUTION' again before "
                                  f"the '### END SOLUTION' of line {begin_line}")
            begin_line = number
            output.append(begin.group(1) + stub)
        elif END_SOLUTION.match(line):
            if begin_line is None:
                raise MarkerError(f"{where}, line {number}: '### END SOLUTION' without a "
                                  f"'### BEGIN SOLUTION' before it")
            begin_line = None
        elif begin_line is None:
            output.append(line)
    if begin_line is not None:
        raise MarkerError(f"{where}, line {begin_line}: '### BEGIN SOLUTION' is never closed "
                          f"by '### END SOLUTION'")
    return "\n".join(output)


def has_solution_markers(source: str) -> bool:
    return any(BEGIN_SOLUTION.match(line) or END_SOLUTION.match(line)
               for line in source.split("\n"))
