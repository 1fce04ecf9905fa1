"""Chapter 5's graded exercise, checked in-process (as `check` runs in a notebook).

The reference solution is read from book/05_watching_a_network_train.ipynb. MUTANTS are
plausible learner mistakes: each must lose points AND get the hint that names its
mistake, or the cases grade nothing. The student edition's stub scores 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures.exercise_checks import assert_mutant_caught, define, solutions_from
from fixtures.exercise_notebooks import edition_path, load_tool
from fixtures.heldout_checks import (HELD_OUT_SEEDS, assert_every_hint_reachable,
                                     assert_loses_points_on_held_out_seeds)
from mlpcore import Linear, Sequential, Tanh
from mlpcore.diagnostics import Recorder, layer_gradient_norms, linear_layers, update_ratios
from mlpcore.exercises import (PUBLIC_CASES_SEED, ch05, chapter_exercises, check, get_exercise,
                               run_exercise)
from mlpcore.losses import CrossEntropyLoss
from mlpcore.optim import SGD
from mlpgrader.notebook import find_exercise_source, load_cells

NOTEBOOK = Path(__file__).resolve().parent.parent / "book" / "05_watching_a_network_train.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(NOTEBOOK), "ch05")


def _mutant(body: str) -> str:
    return ("\ndef update_to_weight_ratios(before, after):\n"
            + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n")


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    ("ch05.update_to_weight_ratios", "difference_of_norms", _mutant("""
return np.array([(np.linalg.norm(a) - np.linalg.norm(b)) / np.linalg.norm(b)
                 for b, a in zip(before, after)])
"""), "norm of the DIFFERENCE"),
    ("ch05.update_to_weight_ratios", "divides_by_the_weights_after", _mutant("""
return np.array([np.linalg.norm(a - b) / np.linalg.norm(a) for b, a in zip(before, after)])
"""), "BEFORE the step"),
    ("ch05.update_to_weight_ratios", "squared_norms", _mutant("""
return np.array([np.sum((a - b) ** 2) / np.sum(b ** 2) for b, a in zip(before, after)])
"""), "square ROOT"),
    ("ch05.update_to_weight_ratios", "mean_of_entry_ratios", _mutant("""
return np.array([np.mean(np.abs(a - b) / np.abs(b)) for b, a in zip(before, after)])
"""), "per-entry ratios"),
    ("ch05.update_to_weight_ratios", "makemore_std_ratio", _mutant("""
return np.array([np.std(a - b) / np.std(b) for b, a in zip(before, after)])
"""), "std(dW) / std(W)"),
    ("ch05.update_to_weight_ratios", "log10", _mutant("""
return np.log10([np.linalg.norm(a - b) / np.linalg.norm(b) for b, a in zip(before, after)])
"""), "log10 only when you plot"),
    ("ch05.update_to_weight_ratios", "one_ratio_for_all_layers", _mutant("""
step = np.sqrt(sum(np.sum((a - b) ** 2) for b, a in zip(before, after)))
size = np.sqrt(sum(np.sum(b ** 2) for b in before))
return np.full(len(before), step / size)
"""), "PER LAYER"),
    ("ch05.update_to_weight_ratios", "one_number", _mutant("""
step = np.sqrt(sum(np.sum((a - b) ** 2) for b, a in zip(before, after)))
return step / np.sqrt(sum(np.sum(b ** 2) for b in before))
"""), "PER LAYER"),
    ("ch05.update_to_weight_ratios", "largest_entries", _mutant("""
return np.array([np.max(np.abs(a - b)) / np.max(np.abs(b)) for b, a in zip(before, after)])
"""), "largest entry"),
    ("ch05.update_to_weight_ratios", "mean_absolute_values", _mutant("""
return np.array([np.mean(np.abs(a - b)) / np.mean(np.abs(b)) for b, a in zip(before, after)])
"""), "mean absolute value"),
    ("ch05.update_to_weight_ratios", "inverted", _mutant("""
return np.array([np.linalg.norm(b) / np.linalg.norm(a - b) for b, a in zip(before, after)])
"""), "not its inverse"),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    for exercise in chapter_exercises("ch05"):
        result = check(exercise.id, reference_functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert (result.points, result.max_points) == (exercise.max_points, exercise.max_points)
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def test_every_exercise_has_enough_cases_and_mutants():
    for exercise in chapter_exercises("ch05"):
        assert len(exercise.cases) >= 5, exercise.id
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 6, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert set(ch05.HINTS) == {exercise.id for exercise in chapter_exercises("ch05")}
    assert_every_hint_reachable(ch05.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS + (17, 2024))
def test_reference_passes_on_every_seed(reference_functions, seed):
    for exercise in chapter_exercises("ch05"):
        result = run_exercise(exercise, reference_functions[exercise.id], seed=seed)
        assert result.status == "passed", result.summary()


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    for exercise in chapter_exercises("ch05"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            for a, b in zip(first, second):
                assert all(np.array_equal(x, y) for x, y in zip(a, b)), (exercise.id, case.name)


def test_student_edition_scores_zero(tmp_path, capsys):
    make_student = load_tool("make_student_edition")
    assert make_student.main(["--out", str(tmp_path), str(edition_path(NOTEBOOK))]) == 0
    cells = load_cells(tmp_path / NOTEBOOK.name)
    for exercise in chapter_exercises("ch05"):
        stub = define(find_exercise_source(cells, exercise), exercise.function)
        result = check(exercise.id, stub)
        assert result.status == "not_attempted" and result.points == 0
    assert "not attempted yet" in capsys.readouterr().out


def test_reference_agrees_with_mlpcores_update_ratios_and_recorder():
    """The exercise's ratio is mlpcore's: update_ratios and the Recorder give the same
    numbers for one SGD step of a real network."""
    rng = np.random.default_rng(0)
    model = Sequential(Linear(8, 6, rng=rng), Tanh(), Linear(6, 3, rng=rng))
    X = rng.standard_normal((20, 8)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    before = [layer.weight.data.copy() for _, layer in linear_layers(model)]
    ratios = update_ratios(model, SGD(model.parameters(), lr=0.5))
    after = [layer.weight.data.copy() for _, layer in linear_layers(model)]
    np.testing.assert_allclose(ch05._reference(before, after), list(ratios.values()), rtol=1e-5)
    assert get_exercise("ch05.update_to_weight_ratios").max_points == 6
    assert Recorder(model).ratio == "norm"
