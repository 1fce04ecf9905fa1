"""Chapter-0 notebooks for the exercise and grading tests, built in temporary folders.

No notebook files are committed under tests/: every fixture notebook is written by
these helpers at test time, so no test run (with or without --nbval) collects them.
``chapter0_notebook`` is the real book/00_mlp_in_numpy.ipynb. ``sandbox_mode`` is the
grader's sandbox for the tests: bubblewrap, or a skip with the reason where it cannot
start (a failure instead when MLPCORE_REQUIRE_SANDBOX=1, as in CI).
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from tests._support import ROOT

BOOK_CHAPTER0 = ROOT / "book" / "00_mlp_in_numpy.ipynb"


def chapter0_notebook(folder: Path | None = None) -> Path:
    """The chapter-0 notebook to test against, as a file (``folder`` is unused; kept
    for callers written when a stand-in was built there)."""
    return BOOK_CHAPTER0


def sandbox_mode() -> str:
    """'bwrap' where the sandbox starts; otherwise skip, or fail in CI."""
    from mlpgrader.sandbox import SandboxUnavailable, check_sandbox
    try:
        check_sandbox()
    except SandboxUnavailable as exc:
        if os.environ.get("MLPCORE_REQUIRE_SANDBOX") == "1":
            pytest.fail(f"MLPCORE_REQUIRE_SANDBOX=1 but {exc}", pytrace=False)
        pytest.skip(f"no sandbox here: {exc}")
    return "bwrap"


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(notebook: dict, path: Path) -> Path:
    Path(path).write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return Path(path)


def exercise_cell(notebook: dict, function: str) -> dict:
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and f"def {function}(" in source:
            return cell
    raise LookupError(f"no cell defines {function}")


def with_cell(notebook: dict, function: str, source: str) -> dict:
    """A copy of ``notebook`` whose exercise cell for ``function`` has ``source``."""
    notebook = copy.deepcopy(notebook)
    exercise_cell(notebook, function)["source"] = source
    return notebook


def cell_text(notebook: dict, function: str) -> str:
    source = exercise_cell(notebook, function)["source"]
    return "".join(source) if isinstance(source, list) else source


# Chapter 0's exercises by position, not by name, so these tests follow the chapter
# when its exercises change: FIRST, SECOND and LAST (SGD with momentum in every version).
def ch00_exercises() -> list:
    from mlpcore.exercises import chapter_exercises
    return chapter_exercises("ch00")


def signature(exercise) -> str:
    return f"def {exercise.function}({', '.join(exercise.params)}):\n"


def wrong_cell(exercise) -> str:
    """A cell that defines the exercise's function and answers None: 0 points."""
    return signature(exercise) + "    return None\n"
