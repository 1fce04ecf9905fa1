"""Held-out cases, the grader's side (issue 19, item 1): the instructor's private seed
draws the cases, goes nowhere a student can see it (not the sandbox, the table, the
pytest output or the report: the report holds its fingerprint), and grading is
deterministic for a given seed. A submission that looks answers up in a table of the
public cases' outputs scores full marks on the public cases and loses them on a
private seed, next to the reference solutions at 100 % on both."""
from __future__ import annotations

import base64
import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mlpgrader import options
from mlpgrader.grade_cell import build_job, exercise_cases
from mlpgrader.grader import grade_all, plan, report_dict
from tests._support import ROOT
from tests.grader._support import (cell_text, ch00_exercises, chapter0_notebook, read,
                                   sandbox_mode, signature, with_cell, write)

SEED = 0x5EED_1234_ABCD_9876  # a private seed as an instructor would draw one
TARGET = ch00_exercises()[0]


# ------------------------------------------------------------------ the seed itself
def test_the_seed_comes_from_the_option_then_the_file_then_the_environment(tmp_path):
    secret = tmp_path / "seed"
    secret.write_text(f"{SEED}\n")
    env = {options.SEED_ENVIRONMENT: "17"}
    assert options.resolve_cases_seed(5, str(secret), env) == 5
    assert options.resolve_cases_seed(None, str(secret), env) == SEED
    assert options.resolve_cases_seed(None, None, env) == 17
    assert options.resolve_cases_seed(None, None, {}) is None
    secret.write_text("correct horse battery staple\n")  # text: hashed into a seed
    drawn = options.resolve_cases_seed(None, str(secret), {})
    assert drawn == options.resolve_cases_seed(None, str(secret), {}) and drawn > 2 ** 32


@pytest.mark.parametrize("seed, seed_file, fragment", [
    (-1, None, "non-negative"), (None, "empty", "is empty"), (None, "missing", "cannot read")])
def test_a_bad_seed_is_refused_with_the_fix(tmp_path, seed, seed_file, fragment):
    if seed_file == "empty":
        (tmp_path / "empty").write_text("  \n")
    path = str(tmp_path / seed_file) if seed_file else None
    with pytest.raises(ValueError, match=fragment):
        options.resolve_cases_seed(seed, path, {})


def test_the_fingerprint_names_the_seed_without_showing_it():
    fingerprint = options.seed_fingerprint(SEED)
    assert len(fingerprint) == 12 and int(fingerprint, 16) >= 0
    assert fingerprint == options.seed_fingerprint(SEED)
    assert fingerprint != options.seed_fingerprint(SEED + 1)
    assert str(SEED) not in fingerprint and hex(SEED)[2:] not in fingerprint


def test_the_seed_is_not_in_the_job_sent_to_the_sandbox():
    """Only the cases' inputs cross the pipe, never the seed they were drawn from."""
    cases = exercise_cases(TARGET, SEED)
    job, _ = build_job(TARGET, "def f(): pass\n", "bwrap", cases=cases)
    assert str(SEED).encode() not in job and hex(SEED)[2:].encode() not in job.lower()


# ------------------------------------------------------------ grading with the seed
def _key(arguments) -> str:
    """A lookup key for a case's inputs (what a student's answer table would use)."""
    parts = []
    for value in arguments:
        if isinstance(value, np.ndarray):
            parts.append(value.dtype.str + str(value.shape) + value.tobytes().hex())
        elif isinstance(value, np.random.Generator):
            parts.append(json.dumps(value.bit_generator.state, sort_keys=True, default=str))
        else:
            parts.append(repr(value))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _lookup_cell(reference_source: str) -> str:
    """An exercise cell that answers from a table of the public cases' outputs (built
    with the reference solution) and None to anything else."""
    space: dict = {"np": np}
    exec(reference_source, space)
    function = space[TARGET.function]
    table = {}
    for case in TARGET.cases:
        arguments = case.make_inputs()
        table[_key(arguments)] = function(*case.make_inputs())
    blob = base64.b64encode(pickle.dumps(table)).decode("ascii")
    key_source = "\n".join("    " + line for line in _KEY_SOURCE.strip().splitlines())
    return (f"import base64, hashlib, json, pickle\n"
            f"TABLE = pickle.loads(base64.b64decode({blob!r}))\n\n"
            f"def _key(arguments):\n{key_source}\n\n"
            + signature(TARGET)
            + f"    return TABLE.get(_key(({', '.join(TARGET.params)},)))\n")


_KEY_SOURCE = """
parts = []
for value in arguments:
    if isinstance(value, np.ndarray):
        parts.append(value.dtype.str + str(value.shape) + value.tobytes().hex())
    elif isinstance(value, np.random.Generator):
        parts.append(json.dumps(value.bit_generator.state, sort_keys=True, default=str))
    else:
        parts.append(repr(value))
return hashlib.sha256("|".join(parts).encode()).hexdigest()
"""


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """A class (the reference, an answer-table student) graded with the public cases
    and twice with the private seed: {label: (submissions, report)}."""
    mode = sandbox_mode()
    folder = tmp_path_factory.mktemp("class")
    reference = read(chapter0_notebook())
    write(reference, folder / "reference.ipynb")
    write(with_cell(reference, TARGET.function,
                    _lookup_cell(cell_text(reference, TARGET.function))),
          folder / "answer_table.ipynb")
    graded = {}
    for label, seed in (("public", None), ("private", SEED), ("private_again", SEED)):
        submissions = plan([str(folder)], "ch00")
        for future in grade_all(submissions, jobs=2, mode=mode, cases_seed=seed).values():
            future.result()
        cases = "public" if seed is None else f"private seed sha256:{options.seed_fingerprint(seed)}"
        graded[label] = ({s.student: s for s in submissions},
                         report_dict(submissions, 10.0, mode, cases=cases))
    return graded


def test_the_reference_scores_100_percent_on_public_and_private_cases(held_out):
    for label in ("public", "private"):
        reference = held_out[label][0]["reference"]
        assert reference.points == reference.max_points > 0, (label, reference.to_dict())


def test_an_answer_table_of_the_public_cases_earns_nothing_on_a_private_seed(held_out):
    public = held_out["public"][0]["answer_table"].results[TARGET.id]
    private = held_out["private"][0]["answer_table"].results[TARGET.id]
    assert public.points == public.max_points, public.summary()
    assert private.points == 0, private.summary()


def test_grading_is_deterministic_for_a_seed_and_the_report_holds_its_fingerprint(held_out):
    first, again = held_out["private"][1], held_out["private_again"][1]
    assert first == again
    text = json.dumps(first)
    assert first["grader"]["cases"] == f"private seed sha256:{options.seed_fingerprint(SEED)}"
    assert str(SEED) not in text and hex(SEED)[2:] not in text.lower()
    assert held_out["public"][1]["grader"]["cases"] == "public"


def test_the_pytest_command_never_shows_the_seed(tmp_path):
    """The documented command with a seed file: the seed is in neither the output nor
    the report; the report has the fingerprint."""
    sandbox_mode()
    secret = tmp_path / "secret" / "seed"
    secret.parent.mkdir()
    secret.write_text(f"{SEED}\n")
    write(read(chapter0_notebook()), tmp_path / "ada.ipynb")
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "grading", "-q", "-p",
                           "no:cacheprovider", "--submissions", str(tmp_path / "ada.ipynb"),
                           "--cases-seed-file", str(secret), "--report", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shown = done.stdout + done.stderr + report.read_text()
    assert str(SEED) not in shown
    assert options.seed_fingerprint(SEED) in report.read_text()
