"""Chapter 0's graded exercises, checked in-process (as `check` runs in a notebook).

The reference solutions come from the chapter notebook, book/00_mlp_in_numpy.ipynb.
MUTANTS are plausible learner mistakes: each must lose
points AND get the hint that names its mistake, or the cases grade nothing.
"""
from __future__ import annotations


import numpy as np
import pytest

from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises, check, get_exercise
from mlpgrader.notebook import load_cells
from tests.exercises._support import (assert_mutant_caught, assert_references_score_full_points,
                                      define, mutant_ids, solutions_from)
from tests.grader._support import chapter0_notebook


@pytest.fixture(scope="module")
def reference_functions(tmp_path_factory):
    return solutions_from(load_cells(chapter0_notebook(tmp_path_factory.mktemp("ch00"))), "ch00")


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    # ---- ch00.scale_shift_backward
    ("ch00.scale_shift_backward", "forgot_gamma", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out, (grad_out * x).sum(axis=0), grad_out.sum(axis=0)
        """, "multiply grad_out by gamma"),
    ("ch00.scale_shift_backward", "gamma_grad_not_summed", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, grad_out * x, grad_out.sum(axis=0)
        """, "sum their gradients over axis 0"),
    ("ch00.scale_shift_backward", "linear_weight_gradient", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, x.T @ grad_out, grad_out.sum(axis=0)
        """, "Linear's weight gradient"),
    ("ch00.scale_shift_backward", "gamma_in_gamma_gradient", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * gamma).sum(axis=0), grad_out.sum(axis=0)
        """, "not gamma"),
    ("ch00.scale_shift_backward", "averaged_over_batch", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).mean(axis=0), grad_out.mean(axis=0)
        """, "don't average"),
    ("ch00.scale_shift_backward", "beta_wrong_axis", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).sum(axis=0), grad_out.sum(axis=1)
        """, "wrong axis"),
    ("ch00.scale_shift_backward", "outputs_swapped", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, grad_out.sum(axis=0), (grad_out * x).sum(axis=0)
        """, "in the order"),
    # ---- ch00.numerical_gradient
    ("ch00.numerical_gradient", "one_sided_difference", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus = x.copy()
                plus[i] += eps
                grad[i] = (f(plus) - f(x)) / eps
            return grad
        """, "one-sided"),
    ("ch00.numerical_gradient", "divides_by_eps", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] += eps
                minus[i] -= eps
                grad[i] = (f(plus) - f(minus)) / eps
            return grad
        """, "2 * eps"),
    ("ch00.numerical_gradient", "all_entries_at_once", """
        def numerical_gradient(f, x, eps):
            return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))
        """, "ONE entry at a time"),
    ("ch00.numerical_gradient", "never_restored", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            z = x.copy()
            for i in np.ndindex(x.shape):
                z[i] += eps
                plus = f(z)
                z[i] -= 2 * eps
                grad[i] = (plus - f(z)) / (2 * eps)
            return grad
        """, "put each entry back"),
    ("ch00.numerical_gradient", "perturbs_caller_array", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                x[i] += eps
                plus = f(x)
                x[i] -= 2 * eps
                grad[i] = (plus - f(x)) / (2 * eps)
            return grad
        """, "`x -= ...`"),
    ("ch00.numerical_gradient", "flat_result", """
        def numerical_gradient(f, x, eps):
            flat = x.ravel().copy()
            grad = np.zeros(flat.size)
            for i in range(flat.size):
                plus, minus = flat.copy(), flat.copy()
                plus[i] += eps
                minus[i] -= eps
                grad[i] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * eps)
            return grad
        """, "x's shape"),
    # ---- ch00.bce_with_logits
    ("ch00.bce_with_logits", "clipped_probabilities", """
        def bce_with_logits(logits, targets):
            p = np.clip(1 / (1 + np.exp(-logits)), 1e-7, 1 - 1e-7)
            loss = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
            return loss, (p - targets) / len(logits)
        """, "clipping"),
    ("ch00.bce_with_logits", "naive_logs", """
        def bce_with_logits(logits, targets):
            p = 1 / (1 + np.exp(-logits))
            loss = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
            return loss, (p - targets) / len(logits)
        """, "stable form"),
    ("ch00.bce_with_logits", "summed_loss", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.sum(), (p - targets) / len(logits)
        """, "MEAN"),
    ("ch00.bce_with_logits", "gradient_without_one_over_n", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), p - targets
        """, "1/N of the mean"),
    ("ch00.bce_with_logits", "gradient_of_log_likelihood", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (targets - p) / len(logits)
        """, "log-likelihood"),
    ("ch00.bce_with_logits", "extra_sigmoid_derivative", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (p - targets) * p * (1 - p) / len(logits)
        """, "cancels"),
    ("ch00.bce_with_logits", "branch_on_target", """
        def bce_with_logits(logits, targets):
            per = np.where(targets == 1, np.logaddexp(0, -logits), np.logaddexp(0, logits))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (p - targets) / len(logits)
        """, "soft labels"),
    # ---- ch00.accumulated_gradient
    ("ch00.accumulated_gradient", "whole_batch_at_once", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            return grad_fn(w, X, y)
        """, "refuses more than micro_batch rows"),
    ("ch00.accumulated_gradient", "plain_average_of_means", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            grads = [grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
                     for i in range(0, len(X), micro_batch)]
            return np.mean(grads, axis=0)
        """, "weight each by its row count"),
    ("ch00.accumulated_gradient", "sum_of_means", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X), micro_batch):
                total = total + grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
            return total
        """, "K times too much"),
    ("ch00.accumulated_gradient", "sum_of_means_over_n", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X), micro_batch):
                total = total + grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
            return total / len(X)
        """, "weight each by n_k, then divide by N"),
    ("ch00.accumulated_gradient", "drops_the_remainder", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            k = max(len(X) // micro_batch, 1)
            return sum(grad_fn(w, X[i * micro_batch:(i + 1) * micro_batch],
                               y[i * micro_batch:(i + 1) * micro_batch])
                       for i in range(k)) / k
        """, "the last rows were left out"),
    ("ch00.accumulated_gradient", "one_slice_too_many", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X) + 1, micro_batch):
                rows = slice(i, i + micro_batch)
                total = total + len(X[rows]) * grad_fn(w, X[rows], y[rows])
            return total / len(X)
        """, "had no rows"),
]


# More plausible wrong solutions (issue 19), each written as a learner would: every one
# must lose points on every seed, with the hint for its mistake (or none: None).
MORE_MUTANTS = [
    # ---- ch00.scale_shift_backward
    ("ch00.scale_shift_backward", "summed_linear_gradient", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (x.T @ grad_out).sum(axis=0), grad_out.sum(axis=0)
        """, "Linear's weight gradient"),
    ("ch00.scale_shift_backward", "diagonal_of_the_wrong_product", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, np.diag(x @ grad_out.T), grad_out.sum(axis=0)
        """, "wrong axis"),
    ("ch00.scale_shift_backward", "beta_summed_over_everything", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).sum(axis=0), grad_out.sum()
        """, "not a single number"),
    ("ch00.scale_shift_backward", "beta_scaled_by_gamma", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).sum(axis=0), (grad_out * gamma).sum(axis=0)
        """, "dy/dbeta is 1"),
    ("ch00.scale_shift_backward", "gamma_broadcast_over_rows", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma[:, None], (grad_out * x).sum(axis=0), grad_out.sum(axis=0)
        """, "scales feature d, a COLUMN"),
    ("ch00.scale_shift_backward", "only_gamma_averaged", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).mean(axis=0), grad_out.sum(axis=0)
        """, "don't average"),
    ("ch00.scale_shift_backward", "gamma_gradient_without_x", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, grad_out.sum(axis=0), grad_out.sum(axis=0)
        """, "not grad_out alone"),
    ("ch00.scale_shift_backward", "x_where_gamma_belongs", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * x, (grad_out * x).sum(axis=0), grad_out.sum(axis=0)
        """, "dy/dx is gamma, not x"),
    ("ch00.scale_shift_backward", "keepdims_left_in", """
        def scale_shift_backward(x, gamma, grad_out):
            return (grad_out * gamma, (grad_out * x).sum(axis=0, keepdims=True),
                    grad_out.sum(axis=0, keepdims=True))
        """, "extra axis of length 1"),
    # ---- ch00.numerical_gradient
    ("ch00.numerical_gradient", "own_small_step", """
        def numerical_gradient(f, x, eps):
            h = 1e-5
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] += h
                minus[i] -= h
                grad[i] = (f(plus) - f(minus)) / (2 * h)
            return grad
        """, "use the eps you are given"),
    ("ch00.numerical_gradient", "loops_over_rows", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in range(len(x)):
                plus, minus = x.copy(), x.copy()
                plus[i] += eps
                minus[i] -= eps
                grad[i] = (f(plus) - f(minus)) / (2 * eps)
            return grad
        """, "x[i] of a 2-D x is a whole row"),
    ("ch00.numerical_gradient", "relative_step", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] *= 1 + eps
                minus[i] *= 1 - eps
                grad[i] = (f(plus) - f(minus)) / (2 * eps)
            return grad
        """, "absolute step"),
    ("ch00.numerical_gradient", "backward_difference", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                minus = x.copy()
                minus[i] -= eps
                grad[i] = (f(x) - f(minus)) / eps
            return grad
        """, "one-sided"),
    ("ch00.numerical_gradient", "list_of_partials", """
        def numerical_gradient(f, x, eps):
            partials = []
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] += eps
                minus[i] -= eps
                partials.append((f(plus) - f(minus)) / (2 * eps))
            return np.array(partials)
        """, "x's shape"),
    ("ch00.numerical_gradient", "integer_gradient_array", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros(x.shape, dtype=int)
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] += eps
                minus[i] -= eps
                grad[i] = (f(plus) - f(minus)) / (2 * eps)
            return grad
        """, "integer arithmetic"),
    # ---- ch00.bce_with_logits
    ("ch00.bce_with_logits", "softplus_that_overflows", """
        def bce_with_logits(logits, targets):
            per = np.log1p(np.exp(logits)) - logits * targets
            p = 1 / (1 + np.exp(-logits))
            return per.mean(), (p - targets) / len(logits)
        """, "stable form"),
    ("ch00.bce_with_logits", "epsilon_inside_the_log", """
        def bce_with_logits(logits, targets):
            p = 1 / (1 + np.exp(-logits))
            loss = -np.mean(targets * np.log(p + 1e-12) + (1 - targets) * np.log(1 - p + 1e-12))
            return loss, (p - targets) / len(logits)
        """, "finite but too small"),
    ("ch00.bce_with_logits", "clipped_logits", """
        def bce_with_logits(logits, targets):
            z = np.clip(logits, -30, 30)
            per = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
            p = 1 / (1 + np.exp(-z))
            return per.mean(), (p - targets) / len(z)
        """, "finite but too small"),
    ("ch00.bce_with_logits", "positive_term_only", """
        def bce_with_logits(logits, targets):
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return np.mean(targets * np.logaddexp(0, -logits)), (p - targets) / len(logits)
        """, "two terms"),
    ("ch00.bce_with_logits", "gradient_averaged_to_a_number", """
        def bce_with_logits(logits, targets):
            per = np.logaddexp(0, logits) - logits * targets
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), np.mean(p - targets)
        """, "one entry per example"),
    ("ch00.bce_with_logits", "reversed_gradient_without_n", """
        def bce_with_logits(logits, targets):
            per = np.logaddexp(0, logits) - logits * targets
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), targets - p
        """, "log-likelihood"),
    # ---- ch00.accumulated_gradient
    ("ch00.accumulated_gradient", "weights_by_micro_batch", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X), micro_batch):
                total = total + micro_batch * grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
            return total / len(X)
        """, "weight it by its own row count"),
    ("ch00.accumulated_gradient", "divides_by_slots", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total, k = np.zeros_like(w), 0
            for i in range(0, len(X), micro_batch):
                rows = slice(i, i + micro_batch)
                total = total + len(X[rows]) * grad_fn(w, X[rows], y[rows])
                k += 1
            return total / (k * micro_batch)
        """, "divide the weighted sum by N"),
    ("ch00.accumulated_gradient", "split_into_count", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            k = max(len(X) // micro_batch, 1)
            total = np.zeros_like(w)
            for Xp, yp in zip(np.array_split(X, k), np.array_split(y, k)):
                total = total + len(Xp) * grad_fn(w, Xp, yp)
            return total / len(X)
        """, "refuses more than micro_batch rows"),
    ("ch00.accumulated_gradient", "targets_not_sliced", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X), micro_batch):
                total = total + len(X[i:i + micro_batch]) * grad_fn(w, X[i:i + micro_batch], y)
            return total / len(X)
        """, "incompatible shapes"),
    ("ch00.accumulated_gradient", "running_average", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = None
            for i in range(0, len(X), micro_batch):
                g = grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
                total = g if total is None else (total + g) / 2
            return total
        """, frozenset({"weight each by its row count"})),  # for two micro-batches it IS one
    ("ch00.accumulated_gradient", "stops_before_the_remainder", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X) - micro_batch + 1, micro_batch):
                total = total + micro_batch * grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
            return total / len(X)
        """, "the last rows were left out"),
]

# Wrong solutions written after the case generators and first graded on fresh seeds
# (12345, 777, 31337), where each lost points: held out from the design of the cases.
HELD_OUT_MUTANTS = [
    ("ch00.scale_shift_backward", "centres_x_like_batchnorm", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * (x - x.mean(axis=0))).sum(axis=0), grad_out.sum(axis=0)
        """, None),
    ("ch00.scale_shift_backward", "one_gamma_for_all_features", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma.mean(), (grad_out * x).sum(axis=0), grad_out.sum(axis=0)
        """, None),
    ("ch00.numerical_gradient", "step_scaled_by_magnitude", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                h = eps * max(1.0, abs(x[i]))
                plus, minus = x.copy(), x.copy()
                plus[i] += h
                minus[i] -= h
                grad[i] = (f(plus) - f(minus)) / (2 * h)
            return grad
        """, None),
    ("ch00.numerical_gradient", "float32_to_save_memory", """
        def numerical_gradient(f, x, eps):
            x32 = x.astype(np.float32)
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus, minus = x32.copy(), x32.copy()
                plus[i] += eps
                minus[i] -= eps
                grad[i] = (f(plus) - f(minus)) / (2 * eps)
            return grad
        """, None),
    ("ch00.bce_with_logits", "sigmoid_as_exp_ratio", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
            p = np.exp(logits) / (1 + np.exp(logits))
            return per.mean(), (p - targets) / len(logits)
        """, "exp(z) overflows"),
    ("ch00.bce_with_logits", "stable_form_without_abs", """
        def bce_with_logits(logits, targets):
            per = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-logits))
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (p - targets) / len(logits)
        """, "stable form"),
    ("ch00.accumulated_gradient", "steps_while_accumulating", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total, current = np.zeros_like(w), w.copy()
            for i in range(0, len(X), micro_batch):
                g = grad_fn(current, X[i:i + micro_batch], y[i:i + micro_batch])
                total = total + len(X[i:i + micro_batch]) * g
                current = current - 0.1 * g
            return total / len(X)
        """, None),
    ("ch00.accumulated_gradient", "equal_weights_via_average", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            grads = [grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
                     for i in range(0, len(X), micro_batch)]
            return np.average(np.array(grads), axis=0, weights=[micro_batch] * len(grads))
        """, "weight each by its row count"),
    # a second batch, first graded on seeds 12345, 777, 31337 and 1000-1019
    ("ch00.scale_shift_backward", "chain_rule_times_gamma", """
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, (grad_out * x).sum(axis=0) * gamma, grad_out.sum(axis=0)
        """, None),
    ("ch00.numerical_gradient", "half_steps", """
        def numerical_gradient(f, x, eps):
            grad = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                plus, minus = x.copy(), x.copy()
                plus[i] += eps / 2
                minus[i] -= eps / 2
                grad[i] = (f(plus) - f(minus)) / (2 * eps)
            return grad
        """, None),
    ("ch00.bce_with_logits", "gradient_over_n_twice", """
        def bce_with_logits(logits, targets):
            n = len(logits)
            per = np.logaddexp(0, logits) - logits * targets
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (p - targets) / n / n
        """, None),
    ("ch00.bce_with_logits", "integer_targets", """
        def bce_with_logits(logits, targets):
            t = targets.astype(int)
            per = np.logaddexp(0, logits) - logits * t
            p = 0.5 * (1 + np.tanh(0.5 * logits))
            return per.mean(), (p - t) / len(logits)
        """, "soft labels"),
    ("ch00.accumulated_gradient", "weighted_sum_over_chunk_count", """
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            starts = range(0, len(X), micro_batch)
            total = sum(len(X[i:i + micro_batch]) * grad_fn(w, X[i:i + micro_batch], y[i:i + micro_batch])
                        for i in starts)
            return total / (len(starts) * micro_batch) * (len(X) / len(X))
        """, "divide the weighted sum by N"),
]

ALL_MUTANTS = MUTANTS + MORE_MUTANTS + HELD_OUT_MUTANTS


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch00", reference_functions, capsys)


def test_every_exercise_has_at_least_four_more_mutants():
    for exercise in chapter_exercises("ch00"):
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 2, exercise.id
        assert sum(m[0] == exercise.id for m in MORE_MUTANTS) >= 4, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", ALL_MUTANTS,
                         ids=mutant_ids(ALL_MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


def test_stub_reports_not_attempted_in_one_line(capsys):
    stub = define('''
        def scale_shift_backward(x, gamma, grad_out):
            """Docstring kept."""
            raise NotImplementedError("ch00.scale_shift_backward: replace this line with your code")
        ''', "scale_shift_backward")
    result = check("ch00.scale_shift_backward", stub)
    printed = capsys.readouterr().out
    assert result.status == "not_attempted" and result.points == 0
    assert printed.count("\n") == 1 and "not attempted yet" in printed


def test_exception_in_learner_code_is_one_line_with_type_and_hint(capsys):
    broken = define("""
        def scale_shift_backward(x, gamma, grad_out):
            return grad_out * gamma, x @ grad_out, grad_out.sum(axis=0)
        """, "scale_shift_backward")
    result = check("ch00.scale_shift_backward", broken)
    printed = capsys.readouterr().out
    errors = [case for case in result.cases if case.status == "error"]
    assert errors, printed
    assert all("ValueError" in case.message for case in errors)
    assert "no matrix product" in errors[0].hint and printed.count("no matrix product") == 1
    assert "Traceback" not in printed
    assert len(printed.strip().splitlines()) == 1 + len(result.cases)


def test_wrong_signature_is_one_clear_line(capsys):
    result = check("ch00.accumulated_gradient", define("""
        def accumulated_gradient(grad_fn, X, y):
            return grad_fn(X, y)
        """, "accumulated_gradient"))
    printed = capsys.readouterr().out
    assert result.status == "error" and result.points == 0
    assert ("wrong signature" in printed
            and "accumulated_gradient(grad_fn, w, X, y, micro_batch)" in printed)
    assert len(printed.strip().splitlines()) == 1


def test_an_answer_that_modifies_w_is_caught(capsys):
    result = check("ch00.accumulated_gradient", define("""
        def accumulated_gradient(grad_fn, w, X, y, micro_batch):
            total = np.zeros_like(w)
            for i in range(0, len(X), micro_batch):
                total += len(X[i:i + micro_batch]) * grad_fn(w, X[i:i + micro_batch],
                                                             y[i:i + micro_batch])
            w -= 0.0 * w + 1.0      # a stray update of the caller's parameter
            return total / len(X)
        """, "accumulated_gradient"))
    printed = capsys.readouterr().out
    assert result.points == 0 and "`w -= ...`" in printed, printed


@pytest.mark.parametrize("returned, fragment", [
    ("None", "got None"),
    ("(grad_out * gamma, (grad_out * x).sum(axis=0))", "expected a tuple of 3 arrays"),
    ("(grad_out * gamma, (grad_out * x).sum(axis=0), grad_out.sum(axis=0)).__class__", "a type"),
    ("((grad_out * gamma).astype(np.float32), (grad_out * x).sum(axis=0), grad_out.sum(axis=0))",
     "dtype float64"),
])
def test_wrong_return_values_are_described(returned, fragment, capsys):
    function = define(f"""
        def scale_shift_backward(x, gamma, grad_out):
            return {returned}
        """, "scale_shift_backward")
    result = check("ch00.scale_shift_backward", function)
    printed = capsys.readouterr().out
    assert result.points == 0 and fragment in printed, printed


def test_check_output_is_deterministic(reference_functions, capsys):
    for exercise_id, name, source, _ in MUTANTS:
        function = define(source, get_exercise(exercise_id).function)
        check(exercise_id, function)
        first = capsys.readouterr().out
        check(exercise_id, function)
        assert capsys.readouterr().out == first, name


def test_result_repr_is_short_and_silent_in_jupyter(reference_functions, capsys):
    result = check("ch00.scale_shift_backward", reference_functions["ch00.scale_shift_backward"])
    capsys.readouterr()
    points = get_exercise("ch00.scale_shift_backward").max_points
    assert repr(result) == f"<ch00.scale_shift_backward: {points}/{points} points, passed>"
    assert result._ipython_display_() is None
    assert capsys.readouterr().out == ""


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        check("ch00.scale_shift_backwards", lambda x, gamma, grad_out: None)
    message = str(error.value)
    assert "Did you mean 'ch00.scale_shift_backward'" in message
    assert all(exercise.id in message for exercise in chapter_exercises("ch00"))


def test_every_exercise_has_five_cases():
    for exercise in chapter_exercises("ch00"):
        assert len(exercise.cases) >= 5, exercise.id


def _same(a, b) -> bool:
    if callable(a):  # the function of a numerical_gradient case: same values at a probe
        return callable(b)
    return (a is None and b is None) or np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1, 2])
def test_cases_are_deterministic_float64_and_small(seed):
    for exercise in chapter_exercises("ch00"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            arrays = [a for a in first if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
            assert arrays and all(a.dtype == np.float64 and a.size <= 200 for a in arrays)
            assert all(_same(a, b) for a, b in zip(first, second)), case.name
            f, g = first[0], second[0]
            if exercise.id == "ch00.numerical_gradient":  # f(x): same value at x
                assert f(first[1]) == g(first[1]), case.name
            elif exercise.id == "ch00.accumulated_gradient":  # grad_fn on one micro-batch
                w, X, y, micro = first[1:]
                assert np.array_equal(f(w, X[:micro], y[:micro]), g(w, X[:micro], y[:micro]))


def test_accumulated_reference_is_the_full_batch_gradient(reference_functions):
    """The point of the exercise: the accumulated gradient equals what grad_fn would
    give on the whole batch if it fitted (computed here without the row limit)."""
    from mlpcore.exercises.ch00 import _least_squares_grad, _softmax_regression_grad
    solution = reference_functions["ch00.accumulated_gradient"]
    for case in get_exercise("ch00.accumulated_gradient").cases:
        grad_fn, w, X, y, micro = case.make_inputs()
        unlimited = (_least_squares_grad if w.ndim == 1 else _softmax_regression_grad)(len(X))
        full = unlimited(w, X, y)
        assert np.allclose(solution(grad_fn, w, X, y, micro), full, rtol=1e-12, atol=1e-14)
        assert case.judge((grad_fn, w, X, y, micro), full) is None, case.name
