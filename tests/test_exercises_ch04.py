"""Chapter 4's graded exercise, checked in-process (as `check` runs in a notebook).

The reference solution is read from book/04_batch_norm_from_the_inside.ipynb.
MUTANTS are plausible learner mistakes: each must lose points AND get the hint that
names its mistake, or the cases grade nothing. The student edition's stub scores 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures.exercise_checks import assert_mutant_caught, define, solutions_from
from fixtures.exercise_notebooks import edition_path, load_tool
from fixtures.heldout_checks import (HELD_OUT_SEEDS, assert_every_hint_reachable,
                                     assert_loses_points_on_held_out_seeds)
from mlpcore import BatchNorm1d
from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises, check, run_exercise
from mlpcore.exercises import ch04
from mlpcore.gradcheck import relative_error
from mlpgrader.notebook import find_exercise_source, load_cells

NOTEBOOK = Path(__file__).resolve().parent.parent / "book" / "04_batch_norm_from_the_inside.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(NOTEBOOK), "ch04")


#: The pieces a correct answer shares; each mutant changes one thing.
_HEAD = """
        def batchnorm_backward(x, gamma, eps, dy):
            n = x.shape[0]
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            inv_std = 1 / np.sqrt(var + eps)
            x_hat = (x - mean) * inv_std
            dbeta = dy.sum(axis=0)
            dgamma = (dy * x_hat).sum(axis=0)
"""

# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    ("ch04.batchnorm_backward", "no_path_through_the_mean", _HEAD + """
            dx_hat = dy * gamma
            dx = inv_std * (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0))
            return dx, dgamma, dbeta
        """, "x -> μ -> x̂"),
    ("ch04.batchnorm_backward", "no_path_through_the_variance", _HEAD + """
            dx_hat = dy * gamma
            dx = inv_std * (dx_hat - dx_hat.mean(axis=0))
            return dx, dgamma, dbeta
        """, "x -> σ² -> x̂"),
    ("ch04.batchnorm_backward", "statistics_as_constants", _HEAD + """
            return gamma * inv_std * dy, dgamma, dbeta
        """, "not constants"),
    ("ch04.batchnorm_backward", "unbiased_variance", """
        def batchnorm_backward(x, gamma, eps, dy):
            n = x.shape[0]
            centred = x - x.mean(axis=0)
            var = (centred ** 2).sum(axis=0) / (n - 1)
            std = np.sqrt(var + eps)
            x_hat = centred / std
            dx_hat = dy * gamma
            dvar = (dx_hat * centred).sum(axis=0) * -0.5 * std ** -3
            dmean = -(dx_hat / std).sum(axis=0)
            dx = dx_hat / std + dvar * 2 * centred / (n - 1) + dmean / n
            return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
        """, "BIASED"),
    ("ch04.batchnorm_backward", "eps_outside_the_square_root", """
        def batchnorm_backward(x, gamma, eps, dy):
            n = x.shape[0]
            centred = x - x.mean(axis=0)
            sd = np.sqrt((centred ** 2).mean(axis=0))
            den = sd + eps
            x_hat = centred / den
            dx_hat = dy * gamma
            dden = -(dx_hat * centred).sum(axis=0) / den ** 2
            dvar = dden / (2 * sd)
            dx = dx_hat / den + dvar * 2 * centred / n - (dx_hat / den).sum(axis=0) / n
            return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
        """, "inside the square root"),
    ("ch04.batchnorm_backward", "dgamma_without_x_hat", _HEAD + """
            dx = gamma * inv_std / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, dy.sum(axis=0), dbeta
        """, "not Σ_n dy_n, which is dβ"),
    ("ch04.batchnorm_backward", "dgamma_with_raw_x", _HEAD + """
            dx = gamma * inv_std / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, (dy * x).sum(axis=0), dbeta
        """, "not by the raw x"),
    ("ch04.batchnorm_backward", "sums_over_the_feature_axis", """
        def batchnorm_backward(x, gamma, eps, dy):
            n = x.shape[0]
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            inv_std = 1 / np.sqrt(var + eps)
            x_hat = (x - mean) * inv_std
            dbeta = dy.sum(axis=1)
            dgamma = (dy * x_hat).sum(axis=1)
            dx = gamma * inv_std / n * (n * dy - dy.sum(axis=0) - x_hat * (dy * x_hat).sum(axis=0))
            return dx, dgamma, dbeta
        """, "axis=0"),
    ("ch04.batchnorm_backward", "means_not_sums", _HEAD + """
            dx = gamma * inv_std / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, dgamma / n, dbeta / n
        """, "SUMS over the batch"),
    ("ch04.batchnorm_backward", "no_gamma_in_dx", _HEAD + """
            dx = inv_std / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """, "carries a factor γ"),
    ("ch04.batchnorm_backward", "gamma_twice", _HEAD + """
            dx = gamma ** 2 * inv_std / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """, "γ multiplies once"),
    ("ch04.batchnorm_backward", "no_eps", """
        def batchnorm_backward(x, gamma, eps, dy):
            n = x.shape[0]
            x_hat = (x - x.mean(axis=0)) / x.std(axis=0)
            dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
            dx = gamma / x.std(axis=0) / n * (n * dy - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """, "divides by zero"),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    for exercise in chapter_exercises("ch04"):
        result = check(exercise.id, reference_functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert (result.points, result.max_points) == (exercise.max_points, exercise.max_points)
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def test_every_exercise_has_enough_cases_and_mutants():
    for exercise in chapter_exercises("ch04"):
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
    assert set(ch04.HINTS) == {exercise.id for exercise in chapter_exercises("ch04")}
    assert_every_hint_reachable(ch04.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS + (17, 2024))
def test_reference_passes_on_every_seed(reference_functions, seed):
    for exercise in chapter_exercises("ch04"):
        result = run_exercise(exercise, reference_functions[exercise.id], seed=seed)
        assert result.status == "passed", result.summary()


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    for exercise in chapter_exercises("ch04"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            assert all(np.array_equal(np.asarray(a), np.asarray(b))
                       for a, b in zip(first, second)), (exercise.id, case.name)


def test_student_edition_scores_zero(tmp_path, capsys):
    make_student = load_tool("make_student_edition")
    assert make_student.main(["--out", str(tmp_path), str(edition_path(NOTEBOOK))]) == 0
    cells = load_cells(tmp_path / NOTEBOOK.name)
    for exercise in chapter_exercises("ch04"):
        stub = define(find_exercise_source(cells, exercise), exercise.function)
        result = check(exercise.id, stub)
        assert result.status == "not_attempted" and result.points == 0
    assert "not attempted yet" in capsys.readouterr().out


def test_cases_include_the_edge_conditions():
    """A batch of 2, a feature whose dy is constant (its dx must be 0), a constant
    feature (variance 0), a large eps, and large variances, on every seed tried."""
    for seed in (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS:
        cases = {case.name: case.make_inputs()
                 for case in chapter_exercises("ch04")[0].cases_for(seed)}
        assert cases["a batch of 2"][0].shape[0] == 2
        x, gamma, eps, dy = cases["one feature whose upstream gradient is the same for every example"]
        flat = np.ptp(dy, axis=0) == 0
        assert flat.sum() == 1
        assert np.allclose(ch04.reference(x, gamma, eps, dy)[0][:, flat], 0, atol=1e-12)
        x = cases["one feature constant over the batch (its variance is 0)"][0]
        assert np.sum(x.var(axis=0) == 0) == 1
        assert cases["a large eps (0.1 to 1) and features of small variance"][2] >= 0.1
        assert cases["features of large variance (std 30 to 100)"][0].std(axis=0).min() > 10


def test_reference_matches_mlpcore_and_finite_differences():
    """The case file's reference (the graph form) equals BatchNorm1d's backward and the
    central finite difference of sum(dy * y) in float64."""
    rng = np.random.default_rng(40)
    for n, c in ((2, 3), (5, 4), (9, 2)):
        x, gamma, eps, dy = ch04._bn_draw(rng, n, c)
        layer = BatchNorm1d(c, eps=eps, dtype=np.float64)
        layer.weight.data[...] = gamma
        layer.bias.data[...] = rng.standard_normal(c)
        layer(x)
        dx = layer.backward(dy)
        want = ch04.reference(x, gamma, eps, dy)
        assert relative_error(dx, want[0]) < 1e-10
        assert relative_error(layer.weight.grad, want[1]) < 1e-10
        assert relative_error(layer.bias.grad, want[2]) < 1e-10

        def loss(x_):
            mean, var = x_.mean(axis=0), x_.var(axis=0)
            return float(np.sum(dy * gamma * (x_ - mean) / np.sqrt(var + eps)))
        numeric = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[index] = 1e-6
            numeric[index] = (loss(x + step) - loss(x - step)) / 2e-6
        assert relative_error(want[0], numeric) < 1e-6
