"""Chapter 3 exercises (vanishing and exploding gradients): the cases and the classic mistakes.

The references are computed in float64 from each case's own inputs with the formulas
the chapter derives (tests/test_exercises_ch03.py checks them against mlpcore.init,
mlpcore.clip and mlpcore.BatchNorm1d). Every exercise draws its cases from the
np.random.Generator it is given (sizes, values, conditions), so the grader's private
seed gives cases nobody has seen; the kinds of cases (their names) stay the same.

Random initialisations are judged by their distribution, not by their exact draws, so
any correct way of sampling from ``rng`` passes: a Kolmogorov-Smirnov distance to the
exact distribution, with a threshold from the Dvoretzky-Kiefer-Wolfowitz inequality,
P(sup|F_n - F| > eps) <= 2 exp(-2 n eps^2), set so that a correct answer fails a case
with probability at most 1e-9 (no approximation involved). The diagnosis cases are
``mlpcore.diagnostics.layer_profile``s of real networks built from the seed.
"""
from __future__ import annotations

import copy
import functools
import math
from typing import Callable, Optional

import numpy as np

from mlpcore.exercises._compare import compare_array, compare_outputs, describe
from mlpcore.exercises._registry import Case, Exercise, Failure


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _rng_unused(before: np.random.Generator, after) -> bool:
    """True if the generator the learner was given did not move: nothing was drawn from it."""
    return (isinstance(after, np.random.Generator)
            and after.bit_generator.state == before.bit_generator.state)


RNG_UNUSED = ("draw from the generator `rng` you are given (rng.uniform, rng.normal, ...), "
              "not from np.random or a generator of your own: the grader's rng decides the "
              "draws")


# ------------------------------------------------------- 1. Xavier and He for (in, out)
XAVIER, HE = "xavier_uniform", "he_normal"
FALSE_FAIL = 1e-9   # probability that a correct draw fails one distribution check
LAYOUT = ("mlpcore stores a weight as (in, out) so that a layer computes x @ W: "
          "return shape (fan_in, fan_out), not PyTorch's (out, in)")
BOUND_IS_STD = ("a uniform U(-a, a) has variance a²/3, so for variance v the bound is "
                "a = sqrt(3 v), not sqrt(v)")
XAVIER_IS_NOT_HE = ("that is He's variance 2/fan_in; Xavier averages the forward "
                    "and backward conditions: Var = 2 / (fan_in + fan_out)")
XAVIER_ONE = ("Var = 2 / (fan_in + fan_out): the 2 comes from averaging 1/fan_in and "
              "1/fan_out harmonically")
XAVIER_LECUN = ("1/fan_in is LeCun's variance (only the forward condition), not Xavier: "
                "Var = 2 / (fan_in + fan_out)")
HE_HALF = ("ReLU zeroes half of its input, halving the second moment: He doubles the "
           "variance, Var = 2 / fan_in")
HE_FAN_OUT = ("He's fan_in mode uses the number of INPUTS: Var = 2 / fan_in "
              "(fan_in = shape[0] in the (in, out) layout)")
HE_IS_NOT_XAVIER = "that is Xavier's variance; for ReLU use He's Var = 2 / fan_in"
VARIANCE_AS_STD = ("the variance is 2/fan_in, so the STANDARD DEVIATION (NumPy's `scale`) "
                   "is sqrt(2 / fan_in)")
NOT_CENTRED = "the weights must be centred on 0: U(-a, a) or N(0, std²)"
XAVIER_NOT_NORMAL = ("Xavier uniform draws from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); "
                     "a normal distribution has tails beyond any bound")
HE_NOT_UNIFORM = ("He normal draws from a NORMAL distribution: rng.normal(0, std, size=...); "
                  "a uniform one of the same variance stops at sqrt(3)·std")
HE_NOT_TRUNCATED = ("He normal is a plain normal, N(0, 2/fan_in), with its tails: a truncated "
                    "normal (Keras's he_normal) is another distribution")
NOT_INDEPENDENT = ("every entry is its own independent draw: draw the whole "
                   "(fan_in, fan_out) array at once, not one row or column repeated")


def _expected_variance(scheme: str, fan_in: int, fan_out: int) -> float:
    return 2.0 / (fan_in + fan_out) if scheme == XAVIER else 2.0 / fan_in


def _variance_mistakes(scheme: str, fan_in: int, fan_out: int) -> list[tuple[float, str]]:
    """(wrong variance, hint) pairs: the slips that give a different variance."""
    if scheme == XAVIER:
        return [(2.0 / fan_in, XAVIER_IS_NOT_HE), (2.0 / (3 * (fan_in + fan_out)), BOUND_IS_STD),
                (1.0 / (fan_in + fan_out), XAVIER_ONE), (1.0 / fan_in, XAVIER_LECUN)]
    return [(1.0 / fan_in, HE_HALF), (2.0 / fan_out, HE_FAN_OUT),
            (2.0 / (fan_in + fan_out), HE_IS_NOT_XAVIER), ((2.0 / fan_in) ** 2, VARIANCE_AS_STD)]


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z), vectorised (Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below any
    threshold used here)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def _ks_distance(values: np.ndarray, scheme: str, variance: float) -> float:
    """sup |F_n - F| between the entries and the exact distribution of the scheme."""
    x = np.sort(values.ravel())
    n = x.size
    if scheme == XAVIER:
        bound = math.sqrt(3 * variance)
        cdf = np.clip((x + bound) / (2 * bound), 0.0, 1.0)
    else:
        cdf = _normal_cdf(x / math.sqrt(variance))
    steps = np.arange(1, n + 1) / n
    return float(max(np.max(steps - cdf), np.max(cdf - (steps - 1.0 / n))))


def _dkw_threshold(n: int) -> float:
    """eps with 2 exp(-2 n eps²) = FALSE_FAIL."""
    return math.sqrt(math.log(2.0 / FALSE_FAIL) / (2.0 * n))


def _judge_init(inputs: tuple, output, after: tuple = ()) -> Optional[Failure]:
    fan_in, fan_out, scheme, rng = inputs
    if output is None or not isinstance(output, np.ndarray):
        return Failure(f"expected a NumPy array of shape {(fan_in, fan_out)}, got "
                       f"{describe(output)}", "return the weight array you drew")
    if output.dtype.kind not in "fiu":
        return Failure(f"expected real numbers, got an array of dtype {output.dtype}", "")
    weight = np.asarray(output, dtype=np.float64)
    if weight.shape != (fan_in, fan_out):
        hint = LAYOUT if weight.shape == (fan_out, fan_in) else ""
        return Failure(f"expected shape {(fan_in, fan_out)}, got {weight.shape}", hint)
    if not np.all(np.isfinite(weight)):
        return Failure("the weight has NaN or inf entries", "")
    if len(after) == 4 and _rng_unused(rng, after[3]):
        return Failure("the generator `rng` was not used: nothing was drawn from it", RNG_UNUSED)
    want = _expected_variance(scheme, fan_in, fan_out)
    distance, threshold = _ks_distance(weight, scheme, want), _dkw_threshold(weight.size)
    if distance <= threshold:
        return None
    variance, mean = float(weight.var()), float(weight.mean())
    what = "U(-a, a)" if scheme == XAVIER else "N(0, std²)"
    message = (f"the entries (mean {mean:.3g}, variance {variance:.4g}) are not distributed as "
               f"{what} with variance {want:.4g}: largest gap between the two distribution "
               f"functions {distance:.3f} (a correct draw stays below {threshold:.3f})")
    return Failure(message, _init_hint(weight, scheme, fan_in, fan_out, want))


def _init_hint(weight: np.ndarray, scheme: str, fan_in: int, fan_out: int, want: float) -> str:
    """The mistake whose signature the entries carry, or "" if none does."""
    n = weight.size
    variance, mean = float(weight.var()), float(weight.mean())
    if abs(mean) > 8 * math.sqrt(want / n) and abs(mean) > 0.5 * math.sqrt(want):
        return NOT_CENTRED
    # the sample variance of a correct draw is within ~sqrt(2/n) (relative) of its own
    tolerance = max(0.05, 8 * math.sqrt(2.0 / n))
    for wrong, hint in _variance_mistakes(scheme, fan_in, fan_out):
        if abs(variance / wrong - 1) < tolerance:
            return hint
    if len(np.unique(weight)) < n // 2:
        return NOT_INDEPENDENT
    if abs(variance / want - 1) >= tolerance:
        return ""
    largest = float(np.max(np.abs(weight)))
    bound = math.sqrt(3 * want)
    if scheme == XAVIER:
        return XAVIER_NOT_NORMAL if largest > bound * (1 + 1e-9) else ""
    if largest <= bound * (1 + 1e-9):
        return HE_NOT_UNIFORM
    if largest < 3.0 * math.sqrt(want):   # a normal of >= 20k entries passes 3.9 std
        return HE_NOT_TRUNCATED
    return ""


def _init_case(rng: np.random.Generator, scheme: str, fan_in: int, fan_out: int) -> tuple:
    return fan_in, fan_out, scheme, np.random.default_rng(int(rng.integers(2**63)))


def _unequal_fans(rng: np.random.Generator, low: int, high: int, wider_out: bool) -> tuple:
    """(fan_in, fan_out) two to four times apart, so that 2/fan_in, 2/fan_out and
    2/(fan_in + fan_out) are far apart, and at least 20,000 entries."""
    small = _int(rng, low, high)
    large = int(small * rng.uniform(2.0, 4.0))
    return (small, large) if wider_out else (large, small)


def _many_entries(rng: np.random.Generator) -> tuple:
    """At least 200,000 entries: enough to tell a normal from a truncated normal of the
    same variance (their distribution functions differ by 0.017; the threshold is 0.0073)."""
    fan_in = _int(rng, 260, 300)
    return fan_in, int(fan_in * rng.uniform(3.0, 4.0))


def _init_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_init
    return (
        Case.of("xavier_uniform, fan_out 2-4 times fan_in",
                _init_case(rng, XAVIER, *_unequal_fans(rng, 100, 160, True)), judge),
        Case.of("xavier_uniform, fan_in 2-4 times fan_out",
                _init_case(rng, XAVIER, *_unequal_fans(rng, 100, 160, False)), judge),
        Case.of("he_normal, fan_in 2-4 times fan_out",
                _init_case(rng, HE, *_unequal_fans(rng, 100, 160, False)), judge),
        Case.of("he_normal, fan_out 2-4 times fan_in",
                _init_case(rng, HE, *_unequal_fans(rng, 100, 160, True)), judge),
        Case.of("he_normal, 200,000 entries or more (its tails are tested)",
                _init_case(rng, HE, *_many_entries(rng)), judge),
        Case.of("xavier_uniform, a single output (fan_out = 1)",
                _init_case(rng, XAVIER, _int(rng, 200, 600), 1), judge),
    )


INIT_WEIGHT = Exercise(
    id="ch03.init_weight",
    function="init_weight",
    params=("fan_in", "fan_out", "scheme", "rng"),
    summary="Xavier-uniform or He-normal weights in mlpcore's (in, out) layout",
    case_generator=_init_cases,
    may_modify=frozenset({"rng"}),
)


# ------------------------------------------------------- 2. clipping by the global norm
PER_TENSOR = ("clip by the norm of ALL gradients together (one long vector), not each array "
              "by its own norm: one factor for every array keeps the update's direction")
ALWAYS_SCALE = ("only scale DOWN: when the total norm is already below max_norm the "
                "gradients stay as they are, factor min(1, max_norm / total)")
NORM_AFTER = "return the total norm measured BEFORE clipping (that is the number worth logging)"
VALUE_CLIP = ("np.clip clamps each entry (that is clip_grad_value_); clipping by norm "
              "rescales every entry by the same factor")
SQUARED = "the norm is the square root of the sum of squares of every entry of every array"
SUM_OF_NORMS = ("the global norm is sqrt(sum of the SQUARED norms of the arrays), not the sum "
                "of their norms: ‖(a, b)‖ = sqrt(‖a‖² + ‖b‖²)")
MAX_OF_NORMS = ("the global norm takes every array into account: sqrt(sum of the squared "
                "norms), not the largest array's norm")
L1_NORM = "that is the L1 norm (sum of |g|): the L2 norm squares the entries, then takes the root"
RMS_NORM = ("the norm SUMS the squares of the entries; a mean (root-mean-square) shrinks as "
            "arrays grow")
INVERTED_FACTOR = "the factor is max_norm / total_norm (below 1 when clipping), not its inverse"


def _clip_reference(grads: list, max_norm: float) -> tuple[list, float]:
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    return [g * factor for g in grads], total


def _clip_by(grads: list, max_norm: float, norm: float) -> list:
    factor = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * factor for g in grads]


def _judge_clip(inputs: tuple, output) -> Optional[Failure]:
    grads, max_norm = inputs
    clipped, total = _clip_reference(grads, max_norm)
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a pair (clipped_grads, total_norm), got {describe(output)}",
                       "end with `return clipped, total_norm`")
    got_grads, got_total = output
    if not isinstance(got_grads, (tuple, list)) or len(got_grads) != len(grads):
        return Failure(f"clipped_grads: expected a list of {len(grads)} arrays, got "
                       f"{describe(got_grads)}", "return one clipped array per input array")
    norms = [float(np.linalg.norm(np.ravel(g))) for g in grads]
    wrong_norms = [(sum(norms), SUM_OF_NORMS), (max(norms), MAX_OF_NORMS),
                   (sum(float(np.sum(np.abs(g))) for g in grads), L1_NORM),
                   (math.sqrt(sum(float(np.sum(g * g)) for g in grads)
                              / max(1, sum(g.size for g in grads))), RMS_NORM)]
    total_mistakes = _unambiguous(
        [(np.float64(wrong), hint) for wrong, hint in wrong_norms if not math.isclose(wrong, total)]
        + [(np.float64(min(total, max_norm)), NORM_AFTER), (np.float64(total ** 2), SQUARED)])
    failure = compare_array("total_norm", np.float64(got_total) if np.isscalar(got_total)
                            else got_total, np.float64(total), mistakes=total_mistakes, rtol=1e-5)
    if failure is not None:
        return failure
    # the total is right; the arrays may still be scaled by another rule
    whole = [(_clip_by(grads, max_norm, wrong), hint) for wrong, hint in wrong_norms
             if not math.isclose(wrong, total)]
    whole += [([g * min(1.0, max_norm / own) if own > 0 else g for g, own in zip(grads, norms)],
               PER_TENSOR),
              ([g * max_norm / total for g in grads] if total > 0 else None, ALWAYS_SCALE),
              ([g * max(1.0, total / max_norm) for g in grads], INVERTED_FACTOR),
              ([np.clip(g, -max_norm, max_norm) for g in grads], VALUE_CLIP)]
    whole = [(arrays, hint) for arrays, hint in whole
             if arrays is not None and not _same_arrays(arrays, clipped)]
    for index, (want, got) in enumerate(zip(clipped, got_grads)):
        failure = compare_array(f"clipped_grads[{index}]", got, want, rtol=1e-5, atol=1e-9)
        if failure is not None:
            # name a mistake only if the whole answer is that mistake's, and no other's
            hints = {hint for arrays, hint in whole if _same_arrays(got_grads, arrays)}
            if failure.hint or len(hints) != 1:
                return failure
            return Failure(failure.message, hints.pop())
    return None


def _same_arrays(got: list, want: list) -> bool:
    try:
        return len(got) == len(want) and all(
            np.shape(g) == np.shape(w) and np.allclose(np.asarray(g, dtype=float), w,
                                                        rtol=1e-5, atol=1e-9)
            for g, w in zip(got, want))
    except (TypeError, ValueError):
        return False


def _unambiguous(mistakes: list) -> list:
    """The (wrong value, hint) pairs whose value no pair with another hint shares: an
    answer that two mistakes explain equally well gets neither hint."""
    return [(wrong, hint) for wrong, hint in mistakes
            if not any(other_hint != hint and np.shape(other) == np.shape(wrong)
                       and np.allclose(other, wrong, rtol=1e-5, atol=1e-9)
                       for other, other_hint in mistakes)]


def _grads_with_norms(rng: np.random.Generator, shapes: list, norms) -> list:
    """Arrays of the given shapes, each rescaled to the given L2 norm."""
    arrays = []
    for shape, norm in zip(shapes, norms):
        g = rng.standard_normal(shape)
        arrays.append(g * (norm / max(float(np.linalg.norm(np.ravel(g))), 1e-12)))
    return arrays


def _shapes(rng: np.random.Generator, count: int) -> list:
    return [tuple(_int(rng, 1, 6) for _ in range(_int(rng, 1, 3))) for _ in range(count)]


def _clip_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_clip
    cases = []
    # 1. several arrays of comparable norms, total far above max_norm
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 3.0, count)
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    total = float(np.sqrt(np.sum(norms ** 2)))
    cases.append(Case.of("several arrays, total norm 2-5 times max_norm",
                         (grads, float(total / rng.uniform(2.0, 5.0))), judge))
    # 2. total below max_norm < sum of the per-array norms: nothing to clip
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 2.0, count)
    total, summed = float(np.sqrt(np.sum(norms ** 2))), float(np.sum(norms))
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    cases.append(Case.of("total norm below max_norm, the sum of the arrays' norms above it",
                         (grads, float(rng.uniform(total * 1.1, min(summed * 0.9, total * 1.5)))),
                         judge))
    # 3. largest per-array norm < max_norm < total: must clip
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 2.0, count)
    total = float(np.sqrt(np.sum(norms ** 2)))
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    cases.append(Case.of("every array's own norm below max_norm, the total above it",
                         (grads, float(rng.uniform(norms.max() * 1.1, total * 0.9))), judge))
    # 4. unusual shapes: a 0-d gradient, a 1-D one, a 3-D one
    shapes = [(), (_int(rng, 1, 5),), tuple(_int(rng, 2, 4) for _ in range(3)),
              (_int(rng, 2, 5), _int(rng, 2, 5))]
    grads = [float(rng.uniform(5, 30)) * rng.standard_normal(s) for s in shapes]
    cases.append(Case.of("a 0-d, a 1-D, a 3-D and a 2-D gradient, clipped",
                         (grads, float(rng.uniform(1.0, 3.0))), judge))
    # 5. one array with a tiny norm: nothing to clip
    grads = [float(rng.uniform(0.01, 0.2)) * rng.standard_normal(_shapes(rng, 1)[0])]
    cases.append(Case.of("one array with a small norm: nothing to clip",
                         (grads, float(rng.uniform(2.0, 6.0))), judge))
    # 6. every gradient zero (a frozen network): the result is zeros, no division by zero
    cases.append(Case.of("every gradient zero: zeros back, and total_norm 0",
                         ([np.zeros(s) for s in _shapes(rng, _int(rng, 2, 3))],
                          float(rng.uniform(0.5, 5.0))), judge))
    return tuple(cases)


CLIP_GRAD_NORM = Exercise(
    id="ch03.clip_grad_norm",
    function="clip_grad_norm",
    params=("grads", "max_norm"),
    summary="clip a list of gradient arrays by their global L2 norm, like clip_grad_norm_",
    case_generator=_clip_cases,
)


# ------------------------------------------------ 3. BatchNorm forward, training mode
UNBIASED_NORM = ("normalise with the BIASED batch variance (divide by N, np.var's default); "
                 "only the running variance uses the unbiased one (N - 1)")
BIASED_RUNNING = ("PyTorch's running_var is updated with the UNBIASED batch variance, "
                  "x.var(axis=0, ddof=1), even though the normalisation uses the biased one")
KERAS_MOMENTUM = ("PyTorch's momentum weights the NEW value: running = (1 - momentum) * "
                  "running + momentum * batch_stat (Keras's 0.99 weights the old one)")
WRONG_AXIS = ("normalise each FEATURE over the batch: statistics over axis 0, "
              "x.mean(axis=0), not over each example's features")
ALL_ENTRIES = ("one mean and variance PER FEATURE (axis=0), not a single mean and variance "
               "of the whole batch")
EPS_OUTSIDE = "eps goes inside the square root: (x - mean) / sqrt(var + eps)"
EPS_MISSING = ("add eps to the variance before the square root, (x - mean) / sqrt(var + eps): "
               "it keeps a feature that is constant over the batch from dividing by zero")
NO_AFFINE = "scale by gamma and shift by beta: y = gamma * x_hat + beta"
RUNNING_IN_TRAINING = ("in TRAINING mode BatchNorm normalises with the statistics of the "
                       "current batch; the running statistics are only updated (they are "
                       "used in evaluation mode)")
FEATURES_NOT_BATCH = ("the unbiased variance divides by N - 1 where N is the BATCH size "
                      "(x.shape[0]), not the number of features")
BETA_INSIDE = ("beta is added AFTER normalising and scaling: "
               "gamma * (x - mean) / sqrt(var + eps) + beta")
GAMMA_BETA_SWAPPED = ("gamma scales and beta shifts: y = gamma * x_hat + beta, not "
                      "beta * x_hat + gamma")
NO_RUNNING_UPDATE_MEAN = "update the running mean in training mode"
NO_RUNNING_UPDATE_VAR = "update the running variance in training mode"


def _judge_batchnorm(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, beta, running_mean, running_var, momentum, eps = inputs
    n, c = x.shape
    mean, var = x.mean(axis=0), x.var(axis=0)
    unbiased = var * n / (n - 1)
    y = gamma * (x - mean) / np.sqrt(var + eps) + beta
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * unbiased
    row_mean, row_var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        mistakes = {
            "y": [(gamma * (x - mean) / np.sqrt(unbiased + eps) + beta, UNBIASED_NORM),
                  (gamma * (x - row_mean) / np.sqrt(row_var + eps) + beta, WRONG_AXIS),
                  (gamma * (x - x.mean()) / np.sqrt(x.var() + eps) + beta, ALL_ENTRIES),
                  (gamma * (x - mean) / (np.sqrt(var) + eps) + beta, EPS_OUTSIDE),
                  (gamma * (x - mean) / np.sqrt(var) + beta, EPS_MISSING),
                  ((x - mean) / np.sqrt(var + eps), NO_AFFINE),
                  (gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta,
                   RUNNING_IN_TRAINING),
                  (gamma * (x - mean) / np.sqrt(var * c / (c - 1) + eps) + beta
                   if c > 1 else None, UNBIASED_NORM),
                  ((gamma * (x - mean) + beta) / np.sqrt(var + eps), BETA_INSIDE),
                  (gamma * (x - mean + beta) / np.sqrt(var + eps), BETA_INSIDE),
                  (beta * (x - mean) / np.sqrt(var + eps) + gamma, GAMMA_BETA_SWAPPED)],
            "new_running_mean": [(momentum * running_mean + (1 - momentum) * mean, KERAS_MOMENTUM),
                                 (running_mean, NO_RUNNING_UPDATE_MEAN)],
            "new_running_var": [(momentum * running_var + (1 - momentum) * unbiased,
                                 KERAS_MOMENTUM),
                                ((1 - momentum) * running_var + momentum * var, BIASED_RUNNING),
                                ((1 - momentum) * running_var + momentum * var * c / (c - 1)
                                 if c > 1 else None, FEATURES_NOT_BATCH),
                                (running_var, NO_RUNNING_UPDATE_VAR)],
        }
    mistakes = {name: [(wrong, hint) for wrong, hint in pairs if wrong is not None]
                for name, pairs in mistakes.items()}
    constant = bool(np.any(var == 0))
    return compare_outputs(output, ("y", "new_running_mean", "new_running_var"),
                           (y, new_mean, new_var), mistakes=mistakes,
                           nan_hint=EPS_MISSING if constant else "")


def _bn_draw(rng: np.random.Generator, n: int, c: int, *, eps: Optional[float] = None,
             scale=None, constant_feature: bool = False) -> tuple:
    """x with features of different means and scales; gamma away from 1 (and of both
    signs), beta away from 0; running statistics unlike the batch's; momentum not 0.5
    (where PyTorch's and Keras's conventions agree)."""
    scales = rng.uniform(0.5, 3.0, size=c) if scale is None else scale
    x = rng.normal(0.0, 2.0, size=c) + rng.standard_normal((n, c)) * scales
    if constant_feature:
        x[:, _int(rng, 0, c - 1)] = float(rng.normal(0.0, 2.0))
    gamma = rng.uniform(1.3, 2.5, size=c) * rng.choice([-1.0, 1.0], size=c)
    beta = rng.uniform(0.5, 2.0, size=c) * rng.choice([-1.0, 1.0], size=c)
    running_mean = rng.normal(0.0, 3.0, size=c)
    running_var = rng.uniform(3.0, 6.0, size=c)
    momentum = float(rng.choice([0.1, 0.01, 0.05, 0.2, 0.3]))
    eps = float(10 ** rng.uniform(-5, -3)) if eps is None else eps
    return x, gamma, beta, running_mean, running_var, momentum, eps


def _bn_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_batchnorm
    n_tall = _int(rng, 6, 12)
    n_wide = _int(rng, 3, 4)
    n_eps, c_eps = _int(rng, 5, 9), _int(rng, 2, 4)
    return (
        Case.of("a batch larger than the number of features",
                _bn_draw(rng, n_tall, _int(rng, 2, n_tall - 3)), judge),
        Case.of("fewer examples than features",
                _bn_draw(rng, n_wide, _int(rng, n_wide + 2, 9)), judge),
        Case.of("a batch of 2 (N - 1 = 1)", _bn_draw(rng, 2, _int(rng, 3, 6)), judge),
        Case.of("one feature constant over the batch (its variance is 0)",
                _bn_draw(rng, _int(rng, 4, 8), _int(rng, 2, 3), constant_feature=True), judge),
        Case.of("a large eps (0.1 to 1) and features of small variance",
                _bn_draw(rng, n_eps, c_eps, eps=float(rng.uniform(0.1, 1.0)),
                         scale=rng.uniform(0.1, 0.4, size=c_eps)), judge),
        Case.of("random sizes", _bn_draw(rng, _int(rng, 3, 16), _int(rng, 1, 6)), judge),
    )


BATCHNORM_TRAIN_FORWARD = Exercise(
    id="ch03.batchnorm_train_forward",
    function="batchnorm_train_forward",
    params=("x", "gamma", "beta", "running_mean", "running_var", "momentum", "eps"),
    summary="BatchNorm1d's forward in training mode, with PyTorch's running statistics",
    case_generator=_bn_cases,
)


# ------------------------------------- 4. the init scale that keeps 50 layers stable
DEPTH = 50
BAND = 0.10
HE_FOR_LEAKY = ("He's sqrt(2 / fan_in) assumes the negative half is zeroed; a leaky ReLU "
                "keeps slope² of it: E[phi(z)²] = (1 + slope²) / 2 · Var[z]")
HE_FOR_LINEAR = ("a linear layer keeps the whole second moment, so no factor 2 is needed: "
                 "Var[W] = 1 / fan_in")
LECUN_FOR_NONLINEAR = ("1 / fan_in keeps the variance of a LINEAR layer; the activation "
                       "removes part of the second moment, which the weights must give back")
RETURNED_VARIANCE = "you returned a variance; return the standard deviation (its square root)"
SLOPE_NOT_SQUARED = ("the negative side keeps slope SQUARED of the second moment: "
                     "(1 + slope²) / 2")
NO_SQRT_FAN_IN = ("the std scales as 1 / sqrt(fan_in) (the variance as 1 / fan_in): divide by "
                  "sqrt(fan_in), not fan_in")
INVERTED_KEPT = ("the activation KEEPS the fraction (1 + slope²) / 2 of the second moment, so "
                 "the weights' variance is 1 / (fan_in · kept): divide by it, don't multiply")
SLOPE_MINUS = ("a negative input z becomes slope · z, whose square ADDS slope² · z²: "
               "(1 + slope²) / 2, not (1 - slope²) / 2")
MISSING_HALF = ("only the negative HALF of the inputs is scaled by the slope: "
                "E[phi(z)²] = (1 + slope²) / 2 · Var[z], not (1 + slope²) · Var[z]")
SLOPE_ONLY_LEAKY = ("negative_slope belongs to leaky_relu only: a ReLU zeroes its negative "
                    "inputs whatever negative_slope says (and a linear layer has no slope)")


def _second_moment_factor(activation: str, slope: float) -> float:
    """E[phi(z)^2] / Var[z] for z ~ N(0, v): what one layer keeps of the signal."""
    if activation == "linear":
        return 1.0
    if activation == "relu":
        return 0.5
    return (1.0 + slope ** 2) / 2.0


def _stable_std(fan_in: int, activation: str, slope: float) -> float:
    return 1.0 / math.sqrt(fan_in * _second_moment_factor(activation, slope))


def _std_ratio(std: float, fan_in: int, activation: str, slope: float) -> float:
    """Activation std after DEPTH layers relative to before, for weight std ``std``."""
    per_layer_variance = fan_in * std ** 2 * _second_moment_factor(activation, slope)
    return per_layer_variance ** (DEPTH / 2)


def _judge_stable_std(inputs: tuple, output) -> Optional[Failure]:
    fan_in, activation, slope = inputs
    if isinstance(output, np.ndarray) and output.size == 1:
        output = output.item()
    if isinstance(output, bool) or not isinstance(output, (int, float, np.floating, np.integer)) \
            or not math.isfinite(output) or output <= 0:
        return Failure(f"expected a positive number (the weights' std), got {describe(output)}",
                       "return one float, the standard deviation of the weights")
    with np.errstate(over="ignore"):
        ratio = _std_ratio(float(output), fan_in, activation, slope)
    if abs(ratio - 1) <= BAND:
        return None
    message = (f"with std {float(output):.4g} the activation std changes by a factor "
               f"{ratio:.3g} over {DEPTH} layers (wanted within ±{BAND:.0%})")
    return Failure(message, _stable_std_hint(float(output), fan_in, activation, slope))


def _stable_std_mistakes(fan_in: int, activation: str, slope: float) -> list:
    """(wrong std, hint): the slips, for this activation and slope."""
    kept = _second_moment_factor(activation, slope)
    right = _stable_std(fan_in, activation, slope)
    mistakes = [(1.0 / (fan_in * kept), RETURNED_VARIANCE),
                (1.0 / (fan_in * math.sqrt(kept)), NO_SQRT_FAN_IN),
                (math.sqrt(kept / fan_in), INVERTED_KEPT)]
    if activation == "leaky_relu":
        mistakes += [(math.sqrt(2.0 / fan_in), HE_FOR_LEAKY),
                     (math.sqrt(2.0 / (fan_in * (1 + slope))), SLOPE_NOT_SQUARED),
                     (math.sqrt(1.0 / (fan_in * (1 + slope ** 2))), MISSING_HALF)]
        if slope < 1:
            mistakes.append((math.sqrt(2.0 / (fan_in * (1 - slope ** 2))), SLOPE_MINUS))
    if activation == "linear":
        mistakes.append((math.sqrt(2.0 / fan_in), HE_FOR_LINEAR))
    else:
        mistakes.append((1.0 / math.sqrt(fan_in), LECUN_FOR_NONLINEAR))
    if activation != "leaky_relu" and slope != 0:   # the slope used where it does not apply
        mistakes.append((math.sqrt(2.0 / (fan_in * (1 + slope ** 2))), SLOPE_ONLY_LEAKY))
    mistakes = [(wrong, hint) for wrong, hint in mistakes if abs(wrong / right - 1) > 1e-3]
    return [(wrong, hint) for wrong, hint in mistakes   # two mistakes, one value: no hint
            if not any(other_hint != hint and abs(other / wrong - 1) < 1e-3
                       for other, other_hint in mistakes)]


def _stable_std_hint(got: float, fan_in: int, activation: str, slope: float) -> str:
    for wrong, hint in _stable_std_mistakes(fan_in, activation, slope):
        if abs(got / wrong - 1) < 1e-3:
            return hint
    return ""


def _stable_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_stable_std
    fan = lambda: _int(rng, 16, 1024)  # noqa: E731
    slope = lambda low, high: round(float(rng.uniform(low, high)), 3)  # noqa: E731
    return (
        Case.of("relu", (fan(), "relu", 0.0), judge),
        Case.of("linear", (fan(), "linear", 0.0), judge),
        Case.of("leaky_relu, a small slope (0.01 to 0.1)", (fan(), "leaky_relu", slope(0.01, 0.1)),
                judge),
        Case.of("leaky_relu, a large slope (0.2 to 0.7)", (fan(), "leaky_relu", slope(0.2, 0.7)),
                judge),
        Case.of("leaky_relu, a slope above 1 (1.5 to 3)", (fan(), "leaky_relu", slope(1.5, 3.0)),
                judge),
        Case.of("relu, given a negative_slope it must ignore",
                (fan(), "relu", slope(0.1, 0.5)), judge),
        Case.of("linear, given a negative_slope it must ignore",
                (fan(), "linear", slope(0.1, 0.5)), judge),
    )


STABLE_INIT_STD = Exercise(
    id="ch03.stable_init_std",
    function="stable_init_std",
    params=("fan_in", "activation", "negative_slope"),
    summary="the weight std that keeps the activation std within 10 % over 50 layers",
    case_generator=_stable_cases,
)


# ------------------------------------------------ 5. which network is sick, of what?
LABELS = ("healthy", "vanishing", "exploding", "saturated", "dead")
LOG10 = math.log(10)

_WHY = {
    "healthy": ("nothing is wrong here: the activation std changes by a small factor PER "
                "LAYER (a narrow deep net drifts, by 10x or more over 30 layers, but not "
                "geometrically), the gradients reach the first layer, few units are "
                "saturated, and the dead fraction is what depth alone gives a healthy ReLU "
                "stack (about a fifth of the units at 30 layers, more in the last layers): a "
                "few dead units are not a dead network"),
    "vanishing": ("the signal or the gradient shrinks geometrically towards the input (look "
                  "at the activation std per layer and the gradient ratio), while few units "
                  "are saturated or dead: that is vanishing"),
    "exploding": ("the activation std grows layer after layer (the initial loss is usually far "
                  "above log 10, but a small last layer can hide it); the weight-gradient "
                  "ratio is blind to it, and the dead fraction of a ReLU net with zero biases "
                  "is the same at any weight scale"),
    "saturated": ("most tanh/sigmoid outputs sit in the flat tails (the saturated fraction "
                  "is high): whether the gradients shrink or grow, and however large the "
                  "initial loss, the cause to name is saturation"),
    "dead": ("a large fraction of the ReLU units output 0 for every example, on average over "
             "the layers far more than a healthy stack of the same depth (about a fifth at 30 "
             "layers): they pass no gradient at all, which is dying ReLU, not a scale problem"),
}


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[np.ndarray, np.ndarray]:
    """Chapter 3's probe batch: the first 256 standardised training digits."""
    from mlpcore.baseline import digits_split
    split = digits_split()
    mean = split.X_train.mean(axis=0)
    scale = (split.X_train - mean).std()
    return ((split.X_train[:256] - mean) / scale).astype(np.float32), split.y_train[:256]


def _network(depth: int, width: int, activation: str, rng: np.random.Generator,
             gain: float = 1.0, bias: float = 0.0, batchnorm: bool = False,
             pytorch_default: bool = False):
    """64 -> width -> ... -> 10 with ``depth`` Linear layers, as chapter 3 builds them:
    weights N(0, gain² / fan_in) and hidden biases ``bias`` (or PyTorch's default init)."""
    from mlpcore import BatchNorm1d, Linear, ReLU, Sequential, Sigmoid, Tanh, init
    act = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}[activation]
    sizes = [64] + [width] * (depth - 1) + [10]
    layers = []
    for index in range(depth):
        layer = Linear(sizes[index], sizes[index + 1], rng=rng, dtype=np.float32)
        if not pytorch_default:
            init.normal_(layer.weight, std=gain / math.sqrt(sizes[index]), rng=rng)
            layer.bias.data[:] = bias if index < depth - 1 else 0.0
        layers.append(layer)
        if index < depth - 1:
            layers += [BatchNorm1d(sizes[index + 1], dtype=np.float32)] if batchnorm else []
            layers.append(act())
    return Sequential(*layers)


def _layer_profile(model) -> dict:
    from mlpcore import CrossEntropyLoss
    from mlpcore.diagnostics import layer_profile
    X, y = _probe()
    with np.errstate(all="ignore"):
        profile = layer_profile(model, CrossEntropyLoss(), X, y)
    return {key: (np.asarray(value, dtype=np.float64) if isinstance(value, np.ndarray) else value)
            for key, value in profile.items()}


def _shrink_head(model, rng: np.random.Generator) -> None:
    """Scale the last layer so that the logits have a std of 0.05 to 0.3 (a small or
    zero-initialised last layer, as some recipes do): the loss then stays near log 10."""
    from mlpcore.diagnostics import forward_with_activations
    X, _ = _probe()
    with np.errstate(all="ignore"):
        logits = forward_with_activations(model, X)[-1][1]
    head = [layer for layer in model][-1]
    head.weight.data *= np.float32(rng.uniform(0.05, 0.3) / float(np.std(logits)))


def _unambiguous_healthy(build: Callable[[], object], tries: int = 6,
                         condition: Callable[[dict], bool] = lambda profile: True) -> dict:
    """A correctly initialised net that does not show an explosion's sign by chance: a
    narrow deep net's output scale drifts, and now and then its initial loss passes
    3 · log 10 (the chapter's tell of an explosion); such a draw is redrawn, as is one
    that misses ``condition`` (then the first draw without an explosion's loss is kept,
    or the last draw if no draw of ``tries`` qualifies)."""
    fallback = None
    for _ in range(tries):
        profile = _layer_profile(build())
        if profile["initial_loss"] <= 3 * LOG10:
            if condition(profile):
                return profile
            fallback = fallback or profile
    return fallback or profile


def _planted(kind: str, rng: np.random.Generator) -> dict:
    """The profile of a network with one planted problem (or none), drawn from rng."""
    depth = _int(rng, 12, 30)
    width = int(rng.choice([24, 32, 48, 64, 96]))
    root2 = math.sqrt(2)
    if kind == "healthy relu at 30":
        # He-initialised, width 24: a fifth or so of its units are dead (more in the last
        # layers); one whose most-dead layer passes one half is preferred (a healthy net
        # that a "max dead > 0.5" rule calls dead)
        return _unambiguous_healthy(lambda: _network(30, 24, "relu", rng, gain=root2),
                                    condition=lambda profile: profile["dead"].max() > 0.5)
    if kind == "healthy relu":
        return _unambiguous_healthy(lambda: _network(depth, width, "relu", rng, gain=root2))
    if kind == "healthy tanh":
        return _unambiguous_healthy(lambda: _network(depth, width, "tanh", rng, gain=5 / 3))
    if kind == "healthy sigmoid batchnorm":
        return _unambiguous_healthy(lambda: _network(depth, width, "sigmoid", rng,
                                                     batchnorm=True))
    if kind == "vanishing sigmoid":
        return _layer_profile(_network(depth, width, "sigmoid", rng, pytorch_default=True))
    if kind == "vanishing relu":
        return _layer_profile(_network(depth, width, "relu", rng,
                                       gain=root2 * rng.uniform(0.5, 0.7)))
    if kind == "vanishing tanh":
        return _layer_profile(_network(depth, width, "tanh", rng, gain=rng.uniform(0.4, 0.7)))
    if kind == "exploding relu at 30":
        return _layer_profile(_network(30, width, "relu", rng, gain=2 * root2))
    if kind == "exploding relu":
        return _layer_profile(_network(depth, width, "relu", rng,
                                       gain=root2 * rng.uniform(1.5, 2.2)))
    if kind == "exploding relu, small last layer":
        model = _network(depth, width, "relu", rng, gain=root2 * rng.uniform(1.5, 2.2))
        _shrink_head(model, rng)
        return _layer_profile(model)
    if kind == "saturated tanh":
        return _layer_profile(_network(depth, width, "tanh", rng, gain=rng.uniform(3.0, 6.0)))
    if kind == "saturated sigmoid, shrinking gradient":
        return _layer_profile(_network(_int(rng, 24, 30), width, "sigmoid", rng,
                                       gain=rng.uniform(7.5, 9.0)))
    if kind == "saturated sigmoid, large loss":
        return _layer_profile(_network(depth, width, "sigmoid", rng, gain=rng.uniform(11.0, 16.0)))
    if kind == "dead relu":
        return _layer_profile(_network(depth, width, "relu", rng, gain=root2,
                                       bias=-rng.uniform(0.5, 1.0)))
    raise ValueError(f"unknown kind {kind!r}")


#: The networks of one set of cases (label, kind); their order is shuffled per seed.
DIAGNOSIS_KINDS = (
    ("healthy", "healthy relu at 30"), ("healthy", "healthy relu"), ("healthy", "healthy tanh"),
    ("healthy", "healthy sigmoid batchnorm"),
    ("vanishing", "vanishing sigmoid"), ("vanishing", "vanishing relu"),
    ("vanishing", "vanishing tanh"),
    ("exploding", "exploding relu at 30"), ("exploding", "exploding relu"),
    ("exploding", "exploding relu, small last layer"),
    ("saturated", "saturated tanh"), ("saturated", "saturated sigmoid, shrinking gradient"),
    ("saturated", "saturated sigmoid, large loss"),
    ("dead", "dead relu"), ("dead", "dead relu"),
)


def _judge_diagnosis(label: str):
    def judge(inputs: tuple, output) -> Optional[Failure]:
        got = output.strip().lower() if isinstance(output, str) else output
        if got == label:
            return None
        if got not in LABELS:
            return Failure(f"expected one of {', '.join(map(repr, LABELS))}, got "
                           f"{describe(output) if not isinstance(output, str) else repr(output)}",
                           "return exactly one of the five labels, as a string")
        return Failure(f"this network is {label!r}, you said {got!r}", _WHY[label])
    return judge


def _lazy_profile(kind: str, seed: int) -> Callable[[], tuple]:
    """make_inputs for one network: built (from its own seed) the first time it is
    needed, then a fresh copy each call. Drawing a set of cases stays instant."""
    @functools.lru_cache(maxsize=1)
    def build() -> dict:
        return _planted(kind, np.random.default_rng(seed))
    return lambda: (copy.deepcopy(build()),)


def _diagnosis_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    order = rng.permutation(len(DIAGNOSIS_KINDS))
    cases = []
    for number, index in enumerate(order, start=1):
        label, kind = DIAGNOSIS_KINDS[index]
        cases.append(Case(f"network {number}",
                          _lazy_profile(kind, int(rng.integers(2**63))), _judge_diagnosis(label)))
    return tuple(cases)


DIAGNOSE = Exercise(
    id="ch03.diagnose",
    function="diagnose",
    params=("profile",),
    summary="name the pathology behind a network's diagnostics",
    case_generator=_diagnosis_cases,
)

EXERCISES = [INIT_WEIGHT, CLIP_GRAD_NORM, BATCHNORM_TRAIN_FORWARD, STABLE_INIT_STD, DIAGNOSE]

#: Every hint that names a mistake, per exercise: tests/test_exercises_ch03.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    INIT_WEIGHT.id: (LAYOUT, BOUND_IS_STD, XAVIER_IS_NOT_HE, XAVIER_ONE, XAVIER_LECUN, HE_HALF,
                     HE_FAN_OUT, HE_IS_NOT_XAVIER, VARIANCE_AS_STD, NOT_CENTRED,
                     XAVIER_NOT_NORMAL, HE_NOT_UNIFORM, HE_NOT_TRUNCATED, NOT_INDEPENDENT,
                     RNG_UNUSED),
    CLIP_GRAD_NORM.id: (PER_TENSOR, ALWAYS_SCALE, NORM_AFTER, VALUE_CLIP, SQUARED, SUM_OF_NORMS,
                        MAX_OF_NORMS, L1_NORM, RMS_NORM, INVERTED_FACTOR),
    BATCHNORM_TRAIN_FORWARD.id: (UNBIASED_NORM, BIASED_RUNNING, KERAS_MOMENTUM, WRONG_AXIS,
                                 ALL_ENTRIES, EPS_OUTSIDE, EPS_MISSING, NO_AFFINE,
                                 RUNNING_IN_TRAINING, FEATURES_NOT_BATCH, BETA_INSIDE,
                                 GAMMA_BETA_SWAPPED, NO_RUNNING_UPDATE_MEAN,
                                 NO_RUNNING_UPDATE_VAR),
    STABLE_INIT_STD.id: (HE_FOR_LEAKY, HE_FOR_LINEAR, LECUN_FOR_NONLINEAR, RETURNED_VARIANCE,
                         SLOPE_NOT_SQUARED, NO_SQRT_FAN_IN, INVERTED_KEPT, SLOPE_MINUS,
                         MISSING_HALF, SLOPE_ONLY_LEAKY),
    DIAGNOSE.id: tuple(_WHY[label] for label in LABELS),
}
