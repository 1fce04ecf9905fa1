"""Chapter 1 exercises (weight decay): the cases and the classic mistakes.

Every reference is computed in float64 from the case's own inputs with the formula
the chapter derives, so the cases do not depend on the rest of mlpcore
(tests/exercises/test_exercises_ch01.py checks the formulas against mlpcore's AdamW). Each wrong
variant listed next to a reference is a mistake learners make; when an answer equals
one, its hint is shown.

The cases are drawn by each exercise's case generator from the np.random.Generator it
is given (see mlpcore/exercises/__init__.py): sizes, values and hyper-parameters change
with the seed, the kinds of cases (and so their names) do not.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from mlpcore.exercises._compare import (Mistake, as_numeric_array, compare_array,
                                        compare_outputs, describe)
from mlpcore.exercises._registry import Case, Exercise, Failure, Passed


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10 ** rng.uniform(np.log10(low), np.log10(high)))


# ------------------------------------------------------------- 1. the L2 penalty
# The chapter's rule is by role: decay the weights that multiply inputs (a Linear layer's
# weight, 2-D), not biases nor the scale and shift of normalisation layers (1-D), whatever
# their names: BatchNorm's scale gamma is called "weight" in mlpcore and PyTorch alike.
NOT_DECAYED = ("biases (and normalisation layers' scale and shift) are not decayed: only "
               "the weights that multiply inputs, the parameters with 2 or more dimensions; "
               "the others get a zero gradient")
BY_ROLE = ("decide by role, not by name: BatchNorm's scale gamma is also called 'weight', "
           "but it is 1-D and is not decayed; decay the parameters with 2 or more "
           "dimensions (weights that multiply inputs)")
NAMES_VARY = ("names vary ('kernel', 'W', 'fc.w', ...): decide by role, not by name: every "
              "parameter with 2 or more dimensions multiplies inputs and is decayed")
HALF = ("the penalty is (lam/2) * sum of squares, so that its gradient is lam * w: "
        "the 1/2 cancels the 2 of the derivative")
SQUARED = "the penalty uses the SQUARED norm: sum(w**2), not the norm sqrt(sum(w**2))"
SUM_OF_SQUARES = ("sum the squares of every entry: np.sum(w * w), not their mean (a larger "
                  "layer has a larger penalty)")
SQUARE_EACH = ("add the squared norm of each weight, sum over weights of ||w||^2, not the "
               "square of the sum of their norms")
ONE_PER_PARAM = ("return one gradient per parameter, in the same order, with zeros for "
                 "the parameters that are not decayed")
ZERO_NOT_NONE = ("a parameter that is not decayed still gets a gradient: an array of zeros "
                 "of its shape, np.zeros_like(p), not None or the number 0")
L1 = "lam * sign(w) is the L1 penalty's gradient; the L2 penalty's is lam * w"


def _is_decayed(array: np.ndarray) -> bool:
    """The chapter's rule: a weight that multiplies inputs has 2 or more dimensions."""
    return np.ndim(array) >= 2


def _mlp_params(rng: np.random.Generator, widths: list, names=("weight", "bias"),
                batchnorm: bool = False, prefix: str = "") -> list:
    """A Sequential's named parameters: Linear weights (in, out) and biases (out,), and,
    if batchnorm, a BatchNorm after each hidden Linear (its gamma named 'weight')."""
    named, index = [], 0
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        named.append((f"{prefix}{index}.{names[0]}",
                      rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)))
        if names[1]:
            named.append((f"{prefix}{index}.{names[1]}", 0.1 * rng.standard_normal(fan_out)))
        index += 1
        if batchnorm and layer < len(widths) - 2:
            named.append((f"{prefix}{index}.weight", 1.0 + 0.2 * rng.standard_normal(fan_out)))
            named.append((f"{prefix}{index}.bias", 0.2 * rng.standard_normal(fan_out)))
            index += 1
        index += 1                                    # the activation has no parameters
    return named


def _widths(rng: np.random.Generator, depth: int, low: int = 2, high: int = 6) -> list:
    return [_int(rng, low, high) for _ in range(depth + 1)]


def _l2_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_l2_penalty
    lam = lambda: _log_uniform(rng, 0.01, 2.0)
    renamed = [("encoder.fc1.kernel", rng.standard_normal((_int(rng, 2, 5), 3))),
               ("encoder.fc1.offset", rng.standard_normal(3)),
               ("head.W", rng.standard_normal((3, _int(rng, 1, 4)))),
               ("norm.scale", 1.0 + 0.2 * rng.standard_normal(3))]
    return (
        Case.of("an MLP of Linear layers", (_mlp_params(rng, _widths(rng, _int(rng, 2, 3))),
                                            lam()), judge),
        Case.of("Linear, BatchNorm, ReLU, Linear: BatchNorm's gamma is named 'weight'",
                (_mlp_params(rng, _widths(rng, 2), batchnorm=True), lam()), judge),
        Case.of("other names: 'encoder.fc1.kernel', 'head.W', 'norm.scale', ...",
                (renamed, lam()), judge),
        Case.of("no biases at all (Linear(bias=False))",
                (_mlp_params(rng, _widths(rng, 2), names=("weight", "")), lam()), judge),
        Case.of("a layer with one input and one with one output (weights (1, H) and (H, 1))",
                (_mlp_params(rng, [1, _int(rng, 2, 5), 1]), lam()), judge),
        Case.of("lam 0: no penalty, zero gradients",
                (_mlp_params(rng, _widths(rng, 2)), 0.0), judge),
        Case.of("random depth and widths, BatchNorm after each hidden layer",
                (_mlp_params(rng, _widths(rng, _int(rng, 2, 4), 1, 6), batchnorm=True,
                             prefix="net."), lam()), judge),
    )


def _judge_l2_penalty(inputs: tuple, output) -> Optional[Failure]:
    named, lam = inputs
    decayed = [w for _, w in named if _is_decayed(w)]
    squares = sum(float(np.sum(w * w)) for w in decayed)
    penalty = np.float64(lam / 2 * squares)
    grads = [lam * w if _is_decayed(w) else np.zeros_like(w) for _, w in named]
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a pair (penalty, grads), got {describe(output)}",
                       "end with `return penalty, grads`")
    got_penalty, got_grads = output

    def penalty_of(keep) -> np.float64:
        return np.float64(lam / 2 * sum(float(np.sum(w * w)) for name, w in named
                                        if keep(name, w)))
    norms = [float(np.sqrt(np.sum(w * w))) for w in decayed]
    failure = compare_array("penalty", got_penalty, penalty, mistakes=[
        (penalty_of(lambda name, w: True), NOT_DECAYED),
        (penalty_of(lambda name, w: not name.endswith("bias")), BY_ROLE),
        (penalty_of(lambda name, w: name.endswith("weight")), NAMES_VARY),
        (penalty_of(lambda name, w: name.endswith("weight") and _is_decayed(w)), NAMES_VARY),
        (lam * squares, HALF),
        (lam / 2 * sum(norms), SQUARED),
        (lam / 2 * sum(float(np.mean(w * w)) for w in decayed), SUM_OF_SQUARES),
        (lam / 2 * sum(norms) ** 2, SQUARE_EACH)])
    if failure is not None:
        return failure
    if not isinstance(got_grads, (tuple, list)) or len(got_grads) != len(named):
        return Failure(f"grads: expected a list of {len(named)} arrays, got "
                       f"{describe(got_grads)}", ONE_PER_PARAM)
    for index, ((name, w), got, want) in enumerate(zip(named, got_grads, grads)):
        label = f"grads[{index}] ({name})"
        if not _is_decayed(w) and (got is None or (np.ndim(got) == 0 and np.ndim(w) > 0)):
            return Failure(f"{label}: expected an array of shape {np.shape(w)}, got "
                           f"{describe(got)}", ZERO_NOT_NONE)
        mistakes = [Mistake(2 * lam * w, HALF), Mistake(lam * np.sign(w), L1)]
        if not _is_decayed(w):
            hint = BY_ROLE if name.endswith("weight") else NOT_DECAYED
            mistakes.insert(0, Mistake(lam * w, hint))
        failure = compare_array(label, got, want, mistakes=mistakes)
        if failure is not None:
            return failure
    return None


L2_PENALTY = Exercise(
    id="ch01.l2_penalty",
    function="l2_penalty",
    params=("named_params", "lam"),
    case_generator=_l2_cases,
)


# ------------------------------------------------------------- 2. one AdamW step
COUPLED = ("that is Adam with an L2 term (lam * p added to the gradient, then divided "
           "by sqrt(v)): AdamW shrinks p directly, p * (1 - lr * weight_decay), and "
           "feeds the plain gradient to m and v")
BOTH_DECAYS = ("AdamW's decay is only the shrink p * (1 - lr * weight_decay): adding "
               "weight_decay * p to the gradient as well decays twice")
DECAY_TIMES_LR = ("AdamW's decay is multiplied by the learning rate: "
                  "p * (1 - lr * weight_decay), not p * (1 - weight_decay)")
DECAY_FIRST = ("decay the OLD parameter first, p * (1 - lr * weight_decay), then subtract "
               "the Adam step (PyTorch's order); shrinking after the step also shrinks "
               "the step")
BIAS_CORRECTION = ("divide m by (1 - beta1**step) and v by (1 - beta2**step) (bias "
                   "correction): both start at zero and are too small early on")
STEP_COUNT = ("step is already this step's number (1 on the first step): the bias "
              "correction is 1 - beta**step, not beta**(step + 1) or beta**(step - 1)")
EPS_PLACE = "eps is added after the square root (and its bias correction): sqrt(v_hat) + eps"
EPS_FOLDED = ("eps is added to sqrt(v_hat), after the bias correction: folding both "
              "corrections into the learning rate, lr * sqrt(1 - beta2**step) / (1 - beta1**step), "
              "adds eps to the uncorrected sqrt(v) (the paper's shortcut, not PyTorch's formula)")
ROOT_OF_CORRECTION = ("correct v before the square root, sqrt(v / (1 - beta2**step)): dividing "
                      "sqrt(v) by (1 - beta2**step) itself corrects it too much")
STATE_NOT_HAT = ("the state to return is m and v themselves, not m_hat and v_hat: the bias "
                 "correction is recomputed from m and v, with the new step, at every step")
NO_EPS = ("keep eps in the denominator, sqrt(v_hat) + eps: it matters when v_hat is small "
          "(and this case's eps is large)")
NO_SQRT = ("divide by the square root of v_hat, sqrt(v_hat) + eps: v is a mean of SQUARED "
           "gradients")
OLD_MOMENTS = ("update m and v with this gradient first, then step with the NEW m_hat and "
               "v_hat")
NOT_SQUARED = "v averages the SQUARED gradient: beta2 * v + (1 - beta2) * grad**2"
BETAS_ORDER = "betas = (beta1, beta2): beta1 (about 0.9) is for m, beta2 (about 0.999) for v"
DESCENT = "a descent step subtracts the update"
RETURN_NEW = "return the updated moments (new arrays), not the ones you were given"
ADAMW_NAN = ("NaN or inf where the expected values are finite: a division by zero where v_hat "
             "is 0 (eps belongs in the denominator, sqrt(v_hat) + eps) or the square root of "
             "a negative v (v averages squared gradients)")


def _adamw_reference(param, grad, m, v, step, lr, betas, eps, weight_decay, *,
                     coupled=False, decoupled=True, decay_lr=True, decay_after=False,
                     correct_m=True, correct_v=True, step_offset=0, eps_mode="after",
                     sqrt=True, old_moments=False, square=True, swap_betas=False, sign=1.0,
                     return_hat=False, root_of_correction=True):
    """PyTorch's AdamW step; each keyword (from its default) is one known mistake."""
    beta1, beta2 = betas[::-1] if swap_betas else betas
    g = grad + weight_decay * param if coupled else grad
    new_m = beta1 * m + (1 - beta1) * g
    new_v = beta2 * v + (1 - beta2) * (g * g if square is True else
                                       np.abs(g) if square == "abs" else g)
    t = step + step_offset
    use_m, use_v = (m, v) if old_moments else (new_m, new_v)
    m_hat = use_m / (1 - beta1 ** t) if correct_m else use_m
    v_hat = use_v / (1 - beta2 ** t) if correct_v else use_v
    root = np.sqrt(v_hat + eps) if eps_mode == "inside" else np.sqrt(v_hat) if sqrt else v_hat
    if eps_mode == "folded":       # lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)
        root = np.sqrt(use_v) / math.sqrt(1 - beta2 ** t) + eps / math.sqrt(1 - beta2 ** t)
    if not root_of_correction:     # sqrt(v) / (1 - beta2**t)
        root = np.sqrt(use_v) / (1 - beta2 ** t)
    update = lr * m_hat / (root + (eps if eps_mode == "after" else 0.0))
    shrink = 1 - (lr if decay_lr else 1.0) * weight_decay if decoupled else 1.0
    new_param = (param - sign * update) * shrink if decay_after else param * shrink - sign * update
    return (new_param, m_hat, v_hat) if return_hat else (new_param, new_m, new_v)


_ADAMW_MISTAKES = [
    ({"coupled": True, "decoupled": False}, COUPLED), ({"coupled": True}, BOTH_DECAYS),
    ({"decay_lr": False}, DECAY_TIMES_LR), ({"decay_after": True}, DECAY_FIRST),
    ({"correct_m": False, "correct_v": False}, BIAS_CORRECTION),
    ({"correct_m": False}, BIAS_CORRECTION), ({"correct_v": False}, BIAS_CORRECTION),
    ({"step_offset": 1}, STEP_COUNT), ({"step_offset": -1}, STEP_COUNT),
    ({"eps_mode": "inside"}, EPS_PLACE), ({"eps_mode": "none"}, NO_EPS),
    ({"eps_mode": "folded"}, EPS_FOLDED), ({"root_of_correction": False}, ROOT_OF_CORRECTION),
    ({"return_hat": True}, STATE_NOT_HAT),
    ({"sqrt": False}, NO_SQRT), ({"old_moments": True}, OLD_MOMENTS),
    ({"square": False}, NOT_SQUARED), ({"square": "abs"}, NOT_SQUARED),
    ({"swap_betas": True}, BETAS_ORDER),
    ({"sign": -1.0}, DESCENT),
]


def _adamw_draw(rng: np.random.Generator, shape: tuple, step: int, *, lr=None,
                weight_decay=None, betas=(0.9, 0.999), eps: float = 1e-8,
                grad_scale: float = 1.0) -> tuple:
    """Moments as Adam would have them after step - 1 steps of gradients of this size."""
    lr = _log_uniform(rng, 1e-3, 0.2) if lr is None else lr
    weight_decay = float(rng.uniform(0.1, 2.0)) if weight_decay is None else weight_decay
    param = rng.standard_normal(shape)
    grad = grad_scale * rng.standard_normal(shape)
    if step == 1:
        m, v = np.zeros(shape), np.zeros(shape)
    else:
        m = grad_scale * 0.3 * rng.standard_normal(shape)
        v = grad_scale ** 2 * rng.uniform(0.2, 1.5, size=shape)
    return param, grad, m, v, step, lr, betas, eps, weight_decay


def _adamw_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_adamw
    shape = lambda: tuple(_int(rng, 1, 5) for _ in range(_int(rng, 1, 2)))
    silent = _adamw_draw(rng, (_int(rng, 2, 4), _int(rng, 2, 4)), _int(rng, 2, 9))
    _, grad, m, v = silent[:4]
    off = rng.random(grad.shape) < 0.5
    off.flat[0] = True
    grad[off], m[off], v[off] = 0.0, 0.0, 0.0          # never had a data gradient
    betas = (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999)))
    return (
        Case.of("first step (step 1, m = v = 0)", _adamw_draw(rng, shape(), 1), judge),
        Case.of("a 2-D weight, step 2 to 20",
                _adamw_draw(rng, (_int(rng, 2, 4), _int(rng, 2, 4)), _int(rng, 2, 20)), judge),
        Case.of("weights with zero gradient and zero moments still decay", silent, judge),
        Case.of("weight_decay 0 is plain Adam",
                _adamw_draw(rng, shape(), _int(rng, 2, 30), weight_decay=0.0), judge),
        Case.of("other betas, step 2 to 5",
                _adamw_draw(rng, shape(), _int(rng, 2, 5), betas=betas), judge),
        Case.of("a large eps (0.05 to 0.5), small gradients",
                _adamw_draw(rng, shape(), _int(rng, 1, 10), lr=float(rng.uniform(0.05, 0.2)),
                            eps=_log_uniform(rng, 0.05, 0.5), grad_scale=0.1), judge),
        Case.of("tiny gradients (about 1e-6): eps matters",
                _adamw_draw(rng, shape(), _int(rng, 1, 3), grad_scale=1e-6), judge),
        Case.of("a late step (100 to 10000)",
                _adamw_draw(rng, shape(), _int(rng, 100, 10000)), judge),
    )


def _judge_adamw(inputs: tuple, output) -> Optional[Failure]:
    expected = _adamw_reference(*inputs)
    param, _, m, v = inputs[:4]
    with np.errstate(all="ignore"):    # a wrong variant may divide by zero (step - 1 = 0)
        variants = [(_adamw_reference(*inputs, **mistake), hint)
                    for mistake, hint in _ADAMW_MISTAKES]
    names = ("new_param", "new_exp_avg", "new_exp_avg_sq")
    mistakes = {name: [(variant[index], hint) for variant, hint in variants
                       if np.all(np.isfinite(variant[index]))]
                for index, name in enumerate(names)}
    mistakes["new_exp_avg"].append((m, RETURN_NEW))
    mistakes["new_exp_avg_sq"].append((v, RETURN_NEW))
    return compare_outputs(output, names, expected, mistakes=mistakes, nan_hint=ADAMW_NAN)


ADAMW_STEP = Exercise(
    id="ch01.adamw_step",
    function="adamw_step",
    params=("param", "grad", "exp_avg", "exp_avg_sq", "step", "lr", "betas", "eps",
            "weight_decay"),
    case_generator=_adamw_cases,
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


STANDARDISED = ("fit on the features as given: standardising X (dividing by its std) puts "
                "the penalty on other weights; only centring, which the bias absorbs, "
                "leaves the answer unchanged")
N_SQUARED = ("the penalty enters as N * lam, not N**2 * lam: the 1/N of the mean loss "
             "meets the lam of the penalty once")
N_NOT_D = ("the factor is N, the number of examples (rows of X), not D, the number of "
           "features")
N_MINUS_ONE = "the loss is a mean over N examples: the factor is N * lam, not (N - 1) * lam"
BIAS_SIGN = "b = mean(y) - mean(X) @ w: the feature means are subtracted, not added"


def _ridge(X, y, lam, *, centre=True, penalise_bias=False, n_factor=None,
           standardise=False, unscale=True, bias_sign=-1.0):
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
    scale = Xc.std(axis=0) if standardise else np.ones(d)
    w = np.linalg.solve((Xc / scale).T @ (Xc / scale) + factor * lam * np.eye(d),
                        (Xc / scale).T @ yc)
    w = w / scale if unscale else w
    return w, np.float64(y_mean + bias_sign * (x_mean @ w))


def _ridge_draw(rng: np.random.Generator, n: int, d: int, lam: float, offset=None,
                scales=None) -> tuple:
    """Features not centred (means drawn), a true bias ``offset``, some noise."""
    offset = float(rng.uniform(-5, 5)) if offset is None else offset
    scales = np.ones(d) if scales is None else scales
    X = (rng.standard_normal((n, d)) + 2 * rng.standard_normal(d)) * scales
    y = X @ (rng.standard_normal(d) / scales) + offset + 0.3 * rng.standard_normal(n)
    return X, y, lam


def _ridge_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_ridge
    lam = lambda: _log_uniform(rng, 0.03, 1.0)
    d = _int(rng, 2, 5)
    wide = _int(rng, 5, 8)
    scaled = _int(rng, 3, 5)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return (
        Case.of("N > D, features not centred", _ridge_draw(rng, _int(rng, 8, 20), d, lam()),
                judge),
        Case.of("more features than examples (D > N)",
                _ridge_draw(rng, _int(rng, 3, wide - 1), wide, lam()), judge),
        Case.of("a large offset (|b| from 10 to 50)",
                _ridge_draw(rng, _int(rng, 6, 15), _int(rng, 2, 4), lam(),
                            offset=sign * float(rng.uniform(10, 50))), judge),
        Case.of("a weak penalty (lam 1e-4 to 1e-2)",
                _ridge_draw(rng, _int(rng, 8, 20), _int(rng, 2, 5),
                            _log_uniform(rng, 1e-4, 1e-2)), judge),
        Case.of("a strong penalty (lam 1 to 100)",
                _ridge_draw(rng, _int(rng, 6, 15), _int(rng, 2, 5),
                            _log_uniform(rng, 1.0, 100.0)), judge),
        Case.of("features of very different scales (0.01 to 100)",
                _ridge_draw(rng, _int(rng, 8, 15), scaled, lam(),
                            scales=10 ** rng.uniform(-2, 2, size=scaled)), judge),
        Case.of("one feature (D = 1)", _ridge_draw(rng, _int(rng, 4, 12), 1, lam()), judge),
    )


def _judge_ridge(inputs: tuple, output) -> Optional[Failure]:
    X, y, lam = inputs
    n, d = X.shape
    expected = _ridge(X, y, lam)
    variants = [(_ridge(X, y, lam, centre=False), CENTRE),
                (_ridge(X, y, lam, penalise_bias=True), BIAS_PENALISED),
                (_ridge(X, y, lam, n_factor=1), N_LAM),
                (_ridge(X, y, lam, n_factor=n / 2), CONVENTION),
                (_ridge(X, y, lam, n_factor=2 * n), CONVENTION),
                (_ridge(X, y, lam, n_factor=n * n), N_SQUARED),
                (_ridge(X, y, lam, n_factor=n - 1), N_MINUS_ONE),
                (_ridge(X, y, lam, standardise=True), STANDARDISED),
                (_ridge(X, y, lam, standardise=True, unscale=False), STANDARDISED),
                (_ridge(X, y, lam, bias_sign=1.0), BIAS_SIGN)]
    if d != n:
        variants.append((_ridge(X, y, lam, n_factor=d), N_NOT_D))
    no_bias = (np.linalg.solve(X.T @ X + n * lam * np.eye(d), X.T @ y), np.float64(0.0))
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
    case_generator=_ridge_cases,
)


# ------------------------------------------------- 4. choosing lam from validation
TEST_SET = ("the test set must not choose anything (neither its lowest mean nor the "
            "one-standard-error rule on it): select lam on the VALIDATION errors, and look "
            "at the test error once, for the chosen model")
TRAIN_SET = ("the training error nearly always prefers the weakest penalty; it cannot "
             "tell overfitting from fitting: use the validation errors")
ONE_SE = ("the lowest average error (mean or median) is not the rule asked for: among the "
          "lam whose mean validation error is within ONE standard error of the best mean, "
          "take the LARGEST (the simplest model the data cannot tell apart from the best)")
PENALISED = ("the rule is not the lowest mean + standard error: find the lowest mean, then "
             "take the LARGEST lam whose mean is at most that mean + its standard error")
LARGEST = ("within one standard error of the best, prefer the LARGEST lam (the strongest "
           "penalty, the simplest model), not the smallest")
STANDARD_ERROR = ("the standard error of a mean over S seeds is std(ddof=1) / sqrt(S), not "
                  "the standard deviation itself")
ONE_SEED = "average over the seeds (rows) first; one seed is one noisy draw"
DDOF = ("the SAMPLE standard deviation divides by S - 1: np.std(..., ddof=1) (np.std's "
        "default, ddof=0, divides by S and makes the standard error too small)")
OWN_SE = ("the margin is the standard error of the BEST lam: keep the lam whose mean is at "
          "most mean[best] + se[best], not those whose own mean - se reaches the best mean")


SQRT_SEEDS = ("the standard error divides by sqrt(S), S the number of SEEDS (rows of "
              "val_errors), not the number of lambdas")
INDEX = "return the value lambdas[k], not its index k"


def _one_se_choice(lambdas, errors, *, spread="se", pick="largest", ddof=1, own=False,
                   root=None):
    mean = errors.mean(axis=0)
    std = errors.std(axis=0, ddof=ddof)
    width = std / np.sqrt(errors.shape[0] if root is None else root) if spread == "se" else std
    best = int(np.argmin(mean))
    if own:  # a misreading: each lam's own standard error instead of the best one's
        ok = np.flatnonzero(mean - width <= mean[best] + 1e-12)
    else:
        ok = np.flatnonzero(mean <= mean[best] + width[best] + 1e-12)
    index = ok[np.argmax(lambdas[ok])] if pick == "largest" else ok[np.argmin(lambdas[ok])]
    return np.float64(lambdas[index])


def _grid(rng: np.random.Generator, k: int) -> np.ndarray:
    """lam = 0, then k - 1 values on a log grid whose ends are drawn."""
    low = rng.uniform(-5, -3)
    return np.concatenate([[0.0], 10.0 ** np.linspace(low, low + rng.uniform(2, 4), k - 1)])


def _curves(rng: np.random.Generator, k: int, seeds: int, floor: float, bump: float,
            noise: float, first_seed_dip: bool = False) -> tuple:
    """Validation/test/train errors over the grid: a U with noise, a test set that
    prefers another lam (a lucky column), a training error that rises with lam.
    first_seed_dip: the first seed alone has its lowest error at the largest lam."""
    lambdas = _grid(rng, k)
    position = np.linspace(0, 1, k)
    centre = rng.uniform(0.35, 0.65)
    val = floor + bump * (position - centre) ** 2 + noise * rng.standard_normal((seeds, k))
    if first_seed_dip:
        val[0, -1] = val[0].min() - noise
    test = val + rng.normal(0, 2 * noise, size=(seeds, k))
    test[:, int(rng.integers(0, k - 1))] -= 0.05   # a lucky test column
    train = 0.02 * position[None, :] ** 2 + 0.001 * rng.random((seeds, k))
    return lambdas, train, val, test


def _margin_curves(rng: np.random.Generator) -> tuple:
    """3 seeds, the best mean at index 3, 0.11 (standard error 0.0058 with ddof=1, 0.0047
    with ddof=0, 0.0029 if divided by sqrt(12 lambdas); the standard deviation is 0.01).
    Above the best: index 0 by 0.03 (the training set's choice); index 1 by 0.002 with a
    spread (the smallest lam inside the margin); index 2 by 0.001 with none (the lowest
    mean + standard error); index 4 by 0.0025 (inside every margin), index 5 by 0.0042
    (inside the ddof=0 one), index 6 by 0.0053 (inside the ddof=1 one only: the answer),
    index 7 by 0.008 (inside one standard deviation), index 8 by 0.011 (inside two
    standard errors, not one standard deviation); index 9 is outside the best's margin
    but within its own standard error; the test set prefers index 10; the first seed
    alone has its lowest error at index 11 (the worst mean), which makes the standard
    errors' average over lambdas 0.0117 (a margin that picks index 8).
    Drawn: the grid, a shift of every error, the order of the seeds."""
    lambdas = _grid(rng, 12)
    above = np.array([0.03, 0.002, 0.001, 0.0, 0.0025, 0.0042, 0.0053, 0.008, 0.011, 0.0,
                      0.09, 0.29])
    val = 0.11 + np.tile(above, (3, 1))
    val[:, 1] = (0.108, 0.112, 0.116)
    val[:, 3] = (0.10, 0.11, 0.12)
    val[:, 9] = (0.105, 0.115, 0.155)
    val = rng.permutation(val)
    val[0, 11] = 0.05
    val = val + rng.uniform(-0.05, 0.05)
    test = val - 0.1 * (np.arange(12) == 10)
    train = np.tile(np.linspace(0.0, 0.05, 12), (3, 1))
    return lambdas, train, val, test


def _flat_left_curves(rng: np.random.Generator, k: int, seeds: int) -> tuple:
    """Small lam changes nothing (a flat stretch, noise only), larger lam hurts: the
    lowest mean falls anywhere on the flat stretch, the smallest lam within one
    standard error is lam = 0, the largest is near its right end."""
    lambdas = _grid(rng, k)
    flat = _int(rng, 3, k - 2)
    position = np.maximum(np.arange(k) - flat + 1, 0)
    val = 0.06 + 0.03 * position ** 2 + 0.004 * rng.standard_normal((seeds, k))
    test = val + rng.normal(0, 0.008, size=(seeds, k))
    train = 0.01 + 0.004 * np.arange(k)[None, :] + 0.001 * rng.random((seeds, k))
    return lambdas, train, val, test


def _choose_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_choose
    return (
        Case.of("a U-shaped validation curve", _curves(rng, _int(rng, 6, 9), _int(rng, 3, 5),
                                                       0.05, 0.08, 0.004), judge),
        Case.of("a flat bottom", _curves(rng, _int(rng, 7, 11), _int(rng, 4, 6), 0.08, 0.03,
                                         0.006), judge),
        Case.of("noisy curves, one seed's lowest error at the largest lam",
                _curves(rng, _int(rng, 5, 8), _int(rng, 3, 5), 0.10, 0.10, 0.01,
                        first_seed_dip=True), judge),
        Case.of("a sharp U", _curves(rng, _int(rng, 6, 10), 3, 0.04, 0.4, 0.003), judge),
        Case.of("candidates at the edge of the margin", _margin_curves(rng), judge),
        Case.of("no effect for small lam (a flat stretch), then worse",
                _flat_left_curves(rng, _int(rng, 7, 10), _int(rng, 3, 6)), judge),
        Case.of("random grid size, number of seeds and curve",
                _curves(rng, _int(rng, 5, 11), _int(rng, 3, 6), float(rng.uniform(0.03, 0.1)),
                        float(rng.uniform(0.03, 0.3)), float(rng.uniform(0.002, 0.01))), judge),
        Case.of("many seeds (8 to 12), a fine grid",
                _curves(rng, _int(rng, 10, 14), _int(rng, 8, 12), float(rng.uniform(0.03, 0.1)),
                        float(rng.uniform(0.03, 0.3)), float(rng.uniform(0.004, 0.012))), judge),
    )


def _wrong_choices(lambdas, train, val, test) -> list:
    """(the lam a wrong rule picks, its hint), for each known wrong rule."""
    argmin = lambda errors: np.float64(lambdas[int(np.argmin(errors))])
    rules = [
        (argmin(test.mean(axis=0)), TEST_SET),
        (_one_se_choice(lambdas, test), TEST_SET),
        (argmin(train.mean(axis=0)), TRAIN_SET),
        (_one_se_choice(lambdas, val, spread="std"), STANDARD_ERROR),
        (_one_se_choice(lambdas, val, pick="smallest"), LARGEST),
        (_one_se_choice(lambdas, val, ddof=0), DDOF),
        (_one_se_choice(lambdas, val, own=True), OWN_SE),
        (_one_se_choice(lambdas, val, root=len(lambdas)), SQRT_SEEDS),
        (argmin(val.mean(axis=0)), ONE_SE),
        (argmin(np.median(val, axis=0)), ONE_SE),
        (argmin(val.mean(axis=0) + val.std(axis=0, ddof=1) / np.sqrt(len(val))), PENALISED),
        (argmin(val[0]), ONE_SEED),
    ]
    index = int(np.flatnonzero(lambdas == _one_se_choice(lambdas, val))[0])
    rules.append((np.float64(index), INDEX))
    return rules


def _judge_choose(inputs: tuple, output) -> Optional[Failure]:
    lambdas, train, val, test = inputs
    expected = _one_se_choice(lambdas, val)
    got = as_numeric_array(output, "chosen lam")
    if isinstance(got, Failure):
        return got
    if got.size != 1:
        return Failure(f"chosen lam: expected one number, got an array of shape {got.shape}",
                       "return a single value of `lambdas`, e.g. float(lambdas[k])")
    value = float(got.reshape(()))
    # Several wrong rules can pick the same lam: the runner names a rule only if it alone
    # gives the learner's answer in every case (a suspect here, not yet a diagnosis).
    suspects = tuple(sorted({hint for wrong, hint in _wrong_choices(*inputs)
                             if np.isclose(value, wrong, rtol=1e-9, atol=0.0)}))
    if np.isclose(value, expected, rtol=1e-9, atol=0.0):
        return Passed(suspects)
    message = f"chosen lam: expected {float(expected):.4g}, got {value:.4g}"
    return Failure(message, suspects=suspects)


CHOOSE_LAMBDA = Exercise(
    id="ch01.choose_lambda",
    function="choose_lambda",
    params=("lambdas", "train_errors", "val_errors", "test_errors"),
    case_generator=_choose_cases,
)


# ------------------------------------------- 5. one proximal step of L1 + L2 (elastic net)
# The step the chapter shows for L1 alone (soft thresholding after the data-gradient step),
# extended to the penalty l1·‖w‖₁ + (l2/2)·‖w‖². Its exact proximal map, derived per
# coordinate from (w - u) + lr·l1·sign(w) + lr·l2·w = 0, is soft(u, lr·l1) / (1 + lr·l2)
# with u = param - lr·grad.
PROX_SUBGRADIENT = ("that is a subgradient step, param - lr*(grad + l1*sign(param) + "
                    "l2*param): it carries weights past zero; the proximal step takes the "
                    "gradient step on the data loss, then shrinks and stops AT zero")
PROX_NO_STOP = ("shrink each weight by lr*l1 towards zero but stop at zero: a weight that "
                "would cross zero becomes exactly 0 (np.maximum(|u| - lr*l1, 0))")
PROX_THRESHOLD_LR = ("the threshold is lr*l1, not l1: the penalty enters the step "
                     "multiplied by the learning rate, like the gradient")
PROX_HARD = ("soft thresholding, not hard: the weights that survive also move lr*l1 towards "
             "zero, sign(u) * max(|u| - lr*l1, 0)")
PROX_GRADIENT_FIRST = ("take the gradient step on the data loss first, u = param - lr*grad, "
                       "then apply the penalty's step to u, not to the old param")
PROX_DIVIDE = ("the exact proximal step of the L2 part DIVIDES by (1 + lr*l2): solve "
               "(w - u) + lr*l2*w = 0 for w; multiplying by (1 - lr*l2), weight decay's "
               "shrink, is only its first-order approximation")
PROX_L2_IGNORED = ("the penalty has an L2 part too: after the soft threshold, divide by "
                   "(1 + lr*l2)")
PROX_ORDER = ("threshold first, then divide: soft(u, lr*l1) / (1 + lr*l2); dividing u first "
              "and then thresholding at lr*l1 changes the threshold")
PROX_SIGN_OF_PARAM = ("the sign is that of u = param - lr*grad, not of the old param: a weight "
                      "whose gradient step carries it past zero keeps going, "
                      "sign(u) * max(|u| - lr*l1, 0)")
PROX_L2_NO_LR = ("the L2 part enters the step multiplied by the learning rate too: divide by "
                 "(1 + lr*l2), not (1 + l2)")
PROX_L2_COUPLED = ("put the L2 part into the proximal step as well (divide the thresholded "
                   "value by 1 + lr*l2) rather than adding l2*param to the gradient")


def _soft(u: np.ndarray, threshold: float) -> np.ndarray:
    return np.sign(u) * np.maximum(np.abs(u) - threshold, 0.0)


def _elastic_net_reference(param, grad, lr, l1, l2):
    return _soft(param - lr * grad, lr * l1) / (1 + lr * l2)


def _elastic_net_mistakes(param, grad, lr, l1, l2) -> list:
    u = param - lr * grad
    shrink = 1 + lr * l2
    return [
        (param - lr * (grad + l1 * np.sign(param) + l2 * param), PROX_SUBGRADIENT),
        ((u - lr * l1 * np.sign(u)) / shrink, PROX_NO_STOP),
        (_soft(u, l1) / shrink, PROX_THRESHOLD_LR),
        (u * (np.abs(u) > lr * l1) / shrink, PROX_HARD),
        ((_soft(param, lr * l1) - lr * grad) / shrink, PROX_GRADIENT_FIRST),
        (_soft(u, lr * l1) * (1 - lr * l2), PROX_DIVIDE),
        (_soft(u, lr * l1), PROX_L2_IGNORED),
        (_soft(u / shrink, lr * l1), PROX_ORDER),
        (_soft(u - lr * l2 * param, lr * l1), PROX_L2_COUPLED),
        (np.sign(param) * np.maximum(np.abs(u) - lr * l1, 0.0) / shrink, PROX_SIGN_OF_PARAM),
        (_soft(u, lr * l1) / (1 + l2), PROX_L2_NO_LR),
    ]


def _elastic_net_draw(rng: np.random.Generator, shape: tuple, *, l1=None, l2=None, lr=None,
                      grad_scale: float = 1.0) -> tuple:
    lr = float(rng.uniform(0.1, 0.5)) if lr is None else lr
    l1 = float(rng.uniform(0.2, 1.0)) if l1 is None else l1
    l2 = float(rng.uniform(0.5, 2.0)) if l2 is None else l2
    param = rng.standard_normal(shape)
    grad = grad_scale * rng.standard_normal(shape)
    # some weights that end the gradient step within lr*l1 of zero, so they must become 0
    near = rng.random(shape) < 0.3
    near.flat[0] = True
    u_near = lr * l1 * rng.uniform(-0.9, 0.9, size=shape)
    param = np.where(near, u_near + lr * grad, param)
    return param, grad, lr, l1, l2


def _elastic_net_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_elastic_net
    shape = lambda: (_int(rng, 4, 9),)
    matrix = lambda: (_int(rng, 2, 4), _int(rng, 2, 5))
    at_zero = _elastic_net_draw(rng, matrix())
    param, grad, lr, l1, l2 = at_zero
    grad = grad * 0.0 + l1 * rng.uniform(-0.9, 0.9, size=grad.shape)   # |grad| < l1 ...
    param = np.zeros_like(param)                                       # ... at zero: stays
    param.flat[-1] = 1.0                                               # and one that is not
    # weights that the data step carries across zero, beyond the threshold: param small,
    # grad large with the same sign, so sign(u) differs from sign(param)
    crossing = _elastic_net_draw(rng, shape())
    c_param, c_grad, c_lr, c_l1, c_l2 = crossing
    cross = rng.random(c_param.shape) < 0.5
    cross.flat[0] = True
    small = rng.uniform(0.05, 0.3, size=c_param.shape) * np.where(rng.random(c_param.shape) < 0.5, -1, 1)
    beyond = (np.abs(small) + c_lr * c_l1 * rng.uniform(1.5, 3.0, size=c_param.shape)) / c_lr
    c_param = np.where(cross, small, c_param)
    c_grad = np.where(cross, np.sign(small) * (np.abs(small) / c_lr + beyond), c_grad)
    return (
        Case.of("a vector: some weights end within lr*l1 of zero", _elastic_net_draw(rng, shape()),
                judge),
        Case.of("a 2-D weight, large gradients", _elastic_net_draw(rng, matrix(), grad_scale=3.0),
                judge),
        Case.of("l2 = 0: the L1 step alone (soft thresholding)",
                _elastic_net_draw(rng, shape(), l2=0.0), judge),
        Case.of("l1 = 0: the L2 step alone", _elastic_net_draw(rng, matrix(), l1=0.0), judge),
        Case.of("weights at zero whose gradient is smaller than l1 stay at zero",
                (param, grad, lr, l1, l2), judge),
        Case.of("a strong L2 part (lr*l2 from 0.5 to 2)",
                _elastic_net_draw(rng, shape(), lr=float(rng.uniform(0.5, 1.0)),
                                  l2=float(rng.uniform(1.0, 2.0))), judge),
        Case.of("the data step carries some weights across zero, beyond lr*l1",
                (c_param, c_grad, c_lr, c_l1, c_l2), judge),
    )


def _judge_elastic_net(inputs: tuple, output) -> Optional[Failure]:
    expected = _elastic_net_reference(*inputs)
    return compare_array("new_param", output, expected, mistakes=_elastic_net_mistakes(*inputs))


ELASTIC_NET_STEP = Exercise(
    id="ch01.elastic_net_step",
    function="elastic_net_step",
    params=("param", "grad", "lr", "l1", "l2"),
    case_generator=_elastic_net_cases,
)

EXERCISES = [L2_PENALTY, ADAMW_STEP, RIDGE_WITH_BIAS, CHOOSE_LAMBDA, ELASTIC_NET_STEP]
