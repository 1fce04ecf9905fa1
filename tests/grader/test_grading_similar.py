"""`mlpgrader similar`: near-copies (names changed, comments rewritten, layout moved)
are flagged against the book and against each other; an honest solution written
independently is not; a stub left in place is never compared. Nothing is graded here,
so no sandbox is needed.

The threshold (0.8) and copydetect's noise threshold (25, its default) were fixed
before these solutions were written, not tuned on them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlpgrader import similar
from mlpgrader.notebook import strip_solution
from tests.grader._support import cell_text, chapter0_notebook, read, with_cell, write

pytest.importorskip("copydetect")

# Chapter 0's reference with every local renamed, the comments rewritten, the layout changed.
NEAR_COPY = {
    "numerical_gradient": '''def numerical_gradient(f, x, eps):
    """Central differences (my version)."""
    pt = np.array(x, dtype=float)   # work on a copy


    g = np.zeros_like(pt)
    for idx in np.ndindex(pt.shape):
        keep = pt[idx]
        pt[idx] = keep + eps
        up = f(pt)
        pt[idx] = keep - eps
        down = f(pt)
        pt[idx] = keep     # put it back
        g[idx] = (up - down) / (2 * eps)
    return g
''',
    "accumulated_gradient": '''def accumulated_gradient(grad_fn, w, X, y, micro_batch):
    """Accumulate over micro-batches."""
    count = len(X)
    acc = np.zeros_like(w)
    for s in range(0, count, micro_batch):
        part = slice(s, s + micro_batch)
        # weight each chunk by its size
        acc = acc + len(X[part]) * grad_fn(w, X[part], y[part])
    return acc / count
''',
}

# The same two exercises solved independently, another way.
HONEST = {
    "numerical_gradient": '''def numerical_gradient(f, x, eps):
    """Central differences."""
    shape = np.shape(x)
    flat = np.asarray(x, dtype=float).ravel().copy()
    out = np.empty_like(flat)
    for k in range(flat.size):
        step = np.zeros_like(flat)
        step[k] = eps
        out[k] = (f((flat + step).reshape(shape)) - f((flat - step).reshape(shape))) / (2 * eps)
    return out.reshape(shape)
''',
    "accumulated_gradient": '''def accumulated_gradient(grad_fn, w, X, y, micro_batch):
    """Weighted mean of the micro-batch gradients."""
    chunks = [(X[i:i + micro_batch], y[i:i + micro_batch]) for i in range(0, len(X), micro_batch)]
    weighted = sum(len(xs) * grad_fn(w, xs, ys) for xs, ys in chunks)
    return weighted / len(X)
''',
}


def stubbed(notebook: dict, function: str, exercise_id: str) -> dict:
    """The student edition's cell for ``function``: the solution replaced by the stub."""
    stub = f'raise NotImplementedError("{exercise_id}: replace this line with your code")'
    return with_cell(notebook, function, strip_solution(cell_text(notebook, function), stub))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("similar")
    reference = read(chapter0_notebook())
    write(reference, folder / "ada.ipynb")                       # the book's own code
    copy, honest = reference, reference
    for function, source in NEAR_COPY.items():
        copy = with_cell(copy, function, source)
    for function, source in HONEST.items():
        honest = with_cell(honest, function, source)
    for function in ("scale_shift_backward", "bce_with_logits"):  # left as handed out
        copy = stubbed(copy, function, f"ch00.{function}")
        honest = stubbed(honest, function, f"ch00.{function}")
    write(copy, folder / "copycat.ipynb")
    write(honest, folder / "hana.ipynb")
    bob = reference
    for function in ("scale_shift_backward", "numerical_gradient", "bce_with_logits",
                     "accumulated_gradient"):
        bob = stubbed(bob, function, f"ch00.{function}")
    write(bob, folder / "bob.ipynb")                              # the student edition
    return folder


@pytest.fixture(scope="module")
def rows(folder):
    from mlpgrader import grader
    return similar.pairs(similar.compare(grader.plan([str(folder)], "ch00")))


def pair(rows, first, second):
    return next((row for row in rows if {row["first"], row["second"]} == {first, second}), None)


def test_near_copies_are_flagged_against_the_book_and_each_other(rows):
    for other in (similar.REFERENCE, "ada"):
        found = pair(rows, "copycat", other)
        assert found is not None, rows
        assert set(found["exercises"]) == {"ch00.numerical_gradient", "ch00.accumulated_gradient"}
        assert min(found["exercises"].values()) >= 0.8
    ada = pair(rows, "ada", similar.REFERENCE)
    assert ada is not None and len(ada["exercises"]) == 4
    assert all(score == 1.0 for score in ada["exercises"].values())


def test_an_honest_solution_and_a_stub_are_not_flagged(rows):
    assert not [row for row in rows if "hana" in (row["first"], row["second"])], rows
    assert not [row for row in rows if "bob" in (row["first"], row["second"])], rows


def test_the_honest_solution_scores_well_below_the_copy(folder):
    """The margin, not only the flag: the honest solution's score against the book."""
    from mlpgrader import grader
    everything = similar.compare(grader.plan([str(folder)], "ch00"), threshold=0.0)
    score = {(m.first, m.second, m.exercise): m.score for m in everything}
    for exercise in ("ch00.numerical_gradient", "ch00.accumulated_gradient"):
        copied = score[(similar.REFERENCE, "copycat", exercise)]
        honest = score.get((similar.REFERENCE, "hana", exercise), 0.0)
        assert copied >= 0.8 > honest + 0.3, (exercise, copied, honest)


def test_command_prints_and_writes_the_pairs(folder, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    script = shutil.which("mlpgrader", path=str(Path(sys.executable).parent))
    run = subprocess.run([script, "similar", str(folder), "--chapter", "ch00",
                          "--report", str(tmp_path / "similar.json")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "copycat" in run.stdout and "A flag to read, not a verdict" in run.stdout
    data = json.loads((tmp_path / "similar.json").read_text("utf-8"))
    assert data["threshold"] == 0.8 and pair(data["pairs"], "copycat", "ada")
    alone = subprocess.run([script, "similar", str(folder / "hana.ipynb"), "--no-reference"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0 and "no exercise code is near-identical" in alone.stdout
