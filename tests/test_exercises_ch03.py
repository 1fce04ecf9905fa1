"""Chapter 3's graded exercises, checked in-process (as `check` runs in a notebook).

The reference solutions are read from book/03_vanishing_exploding_gradients.ipynb.
MUTANTS are plausible learner mistakes: each must lose points AND get the hint that
names its mistake, or the cases grade nothing. The student edition's stubs score 0.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fixtures.exercise_checks import assert_mutant_caught, define, solutions_from
from fixtures.exercise_notebooks import edition_path, load_tool
from mlpcore import BatchNorm1d, Parameter, init
from mlpcore.clip import clip_grad_norm_
from mlpcore.exercises import chapter_exercises, check, get_exercise
from mlpcore.exercises._notebook import find_exercise_source, load_cells
from mlpcore.exercises import ch03

NOTEBOOK = Path(__file__).resolve().parent.parent / "book" / "03_vanishing_exploding_gradients.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(NOTEBOOK), "ch03")


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    # ---- ch03.init_weight
    ("ch03.init_weight", "pytorch_layout", """
        def init_weight(fan_in, fan_out, scheme, rng):
            if scheme == "xavier_uniform":
                a = np.sqrt(6 / (fan_in + fan_out))
                return rng.uniform(-a, a, size=(fan_out, fan_in))
            return rng.normal(0, np.sqrt(2 / fan_in), size=(fan_out, fan_in))
        """, "(in, out)"),
    ("ch03.init_weight", "bound_is_std", """
        def init_weight(fan_in, fan_out, scheme, rng):
            if scheme == "xavier_uniform":
                a = np.sqrt(2 / (fan_in + fan_out))
                return rng.uniform(-a, a, size=(fan_in, fan_out))
            return rng.normal(0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))
        """, "a²/3"),
    ("ch03.init_weight", "he_without_factor_two", """
        def init_weight(fan_in, fan_out, scheme, rng):
            if scheme == "xavier_uniform":
                a = np.sqrt(6 / (fan_in + fan_out))
                return rng.uniform(-a, a, size=(fan_in, fan_out))
            return rng.normal(0, np.sqrt(1 / fan_in), size=(fan_in, fan_out))
        """, "halving the second moment"),
    ("ch03.init_weight", "variance_as_scale", """
        def init_weight(fan_in, fan_out, scheme, rng):
            if scheme == "xavier_uniform":
                a = np.sqrt(6 / (fan_in + fan_out))
                return rng.uniform(-a, a, size=(fan_in, fan_out))
            return rng.normal(0, 2 / fan_in, size=(fan_in, fan_out))
        """, "STANDARD DEVIATION"),
    ("ch03.init_weight", "he_for_both", """
        def init_weight(fan_in, fan_out, scheme, rng):
            if scheme == "xavier_uniform":
                a = np.sqrt(6 / fan_in)
                return rng.uniform(-a, a, size=(fan_in, fan_out))
            return rng.normal(0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))
        """, "He's variance"),
    ("ch03.init_weight", "uniform_for_he", """
        def init_weight(fan_in, fan_out, scheme, rng):
            a = np.sqrt(6 / (fan_in + fan_out)) if scheme == "xavier_uniform" else np.sqrt(6 / fan_in)
            return rng.uniform(-a, a, size=(fan_in, fan_out))
        """, "NORMAL"),
    # ---- ch03.clip_grad_norm
    ("ch03.clip_grad_norm", "per_tensor", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], total
        """, "ALL gradients together"),
    ("ch03.clip_grad_norm", "always_scales", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            return [g * max_norm / total for g in grads], total
        """, "only scale DOWN"),
    ("ch03.clip_grad_norm", "norm_after_clipping", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            factor = min(1.0, max_norm / total)
            return [g * factor for g in grads], total * factor
        """, "BEFORE clipping"),
    ("ch03.clip_grad_norm", "value_clipping", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            return [np.clip(g, -max_norm, max_norm) for g in grads], total
        """, "np.clip"),
    ("ch03.clip_grad_norm", "squared_norm", """
        def clip_grad_norm(grads, max_norm):
            total = float(sum(np.sum(g * g) for g in grads))
            factor = min(1.0, max_norm / np.sqrt(total))
            return [g * factor for g in grads], total
        """, "square root"),
    ("ch03.clip_grad_norm", "in_place", """
        def clip_grad_norm(grads, max_norm):
            total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
            for g in grads:
                g *= min(1.0, max_norm / total)
            return grads, total
        """, "an array inside `grads`"),
    # ---- ch03.batchnorm_train_forward
    ("ch03.batchnorm_train_forward", "unbiased_normalisation", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var)
        """, "BIASED batch variance"),
    ("ch03.batchnorm_train_forward", "biased_running_var", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var)
        """, "UNBIASED"),
    ("ch03.batchnorm_train_forward", "keras_momentum", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = len(x)
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return (y, momentum * running_mean + (1 - momentum) * mean,
                    momentum * running_var + (1 - momentum) * var * n / (n - 1))
        """, "NEW value"),
    ("ch03.batchnorm_train_forward", "per_example_statistics", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = len(x)
            mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            m, v = x.mean(axis=0), x.var(axis=0) * n / (n - 1)
            return y, (1 - momentum) * running_mean + momentum * m, (1 - momentum) * running_var + momentum * v
        """, "each FEATURE over the batch"),
    ("ch03.batchnorm_train_forward", "eps_outside_sqrt", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = len(x)
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / (np.sqrt(var) + eps) + beta
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "inside the square root"),
    ("ch03.batchnorm_train_forward", "no_eps", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = len(x)
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var) + beta
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "add eps to the variance"),
    # ---- ch03.stable_init_std
    ("ch03.stable_init_std", "he_everywhere", """
        def stable_init_std(fan_in, activation, negative_slope):
            return np.sqrt(2 / fan_in)
        """, "slope²"),
    ("ch03.stable_init_std", "lecun_everywhere", """
        def stable_init_std(fan_in, activation, negative_slope):
            return 1 / np.sqrt(fan_in)
        """, "part of the second moment"),
    ("ch03.stable_init_std", "returns_variance", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, (1 + negative_slope ** 2) / 2)
            return 1 / (fan_in * kept)
        """, "returned a variance"),
    ("ch03.stable_init_std", "slope_not_squared", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, (1 + negative_slope) / 2)
            return np.sqrt(1 / (fan_in * kept))
        """, "SQUARED"),
    # ---- ch03.diagnose
    ("ch03.diagnose", "gradient_ratio_only", """
        def diagnose(profile):
            ratio = profile["grad_norm"][0] / profile["grad_norm"][-1]
            if ratio < 1e-2:
                return "vanishing"
            if ratio > 1e2:
                return "exploding"
            return "healthy"
        """, "blind"),
    ("ch03.diagnose", "vanishing_before_saturation", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if np.mean(profile["dead"]) > 0.2:
                return "dead"
            if grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if std[-1] > 10 * std[0] or profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            return "healthy"
        """, "saturation"),
    ("ch03.diagnose", "ignores_dead_units", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if std[-1] > 10 * std[0] or profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            if std[-1] < 0.1 * std[0] or grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            return "healthy"
        """, "dying ReLU"),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    for exercise in chapter_exercises("ch03"):
        result = check(exercise.id, reference_functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert (result.points, result.max_points) == (exercise.max_points, exercise.max_points)
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def test_every_exercise_has_enough_cases_and_mutants():
    for exercise in chapter_exercises("ch03"):
        assert len(exercise.cases) >= 5, exercise.id
        assert sum("seed" in case.name for case in exercise.cases) >= 2, \
            f"{exercise.id}: needs randomised cases"
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 2, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


def test_student_edition_scores_zero(tmp_path, capsys):
    make_student = load_tool("make_student_edition")
    assert make_student.main(["--out", str(tmp_path), str(edition_path(NOTEBOOK))]) == 0
    cells = load_cells(tmp_path / NOTEBOOK.name)
    for exercise in chapter_exercises("ch03"):
        stub = define(find_exercise_source(cells, exercise), exercise.function)
        result = check(exercise.id, stub)
        assert result.status == "not_attempted" and result.points == 0
    assert "not attempted yet" in capsys.readouterr().out


def test_init_judge_is_not_fooled_by_a_lucky_seed():
    """A correct answer passes for many seeds (the tolerance is wide enough), and the
    references agree with mlpcore.init's own functions."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        xavier = init.xavier_uniform_(np.empty((300, 100)), rng=rng)
        he = init.kaiming_normal_(np.empty((256, 512)), nonlinearity="relu", rng=rng)
        assert ch03._judge_init((300, 100, ch03.XAVIER, None), xavier) is None
        assert ch03._judge_init((256, 512, ch03.HE, None), he) is None


def test_clip_reference_matches_mlpcore():
    grads = [np.random.default_rng(1).standard_normal(s) * 10 for s in ((3, 4), (5,))]
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for param, grad in zip(params, grads):
        param.grad = grad.copy()
    total = clip_grad_norm_(params, 1.0)
    clipped, reference_total = ch03._clip_reference(grads, 1.0)
    assert math.isclose(total, reference_total, rel_tol=1e-12)
    for param, want in zip(params, clipped):
        np.testing.assert_allclose(param.grad, want, rtol=1e-12)


def test_batchnorm_reference_matches_mlpcore():
    x, gamma, beta, mean, var, momentum, eps = ch03._bn_inputs(50, 6, 3, 0.1)()
    layer = BatchNorm1d(3, momentum=momentum, eps=eps, dtype=np.float64)
    layer.weight.data[...] = gamma
    layer.bias.data[...] = beta
    layer.running_mean[...] = mean
    layer.running_var[...] = var
    y = layer(x)
    assert ch03._judge_batchnorm((x, gamma, beta, mean, var, momentum, eps),
                                 (y, layer.running_mean, layer.running_var)) is None


def test_stable_std_reference_matches_calculate_gain():
    for slope in (0.01, 0.2, 0.5):
        gain = init.calculate_gain("leaky_relu", slope)
        assert math.isclose(ch03._stable_std(100, "leaky_relu", slope), gain / 10, rel_tol=1e-12)
    assert math.isclose(ch03._stable_std(64, "relu", 0.0), init.calculate_gain("relu") / 8)


def test_diagnosis_cases_cover_every_label_and_both_vanishing_kinds():
    def label_of(case):
        failure = case.judge(case.make_inputs(), "healthy")
        return "healthy" if failure is None else failure.message.split("'")[1]

    labels = [label_of(case) for case in get_exercise("ch03.diagnose").cases]
    assert set(labels) == set(ch03.LABELS)
    kinds = {case.make_inputs()[0]["activation"] for case, label in
             zip(get_exercise("ch03.diagnose").cases, labels) if label == "vanishing"}
    assert kinds == {"sigmoid", "relu"}
