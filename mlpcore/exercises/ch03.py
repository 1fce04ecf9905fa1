"""Chapter 3 exercises (vanishing and exploding gradients): the cases and the classic mistakes.

The references are computed in float64 from each case's own inputs with the formulas
the chapter derives (tests/exercises/test_exercises_ch03.py checks them against mlpcore.init,
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


# ------------------------------------------ 1. PyTorch's initialisers in the (in, out) layout
XAVIER_UNIFORM, XAVIER_NORMAL = "xavier_uniform", "xavier_normal"
KAIMING_UNIFORM, KAIMING_NORMAL = "kaiming_uniform", "kaiming_normal"
UNIFORM_SCHEMES = (XAVIER_UNIFORM, KAIMING_UNIFORM)
#: torch.nn.init.calculate_gain for the nonlinearities of the exercise
GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0)}
FALSE_FAIL = 1e-9   # probability that a correct draw fails one distribution check
LAYOUT = ("mlpcore stores a weight as (in, out) so that a layer computes x @ W: "
          "return shape (fan_in, fan_out), not PyTorch's (out, in)")
FAN_SWAPPED = ("mode names the fan the variance divides by: \"fan_in\" is the number of "
               "INPUTS, which is shape[0] in the (in, out) layout (PyTorch, storing (out, in), "
               "reads it from shape[1]); \"fan_out\" is the number of outputs")
BOUND_IS_STD = ("a uniform U(-a, a) has variance a²/3: for a given std the bound is "
                "sqrt(3)·std, not the std itself")
BOUND_TIMES_THREE = ("a uniform U(-a, a) has variance a²/3, so a = sqrt(3)·std: the square "
                     "root of 3, not 3")
GAIN_NOT_SQUARED = ("the gain multiplies the STANDARD DEVIATION, so the variance carries "
                    "gain²: Var = gain² / fan (Kaiming) or gain² · 2 / (fan_in + fan_out) "
                    "(Xavier)")
NO_GAIN = ("the nonlinearity sets a gain that multiplies the std (calculate_gain: √2 for "
           "ReLU, 5/3 for tanh, 1 for linear and sigmoid); you left it out")
RELU_TWICE = ("calculate_gain(\"relu\") = √2 already holds ReLU's factor 2: "
              "Var = gain² / fan, with no second factor 2 (and the gain is √2, not 2)")
KAIMING_DEFAULT_GAIN = ("the gain comes from THIS layer's nonlinearity: √2 is ReLU's (and the "
                        "default of kaiming_normal_'s nonlinearity=\"leaky_relu\", a=0); tanh "
                        "has 5/3, linear and sigmoid 1")
LINEAR_DEFAULT = ("nn.Linear's own default (kaiming_uniform_ with a=√5, a bound of "
                  "1/sqrt(fan_in)) is not this initialiser: use the gain of the nonlinearity "
                  "you are given")
NORMAL_SCALE_IS_BOUND = ("for a *_normal scheme the std itself is NumPy's `scale`; sqrt(3)·std "
                         "is the bound of the UNIFORM scheme with that variance")
XAVIER_ONE_FAN = ("Xavier averages the two conditions: its variance uses fan_in + fan_out "
                  "(the harmonic mean), not one fan alone")
XAVIER_NO_TWO = ("Xavier's variance is gain² · 2 / (fan_in + fan_out): the 2 comes from "
                 "averaging 1/fan_in and 1/fan_out harmonically")
VARIANCE_AS_STD = ("NumPy's `scale` is the STANDARD DEVIATION: pass the square root of the "
                   "variance, not the variance")
NOT_CENTRED = "the weights must be centred on 0: U(-a, a) or N(0, std²)"
UNIFORM_NOT_NORMAL = ("a *_uniform scheme draws from U(-a, a), which has a hard bound; a "
                      "normal distribution has tails beyond any bound")
NORMAL_NOT_UNIFORM = ("a *_normal scheme draws from a NORMAL distribution: rng.normal(0, std, "
                      "size=...); a uniform one of the same variance stops at sqrt(3)·std")
NOT_TRUNCATED = ("kaiming_normal is a plain normal with its tails: a truncated normal "
                 "(Keras's he_normal) is another distribution")
NOT_INDEPENDENT = ("every entry is its own independent draw: draw the whole "
                   "(fan_in, fan_out) array at once, not one row or column repeated")


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


def _expected_std(fan_in: int, fan_out: int, scheme: str, nonlinearity: str, mode: str) -> float:
    """PyTorch's std for the scheme (its fan_in is our shape[0])."""
    gain = GAINS[nonlinearity]
    if scheme in (XAVIER_UNIFORM, XAVIER_NORMAL):
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _variance_mistakes(fan_in: int, fan_out: int, scheme: str, nonlinearity: str,
                       mode: str, tolerance: float) -> list[tuple[float, str]]:
    """(wrong variance, hint) pairs that differ from the right variance and from each
    other by more than a sample variance can (``tolerance``, relative): a mistake that
    coincides with the right answer, or with another mistake, for this case's numbers
    is not named."""
    gain = GAINS[nonlinearity]
    want = _expected_std(fan_in, fan_out, scheme, nonlinearity, mode) ** 2
    uniform = scheme in UNIFORM_SCHEMES
    if scheme in (XAVIER_UNIFORM, XAVIER_NORMAL):
        fan_sum = fan_in + fan_out
        mistakes = [(gain * 2.0 / fan_sum, GAIN_NOT_SQUARED), (2.0 / fan_sum, NO_GAIN),
                    (gain ** 2 / fan_in, XAVIER_ONE_FAN), (gain ** 2 / fan_out, XAVIER_ONE_FAN),
                    (gain ** 2 / fan_sum, XAVIER_NO_TWO)]
        if nonlinearity == "relu":
            mistakes.append((4.0 * 2.0 / fan_sum, RELU_TWICE))   # a gain of 2, not √2
    else:
        fan = fan_in if mode == "fan_in" else fan_out
        other = fan_out if mode == "fan_in" else fan_in
        mistakes = [(gain ** 2 / other, FAN_SWAPPED), (gain / fan, GAIN_NOT_SQUARED),
                    (1.0 / fan, NO_GAIN), (1.0 / (3.0 * fan), LINEAR_DEFAULT)]
        if nonlinearity == "relu":
            mistakes.append((2.0 * gain ** 2 / fan, RELU_TWICE))
        else:
            mistakes.append((2.0 / fan, KAIMING_DEFAULT_GAIN))
    if uniform:
        mistakes += [(want / 3.0, BOUND_IS_STD), (3.0 * want, BOUND_TIMES_THREE)]
    else:
        mistakes += [(want ** 2, VARIANCE_AS_STD), (3.0 * want, NORMAL_SCALE_IS_BOUND)]
    apart = lambda a, b, margin: min(a, b) * (1 + margin) < max(a, b)  # noqa: E731
    mistakes = [(wrong, hint) for wrong, hint in mistakes
                if apart(wrong, want, max(0.25, 2 * tolerance))]
    # a sample variance within `tolerance` of one mistake is more than `tolerance` from any
    # mistake more than 2 * tolerance (and 10 %) away from it: only closer pairs are ambiguous
    return [(wrong, hint) for wrong, hint in mistakes
            if not any(other_hint != hint and not apart(other, wrong, max(0.1, 2.5 * tolerance))
                       for other, other_hint in mistakes)]


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z), vectorised (Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below any
    threshold used here)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def _ks_distance(values: np.ndarray, uniform: bool, variance: float) -> float:
    """sup |F_n - F| between the entries and the exact distribution (uniform or normal,
    centred, of the given variance)."""
    x = np.sort(values.ravel())
    n = x.size
    if uniform:
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
    fan_in, fan_out, scheme, nonlinearity, mode, rng = inputs
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
    if len(after) == 6 and _rng_unused(rng, after[5]):
        return Failure("the generator `rng` was not used: nothing was drawn from it", RNG_UNUSED)
    want = _expected_std(fan_in, fan_out, scheme, nonlinearity, mode) ** 2
    uniform = scheme in UNIFORM_SCHEMES
    distance, threshold = _ks_distance(weight, uniform, want), _dkw_threshold(weight.size)
    if distance <= threshold:
        return None
    variance, mean = float(weight.var()), float(weight.mean())
    what = "U(-a, a)" if uniform else "N(0, std²)"
    message = (f"the entries (mean {mean:.3g}, variance {variance:.4g}) are not distributed as "
               f"{what} with variance {want:.4g}: largest gap between the two distribution "
               f"functions {distance:.3f} (a correct draw stays below {threshold:.3f})")
    return Failure(message, _init_hint(weight, inputs[:5], want))


def _init_hint(weight: np.ndarray, case: tuple, want: float) -> str:
    """The mistake whose signature the entries carry, or "" if none does."""
    fan_in, fan_out, scheme, nonlinearity, mode = case
    n = weight.size
    variance, mean = float(weight.var()), float(weight.mean())
    # a correct draw's mean is within 6 standard errors of 0 but with probability 2e-9;
    # a shifted uniform draw also passes its bound on one side only
    bound = math.sqrt(3 * want)
    one_sided = (scheme in UNIFORM_SCHEMES
                 and (float(weight.max()) > bound * (1 + 1e-9)) != (float(weight.min()) < -bound * (1 + 1e-9)))
    mean_se = math.sqrt(max(want, variance) / n)   # the draw's own spread if it is wider
    if abs(mean) > 6 * mean_se or (one_sided and abs(mean) > 3 * mean_se):
        return NOT_CENTRED
    # the sample variance of a correct draw is within ~sqrt(2/n) (relative) of its own
    tolerance = max(0.05, 8 * math.sqrt(2.0 / n))
    for wrong, hint in _variance_mistakes(fan_in, fan_out, scheme, nonlinearity, mode,
                                          tolerance):
        if abs(variance / wrong - 1) < tolerance:
            return hint
    if len(np.unique(weight)) < n // 2:
        return NOT_INDEPENDENT
    if abs(variance / want - 1) >= tolerance:
        return ""
    largest = float(np.max(np.abs(weight)))
    if scheme in UNIFORM_SCHEMES:
        return UNIFORM_NOT_NORMAL if largest > bound * (1 + 1e-9) else ""
    if largest <= bound * (1 + 1e-9):
        return NORMAL_NOT_UNIFORM
    if largest < 3.0 * math.sqrt(want):   # a normal of >= 20k entries passes 3.9 std
        return NOT_TRUNCATED
    return ""


def _init_case(rng: np.random.Generator, scheme: str, nonlinearity: str, mode: str,
               fans: tuple) -> tuple:
    return (*fans, scheme, nonlinearity, mode, np.random.default_rng(int(rng.integers(2**63))))


def _unequal_fans(rng: np.random.Generator, low: int, high: int, wider_out: bool) -> tuple:
    """(fan_in, fan_out) two to four times apart, so that a swapped fan, or one fan for
    the sum of both, gives a variance far from the right one; at least 20,000 entries."""
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
    fans = lambda wider_out: _unequal_fans(rng, 100, 160, wider_out)  # noqa: E731
    return (
        Case.of("xavier_uniform, tanh, fan_out 2-4 times fan_in",
                _init_case(rng, XAVIER_UNIFORM, "tanh", "fan_in", fans(True)), judge),
        Case.of("xavier_normal, relu, fan_in 2-4 times fan_out",
                _init_case(rng, XAVIER_NORMAL, "relu", "fan_in", fans(False)), judge),
        Case.of("kaiming_uniform, relu, mode fan_in, fan_out 2-4 times fan_in",
                _init_case(rng, KAIMING_UNIFORM, "relu", "fan_in", fans(True)), judge),
        Case.of("kaiming_uniform, tanh, mode fan_out, fan_in 2-4 times fan_out",
                _init_case(rng, KAIMING_UNIFORM, "tanh", "fan_out", fans(False)), judge),
        Case.of("kaiming_normal, relu, mode fan_out, fan_out 2-4 times fan_in",
                _init_case(rng, KAIMING_NORMAL, "relu", "fan_out", fans(True)), judge),
        Case.of("kaiming_normal, tanh, mode fan_in, 200,000 entries or more (its tails "
                "are tested)",
                _init_case(rng, KAIMING_NORMAL, "tanh", "fan_in", _many_entries(rng)), judge),
        Case.of("xavier_uniform, sigmoid, a single output (fan_out = 1)",
                _init_case(rng, XAVIER_UNIFORM, "sigmoid", "fan_in", (_int(rng, 200, 600), 1)),
                judge),
        Case.of("kaiming_normal, linear, mode fan_in, fan_in 2-4 times fan_out",
                _init_case(rng, KAIMING_NORMAL, "linear", "fan_in", fans(False)), judge),
        Case.of("xavier_normal, linear, fan_out 2-4 times fan_in",
                _init_case(rng, XAVIER_NORMAL, "linear", "fan_in", fans(True)), judge),
    )


INIT_WEIGHT = Exercise(
    id="ch03.init_weight",
    function="init_weight",
    params=("fan_in", "fan_out", "scheme", "nonlinearity", "mode", "rng"),
    case_generator=_init_cases,
    may_modify=frozenset({"rng"}),
)


# ---------------------------------------- 2. clipping by the global norm of any order
PER_TENSOR = ("clip by the norm of ALL gradients together (one long vector), not each array "
              "by its own norm: one factor for every array keeps the update's direction")
ALWAYS_SCALE = ("only scale DOWN: when the total norm is already below max_norm the "
                "gradients stay as they are")
NORM_AFTER = "return the total norm measured BEFORE clipping (that is the number worth logging)"
VALUE_CLIP = ("np.clip clamps each entry (that is clip_grad_value_); clipping by norm "
              "rescales every entry by the same factor")
NO_ROOT = ("the p-norm is the p-th ROOT of the sum of |g|^p (for p = 2, the square root of "
           "the sum of squares)")
SUM_OF_NORMS = ("the global norm is the norm of all entries as ONE vector, not the sum of the "
                "arrays' norms: for p = 2, ‖(a, b)‖ = sqrt(‖a‖² + ‖b‖²)")
MAX_OF_NORMS = ("the global norm takes every array into account, not just the largest "
                "array's norm (only for norm_type inf does the largest one decide)")
L2_COMBINE = ("combine the arrays' norms with the SAME p: (Σ ‖g_i‖_p^p)^(1/p), and for "
              "norm_type inf the largest ‖g_i‖_inf; a square root of the sum of their squares "
              "is right for p = 2 only")
P_IGNORED = ("use norm_type: the norm of order p is (Σ |g|^p)^(1/p), and for inf the largest "
             "|entry|; you computed the L2 norm")
NO_ABS = ("a norm takes ABSOLUTE values: Σ |g|^p (for odd p the negative entries would "
          "subtract), and the largest |entry| for inf")
RMS_NORM = ("the norm SUMS over the entries; a mean (root-mean-square) shrinks as arrays "
            "grow")
INVERTED_FACTOR = "the factor is max_norm / total_norm (below 1 when clipping), not its inverse"
MATRIX_NORM = ("np.linalg.norm(g, ord) of a 2-D array is a MATRIX norm (ord 2: its largest "
               "singular value; 1 and inf: its largest column or row sum): ravel each array, "
               "or concatenate them all into one vector, before taking the norm")
PER_ARRAY_L2 = ("each array's norm needs the order p as well: np.linalg.norm(g) without `ord` "
                "is the L2 norm whatever norm_type is")
EPS_ON_MAX_NORM = "the 1e-6 is added to total_norm only: factor = max_norm / (total_norm + 1e-6)"
NO_EPS = ("PyTorch divides by total_norm + 1e-6, not by total_norm: it matters when the "
          "gradients are this small")


def _total_norm(grads: list, norm_type: float, *, absolute: bool = True) -> float:
    """The norm of order norm_type of every entry of every array, as one vector."""
    values = [np.abs(g) if absolute else np.asarray(g, dtype=np.float64) for g in grads]
    if norm_type == math.inf:
        return max((float(np.max(v)) for v in values if np.size(v)), default=0.0)
    power_sum = sum(float(np.sum(v ** norm_type)) for v in values)
    with np.errstate(invalid="ignore"):
        return float(np.float64(power_sum) ** (1.0 / norm_type))


def _array_norm(g: np.ndarray, norm_type: float) -> float:
    return _total_norm([g], norm_type)


def _clip_reference(grads: list, max_norm: float, norm_type: float = 2.0) -> tuple[list, float]:
    total = _total_norm(grads, norm_type)
    factor = min(1.0, max_norm / (total + 1e-6))
    return [g * factor for g in grads], total


def _clip_by(grads: list, max_norm: float, norm: float) -> Optional[list]:
    if not math.isfinite(norm):
        return None
    factor = min(1.0, max_norm / (norm + 1e-6))
    return [g * factor for g in grads]


def _wrong_totals(grads: list, norm_type: float) -> list:
    """(wrong total norm, hint) for this case's arrays and order."""
    p = norm_type
    norms = [_array_norm(g, p) for g in grads]
    size = max(1, sum(np.size(g) for g in grads))
    wrong = [(sum(norms), SUM_OF_NORMS)]
    if p != math.inf:
        wrong += [(max(norms), MAX_OF_NORMS),
                  (sum(float(np.sum(np.abs(g) ** p)) for g in grads), NO_ROOT),
                  ((sum(float(np.sum(np.abs(g) ** p)) for g in grads) / size) ** (1 / p),
                   RMS_NORM)]
    if p != 2:
        l2_norms = [_array_norm(g, 2.0) for g in grads]
        wrong += [(math.sqrt(sum(n * n for n in norms)), L2_COMBINE),
                  (_total_norm(grads, 2.0), P_IGNORED),
                  (max(l2_norms) if p == math.inf else sum(n ** p for n in l2_norms) ** (1 / p),
                   PER_ARRAY_L2)]
    if p in (1, 2, math.inf) and any(np.ndim(g) == 2 for g in grads):
        matrix = [float(np.linalg.norm(g, ord=p)) if np.ndim(g) == 2 else n
                  for g, n in zip(grads, norms)]
        wrong.append((max(matrix) if p == math.inf else sum(n ** p for n in matrix) ** (1 / p),
                      MATRIX_NORM))
    if p == math.inf or p % 2 == 1:
        wrong.append((_total_norm(grads, p, absolute=False), NO_ABS))
    return [(value, hint) for value, hint in wrong if math.isfinite(value)]


def _judge_clip(inputs: tuple, output) -> Optional[Failure]:
    grads, max_norm, norm_type = inputs
    clipped, total = _clip_reference(grads, max_norm, norm_type)
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a pair (clipped_grads, total_norm), got {describe(output)}",
                       "end with `return clipped, total_norm`")
    got_grads, got_total = output
    if not isinstance(got_grads, (tuple, list)) or len(got_grads) != len(grads):
        return Failure(f"clipped_grads: expected a list of {len(grads)} arrays, got "
                       f"{describe(got_grads)}", "return one clipped array per input array")
    wrong_totals = [(value, hint) for value, hint in _wrong_totals(grads, norm_type)
                    if not math.isclose(value, total, rel_tol=1e-5, abs_tol=1e-12)]
    factor = min(1.0, max_norm / (total + 1e-6))
    total_mistakes = _unambiguous(
        [(np.float64(value), hint) for value, hint in wrong_totals]
        + ([(np.float64(total * factor), NORM_AFTER)] if factor < 1 else []))
    failure = compare_array("total_norm", np.float64(got_total) if np.isscalar(got_total)
                            else got_total, np.float64(total), mistakes=total_mistakes,
                            rtol=1e-5, atol=1e-12)
    if failure is not None:
        return failure
    # the total is right; the arrays may still be scaled by another rule
    whole = [(_clip_by(grads, max_norm, value), hint) for value, hint in wrong_totals]
    own = [_array_norm(g, norm_type) for g in grads]
    whole += [([g * min(1.0, max_norm / (n + 1e-6)) for g, n in zip(grads, own)], PER_TENSOR),
              ([g * max_norm / (total + 1e-6) for g in grads], ALWAYS_SCALE),
              ([g * max(1.0, (total + 1e-6) / max_norm) for g in grads], INVERTED_FACTOR),
              ([np.clip(g, -max_norm, max_norm) for g in grads], VALUE_CLIP),
              ([g * min(1.0, max_norm / total) for g in grads] if total > 0 else None, NO_EPS),
              ([g * min(1.0, (max_norm + 1e-6) / (total + 1e-6)) for g in grads], EPS_ON_MAX_NORM)]
    whole = [(arrays, hint) for arrays, hint in whole
             if arrays is not None and not _same_arrays(arrays, clipped)]
    for index, (want, got) in enumerate(zip(clipped, got_grads)):
        failure = compare_array(f"clipped_grads[{index}]", got, want, rtol=1e-5, atol=1e-12)
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
                                                        rtol=1e-5, atol=1e-12)
            for g, w in zip(got, want))
    except (TypeError, ValueError):
        return False


def _unambiguous(mistakes: list) -> list:
    """The (wrong value, hint) pairs whose value no pair with another hint shares: an
    answer that two mistakes explain equally well gets neither hint."""
    return [(wrong, hint) for wrong, hint in mistakes
            if not any(other_hint != hint and np.shape(other) == np.shape(wrong)
                       and np.allclose(other, wrong, rtol=1e-5, atol=1e-12)
                       for other, other_hint in mistakes)]


def _grads_with_norms(rng: np.random.Generator, shapes: list, norms) -> list:
    """Arrays of the given shapes, each rescaled to the given L2 norm."""
    arrays = []
    for shape, norm in zip(shapes, norms):
        g = rng.standard_normal(shape)
        arrays.append(g * (norm / max(float(np.linalg.norm(np.ravel(g))), 1e-12)))
    return arrays


def _shapes(rng: np.random.Generator, count: int, low: int = 1) -> list:
    return [tuple(_int(rng, low, 6) for _ in range(_int(rng, 1, 3))) for _ in range(count)]


def _scaled_to(grads: list, norm_type: float, total: float) -> list:
    """The arrays rescaled together so that their global norm of order norm_type is total."""
    return [g * (total / _total_norm(grads, norm_type)) for g in grads]


def _clip_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_clip
    inf = math.inf
    cases = []
    # several arrays of comparable norms, total far above max_norm
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 3.0, count)
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    total = float(np.sqrt(np.sum(norms ** 2)))
    cases.append(Case.of("L2, several arrays, total norm 2-5 times max_norm",
                         (grads, float(total / rng.uniform(2.0, 5.0)), 2.0), judge))
    # total below max_norm < sum of the per-array norms: nothing to clip
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 2.0, count)
    total, summed = float(np.sqrt(np.sum(norms ** 2))), float(np.sum(norms))
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    cases.append(Case.of("L2, total norm below max_norm, the sum of the arrays' norms above it",
                         (grads, float(rng.uniform(total * 1.1, min(summed * 0.9, total * 1.5))),
                          2.0), judge))
    # largest per-array norm < max_norm < total: must clip
    count = _int(rng, 3, 5)
    norms = rng.uniform(1.0, 2.0, count)
    total = float(np.sqrt(np.sum(norms ** 2)))
    grads = _grads_with_norms(rng, _shapes(rng, count), norms)
    cases.append(Case.of("L2, every array's own norm below max_norm, the total above it",
                         (grads, float(rng.uniform(norms.max() * 1.1, total * 0.9)), 2.0), judge))
    # norm_type inf: the largest |entry| 2-5 times max_norm
    grads = [float(rng.uniform(0.5, 3.0)) * rng.standard_normal(s)
             for s in _shapes(rng, _int(rng, 3, 4), low=2)]
    largest = _total_norm(grads, inf)
    cases.append(Case.of("norm_type inf, several arrays, the largest |entry| 2-5 times max_norm",
                         (grads, float(largest / rng.uniform(2.0, 5.0)), inf), judge))
    # norm_type inf below max_norm while the L2 norm is above it: nothing to clip
    grads = [rng.standard_normal(s) for s in _shapes(rng, _int(rng, 3, 4), low=3)]
    largest, l2 = _total_norm(grads, inf), _total_norm(grads, 2.0)
    cases.append(Case.of("norm_type inf below max_norm, the L2 norm far above it: nothing "
                         "to clip", (grads, float(rng.uniform(largest * 1.1, min(l2, 3 * largest))),
                                     inf), judge))
    # norm_type 1 with entries of both signs
    grads = [rng.standard_normal(s) for s in _shapes(rng, _int(rng, 3, 4), low=2)]
    total = _total_norm(grads, 1.0)
    cases.append(Case.of("norm_type 1, entries of both signs, total 2-5 times max_norm",
                         (grads, float(total / rng.uniform(2.0, 5.0)), 1.0), judge))
    # norm_type 3 (any order): a 0-d, a 1-D, a 3-D and a 2-D gradient
    shapes = [(), (_int(rng, 2, 5),), tuple(_int(rng, 2, 4) for _ in range(3)),
              (_int(rng, 2, 5), _int(rng, 2, 5))]
    grads = [float(rng.uniform(1, 5)) * rng.standard_normal(s) for s in shapes]
    total = _total_norm(grads, 3.0)
    cases.append(Case.of("norm_type 3: a 0-d, a 1-D, a 3-D and a 2-D gradient, clipped",
                         (grads, float(total / rng.uniform(2.0, 5.0)), 3.0), judge))
    # tiny gradients: the 1e-6 in the denominator decides the factor
    grads = _scaled_to([rng.standard_normal(s) for s in _shapes(rng, _int(rng, 2, 3))], 2.0,
                       float(rng.uniform(2e-6, 5e-6)))
    total = _total_norm(grads, 2.0)
    cases.append(Case.of("L2, gradients of norm a few 1e-6 and max_norm below it",
                         (grads, float(total / rng.uniform(1.5, 3.0)), 2.0), judge))
    # every gradient zero (a frozen network): zeros back, no division by zero
    cases.append(Case.of("every gradient zero: zeros back, and total_norm 0",
                         ([np.zeros(s) for s in _shapes(rng, _int(rng, 2, 3))],
                          float(rng.uniform(0.5, 5.0)), float(rng.choice([2.0, inf]))), judge))
    return tuple(cases)


CLIP_GRAD_NORM = Exercise(
    id="ch03.clip_grad_norm",
    function="clip_grad_norm",
    params=("grads", "max_norm", "norm_type"),
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
    """The right std, 1/√(fan_in · kept): ``_stable_std_mistakes`` drops a slip that
    gives it (the judge itself checks the std's effect over DEPTH layers)."""
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
    case_generator=_diagnosis_cases,
)

EXERCISES = [INIT_WEIGHT, CLIP_GRAD_NORM, BATCHNORM_TRAIN_FORWARD, STABLE_INIT_STD, DIAGNOSE]

#: Every hint that names a mistake, per exercise: tests/exercises/test_exercises_ch03.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    INIT_WEIGHT.id: (LAYOUT, FAN_SWAPPED, BOUND_IS_STD, BOUND_TIMES_THREE, GAIN_NOT_SQUARED,
                     NO_GAIN, RELU_TWICE, XAVIER_ONE_FAN, XAVIER_NO_TWO, VARIANCE_AS_STD,
                     NOT_CENTRED, UNIFORM_NOT_NORMAL, NORMAL_NOT_UNIFORM, NOT_TRUNCATED,
                     NOT_INDEPENDENT, RNG_UNUSED, KAIMING_DEFAULT_GAIN, LINEAR_DEFAULT,
                     NORMAL_SCALE_IS_BOUND),
    CLIP_GRAD_NORM.id: (PER_TENSOR, ALWAYS_SCALE, NORM_AFTER, VALUE_CLIP, NO_ROOT, SUM_OF_NORMS,
                        MAX_OF_NORMS, L2_COMBINE, P_IGNORED, NO_ABS, RMS_NORM, INVERTED_FACTOR,
                        NO_EPS, MATRIX_NORM, PER_ARRAY_L2, EPS_ON_MAX_NORM),
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
