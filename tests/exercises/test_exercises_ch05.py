"""Chapter 5's graded exercise, checked in-process (as `check` runs in a notebook).

The reference solution is read from book/05_watching_a_network_train.ipynb. MUTANTS are
plausible learner mistakes: each must lose points AND get the hint that names its
mistake, or the cases grade nothing. The student edition's stub scores 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlpcore import Linear, Sequential, Tanh
from mlpcore.diagnostics import Recorder, layer_gradient_norms, linear_layers, update_ratios
from mlpcore.exercises import PUBLIC_CASES_SEED, ch05, chapter_exercises, get_exercise
from mlpcore.losses import CrossEntropyLoss
from mlpcore.optim import SGD
from mlpgrader.notebook import load_cells
from tests.exercises._support import (REFERENCE_SEEDS, assert_enough_cases_and_mutants,
                                      assert_every_hint_reachable,
                                      assert_loses_points_on_held_out_seeds, assert_mutant_caught,
                                      assert_references_pass, assert_references_score_full_points,
                                      assert_student_edition_scores_zero, mutant_ids, run_source,
                                      solutions_from)

NOTEBOOK = Path(__file__).resolve().parents[2] / "book" / "05_watching_a_network_train.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(NOTEBOOK), "ch05")


def _mutant(body: str) -> str:
    return ("\ndef update_to_weight_ratios(snapshots):\n"
            + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n")


def _per_step(ratio: str, select: str = "np.ndim(v) == 2", reduce: str = "np.median",
              skip: str = "1:") -> str:
    """A mutant that differs from the reference in one place."""
    return _mutant(f"""
names = [n for n, v in snapshots[0].items() if {select}]
out = []
for n in names:
    r = []
    for old, new in zip(snapshots[:-1], snapshots[1:]):
        b, a = np.asarray(old[n], float), np.asarray(new[n], float)
        r.append({ratio})
    out.append({reduce}(r[{skip}]))
return np.array(out)
""")


RIGHT = "np.linalg.norm(a - b) / np.linalg.norm(b)"
ID = "ch05.update_to_weight_ratios"
# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    (ID, "every_parameter", _per_step(RIGHT, select="True"), "only weight MATRICES"),
    (ID, "by_name_weight", _per_step(RIGHT, select="n.endswith('weight')"), "by what they are"),
    (ID, "keeps_the_first_step", _per_step(RIGHT, skip="0:"), "first step"),
    (ID, "mean_over_steps", _per_step(RIGHT, reduce="np.mean"), "median over the steps"),
    (ID, "divides_by_the_weights_after", _per_step("np.linalg.norm(a - b) / np.linalg.norm(a)"),
     "BEFORE that step"),
    (ID, "first_to_last", _mutant("""
names = [n for n, v in snapshots[0].items() if np.ndim(v) == 2]
return np.array([np.linalg.norm(snapshots[-1][n] - snapshots[0][n]) / np.linalg.norm(snapshots[0][n])
                 for n in names])
"""), "consecutive snapshots"),
    (ID, "first_to_last_per_step", _mutant("""
names = [n for n, v in snapshots[0].items() if np.ndim(v) == 2]
T = len(snapshots) - 1
return np.array([np.linalg.norm(snapshots[-1][n] - snapshots[0][n]) / np.linalg.norm(snapshots[0][n]) / T
                 for n in names])
"""), "partly cancel"),
    (ID, "makemore_std_ratio", _per_step("np.std(a - b) / np.std(b)"), "std(dW) / std(W)"),
    (ID, "log10", _per_step(f"np.log10({RIGHT})"), "log10 only when you plot"),
    (ID, "difference_of_norms", _per_step("(np.linalg.norm(a) - np.linalg.norm(b)) / np.linalg.norm(b)"),
     "norm of the DIFFERENCE"),
    (ID, "last_step_only", _per_step(RIGHT, skip="-1:"), "every early step"),
    (ID, "all_layers_stacked", _mutant("""
names = [n for n, v in snapshots[0].items() if np.ndim(v) == 2]
flat = [np.concatenate([np.ravel(s[n]) for n in names]) for s in snapshots]
r = [np.linalg.norm(a - b) / np.linalg.norm(b) for b, a in zip(flat[:-1], flat[1:])]
return np.full(len(names), np.median(r[1:]))
"""), "PER weight matrix"),
    (ID, "one_number", _mutant("""
names = [n for n, v in snapshots[0].items() if np.ndim(v) == 2]
flat = [np.concatenate([np.ravel(s[n]) for n in names]) for s in snapshots]
r = [np.linalg.norm(a - b) / np.linalg.norm(b) for b, a in zip(flat[:-1], flat[1:])]
return np.median(r[1:])
"""), "PER weight matrix"),
]

#: Further wrong answers with no hint of their own: they must lose points on every seed.
UNHINTED = [
    ("largest_entries", _per_step("np.max(np.abs(a - b)) / np.max(np.abs(b))")),
    ("after_over_before_minus_one", _per_step("abs(np.linalg.norm(a) / np.linalg.norm(b) - 1)")),
    ("entry_ratios_in_log_space", _per_step("10 ** np.mean(np.log10(np.abs(a - b) / np.abs(b)))")),
    ("squared_norms", _per_step("np.sum((a - b) ** 2) / np.sum(b ** 2)")),
    ("spectral_norms", _per_step("np.linalg.norm(a - b, 2) / np.linalg.norm(b, 2)")),
    ("median_over_the_first_100_of_every_10th", _per_step(RIGHT, skip="1::10")),
    ("weights_only_if_named_weight_and_2d_but_last_layer_dropped",
     _per_step(RIGHT, select="np.ndim(v) == 2 and n != list(snapshots[0])[-2]")),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch05", reference_functions, capsys)


def test_every_exercise_has_enough_cases_and_mutants():
    assert_enough_cases_and_mutants("ch05", MUTANTS, 6)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert_every_hint_reachable("ch05", ch05.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_reference_passes_on_every_seed(reference_functions, seed):
    assert_references_pass("ch05", reference_functions, seed)


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    for exercise in chapter_exercises("ch05"):
        for case in exercise.cases_for(seed):
            (first,), (second,) = case.make_inputs(), case.make_inputs()
            assert len(first) == len(second), (exercise.id, case.name)
            for a, b in zip(first, second):
                assert list(a) == list(b), (exercise.id, case.name)
                assert all(np.array_equal(a[name], b[name]) for name in a), (exercise.id, case.name)


def test_student_edition_scores_zero(tmp_path, capsys):
    assert_student_edition_scores_zero(NOTEBOOK, "ch05", tmp_path, capsys)


def test_reference_agrees_with_mlpcores_update_ratios():
    """The exercise's ratio is mlpcore's: the median over steps 2.. of update_ratios, for
    a few SGD steps of a real network, from snapshots of its weights and biases."""
    rng = np.random.default_rng(0)
    model = Sequential(Linear(8, 6, rng=rng), Tanh(), Linear(6, 3, rng=rng))
    X = rng.standard_normal((20, 8)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    optimizer = SGD(model.parameters(), lr=0.5, momentum=0.9)

    def snapshot():
        return {f"{index}.{kind}": getattr(layer, kind).data.copy()
                for index, (_, layer) in enumerate(linear_layers(model)) for kind in ("weight", "bias")}

    snapshots, per_step = [snapshot()], []
    for _ in range(6):
        layer_gradient_norms(model, CrossEntropyLoss(), X, y)   # sets .grad
        per_step.append(list(update_ratios(model, optimizer).values()))
        snapshots.append(snapshot())
    expected = np.median(np.array(per_step)[1:], axis=0)
    np.testing.assert_allclose(ch05._reference(snapshots), expected, rtol=1e-5)
    assert get_exercise("ch05.update_to_weight_ratios").max_points == 6
    assert Recorder(model).ratio == "norm"


@pytest.mark.parametrize("name, source", UNHINTED, ids=[m[0] for m in UNHINTED])
def test_unhinted_wrong_answers_lose_points(name, source):
    assert_loses_points_on_held_out_seeds(ID, name, source)
    assert run_source(ID, source).points < get_exercise(ID).max_points
