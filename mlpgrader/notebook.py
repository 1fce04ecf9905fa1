"""Notebooks as the exercises see them: cells, tags, solution markers, chapters.

A submission is untrusted: ``load_cells`` reads it defensively (a regular file, not a
symlink, at most MAX_BYTES, UTF-8 JSON (absurd nesting refused; at most
MAX_JSON_ITEMS values, counted before parsing, and MAX_JSON_OBJECTS objects, counted
while parsing, so a file of a million tiny cells is refused cheaply), a list of
cells each with text source) and returns normalised cells
``{"cell_type": str, "source": str, "tags": [str]}``, or raises NotebookError with a
one-line reason for that student's report. A ``.py`` submission counts as one code
cell tagged exercise.
"""
from __future__ import annotations

import functools
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Optional

from mlpcore.exercises import Exercise, all_exercises, chapter_names
from mlpgrader.wire import json_items

EXERCISE_TAG = "exercise"
CHECK_TAG = "exercise-check"
BEGIN_SOLUTION = re.compile(r"^(\s*)###\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*###\s*END SOLUTION\s*$")
_TOP_LEVEL_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
CHECK_CALL = re.compile(r"""check\(\s*["']((ch\d\d)\.\w+)["']""")  # id, chapter
_NAME_CHAPTER = re.compile(r"^(\d\d)_|(?:^|[^a-z])ch(\d\d)(?:$|[^0-9])", re.IGNORECASE)
MAX_BYTES = 20 * 2 ** 20
MAX_CELLS = 10_000
MAX_JSON_ITEMS = 500_000    # JSON values of one notebook, counted before parsing
MAX_JSON_OBJECTS = 100_000  # JSON objects, counted while parsing (the book's: < 1,000)


class NotebookError(Exception):
    """A submission that cannot be read, with a message for the report."""


class MarkerError(ValueError):
    """Unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers."""


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def cell_tags(cell: dict) -> list[str]:
    if "tags" in cell and "metadata" not in cell:  # a normalised cell
        return list(cell["tags"])
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def read_submission(path: Path) -> bytes:
    """The bytes of a submission: a regular file (not a symlink, FIFO or device) of at
    most MAX_BYTES; NotebookError otherwise. Never blocks, never follows a link."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise NotebookError(f"could not read the file: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise NotebookError("the file is a symbolic link; hand in the notebook itself")
    if not stat.S_ISREG(info.st_mode):
        raise NotebookError("not a regular file (a folder, a pipe or a device)")
    if info.st_size > MAX_BYTES:
        raise NotebookError(f"the file is {info.st_size / 2 ** 20:.0f} MiB, over the "
                            f"{MAX_BYTES // 2 ** 20} MiB limit (clear the outputs and save again)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise NotebookError(f"could not read the file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since lstat
            raise NotebookError("not a regular file")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise NotebookError(f"the file is over the {MAX_BYTES // 2 ** 20} MiB limit")
    return data


def load_cells(path: Path) -> list[dict]:
    """The normalised cells of a notebook (see the module docstring)."""
    data = read_submission(Path(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"could not read notebook: not UTF-8 text ({exc.reason})") from None
    if "\x00" in text:
        raise NotebookError("could not read notebook: it contains NUL characters")
    if Path(path).suffix == ".py":
        return [{"cell_type": "code", "source": text, "tags": [EXERCISE_TAG]}]
    if json_items(text) > MAX_JSON_ITEMS:  # refused before Python builds the objects
        raise NotebookError(f"could not read notebook: over {MAX_JSON_ITEMS:,} JSON items "
                            f"(clear the outputs and save again)")
    try:
        notebook = json.loads(text, object_hook=_object_counter())
    except _TooManyObjects:
        raise NotebookError(f"could not read notebook: over {MAX_JSON_OBJECTS:,} JSON "
                            f"objects (clear the outputs and save again)") from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise NotebookError(f"could not read notebook: not valid JSON ({reason[:120]})") from None
    return normalise(notebook)


class _TooManyObjects(Exception):
    pass


def _object_counter():
    """A json object_hook that stops the parse at the MAX_JSON_OBJECTS-th object,
    before Python has built the rest."""
    count = 0

    def hook(obj: dict) -> dict:
        nonlocal count
        count += 1
        if count > MAX_JSON_OBJECTS:
            raise _TooManyObjects
        return obj
    return hook


def normalise(notebook) -> list[dict]:
    """Cells as ``{"cell_type", "source", "tags"}``; NotebookError for a wrong shape."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("could not read notebook: the JSON has no list of cells "
                            "(is it a Jupyter notebook in format 4?)")
    if len(cells) > MAX_CELLS:
        raise NotebookError(f"could not read notebook: over {MAX_CELLS} cells")
    normalised = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise NotebookError(f"could not read notebook: cell {index} is not a JSON object")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"could not read notebook: the source of cell {index} is "
                                f"not text")
        kind = cell.get("cell_type")
        normalised.append({"cell_type": kind if isinstance(kind, str) else "",
                           "source": source, "tags": cell_tags(cell)})
    return normalised


def defined_functions(source: str) -> list[str]:
    """Names of the top-level functions a cell defines, each once, in order (works on
    broken code too)."""
    return list(dict.fromkeys(_TOP_LEVEL_DEF.findall(source)))


def check_calls(source: str) -> list[str]:
    """The exercise ids a cell's ``check("chNN.function", ...)`` calls name."""
    return [match[0] for match in CHECK_CALL.findall(source)]


@functools.lru_cache(maxsize=1)
def _exercises_by_function() -> dict[str, tuple[Exercise, ...]]:
    index: dict[str, list[Exercise]] = {}
    for exercise in all_exercises():
        index.setdefault(exercise.function, []).append(exercise)
    return {name: tuple(found) for name, found in index.items()}


def exercises_defined(source: str, chapter: Optional[str] = None) -> list[Exercise]:
    """The registered exercises (of ``chapter``, if given) whose function the cell
    defines."""
    index = _exercises_by_function()
    return [exercise for function in defined_functions(source)
            for exercise in index.get(function, ())
            if chapter is None or exercise.chapter == chapter]


def exercise_of_cell(source: str, chapter: Optional[str] = None) -> Optional[Exercise]:
    """The exercise an exercise cell is for: the first function it defines that names
    exactly one registered exercise (of ``chapter``, if given); None if there is none."""
    index = _exercises_by_function()
    for function in defined_functions(source):
        matches = [e for e in index.get(function, ()) if chapter is None or e.chapter == chapter]
        if len(matches) == 1:
            return matches[0]
    return None


@functools.lru_cache(maxsize=64)
def _defined_set(source: str) -> frozenset:
    """The functions a cell defines, scanned once per cell text (a submission's cells
    are looked up once per exercise)."""
    return frozenset(_TOP_LEVEL_DEF.findall(source))


def find_exercise_source(cells: list[dict], exercise: Exercise) -> Optional[str]:
    """The source of the cell that defines the exercise's function: among code cells
    tagged ``exercise`` if any defines it, else among all code cells; the last such
    cell wins (a learner who copied the cell to try again is graded on the copy)."""
    code_cells = [cell for cell in cells if cell.get("cell_type") == "code"]
    tagged = [cell for cell in code_cells if EXERCISE_TAG in cell_tags(cell)]
    for pool in (tagged, code_cells):
        matches = [cell for cell in pool
                   if exercise.function in _defined_set(cell_source(cell))]
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


def notebook_chapter(cells: Optional[list], name: str = "",
                     given: Optional[str] = None) -> Optional[str]:
    """The one rule for a notebook's chapter, first that answers: ``given`` (the
    instructor's --chapter); the content (``infer_chapter``); the file name."""
    if given is not None:
        return given
    if cells is not None:
        return infer_chapter(cells, name)
    return chapter_from_name(name)


def infer_chapter(cells: list[dict], name: str = "") -> Optional[str]:
    """The chapter a notebook's content belongs to: from its check calls and the
    exercise functions it defines (the most frequent chapter wins), else from its file
    name. Linear in the notebook's size (each function name looked up once per cell)."""
    known = set(chapter_names())
    votes: Counter = Counter()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        votes.update(chapter for _, chapter in CHECK_CALL.findall(source) if chapter in known)
        votes.update(exercise.chapter for exercise in exercises_defined(source))
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
