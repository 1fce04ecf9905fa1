"""Chapter 4's graded exercise, checked in-process (as `check` runs in a notebook).

The reference solution is read from book/04_batch_norm_from_the_inside.ipynb.
MUTANTS are plausible learner mistakes: each must lose points AND get the hint that
names its mistake, or the cases grade nothing. The student edition's stub scores 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlpcore import BatchNorm1d
from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises
from mlpcore.exercises import ch04
from mlpcore.gradcheck import relative_error
from mlpgrader.notebook import load_cells
from tests.exercises._support import (HELD_OUT_SEEDS, REFERENCE_SEEDS,
                                      assert_enough_cases_and_mutants, assert_every_hint_reachable,
                                      assert_loses_points_on_held_out_seeds, assert_mutant_caught,
                                      assert_references_pass, assert_references_score_full_points,
                                      assert_student_edition_scores_zero, mutant_ids, run_source,
                                      solutions_from)

NOTEBOOK = Path(__file__).resolve().parents[2] / "book" / "04_batch_norm_from_the_inside.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(NOTEBOOK), "ch04")


#: The pieces a correct answer shares; each mutant changes one thing. M rows are marked.
_HEAD = """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            m = mask.sum()
            mean = x[mask].mean(axis=0)
            var = x[mask].var(axis=0)
            inv_std = 1 / np.sqrt(var + eps)
            x_hat = (x - mean) * inv_std
            dbeta = dy.sum(axis=0)
            dgamma = (dy * x_hat).sum(axis=0)
            marked = mask[:, None]
"""
_RIGHT_DX = "            dx = gamma * inv_std * (dy - marked * (dbeta + x_hat * dgamma) / m)\n"

# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    ("ch04.batchnorm_backward", "no_path_through_the_mean", _HEAD + """
            dx = gamma * inv_std * (dy - marked * x_hat * dgamma / m)
            return dx, dgamma, dbeta
        """, "x -> μ -> x̂"),
    ("ch04.batchnorm_backward", "no_path_through_the_variance", _HEAD + """
            dx = gamma * inv_std * (dy - marked * dbeta / m)
            return dx, dgamma, dbeta
        """, "x -> σ² -> x̂"),
    ("ch04.batchnorm_backward", "statistics_as_constants", _HEAD + """
            return gamma * inv_std * dy, dgamma, dbeta
        """, "not constants"),
    ("ch04.batchnorm_backward", "unbiased_variance", """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            m = mask.sum()
            centred = x - x[mask].mean(axis=0)
            var = (centred[mask] ** 2).sum(axis=0) / (m - 1)
            std = np.sqrt(var + eps)
            x_hat = centred / std
            dx_hat = dy * gamma
            dvar = (dx_hat * centred).sum(axis=0) * -0.5 * std ** -3
            dmean = -(dx_hat / std).sum(axis=0)
            dx = dx_hat / std + mask[:, None] * (dvar * 2 * centred / (m - 1) + dmean / m)
            return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
        """, "BIASED"),
    ("ch04.batchnorm_backward", "eps_outside_the_square_root", """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            m = mask.sum()
            centred = x - x[mask].mean(axis=0)
            sd = np.sqrt((centred[mask] ** 2).mean(axis=0))
            den = sd + eps
            x_hat = centred / den
            dx_hat = dy * gamma
            dden = -(dx_hat * centred).sum(axis=0) / den ** 2
            dvar = dden / (2 * sd)
            dx = dx_hat / den + mask[:, None] * (dvar * 2 * centred / m
                                                 - (dx_hat / den).sum(axis=0) / m)
            return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
        """, "inside the square root"),
    ("ch04.batchnorm_backward", "dgamma_without_x_hat", _HEAD + _RIGHT_DX + """
            return dx, dy.sum(axis=0), dbeta
        """, "not Σ_n dy_n, which is dβ"),
    ("ch04.batchnorm_backward", "dgamma_with_raw_x", _HEAD + _RIGHT_DX + """
            return dx, (dy * x).sum(axis=0), dbeta
        """, "not by the raw x"),
    ("ch04.batchnorm_backward", "sums_over_the_feature_axis", _HEAD + _RIGHT_DX + """
            return dx, (dy * x_hat).sum(axis=1), dy.sum(axis=1)
        """, "axis=0"),
    ("ch04.batchnorm_backward", "means_not_sums", _HEAD + _RIGHT_DX + """
            return dx, dgamma / len(x), dbeta / len(x)
        """, "SUMS over the batch"),
    ("ch04.batchnorm_backward", "no_gamma_in_dx", _HEAD + """
            dx = inv_std * (dy - marked * (dbeta + x_hat * dgamma) / m)
            return dx, dgamma, dbeta
        """, "carries a factor γ"),
    ("ch04.batchnorm_backward", "gamma_twice", _HEAD + """
            dx = gamma ** 2 * inv_std * (dy - marked * (dbeta + x_hat * dgamma) / m)
            return dx, dgamma, dbeta
        """, "γ multiplies once"),
    ("ch04.batchnorm_backward", "no_eps", """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            m = mask.sum()
            std = x[mask].std(axis=0)
            x_hat = (x - x[mask].mean(axis=0)) / std
            dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
            dx = gamma / std * (dy - mask[:, None] * (dbeta + x_hat * dgamma) / m)
            return dx, dgamma, dbeta
        """, "divides by zero"),
    # The mistakes of the variant: where the mask matters.
    ("ch04.batchnorm_backward", "mask_ignored_the_chapters_layer", """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            n = x.shape[0]
            inv_std = 1 / np.sqrt(x.var(axis=0) + eps)
            x_hat = (x - x.mean(axis=0)) * inv_std
            dbeta, dgamma = dy.sum(axis=0), (dy * x_hat).sum(axis=0)
            return gamma * inv_std / n * (n * dy - dbeta - x_hat * dgamma), dgamma, dbeta
        """, "MARKED rows only"),
    ("ch04.batchnorm_backward", "sums_over_the_marked_rows_only", _HEAD + """
            dx = gamma * inv_std * (dy - marked * ((dy * marked).sum(axis=0)
                                                   + x_hat * (dy * x_hat * marked).sum(axis=0)) / m)
            return dx, dgamma, dbeta
        """, "run over ALL N rows"),
    ("ch04.batchnorm_backward", "corrections_on_every_row", _HEAD + """
            dx = gamma * inv_std * (dy - (dbeta + x_hat * dgamma) / m)
            return dx, dgamma, dbeta
        """, "direct term only"),
    ("ch04.batchnorm_backward", "one_over_n_not_one_over_m", _HEAD + """
            dx = gamma * inv_std * (dy - marked * (dbeta + x_hat * dgamma) / len(x))
            return dx, dgamma, dbeta
        """, "1/M, not 1/N"),
    ("ch04.batchnorm_backward", "unmarked_rows_get_no_gradient", _HEAD + _RIGHT_DX + """
            return dx * marked, dgamma, dbeta
        """, "not 0"),
    ("ch04.batchnorm_backward", "drop_the_unmarked_rows", """
        def batchnorm_backward(x, gamma, eps, dy, mask):
            xm, dym = x[mask], dy[mask]
            m = len(xm)
            inv_std = 1 / np.sqrt(xm.var(axis=0) + eps)
            x_hat = (xm - xm.mean(axis=0)) * inv_std
            dbeta, dgamma = dym.sum(axis=0), (dym * x_hat).sum(axis=0)
            dx = np.zeros_like(x)
            dx[mask] = gamma * inv_std / m * (m * dym - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """, "run over ALL N rows"),
    ("ch04.batchnorm_backward", "parameter_sums_over_the_marked_rows", _HEAD + _RIGHT_DX + """
            return dx, (dy * x_hat)[mask].sum(axis=0), dy[mask].sum(axis=0)
        """, "sum over all N"),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch04", reference_functions, capsys)


def test_every_exercise_has_enough_cases_and_mutants():
    assert_enough_cases_and_mutants("ch04", MUTANTS, 12)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert_every_hint_reachable("ch04", ch04.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_reference_passes_on_every_seed(reference_functions, seed):
    assert_references_pass("ch04", reference_functions, seed)


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    for exercise in chapter_exercises("ch04"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            assert all(np.array_equal(np.asarray(a), np.asarray(b))
                       for a, b in zip(first, second)), (exercise.id, case.name)


def test_student_edition_scores_zero(tmp_path, capsys):
    assert_student_edition_scores_zero(NOTEBOOK, "ch04", tmp_path, capsys)


def test_cases_include_the_edge_conditions():
    """Unmarked rows (at the end, scattered, with dy = 0), every row marked, two marked
    rows, a feature constant over the marked rows (variance 0), a large eps and large
    variances, on every seed tried."""
    for seed in (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS:
        cases = {case.name: case.make_inputs()
                 for case in chapter_exercises("ch04")[0].cases_for(seed)}
        x, gamma, eps, dy, mask = cases["padding rows of zeros at the end of the batch"]
        assert not mask[-1] and mask[0] and np.all(x[~mask] == 0) and np.any(dy[~mask] != 0)
        mask = cases["unmarked rows scattered through the batch"][4]
        assert 2 <= (~mask).sum() and mask.sum() >= 5
        assert cases["every row marked (the layer of the chapter)"][4].all()
        assert cases["two marked rows"][4].sum() == 2
        x, gamma, eps, dy, mask = cases["the loss ignores the unmarked rows (their dy is 0)"]
        assert (~mask).any() and np.all(dy[~mask] == 0)
        x, gamma, eps, dy, mask = cases["one feature constant over the marked rows (its variance is 0)"]
        assert np.sum(x[mask].var(axis=0) == 0) == 1 and (~mask).any()
        assert cases["a large eps (0.1 to 1) and features of small variance"][2] >= 0.1
        assert cases["features of large variance (std 30 to 100)"][0].std(axis=0).min() > 10
        # Every case but "every row marked" has an unmarked row whose dy is not 0, except
        # the one that sets it to 0: there the variant's mistakes must not be told apart.
        for name, (x, gamma, eps, dy, mask) in cases.items():
            assert mask.sum() >= 2 and mask.dtype == bool, name


def test_reference_matches_mlpcore_and_finite_differences():
    """With every row marked, the case file's reference (the graph form) equals
    BatchNorm1d's backward; with some rows unmarked it equals the central finite
    difference of sum(dy * y), y normalised with the marked rows' statistics (float64)."""
    rng = np.random.default_rng(40)
    for n, c, unmarked in ((2, 3, 0), (5, 4, 0), (9, 2, 0), (5, 3, 2), (9, 2, 4), (4, 1, 1)):
        x, gamma, eps, dy, mask = ch04._bn_draw(rng, n, c, unmarked)
        want = ch04.reference(x, gamma, eps, dy, mask)
        if unmarked == 0:
            layer = BatchNorm1d(c, eps=eps, dtype=np.float64)
            layer.weight.data[...] = gamma
            layer.bias.data[...] = rng.standard_normal(c)
            layer(x)
            dx = layer.backward(dy)
            assert relative_error(dx, want[0]) < 1e-10
            assert relative_error(layer.weight.grad, want[1]) < 1e-10
            assert relative_error(layer.bias.grad, want[2]) < 1e-10

        def loss(x_, gamma_=gamma, beta_=0.0):
            mean, var = x_[mask].mean(axis=0), x_[mask].var(axis=0)
            return float(np.sum(dy * (gamma_ * (x_ - mean) / np.sqrt(var + eps) + beta_)))

        def numeric(f, at):
            out = np.zeros_like(at)
            for index in np.ndindex(at.shape):
                step = np.zeros_like(at)
                step[index] = 1e-6
                out[index] = (f(at + step) - f(at - step)) / 2e-6
            return out

        assert relative_error(want[0], numeric(loss, x)) < 1e-6
        assert relative_error(want[1], numeric(lambda g: loss(x, g), gamma)) < 1e-6
        assert relative_error(want[2], numeric(lambda b: loss(x, gamma, b), np.zeros(c))) < 1e-6


def test_the_variant_is_not_the_chapters_closed_form():
    """The chapter prints the backward pass for a fully marked batch; copied as it is, it
    must lose points on every seed, and the chapter's layer must still be one case."""
    source = dict((m[1], m[2]) for m in MUTANTS)["mask_ignored_the_chapters_layer"]
    for seed in (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS:
        result = run_source("ch04.batchnorm_backward", source, seed)
        passed = [case.name for case in result.cases if case.status == "passed"]
        assert result.points <= result.max_points // 3, result.summary()
        assert "every row marked (the layer of the chapter)" in passed
