"""Chapter 2 exercises (dropout): the cases and the classic mistakes.

Every reference is computed in float64 from the case's own inputs. Where the learner's
function draws a random mask, it draws from the generator the case passes in; the
judge replays an identical copy of that generator (the runner hands the judge a deep
copy taken before the call), so a correct answer is reproduced draw for draw. A few
equally valid ways of drawing the same Bernoulli mask are accepted; the mistakes
listed next to each reference are ones learners actually make, and when an answer
equals one, its hint is shown.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

import numpy as np

from mlpcore.exercises._compare import as_numeric_array, compare_array, compare_outputs, describe
from mlpcore.exercises._registry import Case, Exercise, Failure, fixed_cases

CONVENTION = ("check the convention: keep_prob is the probability of KEEPING a unit, so a "
              "unit is kept when rng.random(...) < keep_prob; the drop probability is "
              "1 - keep_prob")
INVERTED = ("that is inverted dropout (divide by the keep probability in training); "
            "standard dropout applies the bare mask in training and scales at test time")


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _replay(rng: np.random.Generator) -> np.random.Generator:
    """An identical, independent copy of the generator as the learner received it."""
    return copy.deepcopy(rng)


# ---------------------------------------------------------- 1. standard dropout
def _standard_inputs(seed: int, shape, keep_prob: float, training: bool, random_shape=False):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        chosen = tuple(int(n) for n in rng.integers(2, 9, size=2)) if random_shape else shape
        keep = float(np.round(rng.uniform(0.2, 0.9), 2)) if keep_prob is None else keep_prob
        x = rng.standard_normal(chosen)
        return x, keep, training, np.random.default_rng(seed + 1000)
    return make


def _keep_masks(rng, shape, keep) -> dict[str, np.ndarray]:
    """Accepted keep-masks (as floats): the prescribed draw and two equivalent ones."""
    return {"prescribed": (_replay(rng).random(shape) < keep).astype(float),
            "1 - u": (_replay(rng).random(shape) >= 1 - keep).astype(float),
            "binomial": _replay(rng).binomial(1, keep, shape).astype(float)}


def _judge_standard_dropout(inputs: tuple, output) -> Optional[Failure]:
    x, keep, training, rng = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (output, mask), got {describe(output)}",
                       "end with `return output, mask` (the mask is None in evaluation)")
    out, mask = output
    if not training:
        failure = compare_array("output", out, x * keep, mistakes=[
            (x, "standard dropout does not rescale in training, so at test time every "
                "activation must be multiplied by keep_prob (its expected training value)"),
            (x / keep, "at test time MULTIPLY by keep_prob; dividing is what inverted "
                       "dropout does during training"),
            (x * (1 - keep), CONVENTION)])
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
        return compare_array("mask", mask_array, accepted["prescribed"], mistakes=[
            ((u < 1 - keep).astype(float), CONVENTION),
            ((u >= keep).astype(float), CONVENTION)],
            default_hint="draw the mask once, from the rng argument, as "
                         "rng.random(x.shape) < keep_prob (not from np.random or a new "
                         "generator), so the check can replay it")
    return compare_array("output", out, x * matched, mistakes=[
        (x * matched / keep, INVERTED),
        (x * matched * keep, "in training standard dropout applies the bare mask; the "
                             "factor keep_prob belongs to test time"),
        (x * (1 - matched), "the mask marks the KEPT units: multiply x by the mask")])


STANDARD_DROPOUT = Exercise(
    id="ch02.standard_dropout",
    function="standard_dropout",
    params=("x", "keep_prob", "training", "rng"),
    summary="standard dropout (keep-probability convention) in training and evaluation",
    case_generator=fixed_cases(
        Case("training, 4 × 5, keep_prob 0.8", _standard_inputs(1, (4, 5), 0.8, True),
             _judge_standard_dropout),
        Case("evaluation, 3 × 4, keep_prob 0.8", _standard_inputs(2, (3, 4), 0.8, False),
             _judge_standard_dropout),
        Case("training, 6 × 3, keep_prob 0.3", _standard_inputs(3, (6, 3), 0.3, True),
             _judge_standard_dropout),
        Case("evaluation, a vector of 7, keep_prob 0.6",
             _standard_inputs(4, (7,), 0.6, False), _judge_standard_dropout),
        Case("training, random shape and keep_prob", _standard_inputs(5, None, None, True, True),
             _judge_standard_dropout),
        Case("evaluation, random shape and keep_prob",
             _standard_inputs(6, None, None, False, True), _judge_standard_dropout),
    ),
)


# ------------------------------------------------ 2. keep convention -> PyTorch's
def _conversion_inputs(seed: int, hidden: Optional[int], classes: Optional[int],
                       keep_prob: Optional[float]):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        h = int(rng.integers(2, 9)) if hidden is None else hidden
        c = int(rng.integers(2, 6)) if classes is None else classes
        keep = float(np.round(rng.uniform(0.2, 0.95), 2)) if keep_prob is None else keep_prob
        return rng.standard_normal((h, c)), rng.standard_normal(c), keep
    return make


def _judge_conversion(inputs: tuple, output) -> Optional[Failure]:
    weight, bias, keep = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        return Failure(f"expected a tuple (p, new_weight, new_bias), got {describe(output)}",
                       "end with `return p, new_weight, new_bias`")
    p, new_weight, new_bias = output
    failure = compare_array("p", np.asarray(p, dtype=float) if np.isscalar(p) else p,
                            np.asarray(1.0 - keep), mistakes=[
                                (np.asarray(keep), "PyTorch's and mlpcore's p is the DROP "
                                                   "probability: p = 1 - keep_prob")])
    if failure is not None:
        return failure
    return compare_outputs((new_weight, new_bias), ("new_weight", "new_bias"),
                           (keep * weight, bias), mistakes={
        "new_weight": [
            (weight, "the old network multiplies the activations by keep_prob at test "
                     "time; the inverted one does nothing at test time, so that factor "
                     "must move into the next layer's weights"),
            (weight / keep, "wrong direction: inverted dropout already divides by the keep "
                            "probability in training, so the weights must be MULTIPLIED by "
                            "keep_prob"),
            ((1 - keep) * weight, CONVENTION)],
        "new_bias": [
            (keep * bias, "the bias is added after the dropped activations and is never "
                          "dropped: leave it unchanged"),
            (bias / keep, "the bias is added after the dropped activations and is never "
                          "dropped: leave it unchanged")]})


STANDARD_TO_INVERTED = Exercise(
    id="ch02.standard_to_inverted",
    function="standard_to_inverted",
    params=("weight", "bias", "keep_prob"),
    summary="convert a standard-dropout network (keep probability) for inverted Dropout(p)",
    case_generator=fixed_cases(
        Case("4 hidden units → 3 classes, keep_prob 0.8", _conversion_inputs(11, 4, 3, 0.8),
             _judge_conversion),
        Case("5 → 2, keep_prob 0.5", _conversion_inputs(12, 5, 2, 0.5), _judge_conversion),
        Case("3 → 4, keep_prob 0.9", _conversion_inputs(13, 3, 4, 0.9), _judge_conversion),
        Case("random shape and keep_prob", _conversion_inputs(14, None, None, None),
             _judge_conversion),
        Case("random shape and keep_prob, again", _conversion_inputs(15, None, None, None),
             _judge_conversion),
    ),
)


# ------------------------------------------------------- 3. Monte-Carlo dropout
def _softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _mc_inputs(seed: int, sizes: Optional[tuple], p: Optional[float], n_samples: int,
               scale: float = 1.0):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        n, d, h, c = (tuple(int(k) for k in rng.integers(2, 8, size=4)) if sizes is None
                      else sizes)
        drop = float(np.round(rng.uniform(0.1, 0.8), 2)) if p is None else p
        x = scale * rng.standard_normal((n, d))
        w1, b1 = rng.standard_normal((d, h)), rng.standard_normal(h)
        w2, b2 = rng.standard_normal((h, c)), rng.standard_normal(c)
        return x, w1, b1, w2, b2, drop, n_samples, np.random.default_rng(seed + 1000)
    return make


def _mc_samples(inputs: tuple, draw: Callable, scale: bool = True,
                average_logits: bool = False,
                over_examples: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the softmax over masks drawn by draw(rng, shape, p)."""
    x, w1, b1, w2, b2, p, n_samples, rng = inputs
    h = np.maximum(x @ w1 + b1, 0)
    generator = _replay(rng)
    logits = np.stack([(h * draw(generator, h.shape, p) / ((1 - p) if scale else 1)) @ w2 + b2
                       for _ in range(n_samples)])
    if average_logits:
        mean = _softmax(logits.mean(axis=0))
        return mean, _softmax(logits).std(axis=0)
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


def _judge_mc_dropout(inputs: tuple, output) -> Optional[Failure]:
    x, w1, b1, w2, b2, p, n_samples, rng = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (mean_probs, std_probs), got {describe(output)}",
                       "end with `return mean_probs, std_probs`")
    for draw in _KEEP_DRAWS:  # any of the equivalent ways to draw the keep-mask
        if compare_outputs(output, ("mean_probs", "std_probs"), _mc_samples(inputs, draw)) is None:
            return None
    mean, std = _mc_samples(inputs, _KEEP_DRAWS[0])
    n, c = x.shape[0], w2.shape[1]
    plain = _softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)
    unscaled = _mc_samples(inputs, _KEEP_DRAWS[0], scale=False)
    as_keep = _mc_samples(inputs, lambda g, shape, q: g.random(shape) < q)
    logit_mean = _mc_samples(inputs, _KEEP_DRAWS[0], average_logits=True)
    shared = _mc_samples(inputs, lambda g, shape, q: g.random(shape[1]) >= q)
    over_examples = _mc_samples(inputs, _KEEP_DRAWS[0], over_examples=True)
    reused = _mc_samples(inputs, _one_mask_draw())
    ddof1 = std * np.sqrt(n_samples / (n_samples - 1))
    scale_hint = ("inverted dropout scales the kept units by 1 / (1 - p), so each "
                  "sample's expected activation equals h")
    keep_hint = ("p is the DROP probability: keep a unit where rng.random(h.shape) >= p")
    shared_hint = ("draw a mask of h's full shape (N, H): each example gets its own mask, "
                   "not one row of H bits shared by the whole batch")
    mistakes = {
        "mean_probs": [(plain, "MC dropout keeps dropout ON at prediction time: draw a "
                               "new mask for every sample"),
                       (unscaled[0], scale_hint), (as_keep[0], keep_hint),
                       (logit_mean[0], "average the probabilities (softmax of each sample), "
                                       "not the logits"),
                       (shared[0], shared_hint),
                       (over_examples[0], "the softmax runs over the CLASSES of each example "
                                          "(axis=1, or axis=-1): each row of probabilities "
                                          "sums to 1"),
                       (reused[0], "draw a NEW mask for every sample, inside the loop; one "
                                   "mask reused gives the same prediction every time")],
        "std_probs": [(np.zeros((n, c)), "MC dropout keeps dropout ON at prediction time: "
                                         "with a new mask per sample the spread is not 0"),
                      (unscaled[1], scale_hint), (as_keep[1], keep_hint),
                      (ddof1, "use NumPy's default standard deviation (ddof=0), as the "
                              "exercise asks"),
                      (std**2, "that is the variance: take its square root"),
                      (shared[1], shared_hint)],
    }
    return compare_outputs(output, ("mean_probs", "std_probs"), (mean, std),
                           mistakes=mistakes,
                           nan_hint="subtract each row's maximum logit before np.exp",
                           default_hints={"mean_probs": "draw the masks from rng, one sample "
                                                        "after the other, each as "
                                                        "rng.random(h.shape) >= p"})


MC_DROPOUT_PREDICT = Exercise(
    id="ch02.mc_dropout_predict",
    function="mc_dropout_predict",
    params=("x", "w1", "b1", "w2", "b2", "p", "n_samples", "rng"),
    summary="Monte-Carlo dropout: mean and spread of the class probabilities over masks",
    case_generator=fixed_cases(
        Case("4 examples, 3 → 5 → 3, p 0.5, 10 masks", _mc_inputs(21, (4, 3, 5, 3), 0.5, 10),
             _judge_mc_dropout),
        Case("3 examples, 4 → 6 → 2, p 0.2, 20 masks", _mc_inputs(22, (3, 4, 6, 2), 0.2, 20),
             _judge_mc_dropout),
        Case("one example, 2 → 8 → 4, p 0.7, 5 masks", _mc_inputs(23, (1, 2, 8, 4), 0.7, 5),
             _judge_mc_dropout),
        Case("random sizes and p, 12 masks", _mc_inputs(24, None, None, 12), _judge_mc_dropout),
        Case("random sizes and p, 7 masks", _mc_inputs(25, None, None, 7), _judge_mc_dropout),
        Case("large inputs (logits in the hundreds), p 0.3, 6 masks",
             _mc_inputs(26, (3, 4, 5, 3), 0.3, 6, scale=60.0), _judge_mc_dropout),
    ),
)


# ------------------------------------------------- 4. choosing a rate, with its noise
ON_TEST = ("that is the rate with the best TEST accuracy: choose on the validation set; the "
           "test set is looked at once, after every choice is made")
ONE_SEED = ("a single run (one seed, or the best single entry) is mostly noise: average each "
            "rate's validation accuracy over the seeds and take the highest mean")
NO_SPREAD = ("the rate with the highest mean is not the only candidate: a rate whose paired "
             "difference from it is within two standard errors cannot be told apart from it")
UNPAIRED = ("the seeds are PAIRED (seed s trains every rate with the same initialisation and "
            "batches): take the per-seed differences d_s and their standard error "
            "std(d, ddof=1) / sqrt(S); comparing the two means with their own spreads lets "
            "the seed-to-seed swings hide real differences")
SD_NOT_SE = ("the noise of a MEAN over S seeds is its standard error, std(d, ddof=1) / "
             "sqrt(S), not the standard deviation of the single differences")
SELF = "the chosen rate belongs to the list too (it cannot be told apart from itself)"


def _rate_inputs(seed: int, rates: Optional[tuple], seeds: Optional[int]):
    """Per-seed accuracies (%) with a large effect of the seed shared by every rate (as
    in the chapter: a lucky initialisation helps at every rate), small noise per run,
    and a test set whose noise need not agree with the validation set's."""
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        chosen = (tuple(sorted(rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8],
                                          size=int(rng.integers(4, 7)), replace=False)))
                  if rates is None else rates)
        n_seeds = int(rng.integers(4, 9)) if seeds is None else seeds
        peak = float(rng.uniform(0.2, 0.6))
        true = 85.0 - 25.0 * (np.asarray(chosen) - peak) ** 2 + rng.normal(0, 0.5, len(chosen))
        seed_effect = rng.normal(0.0, 2.5, n_seeds)
        val = true[:, None] + seed_effect[None, :] + rng.normal(0, 0.7, (len(chosen), n_seeds))
        test = true[:, None] + seed_effect[None, :] + rng.normal(0, 1.2, (len(chosen), n_seeds))
        return [float(r) for r in chosen], np.round(val, 1), np.round(test, 1)
    return make


def _choice(rates: list, acc: np.ndarray, paired: bool = True, se: bool = True,
            ddof: int = 1) -> tuple:
    """(chosen rate, sorted rates within 2 noise units of it) for accuracies acc."""
    best = int(np.argmax(acc.mean(axis=1)))
    n = acc.shape[1]
    tied = []
    for i, rate in enumerate(rates):
        d = acc[best] - acc[i]
        spread = (np.std(d, ddof=ddof) if paired else
                  np.sqrt(np.var(acc[best], ddof=ddof) + np.var(acc[i], ddof=ddof)))
        if d.mean() <= 2 * spread / (np.sqrt(n) if se else 1.0):
            tied.append(rate)
    return rates[best], tied


def _judge_rate(inputs: tuple, output) -> Optional[Failure]:
    rates, val, test = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (chosen, tied), got {describe(output)}",
                       "end with `return chosen, tied`")
    chosen, tied = output
    expected, expected_tied = _choice(rates, val)
    try:
        got = float(chosen)
    except (TypeError, ValueError):
        return Failure(f"chosen: expected the rate {expected}, got {describe(chosen)}",
                       "return the rate itself (an entry of rates), not its index or a list")
    if got != expected:
        message = f"chosen: expected p = {expected}, got p = {got}"
        for wrong, hint in ((_choice(rates, test)[0], ON_TEST),
                            (rates[int(np.argmax(val[:, 0]))], ONE_SEED),
                            (rates[int(np.argmax(val.max(axis=1)))], ONE_SEED)):
            if got == wrong:
                return Failure(message, hint)
        return Failure(message, "choose the rate (an entry of rates) with the highest mean "
                                "validation accuracy over the seeds")
    try:
        got_tied = sorted(float(r) for r in np.ravel(np.asarray(tied, dtype=float)))
    except (TypeError, ValueError):
        return Failure(f"tied: expected a list of rates, got {describe(tied)}",
                       "return the rates themselves, in a list")
    if got_tied == expected_tied:
        return None
    message = f"tied: expected {expected_tied}, got {got_tied}"
    paired_sd = _choice(rates, val, se=False)[1]
    for wrong, hint in (([expected], NO_SPREAD), ([], SELF),
                        ([r for r in expected_tied if r != expected], SELF),
                        (_choice(rates, val, paired=False)[1], UNPAIRED),
                        (paired_sd, SD_NOT_SE)):
        if got_tied == sorted(wrong):
            return Failure(message, hint)
    return Failure(message, "")


CHOOSE_RATE = Exercise(
    id="ch02.choose_rate",
    function="choose_rate",
    params=("rates", "val_acc", "test_acc"),
    summary="choose a dropout rate on validation, and say which rates the seeds cannot separate",
    case_generator=fixed_cases(
        Case("5 rates, 5 seeds", _rate_inputs(41, (0.0, 0.1, 0.3, 0.5, 0.7), 5), _judge_rate),
        Case("6 rates (the chapter's sweep), 5 seeds",
             _rate_inputs(42, (0.0, 0.1, 0.3, 0.5, 0.7, 0.8), 5), _judge_rate),
        Case("4 rates, 8 seeds", _rate_inputs(43, (0.0, 0.2, 0.5, 0.8), 8), _judge_rate),
        Case("5 rates, 4 seeds", _rate_inputs(44, (0.0, 0.2, 0.4, 0.6, 0.8), 4), _judge_rate),
        Case("random rates and number of seeds", _rate_inputs(45, None, None), _judge_rate),
        Case("random rates and number of seeds, again", _rate_inputs(46, None, None),
             _judge_rate),
        Case("random rates and number of seeds, a third time", _rate_inputs(50, None, None),
             _judge_rate),
    ),
)

EXERCISES = [STANDARD_DROPOUT, STANDARD_TO_INVERTED, MC_DROPOUT_PREDICT, CHOOSE_RATE]
