"""Chapter 0 exercises (an MLP in NumPy): the cases and the classic mistakes.

None of the four is printed or spelled out by the chapter: a layer whose backward the
chapter does not derive, the learner's own gradient check, a loss the chapter does not
derive (value and gradient), and PyTorch's momentum step as a pure function.

Every reference below is computed in float64 from the case's own inputs, with the
textbook formula, so the cases do not depend on the rest of mlpcore (the tests check
that the formulas agree with mlpcore's central differences and SGD, and with PyTorch
when it is installed). Each wrong variant listed next to a reference is a mistake
learners actually make; when an answer equals one, its hint is shown.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import Mistake, compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _normal(seed: int, *shapes: tuple, scale: float = 1.0, shift: float = 0.0) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(shift + scale * rng.standard_normal(shape) for shape in shapes)


def _random_shape(seed: int, low: int, high: int, ndim: int) -> tuple:
    """A shape drawn from a seeded generator: every run gets the same 'random' shape."""
    return tuple(int(n) for n in np.random.default_rng(seed).integers(low, high + 1, size=ndim))


def _read_only(*arrays: np.ndarray) -> tuple:
    for array in arrays:
        array.flags.writeable = False
    return arrays


IN_PLACE = ("`{0} -= ...`, `{0} *= ...` or `{0}[...] = ...` change the caller's array; "
            "compute a new array instead")


def _read_only_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        return ("you wrote into an input array (it is read-only in this case): "
                + IN_PLACE.format("param"))
    return None


# ------------------------------------------------ 1. backward of a scale-and-shift layer
NO_MEAN_HERE = ("sum over the batch, don't average: grad_out is already d(mean loss)/dy, "
                "so the 1/N is inside it")
SHARED = ("gamma and beta are shared by the N rows of the batch: sum their gradients over "
          "axis 0, giving shape (D,)")
NOT_LINEAR = ("x.T @ grad_out is Linear's weight gradient, where every input meets every "
              "output; here gamma[d] only scales column d: multiply elementwise, then sum "
              "over the batch (axis 0)")


def _scale_shift_inputs(seed: int, n: int, d: int):
    return lambda: _normal(seed, (n, d), (d,), (n, d))


def _random_scale_shift_inputs(seed: int):
    n, d = _random_shape(seed, 2, 8, 2)
    return _scale_shift_inputs(seed + 1, n, d)


def _judge_scale_shift(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, grad_out = inputs
    grad_x = grad_out * gamma
    grad_gamma = (grad_out * x).sum(axis=0)
    grad_beta = grad_out.sum(axis=0)
    mistakes = {
        "grad_x": [(grad_out, "y = x * gamma + beta, so dy/dx = gamma: multiply grad_out by "
                              "gamma (broadcast along the batch)"),
                   (grad_out * x, "dy/dx is gamma, not x: grad_x = grad_out * gamma"),
                   (grad_x / len(x), NO_MEAN_HERE)],
        "grad_gamma": [((x.shape[0], x.shape[1]), SHARED),
                       ((x.shape[1], x.shape[1]), NOT_LINEAR),
                       (grad_out.sum(axis=0), "dy/dgamma is x: sum grad_out * x over the "
                                              "batch, not grad_out alone"),
                       ((grad_out * gamma).sum(axis=0), "dy/dgamma is x, not gamma: sum "
                                                        "grad_out * x over the batch"),
                       ((grad_out * x).mean(axis=0), NO_MEAN_HERE),
                       ((grad_out * x).sum(axis=1), "summed over the wrong axis: axis 0 is "
                                                    "the batch")],
        "grad_beta": [((x.shape[0], x.shape[1]), SHARED),
                      (grad_out.mean(axis=0), NO_MEAN_HERE),
                      (grad_out.sum(axis=1), "summed over the wrong axis: axis 0 is the "
                                             "batch")],
    }
    return compare_outputs(output, ("grad_x", "grad_gamma", "grad_beta"),
                           (grad_x, grad_gamma, grad_beta), mistakes=mistakes)


def _scale_shift_exception_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, ValueError) and ("matmul" in str(exc) or "aligned" in str(exc)):
        return "no matrix product is needed: " + NOT_LINEAR
    return None


SCALE_SHIFT_BACKWARD = Exercise(
    id="ch00.scale_shift_backward",
    function="scale_shift_backward",
    params=("x", "gamma", "grad_out"),
    summary="gradients of y = x * gamma + beta (one scale and shift per feature)",
    cases=(
        Case("batch of 4, 3 features", _scale_shift_inputs(1, 4, 3), _judge_scale_shift),
        Case("a single example, 5 features", _scale_shift_inputs(2, 1, 5), _judge_scale_shift),
        Case("square batch (N = D = 6)", _scale_shift_inputs(3, 6, 6), _judge_scale_shift),
        Case("random shape (seeded)", _random_scale_shift_inputs(4), _judge_scale_shift),
        Case("another random shape (seeded)", _random_scale_shift_inputs(6),
             _judge_scale_shift),
    ),
    exception_hint=_scale_shift_exception_hint,
)


# ------------------------------------------------- 2. your own numerical gradient
FORWARD = ("this is the one-sided difference (f(x + eps) - f(x)) / eps, whose error "
           "shrinks only like eps; use the central difference "
           "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), whose error shrinks like eps²")
TWO_EPS = "the two evaluations are 2*eps apart: divide by 2 * eps, not eps"
ONE_AT_A_TIME = ("perturb ONE entry at a time (x + eps * e_i, with e_i zero except entry i); "
                 "adding eps to every entry measures the slope along the all-ones direction")
RESTORE = ("put each entry back to its original value before perturbing the next one; "
           "otherwise later entries are measured at a shifted point")
SAME_SHAPE = "return an array of x's shape (one partial derivative per entry of x)"


def _central(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def _one_sided(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    base = f(x)
    for index in np.ndindex(x.shape):
        plus = x.copy()
        plus[index] += eps
        grad[index] = (f(plus) - base) / eps
    return grad


def _never_restored(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    moving = x.copy()
    for index in np.ndindex(x.shape):
        moving[index] += eps
        plus = f(moving)
        moving[index] -= 2 * eps
        grad[index] = (plus - f(moving)) / (2 * eps)
    return grad


def _sin_sum(seed: int, shape: tuple, eps: float):
    def make() -> tuple:
        weights, x = _normal(seed, shape, shape)
        return (lambda z: float(np.sum(weights * np.sin(z)))), x, eps
    return make


def _log_sum_exp(seed: int, shape: tuple, eps: float):
    def make() -> tuple:
        (x,) = _normal(seed, shape)
        return (lambda z: float(np.log(np.sum(np.exp(2.0 * z))))), x, eps
    return make


def _scale_shift_tanh(seed: int, n: int, d: int, eps: float):
    """f(gamma) = sum(R * tanh(X * gamma + beta)): a gradient check of exercise 0.1's
    layer (followed by tanh) with respect to gamma."""
    def make() -> tuple:
        X, beta, R, gamma = _normal(seed, (n, d), (d,), (n, d), (d,))
        return (lambda g: float(np.sum(R * np.tanh(X * g + beta)))), gamma, eps
    return make


def _quadratic_coupled(seed: int, eps: float):
    shape = _random_shape(seed, 2, 3, 3)

    def make() -> tuple:
        weights, x = _normal(seed + 1, shape, shape)
        return (lambda z: float(0.5 * np.sum(weights * z ** 3) + np.sum(z) ** 2)), x, eps
    return make


def _judge_numerical_gradient(inputs: tuple, output) -> Optional[Failure]:
    f, x, eps = inputs
    expected = _central(f, x, eps)
    mistakes: list[Mistake] = [(_one_sided(f, x, eps), FORWARD),
                               (2 * expected, TWO_EPS),
                               (np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps)),
                                ONE_AT_A_TIME),
                               (_never_restored(f, x, eps), RESTORE)]
    if x.ndim > 1:
        mistakes.append(((x.size,), SAME_SHAPE))
    return compare_outputs(output, ("grad",), (expected,), mistakes={"grad": mistakes})


NUMERICAL_GRADIENT = Exercise(
    id="ch00.numerical_gradient",
    function="numerical_gradient",
    params=("f", "x", "eps"),
    summary="central-difference gradient of a scalar function f at x, one entry at a time",
    cases=(
        Case("sum of weighted sines, 5 entries, eps 1e-3", _sin_sum(30, (5,), 1e-3),
             _judge_numerical_gradient),
        Case("log-sum-exp of a 3 × 4 array, eps 1e-4", _log_sum_exp(31, (3, 4), 1e-4),
             _judge_numerical_gradient),
        Case("gradient check of a scale-and-shift layer + tanh, w.r.t. gamma (4 features)",
             _scale_shift_tanh(32, 6, 4, 1e-3), _judge_numerical_gradient),
        Case("random 3-D shape (seeded), coupled entries, eps 1e-3",
             _quadratic_coupled(33, 1e-3), _judge_numerical_gradient),
        Case("random 2-D shape (seeded), eps 1e-2",
             _log_sum_exp(35, _random_shape(34, 2, 5, 2), 1e-2), _judge_numerical_gradient),
    ),
)


# --------------------------------------- 3. binary cross-entropy from logits: value and gradient
STABLE = ("log(sigmoid(z)) and log(1 - sigmoid(z)) hit log(0) once |z| is large (about 37 "
          "and beyond in float64); use the stable form "
          "max(z, 0) - z * t + log1p(exp(-|z|)), which never takes the log of 0")
MEAN = "the loss is the MEAN over the N examples: divide the sum by N"
GRAD_MEAN = ("each example's gradient carries the 1/N of the mean: "
             "grad = (sigmoid(z) - t) / N")
CANCELS = ("the sigmoid's own derivative sigma(1 - sigma) cancels against the log's "
           "1/sigma: d loss_n / d z_n = sigmoid(z_n) - t_n, nothing more")
SIGN = ("this is the gradient of the log-likelihood, which we maximise; the loss is its "
        "negative: grad = (sigmoid(z) - t) / N")
CAPPED = ("your loss is finite but too small where a logit is large and of the wrong sign: "
          "the true loss of such an example grows like |z|, and clipping sigmoid(z) (or z) "
          "caps it; use the stable form max(z, 0) - z * t + log1p(exp(-|z|)) instead of "
          "clipping")
SOFT = ("targets may be any number in [0, 1] (soft labels): use "
        "t * log(sigmoid(z)) + (1 - t) * log(1 - sigmoid(z)) in its stable form, not a "
        "branch on t == 1")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z, no overflow


def _bce_inputs(seed: int, n: int, scale: float = 2.0, soft: bool = False,
                confident_wrong: bool = False):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        targets = rng.integers(0, 2, size=n).astype(np.float64)
        if soft:
            targets = rng.uniform(0.0, 1.0, size=n)
        logits = scale * rng.standard_normal(n)
        if confident_wrong:  # large logits of the wrong sign: log(0) for a naive loss
            logits = np.where(targets > 0.5, -1.0, 1.0) * rng.uniform(40.0, 1000.0, size=n)
        return logits, targets
    return make


def _random_bce_inputs(seed: int, **options):
    (n,) = _random_shape(seed, 5, 40, 1)
    return _bce_inputs(seed + 1, n, **options)


def _judge_bce(inputs: tuple, output) -> Optional[Failure]:
    logits, targets = inputs
    n = logits.shape[0]
    per_example = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    loss = np.float64(per_example.mean())
    probs = _sigmoid(logits)
    grad = (probs - targets) / n
    branches = [np.where(chosen, np.logaddexp(0, -logits), np.logaddexp(0, logits)).mean()
                for chosen in (targets > 0.5, targets == 1)]  # targets rounded to 0 or 1
    mistakes = {
        "loss": [(np.float64(per_example.sum()), MEAN), (np.float64(-loss), SIGN)]
                + [(np.float64(branch), SOFT) for branch in branches],
        "grad_logits": [(probs - targets, GRAD_MEAN), ((targets - probs) / n, SIGN),
                        (grad * probs * (1 - probs), CANCELS)],
    }
    failure = compare_outputs(output, ("loss", "grad_logits"), (loss, grad),
                              mistakes=mistakes, nan_hint=STABLE)
    if failure is not None and failure.message.startswith("loss:") \
            and np.abs(logits).max() > 37 and 0 < _as_float(output[0]) < loss:
        return Failure(failure.message, CAPPED)  # clipped: finite, but capped
    return failure


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


BCE_WITH_LOGITS = Exercise(
    id="ch00.bce_with_logits",
    function="bce_with_logits",
    params=("logits", "targets"),
    summary="mean binary cross-entropy from logits, and its gradient with respect to them",
    cases=(
        Case("4 examples, targets 0 or 1", _bce_inputs(40, 4), _judge_bce),
        Case("a single example", _bce_inputs(41, 1), _judge_bce),
        Case("random batch size (seeded), targets 0 or 1", _random_bce_inputs(42),
             _judge_bce),
        Case("soft targets in [0, 1], 6 examples", _bce_inputs(44, 6, soft=True), _judge_bce),
        Case("confident and wrong: logits of size 40 to 1000, random batch size (seeded)",
             _random_bce_inputs(45, confident_wrong=True), _judge_bce),
    ),
)


# ------------------------------------------------------------ 4. SGD with momentum
NOT_EMA = ("PyTorch's SGD adds the raw gradient: buf = momentum * buf + grad, no "
           "(1 - momentum) factor (dampening is 0)")
FIRST_STEP = ("on the first step (buf is None) PyTorch sets buf = grad, as if the buffer "
              "had started at zero")
STEP_WITH_BUF = "step along the updated buffer: new_param = param - lr * new_buf"
ALIASED = ("return a NEW array: new_buf = grad.copy() on the first step. The caller "
           "reuses its gradient array (zero_grad, the next backward), which would "
           "silently change a buffer that is the same array")


def _sgd_inputs(seed: int, shape: tuple, first: bool, lr: float, momentum: float):
    def make() -> tuple:
        param, grad, buf = _normal(seed, shape, shape, shape)
        if first:  # the caller's arrays, read-only here so that sharing them shows
            _read_only(param, grad)
        return param, grad, (None if first else buf), lr, momentum
    return make


def _random_sgd_inputs(seed: int, first: bool, lr: float, momentum: float):
    return _sgd_inputs(seed + 1, _random_shape(seed, 1, 6, 2), first, lr, momentum)


def _judge_sgd_momentum(inputs: tuple, output) -> Optional[Failure]:
    param, grad, buf, lr, momentum = inputs
    if buf is None:
        new_buf = grad.copy()
        buf_mistakes = [((1 - momentum) * grad, NOT_EMA), (momentum * grad, FIRST_STEP),
                        (np.zeros_like(grad), FIRST_STEP)]
        param_mistakes = [(param - lr * (1 - momentum) * grad, NOT_EMA),
                          (param - lr * momentum * grad, FIRST_STEP),
                          (param, "the parameter did not move: " + FIRST_STEP)]
    else:
        new_buf = momentum * buf + grad
        ema = momentum * buf + (1 - momentum) * grad
        buf_mistakes = [(ema, NOT_EMA),
                        (momentum * (buf + grad), "only the old buffer is multiplied by "
                                                  "momentum: buf = momentum * buf + grad"),
                        (buf, "update the buffer: new_buf = momentum * buf + grad"),
                        (grad, "the buffer must remember the past: "
                               "new_buf = momentum * buf + grad")]
        param_mistakes = [(param - lr * ema, NOT_EMA),
                          (param - lr * grad, STEP_WITH_BUF),
                          (param - lr * buf, "update the buffer first, then step with "
                                             "the NEW buffer")]
    new_param = param - lr * new_buf
    param_mistakes.append((param + lr * new_buf, "gradient DEscent subtracts: "
                                                 "new_param = param - lr * new_buf"))
    failure = compare_outputs(output, ("new_param", "new_buf"), (new_param, new_buf),
                              mistakes={"new_param": param_mistakes, "new_buf": buf_mistakes})
    if failure is None:
        shared = [name for name, value in zip(("new_param", "new_buf"), output)
                  if isinstance(value, np.ndarray) and not value.flags.writeable]
        if shared:  # only the caller's (read-only) arrays, or views of them, are read-only
            return Failure(f"{shared[0]} is one of your inputs (or a view of it), not a "
                           f"new array", ALIASED)
    return failure


SGD_MOMENTUM_STEP = Exercise(
    id="ch00.sgd_momentum_step",
    function="sgd_momentum_step",
    params=("param", "grad", "buf", "lr", "momentum"),
    summary="one step of SGD with momentum, PyTorch's convention, without changing the inputs",
    cases=(
        Case("first step (buf is None), momentum 0.9",
             _sgd_inputs(20, (5,), True, 0.1, 0.9), _judge_sgd_momentum),
        Case("later step (buf given), 3 × 4 weight, momentum 0.9",
             _sgd_inputs(21, (3, 4), False, 0.05, 0.9), _judge_sgd_momentum),
        Case("later step, momentum 0.5, lr 0.3",
             _sgd_inputs(22, (6,), False, 0.3, 0.5), _judge_sgd_momentum),
        Case("first step, random shape (seeded), momentum 0.99",
             _random_sgd_inputs(23, True, 0.01, 0.99), _judge_sgd_momentum),
        Case("later step, random shape (seeded), momentum 0.9",
             _random_sgd_inputs(25, False, 0.1, 0.9), _judge_sgd_momentum),
    ),
    exception_hint=_read_only_hint,
)

EXERCISES = [SCALE_SHIFT_BACKWARD, NUMERICAL_GRADIENT, BCE_WITH_LOGITS, SGD_MOMENTUM_STEP]
