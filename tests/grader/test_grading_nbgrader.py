"""nbgrader compatibility: every book notebook carries nbgrader's cell metadata (from
`mlpgrader stamp`), and the recipe of docs/grading.md ("nbgrader"), read from that
file and run as written, grades with nbgrader 0.9.6 itself; its two silent failures
(no kernel with mlpcore: everyone 0) are errors.

nbgrader is too heavy for requirements.txt (it brings JupyterLab and a server), so
these tests install it in a throwaway virtual environment (pip's usual index and
cache), once per machine, under ~/.cache/mlpcore/. Without it they skip, or fail
when MLPCORE_REQUIRE_NBGRADER=1 (CI).
"""
from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from mlpcore.exercises import chapter_exercises
from mlpgrader import nbgrader_meta
from mlpgrader.notebook import CHECK_TAG, EXERCISE_TAG, cell_tags
from tests._support import ROOT, edition_path
from tests.grader._support import chapter0_notebook, read, with_cell, write, wrong_cell

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


def run_nbgrader(home: Path, course: Path, *args: str, jupyter_path: bool = True
                 ) -> subprocess.CompletedProcess:
    """One nbgrader command in ``course`` with the recipe's environment (nbgrader's bin
    first on PATH; the course's kernels on JUPYTER_PATH unless ``jupyter_path`` is False)."""
    env = dict(os.environ, PATH=f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("JUPYTER_PATH", None)
    if jupyter_path:
        env["JUPYTER_PATH"] = str(course / "jupyter")
    return subprocess.run([str(home / "bin" / "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)


def documented_recipe() -> str:
    """The bash block of docs/grading.md's nbgrader section that runs autograde."""
    text = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    section = text[text.index("### nbgrader"):]
    section = section[:section.index("\n### ", 1)]
    return next(block for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                if "nbgrader autograde" in block)


def run_recipe(home: Path, course: Path, assignment: str) -> subprocess.CompletedProcess:
    """The documented recipe as written, from the checkout, with its three names set."""
    env = dict(os.environ, NBGRADER_VENV=str(home), COURSE=str(course), ASSIGNMENT=assignment)
    for name in ("JUPYTER_PATH", "PYTHONPATH"):  # the recipe must not depend on them
        env.pop(name, None)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", documented_recipe()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1800)


def exercises_only(notebook: dict) -> dict:
    """The chapter's exercise and check cells under an import cell: what autograde
    executes here (the whole chapter's experiments would add minutes per student)."""
    cells = [{"cell_type": "code", "execution_count": None, "id": "imports", "metadata": {},
              "outputs": [], "source": "import numpy as np\nfrom mlpcore.exercises import check"}]
    cells += [c for c in notebook["cells"] if {EXERCISE_TAG, CHECK_TAG} & set(cell_tags(c))]
    return dict(notebook, cells=cells)


def student_edition(notebook: dict) -> dict:
    """The student edition of ``notebook`` by the book's own tool (solutions stubbed)."""
    import nbformat
    from booktools import make_student_edition as tool
    edition, _ = tool.student_notebook(nbformat.reads(json.dumps(notebook), as_version=4),
                                       "00_mlp_in_numpy")
    return json.loads(nbformat.writes(edition))


def grades(course: Path) -> dict:
    """student -> score, from the grades.csv that the recipe's `nbgrader export` wrote."""
    with open(course / "grades.csv", encoding="utf-8", newline="") as stream:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(stream)}


def place(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write(notebook, path)


def nbgrader_source_of_chapter0(folder: Path) -> dict:
    """Chapter 0's nbgrader source, from the notebook edition as instructors make it
    (booktools/make_student_edition.py --nbgrader)."""
    from tests._support import built_book

    from booktools import make_student_edition as tool
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


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course graded by the documented recipe: (nbgrader's venv, course, the run)."""
    home = nbgrader_env()
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    reference = exercises_only(read(chapter0_notebook()))
    place(reference, course / "source" / "ex00" / "exercises.ipynb")
    second = chapter_exercises("ch00")[1]
    # the student edition starts from the notebook edition, where the exercises are stubs
    stubs = student_edition(exercises_only(read(edition_path(chapter0_notebook()))))
    students = {"ada": reference, "bob": stubs,
                "cleo": with_cell(reference, second.function, wrong_cell(second))}
    for name, notebook in students.items():
        place(notebook, course / "submitted" / name / "ex00" / "exercises.ipynb")
    return home, course, run_recipe(home, course, "ex00")


def test_the_documented_recipe_autogrades_with_partial_credit(course):
    home, course, run = course
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    released = read(course / "release" / "ex00" / "exercises.ipynb")
    assert "### BEGIN SOLUTION" not in json.dumps(released)
    total = sum(e.max_points for e in chapter_exercises("ch00"))
    second = chapter_exercises("ch00")[1]
    assert grades(course) == {"ada": total, "bob": 0, "cleo": total - second.max_points}


def test_nbgrader_generates_the_whole_chapter_without_its_solutions(course, tmp_path):
    home, course, _ = course
    chapter = nbgrader_source_of_chapter0(tmp_path / "source")
    place(chapter, course / "source" / "ch00" / "00_mlp_in_numpy.ipynb")
    generated = run_nbgrader(home, course, "generate_assignment", "ch00", "--force")
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    released = read(course / "release" / "ch00" / "00_mlp_in_numpy.ipynb")
    assert "### BEGIN SOLUTION" not in json.dumps(released)
    assert "{glue:text}" not in json.dumps(released), "the release starts from the edition"


def test_autograde_without_the_kernel_is_an_error_not_zeros(course, tmp_path):
    """Without JUPYTER_PATH, nbgrader's own python3 kernel (no mlpcore) would give 0s."""
    home, course, _ = course
    copy = shutil.copytree(course, tmp_path / "course")
    run = run_nbgrader(home, copy, "autograde", "ex00", "--force", "--student", "ada",
                       jupyter_path=False)
    assert run.returncode != 0
    assert "No such kernel" in run.stdout + run.stderr, run.stderr[-3000:]


def test_a_kernel_without_mlpcore_refuses_to_start(course, tmp_path):
    home, course, _ = course
    copy = shutil.copytree(course, tmp_path / "course")
    spec_path = copy / "jupyter" / "kernels" / "mlpcore" / "kernel.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["argv"][0] = str(home / "bin" / "python")  # nbgrader's Python: no mlpcore, no mlpgrader
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    run = run_nbgrader(home, copy, "autograde", "ex00", "--force", "--student", "ada")
    assert run.returncode != 0, run.stdout[-3000:] + run.stderr[-3000:]
