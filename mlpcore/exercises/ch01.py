"""Chapter 1 exercises (weight decay): the cases and the classic mistakes.

Every reference is computed in float64 from the case's own inputs with the formula
the chapter derives, so the cases do not depend on the rest of mlpcore
(tests/test_exercises_ch01.py checks the formulas against mlpcore's AdamW). Each wrong
variant listed next to a reference is a mistake learners make; when an answer equals
one, its hint is shown.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import (Mistake, as_numeric_array, compare_array,
                                        compare_outputs, describe)
from mlpcore.exercises._registry import Case, Exercise, Failure, fixed_cases


# ------------------------------------------------------------- 1. the L2 penalty
NO_BIAS = ("biases are not decayed: skip every parameter whose name ends in 'bias' "
           "(in the penalty, and give it a zero gradient)")
HALF = ("the penalty is (lam/2) * sum of squares, so that its gradient is lam * w: "
        "the 1/2 cancels the 2 of the derivative")
SQUARED = "the penalty uses the SQUARED norm: sum(w**2), not the norm sqrt(sum(w**2))"
ONE_PER_PARAM = ("return one gradient per parameter, in the same order, with zeros for "
                 "the parameters that are not decayed")


def _named_params(seed: int, widths: list, bias_names: tuple = ("weight", "bias"),
                  prefix: str = "", lam: float = 0.1):
    """A small MLP's named parameters: (in, out) weights and (out,) biases."""
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        named = []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            layer = f"{prefix}{2 * index}."
            named.append((layer + bias_names[0], rng.standard_normal((fan_in, fan_out))))
            if bias_names[1]:
                named.append((layer + bias_names[1], rng.standard_normal(fan_out)))
        return named, lam
    return make


def _random_named_params(seed: int):
    """Randomised depth and widths (drawn from the case's own seeded generator)."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 4))
    widths = [int(w) for w in rng.integers(1, 5, size=depth + 1)]
    return _named_params(seed + 1, widths, lam=float(rng.uniform(0.01, 1.0)))


def _is_bias(name: str) -> bool:
    return name.endswith("bias")


def _judge_l2_penalty(inputs: tuple, output) -> Optional[Failure]:
    named, lam = inputs
    decayed = [(name, w) for name, w in named if not _is_bias(name)]
    squares = sum(float(np.sum(w * w)) for _, w in decayed)
    all_squares = sum(float(np.sum(w * w)) for _, w in named)
    penalty = np.float64(lam / 2 * squares)
    grads = [np.zeros_like(w) if _is_bias(name) else lam * w for name, w in named]
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a pair (penalty, grads), got {describe(output)}",
                       "end with `return penalty, grads`")
    got_penalty, got_grads = output
    failure = compare_array("penalty", got_penalty, penalty, mistakes=[
        (lam / 2 * all_squares, NO_BIAS),
        (lam * squares, HALF),
        (lam / 2 * sum(float(np.sqrt(np.sum(w * w))) for _, w in decayed), SQUARED)])
    if failure is not None:
        return failure
    if not isinstance(got_grads, (tuple, list)) or len(got_grads) != len(named):
        return Failure(f"grads: expected a list of {len(named)} arrays, got "
                       f"{describe(got_grads)}", ONE_PER_PARAM)
    for index, ((name, w), got, want) in enumerate(zip(named, got_grads, grads)):
        mistakes: list[Mistake] = [(2 * lam * w, HALF)]
        if _is_bias(name):
            mistakes.insert(0, (lam * w, NO_BIAS))
        failure = compare_array(f"grads[{index}] ({name})", got, want, mistakes=mistakes)
        if failure is not None:
            return failure
    return None


L2_PENALTY = Exercise(
    id="ch01.l2_penalty",
    function="l2_penalty",
    params=("named_params", "lam"),
    summary="the L2 penalty (lam/2)·Σ‖w‖² over the weights, biases skipped, and its gradients",
    case_generator=fixed_cases(
        Case("MLP 3 → 4 → 2, lam 0.1", _named_params(1, [3, 4, 2]), _judge_l2_penalty),
        Case("three layers 2 → 3 → 3 → 1, lam 0.5",
             _named_params(2, [2, 3, 3, 1], lam=0.5), _judge_l2_penalty),
        Case("other names ('encoder.0.weight', 'encoder.0.bias', ...), lam 0.03",
             _named_params(3, [4, 2, 3], prefix="encoder.", lam=0.03), _judge_l2_penalty),
        Case("no biases at all, lam 2", _named_params(4, [3, 2], bias_names=("weight", ""),
                                                      lam=2.0), _judge_l2_penalty),
        Case("lam 0: no penalty, zero gradients", _named_params(5, [2, 2], lam=0.0),
             _judge_l2_penalty),
        Case("random depth and widths (seeded)", _random_named_params(60), _judge_l2_penalty),
        Case("random depth and widths, another draw", _random_named_params(61),
             _judge_l2_penalty),
    ),
)


# ------------------------------------------------------------- 2. one AdamW step
COUPLED = ("that is Adam with an L2 term (lam * p added to the gradient, then divided "
           "by sqrt(v)): AdamW shrinks p directly, p * (1 - lr * weight_decay), and "
           "feeds the plain gradient to m and v")
DECAY_TIMES_LR = ("AdamW's decay is multiplied by the learning rate: "
                  "p * (1 - lr * weight_decay), not p * (1 - weight_decay)")
DECAY_FIRST = ("decay the OLD parameter first, p * (1 - lr * weight_decay), then subtract "
               "the Adam step (PyTorch's order); shrinking after the step also shrinks "
               "the step")
BIAS_CORRECTION = ("divide m by (1 - beta1**step) and v by (1 - beta2**step) (bias "
                   "correction): both start at zero and are too small early on")
EPS_PLACE = "eps is added after the square root (and its bias correction): sqrt(v_hat) + eps"


def _adamw_reference(param, grad, m, v, step, lr, betas, eps, weight_decay, *,
                     coupled=False, decay_lr=True, decay_after=False, correct=True,
                     eps_inside=False):
    beta1, beta2 = betas
    g = grad + weight_decay * param if coupled else grad
    new_m = beta1 * m + (1 - beta1) * g
    new_v = beta2 * v + (1 - beta2) * g * g
    m_hat = new_m / (1 - beta1 ** step) if correct else new_m
    v_hat = new_v / (1 - beta2 ** step) if correct else new_v
    update = lr * m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps)
    shrink = 1.0 if coupled else (1 - (lr if decay_lr else 1.0) * weight_decay)
    new_param = (param - update) * shrink if decay_after else param * shrink - update
    return new_param, new_m, new_v


def _adamw_inputs(seed: int, shape: tuple, step: int, lr: float, weight_decay: float,
                  betas=(0.9, 0.999), eps: float = 1e-8, zero_grad_entries: int = 0):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        param = rng.standard_normal(shape)
        grad = rng.standard_normal(shape)
        grad.flat[:zero_grad_entries] = 0.0   # weights that get no data gradient
        if step == 1:
            m, v = np.zeros(shape), np.zeros(shape)
        else:
            m = 0.1 * rng.standard_normal(shape)
            v = 0.01 * rng.random(shape) + 1e-4
        return param, grad, m, v, step, lr, betas, eps, weight_decay
    return make


def _random_adamw_inputs(seed: int):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 6, size=int(rng.integers(1, 3))))
    return _adamw_inputs(seed + 1, shape, step=int(rng.integers(2, 50)),
                         lr=float(rng.uniform(0.01, 0.1)),
                         weight_decay=float(rng.uniform(0.5, 2.0)))


def _judge_adamw(inputs: tuple, output) -> Optional[Failure]:
    expected = _adamw_reference(*inputs)
    variants = {name: _adamw_reference(*inputs, **{name: value}) for name, value in
                [("coupled", True), ("decay_lr", False), ("decay_after", True),
                 ("correct", False), ("eps_inside", True)]}
    hints = {"coupled": COUPLED, "decay_lr": DECAY_TIMES_LR, "decay_after": DECAY_FIRST,
             "correct": BIAS_CORRECTION, "eps_inside": EPS_PLACE}
    mistakes = {key: [(variants[name][index], hints[name]) for name in variants]
                for index, key in enumerate(("new_param", "new_exp_avg", "new_exp_avg_sq"))}
    mistakes["new_param"].append((inputs[0] + (expected[0] - inputs[0]) * -1,
                                  "a descent step subtracts the update"))
    return compare_outputs(output, ("new_param", "new_exp_avg", "new_exp_avg_sq"), expected,
                           mistakes=mistakes)


ADAMW_STEP = Exercise(
    id="ch01.adamw_step",
    function="adamw_step",
    params=("param", "grad", "exp_avg", "exp_avg_sq", "step", "lr", "betas", "eps",
            "weight_decay"),
    summary="one AdamW step (decoupled weight decay), PyTorch's formulas and order",
    case_generator=fixed_cases(
        Case("first step (step 1, m = v = 0), 4 weights", _adamw_inputs(1, (4,), 1, 0.1, 0.5),
             _judge_adamw),
        Case("step 10, a 3 × 2 weight", _adamw_inputs(2, (3, 2), 10, 0.05, 1.0), _judge_adamw),
        Case("weights with zero gradient still decay (step 3)",
             _adamw_inputs(3, (2, 3), 3, 0.1, 0.8, zero_grad_entries=3), _judge_adamw),
        Case("weight_decay 0 is plain Adam (step 5)", _adamw_inputs(4, (5,), 5, 0.01, 0.0),
             _judge_adamw),
        Case("betas (0.8, 0.99), step 2", _adamw_inputs(5, (2, 2), 2, 0.2, 1.5,
                                                        betas=(0.8, 0.99)), _judge_adamw),
        Case("random shape and hyper-parameters (seeded)", _random_adamw_inputs(70),
             _judge_adamw),
    ),
)


# ------------------------------------------------ 3. ridge with an unpenalised bias
CENTRE = ("with an unpenalised bias, centre first: solve for w on X - mean(X) and "
          "y - mean(y), then b = mean(y) - mean(X) @ w")
BIAS_PENALISED = ("the bias is not penalised: a column of ones with the same N*lam on "
                  "the diagonal shrinks b too")
N_LAM = ("the loss is a MEAN over N examples, so the penalty enters as N * lam: "
         "(Xc.T @ Xc + N * lam * I) w = Xc.T @ yc")
BIAS_MEANS = ("b = mean(y) - mean(X) @ w: the bias absorbs the means of X AND of y; "
              "b = mean(y) alone is right only for centred features")
CONVENTION = ("this exercise uses the 1/2 convention, (1/(2N))·Σ(residual²) + (lam/2)·‖w‖²: "
              "the factor in front of I is N * lam (MSELoss without the 1/2 would "
              "change it)")


def _ridge(X, y, lam, *, centre=True, penalise_bias=False, n_factor=None):
    n, d = X.shape
    factor = n if n_factor is None else n_factor
    if penalise_bias:
        A = np.hstack([X, np.ones((n, 1))])
        theta = np.linalg.solve(A.T @ A + factor * lam * np.eye(d + 1), A.T @ y)
        return theta[:d], np.float64(theta[d])
    if not centre:
        w = np.linalg.solve(X.T @ X + factor * lam * np.eye(d), X.T @ y)
        return w, np.float64(np.mean(y - X @ w))
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc, yc = X - x_mean, y - y_mean
    w = np.linalg.solve(Xc.T @ Xc + factor * lam * np.eye(d), Xc.T @ yc)
    return w, np.float64(y_mean - x_mean @ w)


def _ridge_inputs(seed: int, n: int, d: int, lam: float, offset: float = 3.0):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d)) + rng.standard_normal(d)   # features not centred
        y = X @ rng.standard_normal(d) + offset + 0.3 * rng.standard_normal(n)
        return X, y, lam
    return make


def _random_ridge_inputs(seed: int):
    rng = np.random.default_rng(seed)
    return _ridge_inputs(seed + 1, int(rng.integers(3, 12)), int(rng.integers(2, 6)),
                         float(10 ** rng.uniform(-2, 0)), offset=float(rng.uniform(-5, 5)))


def _judge_ridge(inputs: tuple, output) -> Optional[Failure]:
    X, y, lam = inputs
    n = X.shape[0]
    expected = _ridge(X, y, lam)
    variants = [(_ridge(X, y, lam, centre=False), CENTRE),
                (_ridge(X, y, lam, penalise_bias=True), BIAS_PENALISED),
                (_ridge(X, y, lam, n_factor=1), N_LAM),
                (_ridge(X, y, lam, n_factor=n / 2), CONVENTION),
                (_ridge(X, y, lam, n_factor=2 * n), CONVENTION)]
    no_bias = (np.linalg.solve(X.T @ X + n * lam * np.eye(X.shape[1]), X.T @ y),
               np.float64(0.0))
    variants.insert(0, (no_bias, "the model has a bias b: fit it too (it is not "
                                 "penalised), " + CENTRE))
    variants.append(((expected[0], np.float64(np.mean(y))), BIAS_MEANS))
    failure = compare_outputs(output, ("w", "b"), expected)
    if failure is None:
        return None
    for (w, b), hint in variants:   # a whole wrong answer (w AND b) names its mistake
        if _matches(output, (w, b)):
            return Failure(failure.message, hint)
    if failure.hint:
        return failure
    mistakes = {"w": [(v[0], hint) for v, hint in variants],
                "b": [(v[1], hint) for v, hint in variants]}
    return compare_outputs(output, ("w", "b"), expected, mistakes=mistakes)


def _matches(output, values) -> bool:
    """True if ``output`` is a tuple of arrays equal (to the cases' tolerance) to ``values``."""
    if not isinstance(output, (tuple, list)) or len(output) != len(values):
        return False
    try:
        return all(np.shape(got) == np.shape(want) and
                   np.allclose(np.asarray(got, dtype=float), want, rtol=1e-6, atol=1e-9)
                   for got, want in zip(output, values))
    except (TypeError, ValueError):
        return False


RIDGE_WITH_BIAS = Exercise(
    id="ch01.ridge_with_bias",
    function="ridge_with_bias",
    params=("X", "y", "lam"),
    summary="closed-form ridge regression with an unpenalised bias (1/2 convention)",
    case_generator=fixed_cases(
        Case("N = 8 examples, D = 3 features, lam 0.1", _ridge_inputs(1, 8, 3, 0.1),
             _judge_ridge),
        Case("more features than examples (N = 4, D = 6), lam 0.5",
             _ridge_inputs(2, 4, 6, 0.5), _judge_ridge),
        Case("a large offset (b near 20), lam 1", _ridge_inputs(3, 10, 2, 1.0, offset=20.0),
             _judge_ridge),
        Case("weak penalty, lam 0.01", _ridge_inputs(4, 12, 4, 0.01), _judge_ridge),
        Case("random shape, lam and offset (seeded)", _random_ridge_inputs(80),
             _judge_ridge),
        Case("random shape, lam and offset, another draw", _random_ridge_inputs(81),
             _judge_ridge),
    ),
)


# ------------------------------------------------- 4. choosing lam from validation
TEST_SET = ("the test set must not choose anything: select lam on the VALIDATION errors, "
            "and look at the test error once, for the chosen model")
TRAIN_SET = ("the training error nearly always prefers the weakest penalty; it cannot "
             "tell overfitting from fitting: use the validation errors")
ONE_SE = ("the lowest mean is not the rule asked for: among the lam whose mean validation "
          "error is within ONE standard error of the best mean, take the LARGEST "
          "(the simplest model the data cannot tell apart from the best)")
LARGEST = ("within one standard error of the best, prefer the LARGEST lam (the strongest "
           "penalty, the simplest model), not the smallest")
STANDARD_ERROR = ("the standard error of a mean over S seeds is std(ddof=1) / sqrt(S), not "
                  "the standard deviation itself")
ONE_SEED = "average over the seeds (rows) first; one seed is one noisy draw"
DDOF = ("the SAMPLE standard deviation divides by S - 1: np.std(..., ddof=1) (np.std's "
        "default, ddof=0, divides by S and makes the standard error too small)")
OWN_SE = ("the margin is the standard error of the BEST lam: keep the lam whose mean is at "
          "most mean[best] + se[best], not those whose own mean - se reaches the best mean")


def _one_se_choice(lambdas, errors, *, spread="se", pick="largest", ddof=1, own=False):
    mean = errors.mean(axis=0)
    std = errors.std(axis=0, ddof=ddof)
    width = std / np.sqrt(errors.shape[0]) if spread == "se" else std
    best = int(np.argmin(mean))
    if own:  # a misreading: each lam's own standard error instead of the best one's
        ok = np.flatnonzero(mean - width <= mean[best] + 1e-12)
    else:
        ok = np.flatnonzero(mean <= mean[best] + width[best] + 1e-12)
    index = ok[np.argmax(lambdas[ok])] if pick == "largest" else ok[np.argmin(lambdas[ok])]
    return np.float64(lambdas[index])


def _curves(seed: int, k: int, seeds: int, floor: float, bump: float, noise: float):
    """Validation/test/train errors over a log grid of lam: a U, a rising train error."""
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        lambdas = np.concatenate([[0.0], 10.0 ** np.linspace(-4, -1, k - 1)])
        position = np.linspace(0, 1, k)
        centre = rng.uniform(0.35, 0.65)
        val = floor + bump * (position - centre) ** 2 + noise * rng.standard_normal((seeds, k))
        test = val + rng.normal(0, 2 * noise, size=(seeds, k))
        test[:, int(rng.integers(0, k))] -= 0.05       # a lucky test column
        train = 0.02 * position[None, :] ** 2 + 0.001 * rng.random((seeds, k))
        return lambdas, train, val, test
    return make


def _margin_curves():
    """3 seeds, best at index 1. Index 2 is inside both the ddof=0 and the ddof=1 margin
    of the best, index 3 only inside the ddof=1 one (the answer); index 4 is outside the
    best's margin but within its own standard error; the test set prefers index 5."""
    def make() -> tuple:
        lambdas = np.array([0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1])
        val = np.array([[0.14, 0.10, 0.1125, 0.1153, 0.155, 0.20, 0.30],
                        [0.14, 0.11, 0.1125, 0.1153, 0.125, 0.20, 0.30],
                        [0.14, 0.12, 0.1125, 0.1153, 0.095, 0.20, 0.30]])
        test = val - np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.0])
        train = np.tile(np.linspace(0.0, 0.05, 7), (3, 1))
        return lambdas, train, val, test
    return make


def _random_curves(seed: int):
    rng = np.random.default_rng(seed)
    return _curves(seed + 1, int(rng.integers(5, 12)), int(rng.integers(3, 7)),
                   float(rng.uniform(0.03, 0.1)), float(rng.uniform(0.03, 0.3)),
                   float(rng.uniform(0.002, 0.01)))


def _judge_choose(inputs: tuple, output) -> Optional[Failure]:
    lambdas, train, val, test = inputs
    expected = _one_se_choice(lambdas, val)
    mistakes = [
        (np.float64(lambdas[int(np.argmin(test.mean(axis=0)))]), TEST_SET),
        (np.float64(lambdas[int(np.argmin(train.mean(axis=0)))]), TRAIN_SET),
        (_one_se_choice(lambdas, val, spread="std"), STANDARD_ERROR),
        (_one_se_choice(lambdas, val, pick="smallest"), LARGEST),
        (_one_se_choice(lambdas, val, ddof=0), DDOF),
        (_one_se_choice(lambdas, val, own=True), OWN_SE),
        (np.float64(lambdas[int(np.argmin(val.mean(axis=0)))]), ONE_SE),
        (np.float64(lambdas[int(np.argmin(val[0]))]), ONE_SEED),
    ]
    got = as_numeric_array(output, "chosen lam")
    if isinstance(got, Failure):
        return got
    if got.size != 1:
        return Failure(f"chosen lam: expected one number, got an array of shape {got.shape}",
                       "return a single value of `lambdas`, e.g. float(lambdas[k])")
    value = float(got.reshape(()))
    if np.isclose(value, expected, rtol=1e-9, atol=0.0):
        return None
    message = f"chosen lam: expected {float(expected):.4g}, got {value:.4g}"
    # Several wrong rules can pick the same lam: name every rule that gives this answer.
    hints = [hint for wrong, hint in mistakes
             if wrong != expected and np.isclose(value, wrong, rtol=1e-9, atol=0.0)]
    return Failure(message, " OR ".join(hints) if hints else
                   "compute the mean and the standard error of the validation error per lam")


CHOOSE_LAMBDA = Exercise(
    id="ch01.choose_lambda",
    function="choose_lambda",
    params=("lambdas", "train_errors", "val_errors", "test_errors"),
    summary="choose lam by the one-standard-error rule on validation errors over seeds",
    case_generator=fixed_cases(
        Case("7 values of lam, 3 seeds", _curves(1, 7, 3, 0.05, 0.08, 0.004), _judge_choose),
        Case("9 values of lam, 5 seeds, a flat bottom", _curves(2, 9, 5, 0.08, 0.03, 0.006),
             _judge_choose),
        Case("6 values of lam, 4 seeds, noisy", _curves(3, 6, 4, 0.10, 0.10, 0.01),
             _judge_choose),
        Case("8 values of lam, 3 seeds, a sharp U", _curves(4, 8, 3, 0.04, 0.4, 0.003),
             _judge_choose),
        Case("7 values of lam, 3 seeds, candidates at the edge of the margin",
             _margin_curves(), _judge_choose),
        Case("random grid size, number of seeds and curve (seeded)", _random_curves(50),
             _judge_choose),
        Case("random grid size, number of seeds and curve, another draw", _random_curves(51),
             _judge_choose),
    ),
)

EXERCISES = [L2_PENALTY, ADAMW_STEP, RIDGE_WITH_BIAS, CHOOSE_LAMBDA]
