"""Chapter 4 exercises (batch normalisation from the inside): the cases and the classic
mistakes.

The reference is computed in float64 from each case's own inputs by the chapter's full
computational-graph form of the backward pass (tests/test_exercises_ch04.py checks it
against mlpcore.BatchNorm1d and against finite differences). The cases are drawn from the
np.random.Generator the exercise is given (sizes, values, conditions), so the grader's
private seed gives cases nobody has seen; the kinds of cases (their names) stay the same.

Each wrong answer below is the *exact* gradient of a plausible wrong model of the layer
(statistics held constant, an unbiased variance, eps outside the square root, ...), or
the right gradient with one term dropped, so a learner who makes that mistake matches
it to rounding and gets the hint for that mistake only.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from mlpcore.exercises._compare import compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


# ------------------------------------------------------- 1. BatchNorm backward, training
NO_MEAN_PATH = ("μ depends on every x_n: the path x -> μ -> x̂ adds -(1/N) Σ_n dx̂_n "
                "(times 1/σ̂) to every row; without it a feature whose upstream gradient is "
                "the same for every example still gets a gradient")
NO_VAR_PATH = ("σ² depends on every x_n too: the path x -> σ² -> x̂ adds a term along x̂, "
               "-(x̂/N) Σ_n dx̂_n x̂_n (times 1/σ̂); without it the gradient is not "
               "orthogonal to x̂")
STATS_CONSTANT = ("in training mode μ and σ² are computed from the batch, so they are not "
                  "constants: dx needs the paths through μ and σ² (only eval mode, with the "
                  "running statistics, has dx = γ/σ̂ · dy)")
UNBIASED = ("normalisation uses the BIASED batch variance (divide by N), as PyTorch does; "
            "the unbiased N - 1 is only for the running variance")
EPS_OUTSIDE = "eps goes inside the square root: σ̂ = sqrt(σ² + eps), not sqrt(σ²) + eps"
EPS_MISSING = ("σ̂ = sqrt(σ² + eps): with eps left out a feature that is constant over the "
               "batch divides by zero")
DGAMMA_NO_XHAT = ("y = γ x̂ + β, so dγ = Σ_n dy_n · x̂_n (each example's upstream gradient "
                  "times ITS normalised input), not Σ_n dy_n, which is dβ")
DGAMMA_X = "dγ multiplies dy by the NORMALISED input x̂, not by the raw x: dγ = Σ_n dy_n · x̂_n"
WRONG_AXIS = ("γ and β have one entry per FEATURE: sum over the batch axis (axis=0), and "
              "take the batch statistics over axis 0 as well")
MEAN_NOT_SUM = ("every example adds its own contribution: dγ and dβ are SUMS over the batch, "
                "not means (the 1/N of the loss is already inside dy)")
NO_GAMMA = "y = γ x̂ + β: the gradient reaching x̂ is γ · dy, so dx carries a factor γ"
GAMMA_TWICE = ("γ multiplies once: dx̂ = γ · dy, and the two correction terms are built from "
               "dx̂, not from γ · dx̂")


def _normalise(x: np.ndarray, eps: float, *, ddof: int = 0, eps_inside: bool = True,
               axis: int = 0):
    """(x̂, the denominator) of one model of the layer."""
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
    denominator = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return (x - mean) / denominator, denominator


def _graph_backward(x: np.ndarray, gamma: np.ndarray, eps: float, dy: np.ndarray, *,
                    ddof: int = 0, eps_inside: bool = True, mean_path: bool = True,
                    var_path: bool = True, axis: int = 0):
    """dx of y = γ (x - μ)/d(v) + β by the computational graph: x -> μ -> v -> d -> x̂,
    where v = Σ (x - μ)² / (M - ddof) over ``axis`` (M entries) and d = sqrt(v + eps) or
    sqrt(v) + eps. Dropping a path gives the wrong answers of the same name."""
    m = x.shape[axis]
    mean = x.mean(axis=axis, keepdims=True)
    centred = x - mean
    var = (centred ** 2).sum(axis=axis, keepdims=True) / (m - ddof)
    denominator = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    d_xhat = dy * gamma
    d_den_d_var = 1 / (2 * denominator) if eps_inside else 1 / (2 * np.sqrt(var))
    d_var = (d_xhat * centred).sum(axis=axis, keepdims=True) * (-1 / denominator ** 2) * d_den_d_var
    dx = d_xhat / denominator
    if var_path:
        dx = dx + d_var * 2 * centred / (m - ddof)
    if mean_path:
        d_mean = -(d_xhat / denominator).sum(axis=axis, keepdims=True)
        if var_path:   # Σ (x - μ) = 0: the variance's own dependence on μ adds nothing
            d_mean = d_mean + d_var * (-2 * centred).sum(axis=axis, keepdims=True) / (m - ddof)
        dx = dx + d_mean / m
    return dx


def reference(x: np.ndarray, gamma: np.ndarray, eps: float, dy: np.ndarray):
    """(dx, dγ, dβ) of BatchNorm1d in training mode (biased variance, eps inside)."""
    x_hat, _ = _normalise(x, eps)
    return (_graph_backward(x, gamma, eps, dy), (dy * x_hat).sum(axis=0), dy.sum(axis=0))


def _judge_bn_backward(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, eps, dy = inputs
    n = x.shape[0]
    dx, dgamma, dbeta = reference(x, gamma, eps, dy)
    x_hat, denominator = _normalise(x, eps)
    with np.errstate(all="ignore"):
        x_hat_u, _ = _normalise(x, eps, ddof=1)
        x_hat_o, _ = _normalise(x, eps, eps_inside=False)
        row_hat, _ = _normalise(x, eps, axis=1)
        mistakes = {
            "dx": [(_graph_backward(x, gamma, eps, dy, mean_path=False), NO_MEAN_PATH),
                   (_graph_backward(x, gamma, eps, dy, var_path=False), NO_VAR_PATH),
                   (gamma * dy / denominator, STATS_CONSTANT),
                   (_graph_backward(x, gamma, eps, dy, ddof=1) if n > 1 else None, UNBIASED),
                   (_graph_backward(x, gamma, eps, dy, eps_inside=False), EPS_OUTSIDE),
                   (_graph_backward(x, gamma, 0.0, dy), EPS_MISSING),
                   (_graph_backward(x, np.ones_like(gamma), eps, dy), NO_GAMMA),
                   (_graph_backward(x, gamma, eps, dy * gamma), GAMMA_TWICE),
                   (_graph_backward(x, gamma, eps, dy, axis=1), WRONG_AXIS),
                   ((n,), WRONG_AXIS)],
            "dgamma": [(dy.sum(axis=0), DGAMMA_NO_XHAT), ((dy * x).sum(axis=0), DGAMMA_X),
                       ((dy * x_hat_u).sum(axis=0), UNBIASED),
                       ((dy * x_hat_o).sum(axis=0), EPS_OUTSIDE),
                       ((dy * x_hat).mean(axis=0), MEAN_NOT_SUM),
                       ((dy * row_hat).sum(axis=1), WRONG_AXIS), ((n,), WRONG_AXIS)],
            "dbeta": [(dy.mean(axis=0), MEAN_NOT_SUM), (dy.sum(axis=1), WRONG_AXIS),
                      ((n,), WRONG_AXIS)],
        }
    mistakes = {name: [(wrong, hint) for wrong, hint in pairs
                       if wrong is not None and (isinstance(wrong, tuple)
                                                 or np.all(np.isfinite(wrong)))]
                for name, pairs in mistakes.items()}
    constant = bool(np.any(x.var(axis=0) == 0))
    return compare_outputs(output, ("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta),
                           mistakes=mistakes, nan_hint=EPS_MISSING if constant else "")


def _bn_draw(rng: np.random.Generator, n: int, c: int, *, eps: Optional[float] = None,
             scale=None, constant_dy: bool = False, constant_x: bool = False) -> tuple:
    """x with features of different means and scales; gamma away from 1 (both signs);
    dy with a mean and a component along x̂ (so that both correction terms matter)."""
    scales = rng.uniform(0.5, 3.0, size=c) if scale is None else np.asarray(scale)
    x = rng.normal(0.0, 2.0, size=c) + rng.standard_normal((n, c)) * scales
    if constant_x:
        # a multiple of 1/8: its sum and mean are exact, so the variance is exactly 0
        x[:, _int(rng, 0, c - 1)] = round(float(rng.normal(0.0, 2.0)) * 8) / 8
    gamma = rng.uniform(1.3, 2.5, size=c) * rng.choice([-1.0, 1.0], size=c)
    dy = (rng.normal(0.0, 1.0, size=c) + rng.standard_normal((n, c))
          + rng.normal(0.0, 1.0, size=c) * (x - x.mean(axis=0)) / (x.std(axis=0) + 1.0))
    if constant_dy:
        dy[:, _int(rng, 0, c - 1)] = float(rng.uniform(0.5, 2.0)) * rng.choice([-1.0, 1.0])
    eps = float(10 ** rng.uniform(-5, -3)) if eps is None else eps
    return x, gamma, eps, dy


def _bn_backward_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_bn_backward
    n_tall = _int(rng, 6, 12)
    n_wide = _int(rng, 3, 4)
    n_eps, c_eps = _int(rng, 5, 9), _int(rng, 2, 4)
    n_big, c_big = _int(rng, 5, 10), _int(rng, 2, 4)
    return (
        Case.of("a batch larger than the number of features",
                _bn_draw(rng, n_tall, _int(rng, 2, n_tall - 3)), judge),
        Case.of("fewer examples than features",
                _bn_draw(rng, n_wide, _int(rng, n_wide + 2, 9)), judge),
        Case.of("a batch of 2", _bn_draw(rng, 2, _int(rng, 3, 6)), judge),
        Case.of("one feature whose upstream gradient is the same for every example",
                _bn_draw(rng, _int(rng, 4, 9), _int(rng, 2, 4), constant_dy=True), judge),
        Case.of("one feature constant over the batch (its variance is 0)",
                _bn_draw(rng, _int(rng, 4, 8), _int(rng, 2, 3), constant_x=True), judge),
        Case.of("a large eps (0.1 to 1) and features of small variance",
                _bn_draw(rng, n_eps, c_eps, eps=float(rng.uniform(0.1, 1.0)),
                         scale=rng.uniform(0.1, 0.4, size=c_eps)), judge),
        Case.of("features of large variance (std 30 to 100)",
                _bn_draw(rng, n_big, c_big, scale=rng.uniform(30.0, 100.0, size=c_big)),
                judge),
        Case.of("random sizes", _bn_draw(rng, _int(rng, 3, 16), _int(rng, 1, 6)), judge),
    )


BATCHNORM_BACKWARD = Exercise(
    id="ch04.batchnorm_backward",
    function="batchnorm_backward",
    params=("x", "gamma", "eps", "dy"),
    summary="BatchNorm1d's backward pass in training mode: dx, dgamma, dbeta from dy",
    case_generator=_bn_backward_cases,
)

EXERCISES = [BATCHNORM_BACKWARD]

#: Every hint that names a mistake, per exercise: tests/test_exercises_ch04.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    BATCHNORM_BACKWARD.id: (NO_MEAN_PATH, NO_VAR_PATH, STATS_CONSTANT, UNBIASED, EPS_OUTSIDE,
                            EPS_MISSING, DGAMMA_NO_XHAT, DGAMMA_X, WRONG_AXIS, MEAN_NOT_SUM,
                            NO_GAMMA, GAMMA_TWICE),
}
