"""Chapter 0 exercises (an MLP in NumPy): the cases and the classic mistakes.

Every reference below is computed in float64 from the case's own inputs, with the
textbook formula, so the cases do not depend on the rest of mlpcore (the tests check
that the formulas agree with mlpcore's Linear, CrossEntropyLoss and SGD). Each wrong
variant listed next to a reference is a mistake learners actually make; when an
answer equals one, its hint is shown.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import Mistake, compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _normal(seed: int, *shapes: tuple, scale: float = 1.0, shift: float = 0.0) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(shift + scale * rng.standard_normal(shape) for shape in shapes)


# ---------------------------------------------------------------- 1. Linear backward
NO_MEAN_HERE = ("don't divide by N here: grad_out is already d(mean loss)/dy, so the "
                "1/N is inside it")
TRANSPOSE = ("grad_x = grad_out @ weight.T: the weight is stored (in, out), so going "
             "back from the outputs to the inputs needs its transpose")


def _linear_inputs(seed: int, n: int, fan_in: int, fan_out: int):
    return lambda: _normal(seed, (n, fan_in), (fan_in, fan_out), (n, fan_out))


def _judge_linear_backward(inputs: tuple, output) -> Optional[Failure]:
    x, weight, grad_out = inputs
    n = x.shape[0]
    grad_x = grad_out @ weight.T
    grad_weight = x.T @ grad_out
    grad_bias = grad_out.sum(axis=0)
    grad_x_mistakes: list[Mistake] = [(grad_x / n, NO_MEAN_HERE),
                                      ((n, weight.shape[1]), TRANSPOSE)]
    if weight.shape[0] == weight.shape[1]:
        grad_x_mistakes.insert(0, (grad_out @ weight, TRANSPOSE))
    mistakes = {
        "grad_x": grad_x_mistakes,
        "grad_weight": [
            (grad_out.T @ x, "grad_weight has the weight's shape (in, out): "
                             "x.T @ grad_out, not grad_out.T @ x"),
            (grad_weight / n, NO_MEAN_HERE)],
        "grad_bias": [
            (grad_out, "the bias is shared by every example: sum its gradient over the "
                       "batch, grad_bias = grad_out.sum(axis=0)"),
            (grad_out.sum(axis=1), "summed over the wrong axis: axis 0 is the batch"),
            (grad_out.mean(axis=0), "sum over the batch, don't average: the 1/N of the "
                                    "mean loss is already inside grad_out"),
            (grad_out.sum(axis=0, keepdims=True), "grad_bias has the bias's shape (out,): "
                                                  "drop keepdims=True")],
    }
    return compare_outputs(output, ("grad_x", "grad_weight", "grad_bias"),
                           (grad_x, grad_weight, grad_bias), mistakes=mistakes)


def _linear_exception_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, ValueError) and "matmul" in str(exc):
        return ("the shapes of a matrix product do not fit. x is (N, in), weight (in, out), "
                "grad_out (N, out): " + TRANSPOSE + ", and grad_weight = x.T @ grad_out")
    return None


LINEAR_BACKWARD = Exercise(
    id="ch00.linear_backward",
    function="linear_backward",
    params=("x", "weight", "grad_out"),
    summary="gradients of y = x @ weight + b with respect to x, weight and b",
    cases=(
        Case("batch of 4, 3 inputs → 2 outputs", _linear_inputs(1, 4, 3, 2),
             _judge_linear_backward),
        Case("square weight, 3 inputs → 3 outputs", _linear_inputs(2, 5, 3, 3),
             _judge_linear_backward),
        Case("a single example, 4 inputs → 5 outputs", _linear_inputs(3, 1, 4, 5),
             _judge_linear_backward),
    ),
    exception_hint=_linear_exception_hint,
)


# ------------------------------------------------- 2. softmax + cross-entropy gradient
OVERFLOW = ("exp of a large logit overflows to inf: subtract each row's maximum first, "
            "softmax(z) = softmax(z - max(z)) is the same value without the overflow")
ROW_INDEX = ("subtract 1 only at each row's target class: "
             "p[np.arange(N), targets] -= 1 (p[targets] picks whole rows)")


def _softmax(logits: np.ndarray, axis: int) -> np.ndarray:
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def _ce_inputs(seed: int, n: int, classes: int, shift: float = 0.0, scale: float = 2.0,
               targets: Optional[list] = None):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        logits = shift + scale * rng.standard_normal((n, classes))
        chosen = (np.array(targets, dtype=np.int64) if targets is not None
                  else rng.integers(0, classes, size=n))
        return logits, chosen
    return make


def _judge_softmax_ce_grad(inputs: tuple, output) -> Optional[Failure]:
    logits, targets = inputs
    n, classes = logits.shape
    rows = np.arange(n)
    one_hot = np.zeros_like(logits)
    one_hot[rows, targets] = 1.0
    probs = _softmax(logits, axis=1)
    expected = (probs - one_hot) / n

    mistakes: list[Mistake] = [
        (probs - one_hot, "divide by N: the loss is the MEAN over the batch, so each "
                          "example's gradient carries a factor 1/N"),
        (probs / n, "subtract the one-hot targets: d loss / d logits = "
                    "(softmax(logits) - one_hot(targets)) / N"),
        ((_softmax(logits, axis=0) - one_hot) / n,
         "softmax normalises each ROW (one example's scores over the C classes): "
         "use axis=1 with keepdims=True"),
        ((probs - one_hot) / classes, "divide by N, the number of examples (rows), "
                                      "not by C, the number of classes"),
    ]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    if n == classes:  # a reduction without keepdims broadcasts silently only when N == C
        no_keepdims = shifted / shifted.sum(axis=1)
        mistakes.append(((no_keepdims - one_hot) / n,
                         "sum(axis=1) without keepdims=True divides column j by row j's "
                         "sum: use keepdims=True"))
    if targets.max() < n:
        whole_rows = probs.copy()
        whole_rows[targets] -= 1.0
        mistakes.append((whole_rows / n, ROW_INDEX))
    failure = compare_outputs(output, ("grad_logits",), (expected,),
                              mistakes={"grad_logits": mistakes}, nan_hint=OVERFLOW)
    if failure is None or failure.hint or np.shape(output) != expected.shape:
        return failure
    return Failure(failure.message, _softmax_property_hint(np.asarray(output, float), one_hot))


def _softmax_property_hint(got: np.ndarray, one_hot: np.ndarray) -> str:
    """A hint from what the wrong answer still satisfies, whatever the exact slip."""
    n = got.shape[0]
    probs = got * n + one_hot  # what the learner's softmax must have been
    if np.allclose(probs.sum(axis=0), 1.0) and not np.allclose(probs.sum(axis=1), 1.0):
        return ("your softmax sums to 1 down each COLUMN: normalise each row (one "
                "example's scores over the C classes) with axis=1, keepdims=True")
    if not np.allclose(got.sum(axis=1), 0.0):
        return ("each row of the gradient should sum to 0 (softmax and one-hot both sum "
                "to 1): check the softmax normalisation and the one-hot subtraction")
    return ""


def _ce_exception_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, IndexError):
        return ROW_INDEX
    if isinstance(exc, ValueError) and "broadcast" in str(exc):
        return "keep the summed axis so it broadcasts back: .sum(axis=1, keepdims=True)"
    return None


SOFTMAX_CROSS_ENTROPY_GRAD = Exercise(
    id="ch00.softmax_cross_entropy_grad",
    function="softmax_cross_entropy_grad",
    params=("logits", "targets"),
    summary="gradient of the mean cross-entropy over the batch with respect to the logits",
    cases=(
        Case("batch of 4, 3 classes", _ce_inputs(10, 4, 3), _judge_softmax_ce_grad),
        Case("square batch (N = C = 4), repeated targets",
             _ce_inputs(11, 4, 4, targets=[2, 0, 2, 3]), _judge_softmax_ce_grad),
        Case("large logits (around 1000), batch of 3, 5 classes",
             _ce_inputs(12, 3, 5, shift=1000.0, scale=3.0), _judge_softmax_ce_grad),
    ),
    exception_hint=_ce_exception_hint,
)


# ------------------------------------------------------------ 3. SGD with momentum
NOT_EMA = ("PyTorch's SGD adds the raw gradient: buf = momentum * buf + grad, no "
           "(1 - momentum) factor (dampening is 0)")
FIRST_STEP = ("on the first step (buf is None) PyTorch sets buf = grad, as if the buffer "
              "had started at zero")
STEP_WITH_BUF = "step along the updated buffer: new_param = param - lr * new_buf"


def _sgd_inputs(seed: int, shape: tuple, first: bool, lr: float, momentum: float):
    def make() -> tuple:
        param, grad, buf = _normal(seed, shape, shape, shape)
        return param, grad, (None if first else buf), lr, momentum
    return make


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
    return compare_outputs(output, ("new_param", "new_buf"), (new_param, new_buf),
                           mistakes={"new_param": param_mistakes, "new_buf": buf_mistakes})


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
    ),
)

EXERCISES = [LINEAR_BACKWARD, SOFTMAX_CROSS_ENTROPY_GRAD, SGD_MOMENTUM_STEP]
