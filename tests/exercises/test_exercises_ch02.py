"""Chapter 2's graded exercises (dropout), checked in-process as `check` runs them.

The reference solutions are read from book/02_dropout.ipynb; they must score 100 %,
and the student edition of the chapter (booktools/make_student_edition.py) must score 0 %
("not attempted"). MUTANTS are plausible learner mistakes: each must lose points AND
get the hint that names its mistake, or the cases grade nothing. Random masks are
drawn from the generator the case passes in, so a correct answer drawn in another
valid way (vectorised, `binomial`) must pass too.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from mlpgrader.notebook import load_cells
from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises, get_exercise
from mlpcore.exercises import ch02
from tests.exercises._support import (HELD_OUT_SEEDS, REFERENCE_SEEDS,
                                      assert_enough_cases_and_mutants, assert_every_hint_reachable,
                                      assert_loses_points_on_held_out_seeds, assert_mutant_caught,
                                      assert_references_pass, assert_references_score_full_points,
                                      assert_student_edition_scores_zero, mutant_ids, run_source,
                                      solutions_from)

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "book" / "02_dropout.ipynb"


def exercise_cells(path: Path) -> dict[str, str]:
    """{function name: source} of every cell tagged `exercise`."""
    cells = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            for exercise in chapter_exercises("ch02"):
                if f"def {exercise.function}(" in cell.source:
                    cells[exercise.function] = cell.source
    return cells


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(CHAPTER), "ch02")


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    # ---- ch02.keep_dropout_backward
    ("ch02.keep_dropout_backward", "inverted_scaling", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * keep_mask / keep_prob
            g = (grad_logits @ w2.T) * keep_mask / keep_prob * (pre > 0)
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "no division by keep_prob"),
    ("ch02.keep_dropout_backward", "test_time_factor", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * keep_mask * keep_prob
            g = (grad_logits @ w2.T) * keep_mask * keep_prob * (pre > 0)
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "TEST-time rule"),
    ("ch02.keep_dropout_backward", "w2_from_undropped_h", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            pre = x @ w1 + b1
            h = np.maximum(pre, 0)
            g = (grad_logits @ w2.T) * keep_mask * (pre > 0)
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "saw the DROPPED activations"),
    ("ch02.keep_dropout_backward", "gradient_not_masked", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * keep_mask
            g = (grad_logits @ w2.T) * (pre > 0)
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "gets no gradient"),
    ("ch02.keep_dropout_backward", "mask_read_as_dropped", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            dropped = keep_mask.astype(float)
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * (1 - dropped)
            g = (grad_logits @ w2.T) * (1 - dropped) * (pre > 0)
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "marks the KEPT units"),
    ("ch02.keep_dropout_backward", "no_relu_derivative", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            h = np.maximum(x @ w1 + b1, 0) * keep_mask
            g = (grad_logits @ w2.T) * keep_mask
            return x.T @ g, g.sum(axis=0), h.T @ grad_logits
        """, "only where its input"),
    ("ch02.keep_dropout_backward", "bias_averaged", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * keep_mask
            g = (grad_logits @ w2.T) * keep_mask * (pre > 0)
            return x.T @ g, g.mean(axis=0), h.T @ grad_logits
        """, "sum the bias gradient"),
    ("ch02.keep_dropout_backward", "divided_by_n_again", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            n = len(x)
            pre = x @ w1 + b1
            h = np.maximum(pre, 0) * keep_mask
            g = (grad_logits @ w2.T) * keep_mask * (pre > 0)
            return x.T @ g / n, g.sum(axis=0) / n, h.T @ grad_logits / n
        """, "do not divide by N again"),
    # ---- ch02.logit_noise_sd
    ("ch02.logit_noise_sd", "variance", """
        def logit_noise_sd(h, w, b, p):
            return p / (1 - p) * (h ** 2) @ (w ** 2)
        """, "square root"),
    ("ch02.logit_noise_sd", "keep_over_drop", """
        def logit_noise_sd(h, w, b, p):
            return np.sqrt((1 - p) / p * (h ** 2) @ (w ** 2))
        """, "p is the DROP probability"),
    ("ch02.logit_noise_sd", "unscaled_mask_variance", """
        def logit_noise_sd(h, w, b, p):
            return np.sqrt(p * (1 - p) * (h ** 2) @ (w ** 2))
        """, "divides the kept units"),
    ("ch02.logit_noise_sd", "standard_deviations_added", """
        def logit_noise_sd(h, w, b, p):
            unit_sd = h * np.sqrt(p / (1 - p))            # each unit's spread
            return unit_sd @ np.abs(w)
        """, "standard deviations do not add"),
    ("ch02.logit_noise_sd", "one_coin_for_the_layer", """
        def logit_noise_sd(h, w, b, p):
            return np.sqrt(p / (1 - p)) * np.abs(h @ w)
        """, "a coin of its own"),
    ("ch02.logit_noise_sd", "bias_counted", """
        def logit_noise_sd(h, w, b, p):
            return np.sqrt(p / (1 - p) * (h ** 2) @ (w ** 2) + b ** 2)
        """, "adds no spread"),
    ("ch02.logit_noise_sd", "monte_carlo_estimate", """
        def logit_noise_sd(h, w, b, p):
            rng = np.random.default_rng(0)
            keep = rng.random((2000, *h.shape)) >= p
            return ((h * keep / (1 - p)) @ w + b).std(axis=0)
        """, None),
    # ---- ch02.mc_decision
    ("ch02.mc_decision", "majority_vote", """
        def mc_decision(probs):
            k, n, c = probs.shape
            votes = probs.argmax(axis=2)
            pred = np.array([np.bincount(votes[:, i], minlength=c).argmax() for i in range(n)])
            mean = probs.mean(axis=0)
            second = np.argsort(mean, axis=1)[:, -2]
            rows = np.arange(n)
            d = probs[:, rows, pred] - probs[:, rows, second]
            return pred, d.mean(axis=0) > 2 * d.std(axis=0, ddof=1) / np.sqrt(k)
        """, "AVERAGED probability"),
    ("ch02.mc_decision", "unpaired", """
        def mc_decision(probs):
            k = probs.shape[0]
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            top, second = order[:, -1], order[:, -2]
            rows = np.arange(probs.shape[1])
            a, b = probs[:, rows, top], probs[:, rows, second]
            se = np.sqrt(a.var(axis=0, ddof=1) + b.var(axis=0, ddof=1)) / np.sqrt(k)
            return top, a.mean(axis=0) - b.mean(axis=0) > 2 * se
        """, "SAME masks"),
    ("ch02.mc_decision", "sd_not_se", """
        def mc_decision(probs):
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            rows = np.arange(probs.shape[1])
            d = probs[:, rows, order[:, -1]] - probs[:, rows, order[:, -2]]
            return order[:, -1], d.mean(axis=0) > 2 * d.std(axis=0, ddof=1)
        """, "standard error, std(d, ddof=1) / sqrt(K)"),
    ("ch02.mc_decision", "ddof_zero", """
        def mc_decision(probs):
            k = probs.shape[0]
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            rows = np.arange(probs.shape[1])
            d = probs[:, rows, order[:, -1]] - probs[:, rows, order[:, -2]]
            return order[:, -1], d.mean(axis=0) > 2 * d.std(axis=0) / np.sqrt(k)
        """, "ddof=0 understates"),
    ("ch02.mc_decision", "each_mask_its_own_runner_up", """
        def mc_decision(probs):
            k = probs.shape[0]
            pred = probs.mean(axis=0).argmax(axis=1)
            rows = np.arange(probs.shape[1])
            top = probs[:, rows, pred]
            others = probs.copy()
            others[:, rows, pred] = -1.0
            d = top - others.max(axis=2)
            return pred, d.mean(axis=0) > 2 * d.std(axis=0, ddof=1) / np.sqrt(k)
        """, "SAME two classes"),
    ("ch02.mc_decision", "standard_errors_added", """
        def mc_decision(probs):
            k = probs.shape[0]
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            rows = np.arange(probs.shape[1])
            a, b = probs[:, rows, order[:, -1]], probs[:, rows, order[:, -2]]
            se = (a.std(axis=0, ddof=1) + b.std(axis=0, ddof=1)) / np.sqrt(k)
            return order[:, -1], a.mean(axis=0) - b.mean(axis=0) > 2 * se
        """, "SAME masks"),
    ("ch02.mc_decision", "z_of_1_96", """
        def mc_decision(probs):
            k = probs.shape[0]
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            rows = np.arange(probs.shape[1])
            d = probs[:, rows, order[:, -1]] - probs[:, rows, order[:, -2]]
            return order[:, -1], d.mean(axis=0) > 1.96 * d.std(axis=0, ddof=1) / np.sqrt(k)
        """, None),
    ("ch02.mc_decision", "top_class_spread_only", """
        def mc_decision(probs):
            k = probs.shape[0]
            mean = probs.mean(axis=0)
            order = np.argsort(mean, axis=1)
            rows = np.arange(probs.shape[1])
            a, b = probs[:, rows, order[:, -1]], probs[:, rows, order[:, -2]]
            se = a.std(axis=0, ddof=1) / np.sqrt(k)
            return order[:, -1], a.mean(axis=0) - b.mean(axis=0) > 2 * se
        """, None),
    # ---- ch02.choose_rate
    ("ch02.choose_rate", "chooses_on_test", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(test_acc.mean(axis=1)))
            tied = [r for i, r in enumerate(rates)
                    if (test_acc[best] - test_acc[i]).mean()
                    <= T[test_acc.shape[1] - 1] * np.std(test_acc[best] - test_acc[i], ddof=1) / np.sqrt(test_acc.shape[1])]
            return rates[best], tied
        """, "test set must not choose"),
    ("ch02.choose_rate", "best_single_run", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.max(axis=1)))
            return rates[best], [rates[best]]
        """, frozenset({"single run", "not the only candidate"})),  # two mistakes at once
    ("ch02.choose_rate", "first_seed_only", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc[:, 0]))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "single run"),
    ("ch02.choose_rate", "ignores_the_spread", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            return rates[best], [rates[best]]
        """, "not the only candidate"),
    ("ch02.choose_rate", "unpaired_means", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            means = val_acc.mean(axis=1)
            var = val_acc.var(axis=1, ddof=1)
            best = int(np.argmax(means))
            se = np.sqrt((var[best] + var) / val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, means[best] - means, se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "PAIRED"),
    ("ch02.choose_rate", "sd_instead_of_se", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            sd = np.std(d, axis=1, ddof=1)
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), sd) if m <= T[val_acc.shape[1] - 1] * s]
        """, "standard error"),
    ("ch02.choose_rate", "leaves_out_the_chosen_rate", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for i, (r, m, s) in enumerate(zip(rates, d.mean(axis=1), se))
                                 if i != best and m <= T[val_acc.shape[1] - 1] * s]
        """, "belongs to the list too"),
    ("ch02.choose_rate", "median_over_seeds", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(np.median(val_acc, axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "MEAN validation accuracy"),
    ("ch02.choose_rate", "validation_and_test_pooled", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1) + test_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "test set must not choose"),
    ("ch02.choose_rate", "ddof0_standard_error", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "ddof=1"),
    ("ch02.choose_rate", "ties_measured_on_test", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = test_acc[best] - test_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(test_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "not the test ones"),
    ("ch02.choose_rate", "returns_the_index", """
        def choose_rate(rates, val_acc, test_acc):
            T = {3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36}
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return best, [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[val_acc.shape[1] - 1] * s]
        """, "not its index"),
    ("ch02.choose_rate", "t_for_s_degrees_of_freedom", """
        def choose_rate(rates, val_acc, test_acc):
            T = {4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31}
            S = val_acc.shape[1]
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = d.std(axis=1, ddof=1) / np.sqrt(S)
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= T[S] * s]
        """, "not for S degrees"),
    ("ch02.choose_rate", "t_of_five_seeds_for_every_s", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = d.std(axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2.78 * s]
        """, "not for S degrees"),
    ("ch02.choose_rate", "two_standard_errors", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "not 2"),
]

# Correct answers written differently from the reference: they must pass.
ALTERNATIVES = [
    ("ch02.keep_dropout_backward", """
        def keep_dropout_backward(x, w1, b1, w2, keep_mask, keep_prob, grad_logits):
            m = keep_mask.astype(x.dtype)
            a = x @ w1 + b1
            grad_w2 = np.einsum("nh,nc->hc", np.where(a > 0, a, 0.0) * m, grad_logits)
            grad_a = np.where(a > 0, grad_logits @ w2.T, 0.0) * m
            return np.einsum("nd,nh->dh", x, grad_a), np.sum(grad_a, axis=0), grad_w2
        """),
    ("ch02.logit_noise_sd", """
        def logit_noise_sd(h, w, b, p):
            var = np.zeros((h.shape[0], w.shape[1]))
            for j in range(h.shape[1]):                   # one unit at a time
                var += np.outer(h[:, j] ** 2, w[j] ** 2) * p / (1 - p)
            return np.sqrt(var)
        """),
    ("ch02.mc_decision", """
        def mc_decision(probs):
            k = len(probs)
            mean = probs.mean(axis=0)
            predicted, resolved = [], []
            for i in range(mean.shape[0]):
                best, second = np.argsort(-mean[i])[:2]
                d = probs[:, i, best] - probs[:, i, second]
                t = d.mean() / (np.std(d, ddof=1) / np.sqrt(k)) if np.std(d) > 0 else np.inf
                predicted.append(int(best))
                resolved.append(bool(t > 2))
            return np.array(predicted), resolved
        """),
    ("ch02.choose_rate", """
        def choose_rate(rates, val_acc, test_acc):
            means = val_acc.mean(axis=1)
            best = int(np.argmax(means))
            d = val_acc[best] - val_acc                          # all rates at once
            se = d.std(axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            t = [0, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36][val_acc.shape[1] - 1]
            return np.float64(rates[best]), np.array(rates)[means[best] - means <= t * se]
        """),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch02", reference_functions, capsys)


def test_every_exercise_has_enough_cases_and_mutants():
    assert_enough_cases_and_mutants("ch02", MUTANTS, 6)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert_every_hint_reachable("ch02", ch02.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_reference_passes_on_every_seed(reference_functions, seed):
    assert_references_pass("ch02", reference_functions, seed)


@pytest.mark.parametrize("exercise_id, source", ALTERNATIVES,
                         ids=[a[0].split(".")[1] + str(i) for i, a in enumerate(ALTERNATIVES)])
def test_equivalent_correct_answers_pass(exercise_id, source):
    for seed in (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS:
        result = run_source(exercise_id, source, seed)
        assert result.status == "passed", result.summary()


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    for exercise in chapter_exercises("ch02"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            for a, b in zip(first, second):
                if isinstance(a, np.random.Generator):
                    assert a.bit_generator.state == b.bit_generator.state
                else:
                    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_cases_change_with_the_seed():
    """Another seed, other numbers: an answer table for the public cases earns nothing."""
    for exercise in chapter_exercises("ch02"):
        for public, held_out in zip(exercise.cases_for(PUBLIC_CASES_SEED), exercise.cases_for(1)):
            first, second = public.make_inputs(), held_out.make_inputs()
            assert any(np.shape(a) != np.shape(b) or not np.array_equal(a, b)
                       for a, b in zip(first, second)), (exercise.id, public.name)


def test_mc_decision_cases_sit_where_the_yardsticks_disagree():
    """The constructed margins land between the lines they are built for: in the first
    case the right rule and ddof=0 disagree on some example, and so do right and 1.96."""
    exercise = get_exercise("ch02.mc_decision")
    for seed in (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS:
        (probs,) = exercise.cases_for(seed)[0].make_inputs()
        right = ch02._decision(probs)[1]
        assert not np.array_equal(right, ch02._decision(probs, yardstick="ddof0")[1])
        assert not np.array_equal(right, ch02._decision(probs, yardstick="unpaired")[1])


def test_student_edition_scores_zero(tmp_path, capsys):
    assert_student_edition_scores_zero(CHAPTER, "ch02", tmp_path, capsys)


def test_chapter_does_not_print_the_solutions():
    nb = nbformat.read(CHAPTER, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "BEGIN SOLUTION" not in text
    outputs = "\n".join(str(output) for cell in nb.cells for output in cell.get("outputs", []))
    for function in exercise_cells(CHAPTER):
        assert f"def {function}(" not in outputs
