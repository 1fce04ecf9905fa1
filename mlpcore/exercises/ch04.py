"""Chapter 4 exercises (batch normalisation from the inside): the cases and the classic
mistakes.

Exercise 4.1 is a variant of the chapter's backward pass, so that the closed form on the
page cannot be copied: the batch statistics come from the rows marked by ``mask`` (padding
rows, or extra examples that must not shift the statistics, are unmarked), and every row
is normalised with them.

The reference is computed in float64 from each case's own inputs by the chapter's full
computational-graph form of the backward pass (tests/exercises/test_exercises_ch04.py checks it
against mlpcore.BatchNorm1d and against finite differences). The cases are drawn from the
np.random.Generator the exercise is given (sizes, values, conditions), so the grader's
private seed gives cases nobody has seen; the kinds of cases (their names) stay the same.

Each wrong answer below is the *exact* gradient of a plausible wrong model of the layer
(statistics held constant, an unbiased variance, eps outside the square root, ...), or
the right gradient with one term dropped, so a learner who makes that mistake matches
it to rounding and gets the hint for that mistake only.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from mlpcore.exercises._compare import compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


# ------------------------------------------------------- 1. BatchNorm backward, training
# The variant asked for: the statistics come from the rows marked by `mask` (M of the N
# rows), and every row is normalised with them. With every row marked it is the layer of
# the chapter; otherwise the page's closed form does not apply as printed, and the learner
# has to redo the derivation: which rows' outputs use μ and σ² (all of them), and which
# rows' inputs enter them (the marked ones).
NO_MEAN_PATH = ("μ depends on the marked rows' x: the path x -> μ -> x̂ adds "
                "-(1/M) Σ dx̂ (times 1/σ̂) to every marked row; it is missing here")
NO_VAR_PATH = ("σ² depends on the marked rows' x too: the path x -> σ² -> x̂ adds a term "
               "along x̂ to every marked row; it is missing here")
STATS_CONSTANT = ("in training mode μ and σ² are computed from the batch, so they are not "
                  "constants: the marked rows' dx needs the paths through μ and σ² (only "
                  "eval mode, with the running statistics, has dx = γ/σ̂ · dy everywhere)")
UNBIASED = ("normalisation uses the BIASED variance of the marked rows (divide by M), as "
            "PyTorch does; the unbiased M - 1 is only for the running variance")
EPS_OUTSIDE = "eps goes inside the square root: σ̂ = sqrt(σ² + eps), not sqrt(σ²) + eps"
EPS_MISSING = ("σ̂ = sqrt(σ² + eps): with eps left out a feature that is constant over the "
               "marked rows divides by zero")
DGAMMA_NO_XHAT = ("y = γ x̂ + β, so dγ = Σ_n dy_n · x̂_n (each row's upstream gradient "
                  "times ITS normalised input), not Σ_n dy_n, which is dβ")
DGAMMA_X = "dγ multiplies dy by the NORMALISED input x̂, not by the raw x: dγ = Σ_n dy_n · x̂_n"
WRONG_AXIS = ("γ and β have one entry per FEATURE: sum over the batch axis (axis=0), and "
              "take the statistics over axis 0 as well")
MEAN_NOT_SUM = ("every row adds its own contribution: dγ and dβ are SUMS over the batch, "
                "not means (the 1/N of the loss is already inside dy)")
NO_GAMMA = "y = γ x̂ + β: the gradient reaching x̂ is γ · dy, so dx carries a factor γ"
GAMMA_TWICE = ("γ multiplies once: dx̂ = γ · dy, and the two correction terms are built from "
               "dx̂, not from γ · dx̂")
MASK_IGNORED = ("μ and σ² come from the MARKED rows only (mask True); the other rows are "
                "normalised with those statistics but do not enter them")
SUMS_MARKED_ONLY = ("every row's output uses μ and σ², unmarked rows included: the sums "
                    "that build dμ and dσ² run over ALL N rows, not only the marked ones")
CORRECTION_EVERYWHERE = ("an unmarked row's x does not enter μ or σ², so its dx has the "
                         "direct term only, γ dy / σ̂; the two corrections go to the marked rows")
DIVIDE_BY_N = ("μ and σ² average over the M marked rows, so ∂μ/∂x_n = 1/M and "
               "∂σ²/∂x_n = 2(x_n - μ)/M for a marked row: 1/M, not 1/N")
UNMARKED_ZERO = ("the unmarked rows are still normalised and scaled, y = γ (x - μ)/σ̂ + β, "
                 "so their dx is γ dy / σ̂, not 0")
PARAMS_MARKED_ONLY = ("γ and β act on every row, marked or not: dγ and dβ sum over all N "
                      "rows")


def _normalise(x: np.ndarray, eps: float, mask: Optional[np.ndarray] = None, *,
               ddof: int = 0, eps_inside: bool = True, axis: int = 0):
    """(x̂, the denominator) of one model of the layer: statistics over the rows in
    ``mask`` (all rows if None) along ``axis``, every row normalised with them."""
    if axis == 1:
        mean = x.mean(axis=1, keepdims=True)
        var = ((x - mean) ** 2).sum(axis=1, keepdims=True) / (x.shape[1] - ddof)
    else:
        rows = x if mask is None else x[mask]
        mean = rows.mean(axis=0)
        var = ((rows - mean) ** 2).sum(axis=0) / (len(rows) - ddof)
    denominator = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return (x - mean) / denominator, denominator


def _graph_backward(x: np.ndarray, gamma: np.ndarray, eps: float, dy: np.ndarray,
                    mask: np.ndarray, *, ddof: int = 0, eps_inside: bool = True,
                    mean_path: bool = True, var_path: bool = True,
                    sum_rows: Optional[np.ndarray] = None,
                    corrected_rows: Optional[np.ndarray] = None,
                    divisor: Optional[int] = None):
    """dx of y = γ (x - μ)/d(v) + β by the computational graph, where μ and
    v = Σ (x - μ)² / (M - ddof) are taken over the M rows in ``mask`` and d = sqrt(v + eps)
    or sqrt(v) + eps. Every row's x̂ uses μ and d, so dμ and dv sum over all rows
    (``sum_rows``); only the rows in ``mask`` have an x that enters μ and v, so only they
    get the two corrections (``corrected_rows``), each with 1/M (``divisor``). Changing
    one of these gives the wrong answers of the same name."""
    n = x.shape[0]
    every = np.ones(n, dtype=bool)
    sum_rows = every if sum_rows is None else sum_rows
    corrected_rows = mask if corrected_rows is None else corrected_rows
    m = int(mask.sum())
    k = m if divisor is None else divisor
    mean = x[mask].mean(axis=0)
    centred = x - mean
    var = (centred[mask] ** 2).sum(axis=0) / (m - ddof)
    denominator = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    d_xhat = dy * gamma
    d_den_d_var = 1 / (2 * denominator) if eps_inside else 1 / (2 * np.sqrt(var))
    d_var = ((d_xhat * centred)[sum_rows].sum(axis=0) * (-1 / denominator ** 2)
             * d_den_d_var)
    correction = np.zeros_like(x)
    if var_path:
        correction = correction + d_var * 2 * centred / (k - ddof)
    if mean_path:
        d_mean = -(d_xhat / denominator)[sum_rows].sum(axis=0)
        if var_path:   # Σ over the marked rows of (x - μ) = 0: adds nothing, kept for the graph
            d_mean = d_mean + d_var * (-2 * centred[mask]).sum(axis=0) / (k - ddof)
        correction = correction + d_mean / k
    return d_xhat / denominator + correction * corrected_rows[:, None]


def reference(x: np.ndarray, gamma: np.ndarray, eps: float, dy: np.ndarray,
              mask: np.ndarray):
    """(dx, dγ, dβ) of BatchNorm1d in training mode with the statistics (biased variance,
    eps inside) of the rows in ``mask``; with every row marked, the layer's own backward."""
    x_hat, _ = _normalise(x, eps, mask)
    return (_graph_backward(x, gamma, eps, dy, mask), (dy * x_hat).sum(axis=0),
            dy.sum(axis=0))


def _judge_bn_backward(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, eps, dy, mask = inputs
    mask = np.asarray(mask, dtype=bool)
    n = x.shape[0]
    every = np.ones(n, dtype=bool)
    padded = not mask.all()
    dx, dgamma, dbeta = reference(x, gamma, eps, dy, mask)
    x_hat, denominator = _normalise(x, eps, mask)
    with np.errstate(all="ignore"):
        x_hat_u, _ = _normalise(x, eps, mask, ddof=1)
        x_hat_o, _ = _normalise(x, eps, mask, eps_inside=False)
        x_hat_all, _ = _normalise(x, eps)
        row_hat, _ = _normalise(x, eps, axis=1)
        unmarked_zero = dx.copy()
        unmarked_zero[~mask] = 0
        dropped = _graph_backward(x, gamma, eps, dy, mask, sum_rows=mask)
        dropped[~mask] = 0
        graph = functools.partial(_graph_backward, x, gamma, eps)
        mistakes = {
            "dx": [(graph(dy, mask, mean_path=False), NO_MEAN_PATH),
                   (graph(dy, mask, var_path=False), NO_VAR_PATH),
                   (gamma * dy / denominator, STATS_CONSTANT),
                   (graph(dy, mask, ddof=1), UNBIASED),
                   (_graph_backward(x, gamma, eps, dy, mask, eps_inside=False), EPS_OUTSIDE),
                   (_graph_backward(x, gamma, 0.0, dy, mask), EPS_MISSING),
                   (_graph_backward(x, np.ones_like(gamma), eps, dy, mask), NO_GAMMA),
                   (graph(dy * gamma, mask), GAMMA_TWICE),
                   ((n,), WRONG_AXIS)]
                  + ([(_graph_backward(x, gamma, eps, dy, every), MASK_IGNORED),
                      (graph(dy, mask, sum_rows=mask), SUMS_MARKED_ONLY),
                      (graph(dy, mask, corrected_rows=every), CORRECTION_EVERYWHERE),
                      (graph(dy, mask, divisor=n), DIVIDE_BY_N),
                      (unmarked_zero, UNMARKED_ZERO),
                      (dropped, SUMS_MARKED_ONLY)] if padded else []),
            "dgamma": [(dy.sum(axis=0), DGAMMA_NO_XHAT), ((dy * x).sum(axis=0), DGAMMA_X),
                       ((dy * x_hat_u).sum(axis=0), UNBIASED),
                       ((dy * x_hat_o).sum(axis=0), EPS_OUTSIDE),
                       ((dy * x_hat).mean(axis=0), MEAN_NOT_SUM),
                       ((dy * row_hat).sum(axis=1), WRONG_AXIS), ((n,), WRONG_AXIS)]
                      + ([((dy * x_hat_all).sum(axis=0), MASK_IGNORED),
                          ((dy * x_hat)[mask].sum(axis=0), PARAMS_MARKED_ONLY)]
                         if padded else []),
            "dbeta": [(dy.mean(axis=0), MEAN_NOT_SUM), (dy.sum(axis=1), WRONG_AXIS),
                      ((n,), WRONG_AXIS)]
                     + ([(dy[mask].sum(axis=0), PARAMS_MARKED_ONLY)] if padded else []),
        }
    mistakes = {name: [(wrong, hint) for wrong, hint in pairs
                       if isinstance(wrong, tuple) or np.all(np.isfinite(wrong))]
                for name, pairs in mistakes.items()}
    constant = bool(np.any(x[mask].var(axis=0) == 0))
    return compare_outputs(output, ("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta),
                           mistakes=mistakes, nan_hint=EPS_MISSING if constant else "")


def _bn_draw(rng: np.random.Generator, n: int, c: int, n_unmarked: int, *,
             eps: Optional[float] = None, scale=None, constant_x: bool = False,
             zero_rows: bool = False, unmarked_dy_zero: bool = False,
             unmarked_at_end: bool = False) -> tuple:
    """x with features of different means and scales; gamma away from 1 (both signs);
    dy with a mean and a component along x̂ (so that both correction terms matter);
    ``mask`` with ``n_unmarked`` False entries (at the end or scattered)."""
    scales = rng.uniform(0.5, 3.0, size=c) if scale is None else np.asarray(scale)
    x = rng.normal(0.0, 2.0, size=c) + rng.standard_normal((n, c)) * scales
    mask = np.ones(n, dtype=bool)
    if n_unmarked:
        rows = (np.arange(n - n_unmarked, n) if unmarked_at_end
                else rng.choice(n, n_unmarked, replace=False))
        mask[rows] = False
    if zero_rows:
        x[~mask] = 0.0                      # padding rows of zeros
    if constant_x:
        # a multiple of 1/8 on the marked rows: their mean is exact, their variance 0
        x[mask, _int(rng, 0, c - 1)] = round(float(rng.normal(0.0, 2.0)) * 8) / 8
    gamma = rng.uniform(1.3, 2.5, size=c) * rng.choice([-1.0, 1.0], size=c)
    centred = x - x[mask].mean(axis=0)
    dy = (rng.normal(0.0, 1.0, size=c) + rng.standard_normal((n, c))
          + rng.normal(0.0, 1.0, size=c) * centred / (x[mask].std(axis=0) + 1.0))
    if unmarked_dy_zero:
        dy[~mask] = 0.0
    eps = float(10 ** rng.uniform(-5, -3)) if eps is None else eps
    return x, gamma, eps, dy, mask


def _bn_backward_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_bn_backward
    m_tall = _int(rng, 6, 10)
    n_eps, c_eps = _int(rng, 6, 9), _int(rng, 2, 4)
    n_big, c_big = _int(rng, 6, 10), _int(rng, 2, 4)
    n_random = _int(rng, 4, 14)
    n_two = _int(rng, 4, 6)
    return (
        Case.of("padding rows of zeros at the end of the batch",
                _bn_draw(rng, m_tall + 2, _int(rng, 2, 5), 2, zero_rows=True,
                         unmarked_at_end=True), judge),
        Case.of("unmarked rows scattered through the batch",
                _bn_draw(rng, _int(rng, 7, 12), _int(rng, 2, 5), _int(rng, 2, 3)), judge),
        Case.of("every row marked (the layer of the chapter)",
                _bn_draw(rng, _int(rng, 4, 9), _int(rng, 2, 5), 0), judge),
        Case.of("two marked rows", _bn_draw(rng, n_two, _int(rng, 3, 6), n_two - 2), judge),
        Case.of("the loss ignores the unmarked rows (their dy is 0)",
                _bn_draw(rng, _int(rng, 6, 10), _int(rng, 2, 4), _int(rng, 1, 3),
                         unmarked_dy_zero=True), judge),
        Case.of("one feature constant over the marked rows (its variance is 0)",
                _bn_draw(rng, _int(rng, 5, 9), _int(rng, 2, 3), _int(rng, 1, 2),
                         constant_x=True), judge),
        Case.of("a large eps (0.1 to 1) and features of small variance",
                _bn_draw(rng, n_eps, c_eps, _int(rng, 1, 3), eps=float(rng.uniform(0.1, 1.0)),
                         scale=rng.uniform(0.1, 0.4, size=c_eps)), judge),
        Case.of("features of large variance (std 30 to 100)",
                _bn_draw(rng, n_big, c_big, _int(rng, 1, 3),
                         scale=rng.uniform(30.0, 100.0, size=c_big)), judge),
        Case.of("random sizes",
                _bn_draw(rng, n_random, _int(rng, 1, 6), _int(rng, 1, n_random - 2)), judge),
    )


BATCHNORM_BACKWARD = Exercise(
    id="ch04.batchnorm_backward",
    function="batchnorm_backward",
    params=("x", "gamma", "eps", "dy", "mask"),
    case_generator=_bn_backward_cases,
)

EXERCISES = [BATCHNORM_BACKWARD]

#: Every hint that names a mistake, per exercise: tests/exercises/test_exercises_ch04.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    BATCHNORM_BACKWARD.id: (NO_MEAN_PATH, NO_VAR_PATH, STATS_CONSTANT, UNBIASED, EPS_OUTSIDE,
                            EPS_MISSING, DGAMMA_NO_XHAT, DGAMMA_X, WRONG_AXIS, MEAN_NOT_SUM,
                            NO_GAMMA, GAMMA_TWICE, MASK_IGNORED, SUMS_MARKED_ONLY,
                            CORRECTION_EVERYWHERE, DIVIDE_BY_N, UNMARKED_ZERO,
                            PARAMS_MARKED_ONLY),
}
