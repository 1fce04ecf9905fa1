"""nbgrader compatibility: every book notebook carries nbgrader's cell metadata (from
`python -m mlpgrader stamp`), and nbgrader 0.9.6 itself accepts the chapters.

nbgrader is too heavy for requirements.txt (it brings JupyterLab and a server), so
the last test installs it in a throwaway virtual environment (pip's usual index and
cache), once per machine, under ~/.cache/mlpcore/. Without it the test skips, or
fails when MLPCORE_REQUIRE_NBGRADER=1 (CI).
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from fixtures.exercise_notebooks import (ROOT, chapter0_notebook, load_tool, read, with_cell,
                                         write, wrong_cell)
from mlpcore.exercises import chapter_exercises
from mlpgrader import nbgrader_meta
from mlpgrader.notebook import CHECK_TAG, EXERCISE_TAG, cell_tags

NBGRADER = "nbgrader==0.9.6"
BOOK = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.stem)
def test_every_book_notebook_is_stamped_for_nbgrader(path):
    """Fails until `python -m mlpgrader stamp book/*.ipynb` has run on every chapter
    and no prose quotes the solution markers (nbgrader refuses those)."""
    problems = nbgrader_meta.problems(read(path), path.stem)
    assert not problems, "\n".join(problems)


def unstamped(notebook: dict) -> dict:
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    return notebook


def test_stamp_changes_only_metadata_and_is_idempotent():
    original = unstamped(read(chapter0_notebook()))
    stamped = copy.deepcopy(original)
    exercises = chapter_exercises("ch00")
    assert nbgrader_meta.stamp(stamped, "00_mlp_in_numpy") == 2 * len(exercises)
    assert nbgrader_meta.stamp(stamped, "00_mlp_in_numpy") == 0
    assert unstamped(stamped) == original
    solutions = [c for c in stamped["cells"] if EXERCISE_TAG in cell_tags(c)]
    checks = [c for c in stamped["cells"] if CHECK_TAG in cell_tags(c)]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in solutions] == \
        [e.id.replace(".", "_") for e in exercises]
    assert [c["metadata"]["nbgrader"]["points"] for c in checks] == [e.max_points for e in exercises]
    assert all(c["metadata"]["nbgrader"]["solution"] and not c["metadata"]["nbgrader"]["grade"]
               for c in solutions)
    assert all(c["metadata"]["nbgrader"]["locked"] for c in checks)
    prose = copy.deepcopy(stamped)
    prose["cells"].append({"cell_type": "markdown", "metadata": {},
                           "source": "Write between `### BEGIN SOLUTION` and the end."})
    assert any("BEGIN SOLUTION" in p for p in nbgrader_meta.problems(prose, "00_mlp_in_numpy"))


# ---- nbgrader itself ------------------------------------------------------------
def nbgrader_env() -> Path:
    """A virtual environment with nbgrader, made once per machine."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlpcore"
    home = cache / f"{NBGRADER.replace('==', '-')}-py{sys.version_info[0]}{sys.version_info[1]}"
    ready = home / ".installed"
    if not ready.exists():
        venv.create(home, with_pip=True, clear=True)
        install = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install",
                                  "--quiet", NBGRADER], capture_output=True, text=True,
                                 timeout=1200)
        if install.returncode != 0:
            message = f"could not install {NBGRADER}: {install.stderr.strip()[-500:]}"
            if os.environ.get("MLPCORE_REQUIRE_NBGRADER") == "1":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        ready.touch()
    return home


def run_nbgrader(home: Path, course: Path, *args: str) -> subprocess.CompletedProcess:
    """nbgrader with the course at ``course``; notebooks run on a "python3" kernel
    that is this checkout's interpreter (mlpcore importable)."""
    kernel = course / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    env = dict(os.environ, PATH=f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}",
               JUPYTER_PATH=str(course / "jupyter"), MLPCORE_QUIET="1", MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT))
    return subprocess.run([str(home / "bin" / "nbgrader"), *args,
                           f"--CourseDirectory.root={course}"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)


def exercises_only(notebook: dict) -> dict:
    """The chapter's exercise and check cells under an import cell: what autograde
    executes here (the whole chapter's experiments would add minutes per student)."""
    cells = [{"cell_type": "code", "execution_count": None, "id": "imports", "metadata": {},
              "outputs": [], "source": "import numpy as np\nfrom mlpcore.exercises import check"}]
    cells += [c for c in notebook["cells"] if {EXERCISE_TAG, CHECK_TAG} & set(cell_tags(c))]
    return dict(notebook, cells=cells)


def scores(home: Path, course: Path, assignment: str) -> dict:
    script = ("import json, sys\nfrom nbgrader.api import Gradebook\n"
              "with Gradebook(sys.argv[1]) as gb:\n"
              "    print(json.dumps({s.student.id: s.score for s in "
              "gb.find_assignment(sys.argv[2]).submissions}))\n")
    out = subprocess.run([str(home / "bin" / "python"), "-c", script,
                          f"sqlite:///{course / 'gradebook.db'}", assignment],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def place(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write(notebook, path)


def nbgrader_source_of_chapter0(folder: Path) -> dict:
    """Chapter 0's nbgrader source, from the notebook edition as instructors make it
    (tools/make_student_edition.py --nbgrader)."""
    from book_build import built_book

    tool = load_tool("make_student_edition")
    edition = built_book()[1] / "book" / "00_mlp_in_numpy.ipynb"
    (written,) = tool.write_nbgrader_source([edition], folder)
    return read(written)


def test_the_nbgrader_source_is_the_edition_with_solutions_folded_back(tmp_path):
    source = nbgrader_source_of_chapter0(tmp_path)
    assert not nbgrader_meta.problems(source, "00_mlp_in_numpy")
    book = read(chapter0_notebook())
    book_exercises = [c["source"] for c in book["cells"] if EXERCISE_TAG in cell_tags(c)]
    ours = [c["source"] for c in source["cells"] if EXERCISE_TAG in cell_tags(c)]
    assert ["".join(s) for s in ours] == ["".join(s) for s in book_exercises]
    text = json.dumps(source)
    assert "{glue:text}" not in text and "{term}" not in text and "exercise-solution" not in text


def test_nbgrader_generates_the_assignment_and_autogrades_with_partial_credit(tmp_path):
    home = nbgrader_env()
    course = tmp_path / "course"
    chapter = nbgrader_source_of_chapter0(tmp_path / "source")
    place(chapter, course / "source" / "ch00" / "00_mlp_in_numpy.ipynb")
    generated = run_nbgrader(home, course, "generate_assignment", "ch00", "--force")
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    released = read(course / "release" / "ch00" / "00_mlp_in_numpy.ipynb")
    assert "### BEGIN SOLUTION" not in json.dumps(released)
    assert "{glue:text}" not in json.dumps(released), "the release starts from the edition"

    reference = exercises_only(chapter)
    place(reference, course / "source" / "ex00" / "exercises.ipynb")
    assert run_nbgrader(home, course, "generate_assignment", "ex00", "--force").returncode == 0
    student = read(course / "release" / "ex00" / "exercises.ipynb")  # nbgrader's own stubs
    second = chapter_exercises("ch00")[1]
    wrong = with_cell(reference, second.function, wrong_cell(second))
    for name, notebook in (("ada", reference), ("bob", student), ("cleo", wrong)):
        place(notebook, course / "submitted" / name / "ex00" / "exercises.ipynb")
    graded = run_nbgrader(home, course, "autograde", "ex00", "--create", "--force")
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    total = sum(e.max_points for e in chapter_exercises("ch00"))
    got = scores(home, course, "ex00")
    assert got == {"ada": total, "bob": 0, "cleo": total - second.max_points}, got
