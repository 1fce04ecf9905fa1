"""Chapter 3 exercises (vanishing and exploding gradients): the cases and the classic mistakes.

The references are computed in float64 from each case's own inputs with the formulas
the chapter derives (tests/test_exercises_ch03.py checks them against mlpcore.init,
mlpcore.clip and mlpcore.BatchNorm1d). Random initialisations are judged by their
statistics, not by their exact draws, so any correct way of sampling passes: the
tolerances sit at more than six standard errors of a correct answer, and the plausible
wrong answers sit far outside them.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from mlpcore.exercises._compare import compare_array, compare_outputs, describe
from mlpcore.exercises._registry import Case, Exercise, Failure, fixed_cases


# ------------------------------------------------------- 1. Xavier and He for (in, out)
XAVIER, HE = "xavier_uniform", "he_normal"
LAYOUT = ("mlpcore stores a weight as (in, out) so that a layer computes x @ W: "
          "return shape (fan_in, fan_out), not PyTorch's (out, in)")
BOUND_IS_STD = ("a uniform U(-a, a) has variance a²/3, so for variance v the bound is "
                "a = sqrt(3 v), not sqrt(v)")


def _expected_variance(scheme: str, fan_in: int, fan_out: int) -> float:
    return 2.0 / (fan_in + fan_out) if scheme == XAVIER else 2.0 / fan_in


def _variance_mistakes(scheme: str, fan_in: int, fan_out: int) -> list[tuple[float, str]]:
    """(wrong variance, hint) pairs: the slips that give a different variance."""
    if scheme == XAVIER:
        return [(2.0 / fan_in, "that is He's variance 2/fan_in; Xavier averages the forward "
                               "and backward conditions: Var = 2 / (fan_in + fan_out)"),
                (2.0 / (3 * (fan_in + fan_out)), BOUND_IS_STD),
                (1.0 / (fan_in + fan_out), "Var = 2 / (fan_in + fan_out): the 2 comes from "
                                           "averaging 1/fan_in and 1/fan_out harmonically"),
                (1.0 / fan_in, "1/fan_in is PyTorch's default Linear variance times 3, "
                               "not Xavier: Var = 2 / (fan_in + fan_out)")]
    return [(1.0 / fan_in, "ReLU zeroes half of its input, halving the second moment: "
                           "He doubles the variance, Var = 2 / fan_in"),
            (2.0 / fan_out, "He's fan_in mode uses the number of INPUTS: Var = 2 / fan_in "
                            "(fan_in = shape[0] in the (in, out) layout)"),
            (2.0 / (fan_in + fan_out), "that is Xavier's variance; for ReLU use He's "
                                       "Var = 2 / fan_in"),
            ((2.0 / fan_in) ** 2, "the variance is 2/fan_in, so the STANDARD DEVIATION "
                                      "(NumPy's `scale`) is sqrt(2 / fan_in)")]


def _judge_init(inputs: tuple, output) -> Optional[Failure]:
    fan_in, fan_out, scheme, _ = inputs
    if output is None or not isinstance(output, np.ndarray):
        return Failure(f"expected a NumPy array of shape {(fan_in, fan_out)}, got "
                       f"{describe(output)}", "return the weight array you drew")
    weight = np.asarray(output, dtype=np.float64)
    if weight.shape != (fan_in, fan_out):
        hint = LAYOUT if weight.shape == (fan_out, fan_in) else ""
        return Failure(f"expected shape {(fan_in, fan_out)}, got {weight.shape}", hint)
    if not np.all(np.isfinite(weight)):
        return Failure("the weight has NaN or inf entries", "")
    variance, mean = float(weight.var()), float(weight.mean())
    want = _expected_variance(scheme, fan_in, fan_out)
    n = weight.size
    # A correct draw's sample variance has relative s.e. sqrt((kurtosis - 1) / n):
    # sqrt(0.8 / n) for a uniform, sqrt(2 / n) for a normal. 8 s.e. is the tolerance.
    tolerance = 8 * math.sqrt(2.0 / n)
    if abs(variance / want - 1) > tolerance or abs(mean) > 8 * math.sqrt(want / n):
        message = (f"the entries have mean {mean:.3g} and variance {variance:.4g}; expected "
                   f"mean 0 and variance {want:.4g} (±{100 * tolerance:.1f} %)")
        for wrong, hint in _variance_mistakes(scheme, fan_in, fan_out):
            if abs(variance / wrong - 1) < tolerance:
                return Failure(message, hint)
        if abs(mean) > 8 * math.sqrt(want / n):
            return Failure(message, "the weights must be centred on 0: U(-a, a) or N(0, std²)")
        return Failure(message, f"the variance is {variance / want:.3g} times the expected one")
    return _judge_family(weight, scheme, want)


def _judge_family(weight: np.ndarray, scheme: str, variance: float) -> Optional[Failure]:
    largest = float(np.max(np.abs(weight)))
    bound = math.sqrt(3 * variance)
    if scheme == XAVIER and largest > bound * (1 + 1e-6):
        return Failure(f"an entry of size {largest:.4g} lies outside ±{bound:.4g}",
                       "Xavier uniform draws from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); "
                       "a normal distribution has tails beyond any bound")
    if scheme == HE and largest < 1.2 * bound:
        return Failure(f"every entry lies within ±{largest:.4g}, as a uniform draw would; a "
                       f"normal of this size reaches beyond ±{1.2 * bound:.4g}",
                       "He normal draws from a NORMAL distribution: rng.normal(0, std, size=...)")
    return None


def _init_inputs(fan_in: int, fan_out: int, scheme: str, seed: int):
    return lambda: (fan_in, fan_out, scheme, np.random.default_rng(seed))


def _random_init_case(seed: int, scheme: str) -> Case:
    sizes = np.random.default_rng(seed).integers(40, 400, size=2)
    fan_in, fan_out = int(sizes[0]), int(sizes[1])
    return Case(f"{scheme}, random fans {fan_in} → {fan_out} (seed {seed})",
                _init_inputs(fan_in, fan_out, scheme, seed + 1), _judge_init)


INIT_WEIGHT = Exercise(
    id="ch03.init_weight",
    function="init_weight",
    params=("fan_in", "fan_out", "scheme", "rng"),
    summary="Xavier-uniform or He-normal weights in mlpcore's (in, out) layout",
    case_generator=fixed_cases(
        Case("xavier_uniform, 300 → 100", _init_inputs(300, 100, XAVIER, 1), _judge_init),
        Case("he_normal, 256 → 512", _init_inputs(256, 512, HE, 2), _judge_init),
        Case("he_normal, 400 → 80", _init_inputs(400, 80, HE, 3), _judge_init),
        _random_init_case(30, XAVIER),
        _random_init_case(31, HE),
        _random_init_case(32, XAVIER),
    ),
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


def _clip_reference(grads: list, max_norm: float) -> tuple[list, float]:
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    return [g * factor for g in grads], total


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
    total_mistakes = [(np.float64(min(total, max_norm)), NORM_AFTER),
                      (np.float64(total ** 2), SQUARED)]
    failure = compare_array("total_norm", np.float64(got_total) if np.isscalar(got_total)
                            else got_total, np.float64(total), mistakes=total_mistakes, rtol=1e-5)
    if failure is not None:
        return failure
    for index, (grad, want, got) in enumerate(zip(grads, clipped, got_grads)):
        own = float(np.linalg.norm(grad))
        mistakes = [(grad * min(1.0, max_norm / own), PER_TENSOR),
                    (grad * max_norm / total, ALWAYS_SCALE),
                    (np.clip(grad, -max_norm, max_norm), VALUE_CLIP)]
        failure = compare_array(f"clipped_grads[{index}]", got, want, mistakes=mistakes,
                                rtol=1e-5, atol=1e-9)
        if failure is not None:
            return failure
    return None


def _clip_inputs(seed: int, shapes: list, scale: float, max_norm: float):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        return [scale * rng.standard_normal(shape) for shape in shapes], max_norm
    return make


def _random_clip_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(2, 5))
    shapes = [tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(1, 3))))
              for _ in range(count)]
    scale = float(rng.choice([0.3, 3.0, 30.0]))
    max_norm = float(rng.uniform(2.0, 6.0))
    return Case(f"random: {count} arrays, scale {scale:g}, max_norm {max_norm:.2f} "
                f"(seed {seed})", _clip_inputs(seed + 100, shapes, scale, max_norm), _judge_clip)


CLIP_GRAD_NORM = Exercise(
    id="ch03.clip_grad_norm",
    function="clip_grad_norm",
    params=("grads", "max_norm"),
    summary="clip a list of gradient arrays by their global L2 norm, like clip_grad_norm_",
    case_generator=fixed_cases(
        Case("two arrays, total norm far above max_norm = 1",
             _clip_inputs(40, [(3, 4), (4,)], 10.0, 1.0), _judge_clip),
        Case("one array with a tiny norm: nothing to clip",
             _clip_inputs(41, [(5,)], 0.1, 5.0), _judge_clip),
        Case("three arrays of very different sizes, max_norm = 2",
             _clip_inputs(42, [(6, 2), (1,), (3, 3)], 5.0, 2.0), _judge_clip),
        _random_clip_case(43),
        _random_clip_case(44),
        _random_clip_case(45),
    ),
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
EPS_OUTSIDE = "eps goes inside the square root: (x - mean) / sqrt(var + eps)"
EPS_MISSING = ("add eps to the variance before the square root, (x - mean) / sqrt(var + eps): "
               "it keeps a feature that is constant over the batch from dividing by zero")


def _judge_batchnorm(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, beta, running_mean, running_var, momentum, eps = inputs
    n = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)
    unbiased = var * n / (n - 1)
    y = gamma * (x - mean) / np.sqrt(var + eps) + beta
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * unbiased
    row_mean, row_var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    mistakes = {
        "y": [(gamma * (x - mean) / np.sqrt(unbiased + eps) + beta, UNBIASED_NORM),
              (gamma * (x - row_mean) / np.sqrt(row_var + eps) + beta, WRONG_AXIS),
              (gamma * (x - mean) / (np.sqrt(var) + eps) + beta, EPS_OUTSIDE),
              (gamma * (x - mean) / np.sqrt(var) + beta, EPS_MISSING),
              ((x - mean) / np.sqrt(var + eps), "scale by gamma and shift by beta: "
                                                "y = gamma * x_hat + beta")],
        "new_running_mean": [(momentum * running_mean + (1 - momentum) * mean, KERAS_MOMENTUM),
                             (running_mean, "update the running mean in training mode")],
        "new_running_var": [(momentum * running_var + (1 - momentum) * unbiased, KERAS_MOMENTUM),
                            ((1 - momentum) * running_var + momentum * var, BIASED_RUNNING),
                            (running_var, "update the running variance in training mode")],
    }
    return compare_outputs(output, ("y", "new_running_mean", "new_running_var"),
                           (y, new_mean, new_var), mistakes=mistakes)


def _bn_inputs(seed: int, n: int, features: int, momentum: float, eps: float = 1e-5,
               shift: float = 0.0):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        x = shift + rng.standard_normal((n, features)) * rng.uniform(0.5, 3.0, size=features)
        gamma = rng.uniform(0.5, 2.0, size=features)
        beta = rng.standard_normal(features)
        running_mean = rng.standard_normal(features)
        running_var = rng.uniform(0.5, 2.0, size=features)
        return x, gamma, beta, running_mean, running_var, momentum, eps
    return make


def _random_bn_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n, features = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    momentum = float(rng.choice([0.1, 0.3, 0.01]))
    return Case(f"random batch {n} × {features}, momentum {momentum:g} (seed {seed})",
                _bn_inputs(seed + 200, n, features, momentum), _judge_batchnorm)


BATCHNORM_TRAIN_FORWARD = Exercise(
    id="ch03.batchnorm_train_forward",
    function="batchnorm_train_forward",
    params=("x", "gamma", "beta", "running_mean", "running_var", "momentum", "eps"),
    summary="BatchNorm1d's forward in training mode, with PyTorch's running statistics",
    case_generator=fixed_cases(
        Case("batch of 4, 3 features, momentum 0.1", _bn_inputs(50, 4, 3, 0.1), _judge_batchnorm),
        Case("batch of 2 (N - 1 = 1), 5 features", _bn_inputs(51, 2, 5, 0.1), _judge_batchnorm),
        Case("features far from zero (shift 50), eps 1e-3",
             _bn_inputs(52, 6, 4, 0.1, eps=1e-3, shift=50.0), _judge_batchnorm),
        _random_bn_case(53),
        _random_bn_case(54),
        _random_bn_case(55),
    ),
)


# ------------------------------------- 4. the init scale that keeps 50 layers stable
DEPTH = 50
BAND = 0.10


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
    if not isinstance(output, (int, float, np.floating)) or not math.isfinite(output) \
            or output <= 0:
        return Failure(f"expected a positive number (the weights' std), got {describe(output)}",
                       "return one float, the standard deviation of the weights")
    ratio = _std_ratio(float(output), fan_in, activation, slope)
    if abs(ratio - 1) <= BAND:
        return None
    message = (f"with std {float(output):.4g} the activation std changes by a factor "
               f"{ratio:.3g} over {DEPTH} layers (wanted within ±{BAND:.0%})")
    return Failure(message, _stable_std_hint(float(output), fan_in, activation, slope))


def _stable_std_hint(got: float, fan_in: int, activation: str, slope: float) -> str:
    close = lambda value: abs(got / value - 1) < 1e-3  # noqa: E731
    if close(math.sqrt(2.0 / fan_in)) and activation == "leaky_relu":
        return ("He's sqrt(2 / fan_in) assumes the negative half is zeroed; a leaky ReLU "
                "keeps slope² of it: E[phi(z)²] = (1 + slope²) / 2 · Var[z]")
    if close(math.sqrt(2.0 / fan_in)) and activation == "linear":
        return ("a linear layer keeps the whole second moment, so no factor 2 is needed: "
                "Var[W] = 1 / fan_in")
    if close(1.0 / math.sqrt(fan_in)) and activation != "linear":
        return ("1 / fan_in keeps the variance of a LINEAR layer; the activation removes "
                "part of the second moment, which the weights must give back")
    if close(2.0 / fan_in) or close(1.0 / fan_in) or \
            close(1.0 / (fan_in * _second_moment_factor(activation, slope))):
        return "you returned a variance; return the standard deviation (its square root)"
    if activation == "leaky_relu" and close(math.sqrt(2.0 / (fan_in * (1 + slope)))):
        return "the negative side keeps slope SQUARED of the second moment: (1 + slope²) / 2"
    return ("one layer multiplies the second moment by fan_in · Var[W] · E[phi(z)²] / Var[z]; "
            "over 50 layers that factor must stay within about 0.4 % of 1")


def _stable_inputs(fan_in: int, activation: str, slope: float = 0.0):
    return lambda: (fan_in, activation, slope)


def _random_stable_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    fan_in = int(rng.integers(16, 1024))
    slope = round(float(rng.uniform(0.05, 0.6)), 3)
    return Case(f"leaky_relu, slope {slope:g}, fan_in {fan_in} (seed {seed})",
                _stable_inputs(fan_in, "leaky_relu", slope), _judge_stable_std)


STABLE_INIT_STD = Exercise(
    id="ch03.stable_init_std",
    function="stable_init_std",
    params=("fan_in", "activation", "negative_slope"),
    summary="the weight std that keeps the activation std within 10 % over 50 layers",
    case_generator=fixed_cases(
        Case("relu, fan_in 256", _stable_inputs(256, "relu"), _judge_stable_std),
        Case("linear, fan_in 100", _stable_inputs(100, "linear"), _judge_stable_std),
        Case("leaky_relu, slope 0.2, fan_in 128", _stable_inputs(128, "leaky_relu", 0.2),
             _judge_stable_std),
        Case("leaky_relu, slope 1 (a linear layer in disguise), fan_in 64",
             _stable_inputs(64, "leaky_relu", 1.0), _judge_stable_std),
        _random_stable_case(60),
        _random_stable_case(61),
    ),
)


# ------------------------------------------------ 5. which network is sick, of what?
LABELS = ("healthy", "vanishing", "exploding", "saturated", "dead")
LOG10 = math.log(10)

_WHY = {
    "healthy": ("nothing is wrong here: the activation std stays within a small factor "
                "over depth, the layer-1 / last-layer gradient ratio is near 1, no unit is "
                "saturated or dead, and the initial loss is near log 10 ≈ 2.3"),
    "vanishing": ("the signal or the gradient shrinks geometrically towards the input (look "
                  "at the activation std per layer and the gradient ratio), while few units "
                  "are saturated or dead: that is vanishing"),
    "exploding": ("the activation std grows layer after layer and the initial loss is far "
                  "above log 10; the weight-gradient ratio is blind to it: for ReLU with zero "
                  "biases it stays near 1, because every layer's gradient grows by the same "
                  "factor"),
    "saturated": ("most tanh/sigmoid outputs sit in the flat tails (the saturated fraction "
                  "is high): whether the gradients shrink or grow, the cause to name is "
                  "saturation"),
    "dead": ("a large fraction of the ReLU units output 0 for every example (the dead "
             "fraction): they pass no gradient at all, which is dying ReLU, not a scale "
             "problem"),
}


def _profile(activation: str, act_std, saturated, dead, grad_norm, initial_loss: float) -> dict:
    return {"activation": activation, "act_std": np.asarray(act_std, dtype=np.float64),
            "saturated": np.asarray(saturated, dtype=np.float64),
            "dead": np.asarray(dead, dtype=np.float64),
            "grad_norm": np.asarray(grad_norm, dtype=np.float64),
            "initial_loss": float(initial_loss)}


def _make_profile(label: str, seed: int, layers: int) -> dict:
    """A diagnostics profile with the signature of ``label``, drawn at random."""
    rng = np.random.default_rng(seed)
    depth = np.arange(layers)
    jitter = lambda scale: np.exp(scale * rng.standard_normal(layers))  # noqa: E731
    zeros = np.zeros(layers)
    low = lambda top: rng.uniform(0.0, top, size=layers)  # noqa: E731
    if label == "healthy":
        activation = str(rng.choice(["tanh", "relu"]))
        std = rng.uniform(0.5, 1.0) * jitter(0.08)
        grads = rng.uniform(0.05, 0.5) * jitter(0.25) * rng.uniform(0.5, 1.5) ** (depth / layers)
        return _profile(activation, std, low(0.03) if activation == "tanh" else zeros,
                        low(0.15) if activation == "relu" else zeros,
                        np.append(grads, grads[-1] * rng.uniform(0.5, 2)),
                        LOG10 + rng.uniform(-0.1, 0.1))
    if label == "vanishing":
        if rng.random() < 0.5:   # sigmoid, small gradients near the input
            factor = rng.uniform(0.15, 0.4)
            grads = rng.uniform(0.01, 0.1) * factor ** (layers - depth) * jitter(0.1)
            return _profile("sigmoid", rng.uniform(0.05, 0.15) * jitter(0.1), low(0.03),
                            zeros, np.append(grads, grads[-1] / factor),
                            LOG10 + rng.uniform(-0.05, 0.05))
        factor = rng.uniform(0.4, 0.75)   # a ReLU net initialised too small
        std = factor ** (depth + 1) * jitter(0.05)
        grads = 10 ** rng.uniform(-12, -6) * jitter(0.1)
        return _profile("relu", std, zeros, low(0.15), np.append(grads, grads[-1]),
                        LOG10 + rng.uniform(-0.01, 0.01))
    if label == "exploding":
        factor = rng.uniform(1.4, 2.2)
        std = factor ** (depth + 1) * jitter(0.05)
        grads = 10 ** rng.uniform(3, 8) * jitter(0.1)
        return _profile("relu", std, zeros, low(0.15), np.append(grads, grads[-1]),
                        rng.uniform(20, 1e3) * LOG10)
    if label == "saturated":
        activation = str(rng.choice(["tanh", "sigmoid"]))
        # large weights can outweigh the small derivatives: the gradient may shrink or grow
        factor = rng.uniform(0.5, 0.8) if seed % 2 else rng.uniform(1.2, 1.5)
        grads = rng.uniform(1e-3, 1e-2) * factor ** (layers - depth)
        return _profile(activation, rng.uniform(0.4, 0.98) * jitter(0.02),
                        rng.uniform(0.6, 0.97, size=layers), zeros,
                        np.append(grads, grads[-1] * 3), rng.uniform(3, 12))
    if label == "dead":
        dead = rng.uniform(0.4, 0.9, size=layers)
        std = rng.uniform(0.1, 0.6) * jitter(0.1)
        grads = rng.uniform(1e-3, 1e-1) * jitter(0.4)
        return _profile("relu", std, zeros, dead, np.append(grads, grads[-1]),
                        LOG10 + rng.uniform(-0.2, 0.5))
    raise ValueError(f"unknown label {label!r}")


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


def _diagnosis_case(label: str, seed: int, layers: int, note: str = "") -> Case:
    return Case(f"a {layers}-layer network{note} (seed {seed})",
                lambda: (_make_profile(label, seed, layers),), _judge_diagnosis(label))


DIAGNOSE = Exercise(
    id="ch03.diagnose",
    function="diagnose",
    params=("profile",),
    summary="name the pathology behind a network's diagnostics",
    case_generator=fixed_cases(*(_diagnosis_case(label, seed, layers) for label, seed, layers in (
        ("healthy", 70, 20), ("vanishing", 71, 20), ("exploding", 72, 20),
        ("saturated", 73, 20), ("dead", 74, 20), ("vanishing", 75, 30), ("healthy", 76, 12),
        ("exploding", 77, 12), ("saturated", 78, 30), ("dead", 79, 12), ("vanishing", 80, 12),
    ))),
)

EXERCISES = [INIT_WEIGHT, CLIP_GRAD_NORM, BATCHNORM_TRAIN_FORWARD, STABLE_INIT_STD, DIAGNOSE]
