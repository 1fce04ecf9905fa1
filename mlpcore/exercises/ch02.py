"""Chapter 2 exercises (dropout): the cases and the classic mistakes.

Every reference is computed in float64 from the case's own inputs, and the mistakes
listed next to each reference are ones learners actually make: when an answer equals
one (and no other), its hint is shown.

1. the backward pass of a hidden layer under standard dropout (keep convention), which
   the chapter does not write out (it shows inverted dropout's);
2. the standard deviation of a logit over dropout masks, which the chapter only
   measures (it derives the variance of one unit);
3. a Monte-Carlo dropout decision: the predicted class, and whether the masks settle it
   (a paired comparison of two classes over the same masks, the chapter's yardstick box
   applied to masks instead of seeds);
4. choosing a rate from per-seed accuracies, with its noise (judgement).

Every exercise draws its cases from the np.random.Generator it is given (shapes,
probabilities, values; for 3 the paired t statistics are placed on both sides of each
wrong yardstick's line; for 4 the accuracies of a sweep are resampled until the
condition the case is named for holds), so the grader's private seed gives cases nobody
has seen; the kinds of cases (their names) stay the same.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from mlpcore.exercises._compare import compare_array, compare_outputs, describe
from mlpcore.exercises._registry import Case, Exercise, Failure

def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _close(a, b) -> bool:
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _unambiguous(mistakes: list) -> list:
    """The (wrong value, hint) pairs whose value no pair with another hint shares: an
    answer that two mistakes explain equally well gets neither hint."""
    def same(a, b) -> bool:
        return np.shape(a) == np.shape(b) and _close(a, b)
    return [(wrong, hint) for wrong, hint in mistakes
            if not any(other_hint != hint and same(other, wrong) for other, other_hint in mistakes)]


def _keep(rng: np.random.Generator, low: float, high: float) -> float:
    """A keep probability in [low, high], not 0.5 (where both conventions agree)."""
    value = float(rng.uniform(low, high))
    return value if abs(value - 0.5) > 0.05 else value + 0.1



# ------------------------------------- 1. the backward pass under the keep convention
KB_INVERTED = ("standard dropout (keep convention) applies the bare mask in training, so its "
               "backward is the bare mask too: no division by keep_prob")
KB_TIMES_KEEP = ("multiplying by keep_prob is standard dropout's TEST-time rule; in training "
                 "the forward was h * mask, so the backward is grad * mask")
KB_W2_UNMASKED = ("the layer after the dropout saw the DROPPED activations h * mask, so its "
                  "weight gradient uses them, not h")
KB_H_UNMASKED = ("a dropped unit passed nothing forward, so it gets no gradient: multiply the "
                 "gradient reaching h by the same mask")
KB_MASK_FLIPPED = "keep_mask marks the KEPT units (True = kept): multiply by it, not by 1 - mask"
KB_NO_RELU = ("the ReLU passes gradient only where its input x @ w1 + b1 was positive: "
              "multiply by that indicator")
KB_BIAS_MEAN = ("sum the bias gradient over the batch: grad_logits is already the gradient of "
                "the mean loss, so the 1/N is inside it")
KB_AVERAGED = ("grad_logits is already the gradient of the mean loss (the 1/N is inside it): "
               "do not divide by N again")


def _keep_backward(inputs: tuple, mask_fwd=None, mask_bwd=None, factor: float = 1.0,
                   relu: bool = True, bias_mean: bool = False, per_n: float = 1.0) -> tuple:
    """(grad_w1, grad_b1, grad_w2) of the block, with the variations a mistake makes."""
    x, w1, b1, w2, keep_mask, keep_prob, grad_logits = inputs
    m = keep_mask.astype(float)
    mask_fwd = m if mask_fwd is None else mask_fwd
    mask_bwd = m if mask_bwd is None else mask_bwd
    pre = x @ w1 + b1
    h = np.maximum(pre, 0)
    grad_w2 = (h * mask_fwd * factor).T @ grad_logits / per_n
    grad_h = (grad_logits @ w2.T) * mask_bwd * factor
    grad_pre = grad_h * (pre > 0) if relu else grad_h
    grad_b1 = grad_pre.mean(axis=0) if bias_mean else grad_pre.sum(axis=0) / per_n
    return x.T @ grad_pre / per_n, grad_b1, grad_w2


def _judge_keep_backward(inputs: tuple, output) -> Optional[Failure]:
    x, w1, b1, w2, keep_mask, keep_prob, grad_logits = inputs
    m, n = keep_mask.astype(float), x.shape[0]
    names = ("grad_w1", "grad_b1", "grad_w2")
    right = _keep_backward(inputs)
    variants = [
        (_keep_backward(inputs, factor=1 / keep_prob), KB_INVERTED),
        (_keep_backward(inputs, factor=keep_prob), KB_TIMES_KEEP),
        (_keep_backward(inputs, mask_fwd=np.ones_like(m)), KB_W2_UNMASKED),
        (_keep_backward(inputs, mask_bwd=np.ones_like(m)), KB_H_UNMASKED),
        (_keep_backward(inputs, mask_fwd=1 - m, mask_bwd=1 - m), KB_MASK_FLIPPED),
        (_keep_backward(inputs, relu=False), KB_NO_RELU),
        (_keep_backward(inputs, bias_mean=True), KB_BIAS_MEAN),
        (_keep_backward(inputs, per_n=float(n)), KB_AVERAGED),
    ]
    # dividing everything by N shows first in grad_w1; its grad_b1 is the averaged bias's
    mistakes = {name: _unambiguous([(values[i], hint) for values, hint in variants
                                    if not (name == "grad_b1" and hint == KB_AVERAGED)])
                for i, name in enumerate(names)}
    return compare_outputs(output, names, right, mistakes=mistakes)


def _keep_backward_case(rng: np.random.Generator, n: int, d: int, hidden: int, c: int,
                        keep: float, dead_unit: bool = False) -> tuple:
    x = rng.standard_normal((n, d))
    w1, b1 = rng.standard_normal((d, hidden)), rng.standard_normal(hidden)
    w2 = rng.standard_normal((hidden, c))
    keep_mask = rng.random((n, hidden)) < keep
    if dead_unit:  # one unit dropped for every example of the batch
        keep_mask[:, int(rng.integers(hidden))] = False
    grad_logits = rng.standard_normal((n, c)) / n   # the gradient of a mean loss
    return x, w1, b1, w2, keep_mask, keep, grad_logits


def _keep_backward_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_keep_backward
    return (
        Case.of("a batch, keep_prob 0.6 to 0.9", _keep_backward_case(
            rng, _int(rng, 4, 8), _int(rng, 3, 6), _int(rng, 5, 9), _int(rng, 2, 4),
            _keep(rng, 0.6, 0.9)), judge),
        Case.of("one example (N = 1)", _keep_backward_case(
            rng, 1, _int(rng, 3, 6), _int(rng, 5, 9), _int(rng, 2, 4),
            _keep(rng, 0.6, 0.9)), judge),
        Case.of("a low keep_prob (0.2 to 0.4)", _keep_backward_case(
            rng, _int(rng, 4, 8), _int(rng, 3, 6), _int(rng, 6, 10), _int(rng, 2, 4),
            _keep(rng, 0.2, 0.4)), judge),
        Case.of("a unit dropped for every example", _keep_backward_case(
            rng, _int(rng, 3, 6), _int(rng, 2, 5), _int(rng, 4, 8), _int(rng, 2, 5),
            _keep(rng, 0.55, 0.85), dead_unit=True), judge),
        Case.of("more hidden units than examples, few inputs", _keep_backward_case(
            rng, _int(rng, 2, 4), 2, _int(rng, 10, 16), _int(rng, 3, 6),
            _keep(rng, 0.3, 0.9)), judge),
    )


KEEP_DROPOUT_BACKWARD = Exercise(
    id="ch02.keep_dropout_backward",
    function="keep_dropout_backward",
    params=("x", "w1", "b1", "w2", "keep_mask", "keep_prob", "grad_logits"),
    case_generator=_keep_backward_cases,
)


# --------------------------------------------- 2. how much a logit wobbles under dropout
NS_VARIANCE = "that is the variance: the standard deviation is its square root"
NS_KEEP_RATIO = ("p is the DROP probability: one unit's term h * m / (1 - p) has variance "
                 "h**2 * p / (1 - p), not (1 - p) / p")
NS_UNSCALED = ("inverted dropout also divides the kept units by 1 - p, which multiplies "
               "their variance by 1 / (1 - p)**2")
NS_SUM_SD = ("the units' masks are independent: their terms' VARIANCES add (one square root "
             "at the end); standard deviations do not add")
NS_ONE_COIN = ("every unit of every example has a coin of its own, not one coin for the whole "
               "layer: add the variances of the units' terms")
NS_BIAS = "the bias is added after the dropout and is not random: it adds no spread"

def _noise(h: np.ndarray, w: np.ndarray, ratio: float) -> np.ndarray:
    return np.sqrt(ratio * (h ** 2) @ (w ** 2))


def _judge_logit_noise(inputs: tuple, output) -> Optional[Failure]:
    h, w, b, p = inputs
    ratio = p / (1 - p)
    right = _noise(h, w, ratio)
    with np.errstate(all="ignore"):
        mistakes = _unambiguous([
            (right ** 2, NS_VARIANCE),
            (_noise(h, w, np.float64(1 - p) / np.float64(p)), NS_KEEP_RATIO),
            (_noise(h, w, p * (1 - p)), NS_UNSCALED),
            (np.sqrt(ratio) * (h @ np.abs(w)), NS_SUM_SD),
            (np.sqrt(ratio) * np.abs(h @ w), NS_ONE_COIN),
            (np.sqrt(right ** 2 + b ** 2), NS_BIAS), (right + np.abs(b), NS_BIAS),
            (np.sqrt(ratio * (h ** 2) @ (w ** 2) + b ** 2), NS_BIAS)])
    mistakes = [(wrong, hint) for wrong, hint in mistakes if np.all(np.isfinite(wrong))]
    return compare_array("sd", output, right, mistakes=mistakes)


def _drop(rng: np.random.Generator, low: float, high: float) -> float:
    """A drop probability in [low, high], not near 0.5 (where p/(1-p) = (1-p)/p)."""
    value = float(rng.uniform(low, high))
    return value if abs(value - 0.5) > 0.05 else value + 0.1


def _noise_case(rng: np.random.Generator, n: int, hidden: int, c: int, p: float,
                b_scale: float = 1.0) -> tuple:
    h = np.maximum(rng.standard_normal((n, hidden)), 0)   # after a ReLU: some exact zeros
    return h, rng.standard_normal((hidden, c)), b_scale * rng.standard_normal(c), p


def _noise_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_logit_noise
    return (
        Case.of("a batch after a ReLU, p 0.1 to 0.4", _noise_case(
            rng, _int(rng, 3, 6), _int(rng, 4, 9), _int(rng, 2, 5), _drop(rng, 0.1, 0.4)), judge),
        Case.of("one example, many classes", _noise_case(
            rng, 1, _int(rng, 5, 10), _int(rng, 8, 12), _drop(rng, 0.2, 0.4)), judge),
        Case.of("a high drop rate (0.7 to 0.9)", _noise_case(
            rng, _int(rng, 2, 5), _int(rng, 4, 9), _int(rng, 2, 5), _drop(rng, 0.7, 0.9)), judge),
        Case.of("an output bias of size 3 to 6", _noise_case(
            rng, _int(rng, 2, 5), _int(rng, 4, 9), _int(rng, 2, 5), _drop(rng, 0.15, 0.4),
            b_scale=float(rng.uniform(3, 6))), judge),
        Case.of("p = 0: no dropout", _noise_case(
            rng, _int(rng, 2, 5), _int(rng, 3, 7), _int(rng, 2, 4), 0.0), judge),
    )


LOGIT_NOISE_SD = Exercise(
    id="ch02.logit_noise_sd",
    function="logit_noise_sd",
    params=("h", "w", "b", "p"),
    case_generator=_noise_cases,
)


# ------------------------------------- 3. does the Monte-Carlo average settle the digit?
MD_VOTE = ("the Monte-Carlo prediction is the class with the highest AVERAGED probability, "
           "not the class most masks vote for")
MD_UNPAIRED = ("both probabilities come from the SAME masks: take their difference mask by "
               "mask (a paired comparison) and the standard error of its mean; the two "
               "classes' own spreads ignore that they move together")
MD_SD = ("the noise of a MEAN over K masks is its standard error, std(d, ddof=1) / sqrt(K), "
         "not the standard deviation of single masks")
MD_DDOF0 = ("use the sample standard deviation, std(d, ddof=1), for the standard error "
            "(ddof=0 understates the noise)")
MD_PER_MASK = ("compare the SAME two classes in every mask (the predicted class and the "
               "runner-up of the averaged probabilities), not each mask's own runner-up")


def _decision(probs: np.ndarray, vote: bool = False, yardstick: str = "paired",
              per_mask: bool = False) -> tuple:
    """yardstick: "paired" (right), "unpaired" (the two classes' variances added),
    "sum_se" (their standard errors added), "sd", "ddof0"."""
    """(predicted, resolved) of the exercise's rule, or of a mistake's variation."""
    k, n, c = probs.shape
    mean = probs.mean(axis=0)
    if vote:
        votes = probs.argmax(axis=2)                                  # (K, N)
        predicted = np.array([np.bincount(votes[:, i], minlength=c).argmax() for i in range(n)])
    else:
        predicted = mean.argmax(axis=1)
    order = np.argsort(mean, axis=1)
    runner_up = np.where(order[:, -1] == predicted, order[:, -2], order[:, -1])
    rows = np.arange(n)
    top = probs[:, rows, predicted]                                   # (K, N)
    if per_mask:
        others = probs.copy()
        others[:, rows, predicted] = -np.inf
        second = others.max(axis=2)
    else:
        second = probs[:, rows, runner_up]
    d = top - second
    if yardstick == "unpaired":
        noise = np.sqrt(top.var(axis=0, ddof=1) + second.var(axis=0, ddof=1)) / np.sqrt(k)
    elif yardstick == "sum_se":
        noise = (top.std(axis=0, ddof=1) + second.std(axis=0, ddof=1)) / np.sqrt(k)
    elif yardstick == "sd":
        noise = d.std(axis=0, ddof=1)
    elif yardstick == "ddof0":
        noise = d.std(axis=0) / np.sqrt(k)
    else:
        noise = d.std(axis=0, ddof=1) / np.sqrt(k)
    return predicted, d.mean(axis=0) > 2 * noise


def _judge_decision(inputs: tuple, output) -> Optional[Failure]:
    (probs,) = inputs
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        return Failure(f"expected a tuple (predicted, resolved), got {describe(output)}",
                       "end with `return predicted, resolved`")
    predicted, resolved = _decision(probs)
    n = probs.shape[1]
    got_predicted = np.asarray(output[0])
    if got_predicted.shape != (n,) or got_predicted.dtype.kind not in "iub":
        return Failure(f"predicted: expected {n} class indices (integers), got "
                       f"{describe(output[0])}", "one class index per example: argmax over "
                       "the classes (axis=1) of the averaged probabilities")
    if not np.array_equal(got_predicted, predicted):
        vote = _decision(probs, vote=True)[0]
        hint = MD_VOTE if np.array_equal(got_predicted, vote) else ""
        return Failure(f"predicted: expected {predicted.tolist()}, got {got_predicted.tolist()}",
                       hint)
    got_resolved = np.asarray(output[1])
    if got_resolved.shape != (n,):
        return Failure(f"resolved: expected {n} booleans, got {describe(output[1])}",
                       "one True/False per example")
    try:
        got_resolved = got_resolved.astype(bool)
    except (TypeError, ValueError):
        return Failure(f"resolved: expected booleans, got {describe(output[1])}")
    if np.array_equal(got_resolved, resolved):
        return None
    # each mistake with the variants that make it (the two classes' own spreads, added as
    # variances or as standard errors, are one mistake: ignoring that the classes co-move)
    wrong = {MD_UNPAIRED: [_decision(probs, yardstick="unpaired")[1],
                           _decision(probs, yardstick="sum_se")[1]],
             MD_SD: [_decision(probs, yardstick="sd")[1]],
             MD_DDOF0: [_decision(probs, yardstick="ddof0")[1]],
             MD_PER_MASK: [_decision(probs, per_mask=True)[1]]}
    return Failure(f"resolved: expected {resolved.astype(int).tolist()}, got "
                   f"{got_resolved.astype(int).tolist()} (1 = resolved)",
                   suspects=tuple(sorted(hint for hint, values in wrong.items()
                                         if any(np.array_equal(got_resolved, value)
                                                for value in values))))


def _standardised(rng: np.random.Generator, k: int) -> np.ndarray:
    z = rng.standard_normal(k)
    return (z - z.mean()) / z.std(ddof=1)


def _margin_example(rng: np.random.Generator, k: int, c: int, t: float) -> np.ndarray:
    """K samples of C probabilities whose best and second-best class differ by a paired
    t statistic of exactly t (mean difference / its standard error, ddof=1); the other
    classes share what is left, below both in every sample. Returns (K, C)."""
    spread = float(rng.uniform(0.02, 0.05))
    d = t * spread / np.sqrt(k) + spread * _standardised(rng, k)
    base = float(rng.uniform(0.4, 0.45)) if c > 2 else 0.5
    probs = np.empty((k, c))
    probs[:, 0], probs[:, 1] = base + d / 2, base - d / 2
    if c > 2:
        probs[:, 2:] = (1 - 2 * base) * rng.dirichlet(np.ones(c - 2), size=k)
    return probs


def _vote_example(rng: np.random.Generator, k: int, c: int) -> np.ndarray:
    """The best class by the mean wins a minority of the masks, by a lot."""
    wins = int(round(k * float(rng.uniform(0.25, 0.4))))
    loss = float(rng.uniform(0.01, 0.03))
    gain = loss * (k - wins) / wins * float(rng.uniform(1.5, 2.5))
    d = np.full(k, -loss)
    d[rng.permutation(k)[:wins]] = gain
    base = 0.45 if c > 2 else 0.5
    probs = np.empty((k, c))
    probs[:, 0], probs[:, 1] = base + d / 2, base - d / 2
    if c > 2:
        probs[:, 2:] = (1 - 2 * base) * rng.dirichlet(np.ones(c - 2), size=k)
    return probs


def _switching_runner_up(rng: np.random.Generator, k: int, c: int, t: float) -> np.ndarray:
    """Two runner-up classes that take turns being second from mask to mask; the best
    class beats the first of them (by the mean) with a paired t statistic of exactly t."""
    e = float(rng.uniform(0.04, 0.06)) * rng.choice([-1.0, 1.0], size=k) \
        + 0.005 * rng.standard_normal(k)
    e -= e.mean()
    top_noise = 0.02 * _standardised(rng, k)
    first = float(rng.uniform(0.28, 0.31))
    d = top_noise - e                             # best minus first runner-up, less its mean
    margin = t * d.std(ddof=1) / np.sqrt(k) + 0.002
    probs = np.zeros((k, c))
    probs[:, 0] = first + top_noise
    probs[:, 1] = first - margin + e + 0.002
    probs[:, 2] = first - margin - e - 0.002
    rest = 1 - probs[:, :3].sum(axis=1)
    probs[:, 3:] = rest[:, None] * rng.dirichlet(np.ones(c - 3), size=k)
    return probs


def _comoving_example(rng: np.random.Generator, k: int, c: int, t: float) -> np.ndarray:
    """The best and second class rise and fall TOGETHER from mask to mask (the other
    classes absorb the mass), and differ by a paired t statistic of exactly t: each
    class's own spread is large, the spread of their difference small, so any yardstick
    built from the two classes' own spreads says "unresolved" where pairing resolves.
    Needs c >= 6, so that the other classes stay below the second in every mask."""
    common = float(rng.uniform(0.08, 0.1)) * (2 * rng.random(k) - 1)     # shared swing
    # the mean difference: half of the line of the classes' own spreads, whatever t is
    margin = 0.5 * 2 * np.sqrt(2) * common.std(ddof=1) / np.sqrt(k)
    spread = margin * np.sqrt(k) / t
    d = margin + spread * _standardised(rng, k)
    second = float(rng.uniform(0.31, 0.33)) + common
    probs = np.empty((k, c))
    probs[:, 0], probs[:, 1] = second + d, second
    rest = 1 - probs[:, 0] - probs[:, 1]
    probs[:, 2:] = rest[:, None] * rng.dirichlet(np.full(c - 2, 50.0), size=k)
    return probs


def _assemble(rng: np.random.Generator, examples: list) -> np.ndarray:
    """Examples (each (K, C)) into one (K, N, C) array, the classes of each shuffled."""
    return np.stack([example[:, rng.permutation(example.shape[1])] for example in examples],
                    axis=1)


def _ddof_ts(k: int) -> list:
    """Paired t statistics on both sides of every wrong yardstick's line: between the
    ddof=0 and ddof=1 lines, between 1.96 and the ddof=0 line, below 2 / sqrt(2) (where
    an unpaired yardstick of anticorrelated classes says yes), and far above."""
    low = 2 * np.sqrt((k - 1) / k)
    return [(low + 2) / 2, (1.96 + low) / 2, 1.0, 1.6, 3.0, 6.0]


def _decision_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_decision
    k, c = _int(rng, 40, 60), _int(rng, 3, 6)
    near_line = _assemble(rng, [_margin_example(rng, k, c, t) for t in _ddof_ts(k)])

    k2 = _int(rng, 30, 50)
    pairing = _assemble(rng, [_margin_example(rng, k2, 2, t)
                              for t in (1.2, 1.5, 1.8, 2.5, float(rng.uniform(4, 8)))])

    k3, c3 = _int(rng, 40, 80), _int(rng, 3, 6)
    many = _assemble(rng, [_margin_example(rng, k3, c3, t) for t in
                           (0.5, 4.0, 1.5 * 2 * np.sqrt(k3), 0.8 * 2 * np.sqrt(k3))])

    k4 = _int(rng, 30, 60)
    c4 = _int(rng, 3, 5)
    vote = _assemble(rng, [_vote_example(rng, k4, c4), _margin_example(rng, k4, c4, 5.0),
                           _vote_example(rng, k4, c4)])

    k5 = _int(rng, 40, 60)
    c5 = _int(rng, 4, 6)
    switching = _assemble(rng, [_switching_runner_up(rng, k5, c5, t) for t in (3.5, 5.0)]
                          + [_margin_example(rng, k5, c5, t) for t in (1.0, 6.0)])

    k8, c8 = _int(rng, 40, 60), _int(rng, 6, 8)
    comoving = _assemble(rng, [_comoving_example(rng, k8, c8, t)
                               for t in (3.0, float(rng.uniform(40, 60)), 1.0)])

    k6, n6, c6 = _int(rng, 5, 20), _int(rng, 3, 6), _int(rng, 3, 10)
    one = rng.dirichlet(np.ones(c6), size=n6)
    identical = np.broadcast_to(one, (k6, n6, c6)).copy()

    k7, n7, c7 = _int(rng, 30, 100), _int(rng, 4, 8), _int(rng, 3, 10)
    logits = 2 * rng.standard_normal((n7, c7)) + float(rng.uniform(0.3, 1.5)) * \
        rng.standard_normal((k7, n7, c7))
    network = np.exp(logits - logits.max(axis=2, keepdims=True))
    network /= network.sum(axis=2, keepdims=True)

    return (
        Case.of("margins around the two-standard-error line (ddof matters)", (near_line,), judge),
        Case.of("two classes, anticorrelated (pairing matters)", (pairing,), judge),
        Case.of("many masks, strong and weak margins", (many,), judge),
        Case.of("the best class wins a minority of masks", (vote,), judge),
        Case.of("the runner-up changes from mask to mask", (switching,), judge),
        Case.of("the two best classes rise and fall together (pairing matters)", (comoving,),
                judge),
        Case.of("every mask gives the same probabilities (dropout was off)", (identical,), judge),
        Case.of("softmax samples of a noisy network", (network,), judge),
    )


MC_DECISION = Exercise(
    id="ch02.mc_decision",
    function="mc_decision",
    params=("probs",),
    case_generator=_decision_cases,
)


# ------------------------------------------------- 4. choosing a rate, with its noise
ON_TEST = ("the test set must not choose anything: choose on the validation set; the test "
           "set is looked at once, after every choice is made")
ONE_SEED = ("a single run (one seed, or the best single entry) is mostly noise: average each "
            "rate's validation accuracy over the seeds and take the highest mean")
MEDIAN = ("this chapter's procedure takes the MEAN validation accuracy over the seeds (the "
          "yardstick is a standard error of a mean); a median ignores how bad a bad seed was")
NO_SPREAD = ("the rate with the highest mean is not the only candidate: a rate whose paired "
             "difference from it is within the noise band cannot be told apart from it")
UNPAIRED = ("the seeds are PAIRED (seed s trains every rate from the same initialisation, so "
            "part of its luck is shared): take the per-seed differences d_s and their standard error "
            "std(d, ddof=1) / sqrt(S); comparing the two means with their own spreads lets "
            "the seed-to-seed swings hide real differences")
SD_NOT_SE = ("the noise of a MEAN over S seeds is its standard error, std(d, ddof=1) / "
             "sqrt(S), not the standard deviation of the single differences")
DDOF0 = ("the standard error uses the sample standard deviation, std(d, ddof=1): with a "
         "handful of seeds ddof=0 understates the noise")
TIED_ON_TEST = ("the tied list is a decision too: measure the differences on the validation "
                "accuracies, not the test ones")
TWO_NOT_T = ("with a handful of seeds the band is t standard errors, not 2: t is the 97.5 % "
             "quantile of Student's t for S - 1 degrees of freedom (the table in the "
             "exercise), 2.78 for five seeds")
T_DOF = ("t depends on the number of seeds S in val_acc: the 97.5 % quantile for S - 1 "
         "degrees of freedom (3.18, 2.78, 2.57, 2.45, 2.36 for S = 4, 5, 6, 7, 8), not for S "
         "degrees of freedom, and not 2.78 whatever S is")
SELF = "the chosen rate belongs to the list too (it cannot be told apart from itself)"
INDEX = "return the rate itself (an entry of rates), not its index"


#: The 97.5 % quantile of Student's t by degrees of freedom, as the exercise states it
#: (and 8, which a learner who takes S degrees of freedom for eight seeds looks up).
T_975 = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31}


def _tied(rates: list, acc: np.ndarray, best: int, paired: bool = True, se: bool = True,
          ddof: int = 1, t: object = True) -> list:
    """The sorted rates within t noise units of rates[best] for accuracies acc: t the
    97.5 % quantile of Student's t for n - 1 degrees of freedom (``t`` True); 2 (False);
    the quantile for n degrees of freedom ("dof_s"); 2.78 whatever n is ("fixed")."""
    n = acc.shape[1]
    factor = {True: T_975[n - 1], False: 2.0, "dof_s": T_975[n], "fixed": 2.78}[t]
    d = acc[best] - acc                                    # one row per rate
    spread = (d.std(axis=1, ddof=ddof) if paired else
              np.sqrt(acc[best].var(ddof=ddof) + acc.var(axis=1, ddof=ddof)))
    within = d.mean(axis=1) <= factor * spread / (np.sqrt(n) if se else 1.0)
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
        TWO_NOT_T: [(rates[best], _tied(rates, val, best, t=False))],
        T_DOF: [(rates[best], _tied(rates, val, best, t="dof_s")),
                (rates[best], _tied(rates, val, best, t="fixed"))],
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
    """No rate sits exactly on the t-SE line (rounding could then decide), and no two
    rates share the best mean."""
    means = val.mean(axis=1)
    best = int(np.argmax(means))
    if np.sum(np.isclose(means, means[best])) > 1:
        return False
    for i in range(len(rates)):
        d = val[best] - val[i]
        line = T_975[val.shape[1] - 1] * np.std(d, ddof=1) / np.sqrt(val.shape[1])
        if i != best and abs(d.mean() - line) < 0.02:
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
            "sd": _tied(rates, val, best, se=False), "two": _tied(rates, val, best, t=False),
            "dof_s": _tied(rates, val, best, t="dof_s"), "fixed": _tied(rates, val, best, t="fixed"),
            "unpaired": _tied(rates, val, best, paired=False), "test": _tied(rates, test, best),
            "alone": [rates[best]], "without": [r for r in right if r != rates[best]]}


def _own_lists(*names: str, siblings: tuple = ()) -> Callable:
    """The condition: each named yardstick gives a tied list that no other yardstick
    (the right one included) gives, apart from ``siblings`` (variants of the same
    mistake, which share its hint)."""
    def condition(rates, val, test) -> bool:
        lists = _tied_lists(rates, val, test)
        return all(lists[name] != lists[other] for name in names for other in lists
                   if other != name and other not in siblings)
    condition.__name__ = f"own tied lists for {', '.join(names)}"
    return condition


_noise_yardsticks_disagree = _own_lists("ddof0")            # about 3 % of sweeps
_two_is_not_t = _own_lists("two")
_t_for_s_minus_1 = _own_lists("dof_s", siblings=("fixed",))
_t_for_this_s = _own_lists("fixed", siblings=("dof_s",))
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
        Case.of("a rate close to the edge of the band (ddof matters)",
                _sweep_where(rng, _noise_yardsticks_disagree), judge),
        Case.of("a large seed effect (pairing and the standard error matter)",
                _sweep_where(rng, _pairing_matters, seed_sd=5.0), judge),
        Case.of("a sweep with no condition", _sweep_where(rng, lambda *sweep: True), judge),
        Case.of("a rate between two and t standard errors (the t quantile matters)",
                _sweep_where(rng, _two_is_not_t), judge),
        Case.of("a rate between the t lines of S and S - 1 degrees of freedom",
                _sweep_where(rng, _t_for_s_minus_1), judge),
        Case.of("a number of seeds whose t is not five seeds' 2.78",
                _sweep_where(rng, _t_for_this_s), judge),
    )


CHOOSE_RATE = Exercise(
    id="ch02.choose_rate",
    function="choose_rate",
    params=("rates", "val_acc", "test_acc"),
    case_generator=_rate_cases,
)

EXERCISES = [KEEP_DROPOUT_BACKWARD, LOGIT_NOISE_SD, MC_DECISION, CHOOSE_RATE]

#: Every hint that names a mistake, per exercise: tests/exercises/test_exercises_ch02.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    KEEP_DROPOUT_BACKWARD.id: (KB_INVERTED, KB_TIMES_KEEP, KB_W2_UNMASKED, KB_H_UNMASKED,
                               KB_MASK_FLIPPED, KB_NO_RELU, KB_BIAS_MEAN, KB_AVERAGED),
    LOGIT_NOISE_SD.id: (NS_VARIANCE, NS_KEEP_RATIO, NS_UNSCALED, NS_SUM_SD, NS_ONE_COIN,
                        NS_BIAS),
    MC_DECISION.id: (MD_VOTE, MD_UNPAIRED, MD_SD, MD_DDOF0, MD_PER_MASK),
    CHOOSE_RATE.id: (ON_TEST, ONE_SEED, MEDIAN, NO_SPREAD, UNPAIRED, SD_NOT_SE, DDOF0,
                     TWO_NOT_T, T_DOF, TIED_ON_TEST, SELF, INDEX),
}
