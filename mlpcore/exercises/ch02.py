"""Chapter 2 exercises (dropout): the cases and the classic mistakes.

Every reference is computed in float64 from the case's own inputs. Where the learner's
function draws a random mask, it draws from the generator the case passes in; the
judge replays an identical copy of that generator (the runner hands the judge a deep
copy taken before the call), so a correct answer is reproduced draw for draw. A few
equally valid ways of drawing the same Bernoulli mask are accepted; the mistakes
listed next to each reference are ones learners actually make, and when an answer
equals one (and no other), its hint is shown.

Every exercise draws its cases from the np.random.Generator it is given (shapes,
probabilities, values, and for 2.4 the accuracies of a sweep, resampled until the
condition the case is named for holds), so the grader's private seed gives cases nobody
has seen; the kinds of cases (their names) stay the same.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

import numpy as np

from mlpcore.exercises._compare import as_numeric_array, compare_array, compare_outputs, describe
from mlpcore.exercises._registry import Case, Exercise, Failure

CONVENTION = ("check the convention: keep_prob is the probability of KEEPING a unit, so a "
              "unit is kept when rng.random(...) < keep_prob; the drop probability is "
              "1 - keep_prob")
INVERTED = ("that is inverted dropout (divide by the keep probability in training); "
            "standard dropout applies the bare mask in training and scales at test time")
RNG_UNUSED = ("draw the mask from the generator `rng` you are given (not from np.random or a "
              "generator of your own), so that the check can replay the same draws")


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _close(a, b) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _replay(rng: np.random.Generator) -> np.random.Generator:
    """An identical, independent copy of the generator as the learner received it."""
    return copy.deepcopy(rng)


def _rng_unused(before: np.random.Generator, after) -> bool:
    """True if the generator the learner was given did not move: nothing was drawn from it."""
    return (isinstance(after, np.random.Generator)
            and after.bit_generator.state == before.bit_generator.state)


def _generator(rng: np.random.Generator) -> np.random.Generator:
    """The generator a case hands to the learner, seeded from the case's draws."""
    return np.random.default_rng(int(rng.integers(2**63)))


def _unambiguous(mistakes: list) -> list:
    """The (wrong value, hint) pairs whose value no pair with another hint shares: an
    answer that two mistakes explain equally well gets neither hint."""
    def same(a, b) -> bool:
        return np.shape(a) == np.shape(b) and _close(a, b)
    return [(wrong, hint) for wrong, hint in mistakes
            if not any(other_hint != hint and same(other, wrong) for other, other_hint in mistakes)]


# ---------------------------------------------------------- 1. standard dropout
EVAL_NO_MASK = ("in evaluation (training is False) nothing is random: no mask; the output is "
                "x scaled by keep_prob")
SHARED_MASK = ("draw a mask of x's full shape: every entry (each example's each unit) gets its "
               "own coin, not one row of coins shared by the whole batch")
HARD_CODED_HALF = "use the keep_prob you are given, not the paper's 0.5"
EVAL_UNSCALED = ("standard dropout does not rescale in training, so at test time every "
                 "activation must be multiplied by keep_prob (its expected training value)")
EVAL_DIVIDES = ("at test time MULTIPLY by keep_prob; dividing is what inverted dropout does "
                "during training")
TRAIN_TIMES_KEEP = ("in training standard dropout applies the bare mask; the factor keep_prob "
                    "belongs to test time")
MASK_MARKS_KEPT = "the mask marks the KEPT units: multiply x by the mask"


def _keep_masks(rng, shape, keep) -> dict[str, np.ndarray]:
    """Accepted keep-masks (as floats): the prescribed draw and two equivalent ones."""
    return {"prescribed": (_replay(rng).random(shape) < keep).astype(float),
            "1 - u": (_replay(rng).random(shape) >= 1 - keep).astype(float),
            "binomial": _replay(rng).binomial(1, keep, shape).astype(float)}


def _judge_standard_dropout(inputs: tuple, output, after: tuple = ()) -> Optional[Failure]:
    x, keep, training, rng = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (output, mask), got {describe(output)}",
                       "end with `return output, mask` (the mask is None in evaluation)")
    out, mask = output
    if not training:
        u = _replay(rng).random(x.shape)
        failure = compare_array("output", out, x * keep, mistakes=_unambiguous([
            (x, EVAL_UNSCALED), (x / keep, EVAL_DIVIDES),
            (x * (1 - keep), CONVENTION),
            (x * 0.5, HARD_CODED_HALF),
            (x * (u < keep), EVAL_NO_MASK), (x * (u < keep) / keep, EVAL_NO_MASK)]))
        if failure is not None:
            return failure
        if mask is not None:
            return Failure(f"mask: expected None in evaluation, got {describe(mask)}",
                           "in evaluation nothing is random: draw no mask, return None")
        return None
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(float)  # a boolean mask is as good as a 0/1 one
    mask_array = as_numeric_array(mask, "mask")
    if isinstance(mask_array, Failure):
        return mask_array
    mask_array = mask_array.astype(float)
    accepted = _keep_masks(rng, x.shape, keep)
    matched = next((m for m in accepted.values() if _close(mask_array, m)), None)
    if matched is None:
        u = _replay(rng).random(x.shape)
        row = _replay(rng).random(x.shape[-1:])
        failure = compare_array("mask", mask_array, accepted["prescribed"], mistakes=_unambiguous([
            ((u < 1 - keep).astype(float), CONVENTION),
            ((u >= keep).astype(float), CONVENTION),
            ((u < 0.5).astype(float), HARD_CODED_HALF),
            (np.broadcast_to(row < keep, x.shape).astype(float), SHARED_MASK)]))
        if failure is not None and not failure.hint and len(after) == 4 \
                and _rng_unused(rng, after[3]):
            failure = Failure(failure.message + " (nothing was drawn from rng)", RNG_UNUSED)
        return failure
    return compare_array("output", out, x * matched, mistakes=_unambiguous([
        (x * matched / keep, INVERTED),
        (x * matched * keep, TRAIN_TIMES_KEEP), (x * (1 - matched), MASK_MARKS_KEPT)]))


def _keep(rng: np.random.Generator, low: float, high: float) -> float:
    """A keep probability in [low, high], not 0.5 (where both conventions agree)."""
    value = float(rng.uniform(low, high))
    return value if abs(value - 0.5) > 0.05 else value + 0.1


def _dropout_case(rng: np.random.Generator, shape: tuple, keep: float, training: bool) -> tuple:
    return rng.standard_normal(shape), keep, training, _generator(rng)


def _standard_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_standard_dropout
    rows = _int(rng, 2, 6)
    wide = (rows, rows + _int(rng, 1, 5))
    return (
        Case.of("training, a batch with more units than examples",
                _dropout_case(rng, wide, _keep(rng, 0.6, 0.9), True), judge),
        Case.of("evaluation, a batch", _dropout_case(rng, (_int(rng, 2, 6), _int(rng, 2, 6)),
                                                     _keep(rng, 0.2, 0.9), False), judge),
        Case.of("training, a vector, low keep_prob (0.15 to 0.4)",
                _dropout_case(rng, (_int(rng, 6, 12),), _keep(rng, 0.15, 0.4), True), judge),
        Case.of("evaluation, a 3-D array", _dropout_case(
            rng, tuple(_int(rng, 2, 4) for _ in range(3)), _keep(rng, 0.2, 0.9), False), judge),
        Case.of("training, a 3-D array", _dropout_case(
            rng, tuple(_int(rng, 2, 4) for _ in range(3)), _keep(rng, 0.2, 0.9), True), judge),
        Case.of("training, a tall batch (more examples than units)", _dropout_case(
            rng, (_int(rng, 6, 10), _int(rng, 2, 4)), _keep(rng, 0.3, 0.8), True), judge),
    )


STANDARD_DROPOUT = Exercise(
    id="ch02.standard_dropout",
    function="standard_dropout",
    params=("x", "keep_prob", "training", "rng"),
    summary="standard dropout (keep-probability convention) in training and evaluation",
    case_generator=_standard_cases,
    may_modify=frozenset({"rng"}),
)


# ------------------------------------------------ 2. keep convention -> PyTorch's
MOVE_FACTOR = ("the old network multiplies the activations by keep_prob at test time; the "
               "inverted one does nothing at test time, so that factor must move into the next "
               "layer's weights")
WRONG_DIRECTION = ("wrong direction: inverted dropout already divides by the keep probability "
                   "in training, so the weights must be MULTIPLIED by keep_prob")
BIAS_NEVER_DROPPED = ("the bias is added after the dropped activations and is never dropped: "
                      "leave it unchanged")
SCALED_TWICE = ("multiply the weights by keep_prob once: that single factor is what the old "
                "network applied at test time")
BY_DROP = ("the factor is the KEEP probability: inverted dropout divides by 1 - p = keep_prob "
           "in training, so the weights get keep_prob, not 1 / (1 - keep_prob)")
ROUNDED = "do not round: p = 1 - keep_prob exactly"
P_IS_DROP = "PyTorch's and mlpcore's p is the DROP probability: p = 1 - keep_prob"


def _judge_conversion(inputs: tuple, output) -> Optional[Failure]:
    weight, bias, keep = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        return Failure(f"expected a tuple (p, new_weight, new_bias), got {describe(output)}",
                       "end with `return p, new_weight, new_bias`")
    p, new_weight, new_bias = output
    p_mistakes = [(np.asarray(keep), P_IS_DROP)]
    p_mistakes += [(np.asarray(round(1.0 - keep, digits)), ROUNDED) for digits in (1, 2, 3)
                   if abs(round(1.0 - keep, digits) - (1.0 - keep)) > 1e-9]
    failure = compare_array("p", np.asarray(p, dtype=float) if np.isscalar(p) else p,
                            np.asarray(1.0 - keep), mistakes=_unambiguous(p_mistakes))
    if failure is not None:
        return failure
    return compare_outputs((new_weight, new_bias), ("new_weight", "new_bias"),
                           (keep * weight, bias), mistakes={
        "new_weight": _unambiguous([
            (weight, MOVE_FACTOR), (weight / keep, WRONG_DIRECTION),
            ((1 - keep) * weight, CONVENTION), (keep ** 2 * weight, SCALED_TWICE),
            (weight / (1 - keep), BY_DROP)]),
        "new_bias": [(keep * bias, BIAS_NEVER_DROPPED), (bias / keep, BIAS_NEVER_DROPPED),
                     ((1 - keep) * bias, BIAS_NEVER_DROPPED)]})


def _conversion_case(rng: np.random.Generator, hidden: int, classes: int, keep: float) -> tuple:
    return rng.standard_normal((hidden, classes)), rng.standard_normal(classes), keep


def _conversion_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_conversion
    classes = _int(rng, 2, 5)
    return (
        Case.of("more hidden units than classes",
                _conversion_case(rng, classes + _int(rng, 1, 6), classes, _keep(rng, 0.55, 0.9)),
                judge),
        Case.of("fewer hidden units than classes",
                _conversion_case(rng, _int(rng, 2, 3), _int(rng, 4, 7), _keep(rng, 0.55, 0.9)),
                judge),
        Case.of("a single output (C = 1)", _conversion_case(rng, _int(rng, 3, 8), 1,
                                                           _keep(rng, 0.3, 0.9)), judge),
        Case.of("keep_prob close to 1 (0.9 to 0.99)",
                _conversion_case(rng, _int(rng, 2, 8), _int(rng, 2, 6),
                                 float(rng.uniform(0.9, 0.99))), judge),
        Case.of("a small keep_prob (0.1 to 0.35)",
                _conversion_case(rng, _int(rng, 2, 8), _int(rng, 2, 6),
                                 float(rng.uniform(0.1, 0.35))), judge),
    )


STANDARD_TO_INVERTED = Exercise(
    id="ch02.standard_to_inverted",
    function="standard_to_inverted",
    params=("weight", "bias", "keep_prob"),
    summary="convert a standard-dropout network (keep probability) for inverted Dropout(p)",
    case_generator=_conversion_cases,
)


# ------------------------------------------------------- 3. Monte-Carlo dropout
MC_OFF = "MC dropout keeps dropout ON at prediction time: draw a new mask for every sample"
MC_SCALE = ("inverted dropout scales the kept units by 1 / (1 - p), so each sample's expected "
            "activation equals h")
MC_KEEP = "p is the DROP probability: keep a unit where rng.random(h.shape) >= p"
MC_SHARED = ("draw a mask of h's full shape (N, H): each example gets its own mask, not one "
             "row of H bits shared by the whole batch")
MC_LOGITS = "average the probabilities (softmax of each sample), not the logits"
MC_AXIS = ("the softmax runs over the CLASSES of each example (axis=1, or axis=-1): each row "
           "of probabilities sums to 1")
MC_REUSED = ("draw a NEW mask for every sample, inside the loop; one mask reused gives the same "
             "prediction every time")
MC_DDOF = "use NumPy's default standard deviation (ddof=0), as the exercise asks"
MC_VARIANCE = "that is the variance: take its square root"
MC_ON_INPUT = ("dropout acts on the HIDDEN layer h = ReLU(x @ w1 + b1), not on the input x: "
               "mask h, then compute the logits")
MC_BIAS = ("only the dropped activations are rescaled by 1 / (1 - p); the bias b2 is added "
           "after, unscaled: (h * keep / (1 - p)) @ w2 + b2")
MC_NO_RELU = "the hidden layer has a ReLU: h = np.maximum(x @ w1 + b1, 0)"
MC_STD_LOGITS = ("the spread asked for is that of the PROBABILITIES (after the softmax), not "
                 "of the logits")
MC_OVERFLOW = "subtract each row's maximum logit before np.exp"


def _softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _mc_logits(inputs: tuple, draw: Callable, scale: bool = True, on_input: bool = False,
               scale_bias: bool = False, relu: bool = True) -> np.ndarray:
    """The logits of each sample, (samples, N, C), with masks drawn by draw(rng, shape, p)."""
    x, w1, b1, w2, b2, p, n_samples, rng = inputs
    act = (lambda z: np.maximum(z, 0)) if relu else (lambda z: z)  # noqa: E731
    generator = _replay(rng)
    factor = 1 / (1 - p) if scale else 1.0
    samples = []
    for _ in range(n_samples):
        if on_input:
            h = act((x * draw(generator, x.shape, p) * factor) @ w1 + b1)
            samples.append(h @ w2 + b2)
        elif scale_bias:
            h = act(x @ w1 + b1)
            samples.append(((h * draw(generator, h.shape, p)) @ w2 + b2) * factor)
        else:
            h = act(x @ w1 + b1)
            samples.append((h * draw(generator, h.shape, p) * factor) @ w2 + b2)
    return np.stack(samples)


def _mc_samples(inputs: tuple, draw: Callable, average_logits: bool = False,
                over_examples: bool = False, **options) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the softmax over masks drawn by draw(rng, shape, p)."""
    logits = _mc_logits(inputs, draw, **options)
    if average_logits:
        return _softmax(logits.mean(axis=0)), _softmax(logits).std(axis=0)
    probs = _softmax(logits, axis=1 if over_examples else -1)  # (samples, N, C)
    return probs.mean(axis=0), probs.std(axis=0)


def _one_mask_draw() -> Callable:
    """A mistake: one keep-mask drawn, then reused for every sample."""
    masks: list = []

    def draw(generator, shape, p):
        if not masks:
            masks.append(generator.random(shape) >= p)
        return masks[0]
    return draw


_KEEP_DRAWS = (lambda g, shape, p: g.random(shape) >= p,
               lambda g, shape, p: g.random(shape) < 1 - p,
               lambda g, shape, p: g.binomial(1, 1 - p, shape))


def _judge_mc_dropout(inputs: tuple, output, after: tuple = ()) -> Optional[Failure]:
    x, w1, b1, w2, b2, p, n_samples, rng = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (mean_probs, std_probs), got {describe(output)}",
                       "end with `return mean_probs, std_probs`")
    for draw in _KEEP_DRAWS:  # any of the equivalent ways to draw the keep-mask
        if compare_outputs(output, ("mean_probs", "std_probs"), _mc_samples(inputs, draw)) is None:
            return None
    keep = _KEEP_DRAWS[0]
    mean, std = _mc_samples(inputs, keep)
    n, c = x.shape[0], w2.shape[1]
    plain = _softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)
    wrong = {  # mistake: (mean, std) of the answer it gives
        MC_SCALE: _mc_samples(inputs, keep, scale=False),
        MC_KEEP: _mc_samples(inputs, lambda g, shape, q: g.random(shape) < q),
        MC_LOGITS: _mc_samples(inputs, keep, average_logits=True),
        MC_SHARED: _mc_samples(inputs, lambda g, shape, q: g.random(shape[1]) >= q),
        MC_AXIS: _mc_samples(inputs, keep, over_examples=True),
        MC_REUSED: _mc_samples(inputs, _one_mask_draw()),
        MC_ON_INPUT: _mc_samples(inputs, keep, on_input=True),
        MC_BIAS: _mc_samples(inputs, keep, scale_bias=True),
        MC_NO_RELU: _mc_samples(inputs, keep, relu=False),
    }
    mistakes = {
        "mean_probs": [(plain, MC_OFF)] + [(m, hint) for hint, (m, _) in wrong.items()],
        "std_probs": [(np.zeros((n, c)), MC_OFF),
                      (std * np.sqrt(n_samples / (n_samples - 1)), MC_DDOF),
                      (std ** 2, MC_VARIANCE),
                      (_mc_logits(inputs, keep).std(axis=0), MC_STD_LOGITS)]
                     + [(s, hint) for hint, (_, s) in wrong.items()],
    }
    failure = compare_outputs(output, ("mean_probs", "std_probs"), (mean, std),
                              nan_hint=MC_OVERFLOW)
    if failure is None or failure.hint:   # right, or a NaN / shape / order signature
        return failure
    # Probabilities of a few samples can coincide with another mistake's by chance: every
    # mistake that gives this output is a suspect; the runner names one only if it alone
    # explains every failing case.
    name = "mean_probs" if failure.message.startswith("mean_probs") else "std_probs"
    got = output[0] if name == "mean_probs" else output[1]
    suspects = {hint for wrong_value, hint in mistakes[name] if _close(got, wrong_value)}
    if not suspects and len(after) == 8 and _rng_unused(rng, after[7]):
        return Failure(failure.message + " (nothing was drawn from rng)", RNG_UNUSED)
    return Failure(failure.message, suspects=tuple(sorted(suspects)))


def _mc_case(rng: np.random.Generator, n: int, p: float, n_samples: int, *, d: int = 0,
             h: int = 0, c: int = 0, b2_scale: float = 1.0, largest_logit: float = 0.0) -> tuple:
    d, h, c = d or _int(rng, 2, 6), h or _int(rng, 3, 8), c or _int(rng, 2, 5)
    x = rng.standard_normal((n, d))
    w1, b1 = rng.standard_normal((d, h)), rng.standard_normal(h)
    w2, b2 = rng.standard_normal((h, c)), b2_scale * rng.standard_normal(c)
    if largest_logit:   # scale the last layer so that the largest logit is this large
        factor = largest_logit / max(np.max(np.abs(np.maximum(x @ w1 + b1, 0) @ w2 + b2)), 1e-9)
        w2, b2 = w2 * factor, b2 * factor
    return x, w1, b1, w2, b2, p, n_samples, _generator(rng)


def _mc_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_mc_dropout
    drop = lambda low, high: float(rng.uniform(low, high))  # noqa: E731
    return (
        Case.of("a batch, p 0.2 to 0.6", _mc_case(rng, _int(rng, 3, 6), drop(0.2, 0.6),
                                                  _int(rng, 5, 20)), judge),
        Case.of("one example (N = 1)", _mc_case(rng, 1, drop(0.3, 0.7), _int(rng, 5, 20)), judge),
        Case.of("an output bias of size 3 to 6 (its place shows)",
                _mc_case(rng, _int(rng, 2, 5), drop(0.3, 0.6), _int(rng, 5, 15),
                         b2_scale=float(rng.uniform(3.0, 6.0))), judge),
        Case.of("a high drop rate (0.7 to 0.9), many masks (30 to 60)",
                _mc_case(rng, _int(rng, 2, 5), drop(0.7, 0.9), _int(rng, 30, 60)), judge),
        Case.of("large logits (in the thousands)",
                _mc_case(rng, _int(rng, 2, 5), drop(0.2, 0.5), _int(rng, 4, 10),
                         largest_logit=float(rng.uniform(1500, 3000))), judge),
        Case.of("two classes, few masks (2 to 4)",
                _mc_case(rng, _int(rng, 2, 6), drop(0.2, 0.6), _int(rng, 2, 4), c=2), judge),
    )


MC_DROPOUT_PREDICT = Exercise(
    id="ch02.mc_dropout_predict",
    function="mc_dropout_predict",
    params=("x", "w1", "b1", "w2", "b2", "p", "n_samples", "rng"),
    summary="Monte-Carlo dropout: mean and spread of the class probabilities over masks",
    case_generator=_mc_cases,
    may_modify=frozenset({"rng"}),
)


# ------------------------------------------------- 4. choosing a rate, with its noise
ON_TEST = ("the test set must not choose anything: choose on the validation set; the test "
           "set is looked at once, after every choice is made")
ONE_SEED = ("a single run (one seed, or the best single entry) is mostly noise: average each "
            "rate's validation accuracy over the seeds and take the highest mean")
MEDIAN = ("this chapter's procedure takes the MEAN validation accuracy over the seeds (the "
          "yardstick is a standard error of a mean); a median ignores how bad a bad seed was")
NO_SPREAD = ("the rate with the highest mean is not the only candidate: a rate whose paired "
             "difference from it is within two standard errors cannot be told apart from it")
UNPAIRED = ("the seeds are PAIRED (seed s trains every rate with the same initialisation and "
            "batches): take the per-seed differences d_s and their standard error "
            "std(d, ddof=1) / sqrt(S); comparing the two means with their own spreads lets "
            "the seed-to-seed swings hide real differences")
SD_NOT_SE = ("the noise of a MEAN over S seeds is its standard error, std(d, ddof=1) / "
             "sqrt(S), not the standard deviation of the single differences")
DDOF0 = ("the standard error uses the sample standard deviation, std(d, ddof=1): with a "
         "handful of seeds ddof=0 understates the noise")
TIED_ON_TEST = ("the tied list is a decision too: measure the differences on the validation "
                "accuracies, not the test ones")
SELF = "the chosen rate belongs to the list too (it cannot be told apart from itself)"
INDEX = "return the rate itself (an entry of rates), not its index"


def _tied(rates: list, acc: np.ndarray, best: int, paired: bool = True, se: bool = True,
          ddof: int = 1) -> list:
    """The sorted rates within 2 noise units of rates[best] for accuracies acc."""
    n = acc.shape[1]
    d = acc[best] - acc                                    # one row per rate
    spread = (d.std(axis=1, ddof=ddof) if paired else
              np.sqrt(acc[best].var(ddof=ddof) + acc.var(axis=1, ddof=ddof)))
    within = d.mean(axis=1) <= 2 * spread / (np.sqrt(n) if se else 1.0)
    return sorted(rate for rate, inside in zip(rates, within) if inside)


def _choice(rates: list, val: np.ndarray) -> tuple:
    best = int(np.argmax(val.mean(axis=1)))
    return rates[best], _tied(rates, val, best)


def _wrong_choices(rates: list, val: np.ndarray, test: np.ndarray) -> dict:
    """{hint: (chosen, tied)} of each mistake, with its own tied list where it has one."""
    best = int(np.argmax(val.mean(axis=1)))
    on_test = int(np.argmax(test.mean(axis=1)))
    median = int(np.argmax(np.median(val, axis=1)))
    pooled = int(np.argmax(val.mean(axis=1) + test.mean(axis=1)))
    return {
        ON_TEST: [(rates[on_test], _tied(rates, test, on_test)),
                  (rates[pooled], _tied(rates, val, pooled))],
        ONE_SEED: [(rates[int(np.argmax(val[:, 0]))], None),
                   (rates[int(np.argmax(val.max(axis=1)))], None)],
        MEDIAN: [(rates[median], _tied(rates, val, median))],
        NO_SPREAD: [(rates[best], [rates[best]])],
        UNPAIRED: [(rates[best], _tied(rates, val, best, paired=False))],
        SD_NOT_SE: [(rates[best], _tied(rates, val, best, se=False))],
        DDOF0: [(rates[best], _tied(rates, val, best, ddof=0))],
        TIED_ON_TEST: [(rates[best], _tied(rates, test, best))],
        SELF: [(rates[best], [r for r in _tied(rates, val, best) if r != rates[best]])],
    }


def _judge_rate(inputs: tuple, output) -> Optional[Failure]:
    rates, val, test = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (chosen, tied), got {describe(output)}",
                       "end with `return chosen, tied`")
    chosen, tied = output
    expected, expected_tied = _choice(rates, val)
    wrong = _wrong_choices(rates, val, test)
    try:
        got = float(chosen)
    except (TypeError, ValueError):
        return Failure(f"chosen: expected the rate {expected}, got {describe(chosen)}",
                       "return the rate itself (an entry of rates), not a list")
    if got != expected:
        message = f"chosen: expected p = {expected}, got p = {got}"
        if got not in rates and float(got).is_integer() and int(got) == rates.index(expected):
            return Failure(message, INDEX)
        # a choice is one of a few rates: several rules (some not listed) can pick it, so
        # the runner names a rule only if it alone picks the answer in every failing case
        return Failure(message, suspects=tuple(sorted(
            {hint for hint, answers in wrong.items() for choice, _ in answers if choice == got})))
    try:
        got_tied = sorted(float(r) for r in np.ravel(np.asarray(tied, dtype=float)))
    except (TypeError, ValueError):
        return Failure(f"tied: expected a list of rates, got {describe(tied)}",
                       "return the rates themselves, in a list")
    if got_tied == expected_tied:
        return None
    # every rule that gives this (chosen, tied) pair is a suspect: choosing and tying on
    # the test set give the same answer as tying on it when both sets prefer one rate
    return Failure(f"tied: expected {expected_tied}, got {got_tied}", suspects=tuple(sorted(
        {hint for hint, answers in wrong.items() for choice, wrong_tied in answers
         if choice == expected and wrong_tied is not None and wrong_tied == got_tied})))


def _sweep(rng: np.random.Generator, n_rates: int, n_seeds: int, seed_sd: float = 2.5,
           diverged: bool = False) -> tuple:
    """Per-seed accuracies (%) with a large effect of the seed shared by every rate (as
    in the chapter: a lucky initialisation helps at every rate), small noise per run,
    and a test set whose noise need not agree with the validation set's. ``diverged``:
    one run of one rate collapsed (a real hazard of high rates)."""
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    rates = sorted(float(r) for r in rng.choice(grid, size=n_rates, replace=False))
    peak = float(rng.uniform(0.2, 0.6))
    true = 85.0 - 25.0 * (np.asarray(rates) - peak) ** 2 + rng.normal(0, 0.5, n_rates)
    seed_effect = rng.normal(0.0, seed_sd, n_seeds)
    val = true[:, None] + seed_effect[None, :] + rng.normal(0, 0.7, (n_rates, n_seeds))
    test = true[:, None] + seed_effect[None, :] + rng.normal(0, 1.2, (n_rates, n_seeds))
    if diverged:
        best = int(np.argmax(np.median(val, axis=1)))
        val[best, _int(rng, 0, n_seeds - 1)] -= float(rng.uniform(8, 20))
    return rates, np.round(val, 1), np.round(test, 1)


def _sweep_where(rng: np.random.Generator, condition: Callable, tries: int = 3000,
                 **options) -> tuple:
    """A sweep (rates, val, test) for which condition(rates, val, test) holds: drawn
    again until it does (a condition that never holds is a bug in this file)."""
    for _ in range(tries):
        sweep = _sweep(rng, _int(rng, 4, 7), _int(rng, 4, 8), **options)
        if condition(*sweep) and _clear(*sweep):
            return sweep
    raise RuntimeError(f"no sweep met {condition.__name__} in {tries} draws")


def _clear(rates, val, test) -> bool:
    """No rate sits exactly on the 2-SE line (rounding could then decide), and no two
    rates share the best mean."""
    means = val.mean(axis=1)
    best = int(np.argmax(means))
    if np.sum(np.isclose(means, means[best])) > 1:
        return False
    for i in range(len(rates)):
        d = val[best] - val[i]
        if i != best and abs(d.mean() - 2 * np.std(d, ddof=1) / np.sqrt(val.shape[1])) < 0.02:
            return False
    return True


def _choices(rates, val, test) -> dict:
    """The index each way of choosing picks."""
    return {"mean": int(np.argmax(val.mean(axis=1))), "test": int(np.argmax(test.mean(axis=1))),
            "pooled": int(np.argmax(val.mean(axis=1) + test.mean(axis=1))),
            "median": int(np.argmax(np.median(val, axis=1))),
            "max": int(np.argmax(val.max(axis=1))), "first": int(np.argmax(val[:, 0]))}


def _stands_out(way: str, others: tuple) -> Callable:
    """The condition: ``way`` picks another rate than the mean and than every way in
    ``others`` (so that an answer choosing that way can only be that mistake)."""
    def condition(rates, val, test) -> bool:
        picks = _choices(rates, val, test)
        return all(picks[way] != picks[other] for other in ("mean",) + others)
    condition.__name__ = f"{way} stands out"
    return condition


def _test_prefers_another(rates, val, test) -> bool:
    """The test set's choice, and that of validation and test pooled, stand out; and
    ties measured on the test set give a list of their own."""
    picks = _choices(rates, val, test)
    return (all(picks[way] != picks[other] for way in ("test", "pooled")
                for other in ("mean", "median", "max", "first"))
            and _own_lists("test")(rates, val, test))
_median_prefers_another = _stands_out("median", ("test", "pooled", "max", "first"))
def _single_run_misleads(rates, val, test) -> bool:
    """The best single entry, and the first seed alone, pick rates of their own."""
    picks = _choices(rates, val, test)
    return all(picks[way] != picks[other] for way in ("max", "first")
               for other in ("mean", "test", "pooled", "median"))


def _tied_lists(rates, val, test) -> dict:
    """The tied list of the right yardstick and of each wrong one."""
    best = rates.index(_choice(rates, val)[0])
    right = _tied(rates, val, best)
    return {"right": right, "ddof0": _tied(rates, val, best, ddof=0),
            "sd": _tied(rates, val, best, se=False),
            "unpaired": _tied(rates, val, best, paired=False), "test": _tied(rates, test, best),
            "alone": [rates[best]], "without": [r for r in right if r != rates[best]]}


def _own_lists(*names: str) -> Callable:
    """The condition: each named yardstick gives a tied list that no other yardstick
    (the right one included) gives."""
    def condition(rates, val, test) -> bool:
        lists = _tied_lists(rates, val, test)
        return all(lists[name] != lists[other] for name in names for other in lists
                   if other != name)
    condition.__name__ = f"own tied lists for {', '.join(names)}"
    return condition


_noise_yardsticks_disagree = _own_lists("ddof0")            # about 3 % of sweeps
_pairing_matters = _own_lists("sd", "unpaired", "test")     # about 20 % with seed sd 5


def _rate_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_rate
    return (
        Case.of("the test set prefers another rate",
                _sweep_where(rng, _test_prefers_another), judge),
        Case.of("one diverged run: the median seed prefers another rate",
                _sweep_where(rng, _median_prefers_another, diverged=True), judge),
        Case.of("the best single run is at another rate",
                _sweep_where(rng, _single_run_misleads), judge),
        Case.of("a rate close to the two-standard-error line (ddof matters)",
                _sweep_where(rng, _noise_yardsticks_disagree), judge),
        Case.of("a large seed effect (pairing and the standard error matter)",
                _sweep_where(rng, _pairing_matters, seed_sd=5.0), judge),
        Case.of("a sweep with no condition", _sweep_where(rng, lambda *sweep: True), judge),
    )


CHOOSE_RATE = Exercise(
    id="ch02.choose_rate",
    function="choose_rate",
    params=("rates", "val_acc", "test_acc"),
    summary="choose a dropout rate on validation, and say which rates the seeds cannot separate",
    case_generator=_rate_cases,
)

EXERCISES = [STANDARD_DROPOUT, STANDARD_TO_INVERTED, MC_DROPOUT_PREDICT, CHOOSE_RATE]

#: Every hint that names a mistake, per exercise: tests/test_exercises_ch02.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    STANDARD_DROPOUT.id: (CONVENTION, INVERTED, RNG_UNUSED, EVAL_NO_MASK, SHARED_MASK,
                          HARD_CODED_HALF, EVAL_UNSCALED, EVAL_DIVIDES, TRAIN_TIMES_KEEP,
                          MASK_MARKS_KEPT),
    STANDARD_TO_INVERTED.id: (P_IS_DROP, ROUNDED, MOVE_FACTOR, WRONG_DIRECTION, CONVENTION,
                              SCALED_TWICE, BY_DROP, BIAS_NEVER_DROPPED),
    MC_DROPOUT_PREDICT.id: (MC_OFF, MC_SCALE, MC_KEEP, MC_SHARED, MC_LOGITS, MC_AXIS, MC_REUSED,
                            MC_DDOF, MC_VARIANCE, MC_ON_INPUT, MC_BIAS, MC_NO_RELU,
                            MC_STD_LOGITS, MC_OVERFLOW, RNG_UNUSED),
    CHOOSE_RATE.id: (ON_TEST, ONE_SEED, MEDIAN, NO_SPREAD, UNPAIRED, SD_NOT_SE, DDOF0,
                     TIED_ON_TEST, SELF, INDEX),
}
