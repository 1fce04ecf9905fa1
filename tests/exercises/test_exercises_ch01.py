"""Chapter 1's graded exercises, checked in-process (as `check` runs in a notebook).

The reference solutions are read from book/01_weight_decay.ipynb, so CI proves that
the book's own solutions score 100 % and that its student edition scores 0 %. MUTANTS
are plausible learner mistakes: each must lose points AND get the hint that names its
mistake, or the cases grade nothing.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises, check, get_exercise
from mlpgrader.notebook import load_cells
from mlpcore.module import Parameter
from mlpcore.optim import AdamW
from tests._support import edition_path
from tests.exercises._support import (assert_mutant_caught, assert_references_score_full_points,
                                      mutant_ids, solutions_from)

CHAPTER = Path(__file__).resolve().parents[2] / "book" / "01_weight_decay.ipynb"


@pytest.fixture(scope="module")
def reference_functions():
    return solutions_from(load_cells(CHAPTER), "ch01")


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    # ---- ch01.l2_penalty
    ("ch01.l2_penalty", "decays_biases_too", """
        def l2_penalty(named_params, lam):
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in named_params)
            return penalty, [lam * w for _, w in named_params]
        """, "are not decayed"),
    ("ch01.l2_penalty", "forgets_the_half", """
        def l2_penalty(named_params, lam):
            keep = [(n, w) for n, w in named_params if w.ndim >= 2]
            penalty = sum(lam * np.sum(w * w) for _, w in keep)
            return penalty, [lam * w if w.ndim >= 2 else np.zeros_like(w)
                             for n, w in named_params]
        """, "the 1/2 cancels"),
    ("ch01.l2_penalty", "gradient_two_lam_w", """
        def l2_penalty(named_params, lam):
            keep = [(n, w) for n, w in named_params if w.ndim >= 2]
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in keep)
            return penalty, [2 * lam * w if w.ndim >= 2 else np.zeros_like(w)
                             for n, w in named_params]
        """, "the 1/2 cancels"),
    ("ch01.l2_penalty", "norm_not_squared", """
        def l2_penalty(named_params, lam):
            keep = [(n, w) for n, w in named_params if w.ndim >= 2]
            penalty = sum(0.5 * lam * np.linalg.norm(w) for _, w in keep)
            return penalty, [lam * w if w.ndim >= 2 else np.zeros_like(w)
                             for n, w in named_params]
        """, "SQUARED"),
    ("ch01.l2_penalty", "grads_only_for_weights", """
        def l2_penalty(named_params, lam):
            keep = [(n, w) for n, w in named_params if w.ndim >= 2]
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in keep)
            return penalty, [lam * w for _, w in keep]
        """, "one gradient per parameter"),
    # ---- ch01.adamw_step
    ("ch01.adamw_step", "coupled_l2", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            g = grad + weight_decay * param
            m = b1 * exp_avg + (1 - b1) * g
            v = b2 * exp_avg_sq + (1 - b2) * g * g
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "Adam with an L2 term"),
    ("ch01.adamw_step", "decay_without_lr", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "multiplied by the learning rate"),
    ("ch01.adamw_step", "decay_after_the_step", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return (param - lr * mh / (np.sqrt(vh) + eps)) * (1 - lr * weight_decay), m, v
        """, "decay the OLD parameter first"),
    ("ch01.adamw_step", "no_bias_correction", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            return param * (1 - lr * weight_decay) - lr * m / (np.sqrt(v) + eps), m, v
        """, "bias correction"),
    ("ch01.adamw_step", "updates_moments_in_place", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            exp_avg *= b1
            exp_avg += (1 - b1) * grad
            exp_avg_sq *= b2
            exp_avg_sq += (1 - b2) * grad * grad
            mh, vh = exp_avg / (1 - b1 ** step), exp_avg_sq / (1 - b2 ** step)
            new = param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps)
            return new, exp_avg, exp_avg_sq
        """, "`exp_avg -= ...`"),
    # ---- ch01.ridge_with_bias
    ("ch01.ridge_with_bias", "bias_penalised", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            A = np.hstack([X, np.ones((n, 1))])
            theta = np.linalg.solve(A.T @ A + n * lam * np.eye(d + 1), A.T @ y)
            return theta[:d], float(theta[d])
        """, "the bias is not penalised"),
    ("ch01.ridge_with_bias", "no_centring", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            w = np.linalg.solve(X.T @ X + n * lam * np.eye(d), X.T @ y)
            return w, float(np.mean(y - X @ w))
        """, "centre first"),
    ("ch01.ridge_with_bias", "lam_without_n", """
        def ridge_with_bias(X, y, lam):
            d = X.shape[1]
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(d), Xc.T @ yc)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, "N * lam"),
    ("ch01.ridge_with_bias", "mse_convention", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + n * lam / 2 * np.eye(d), Xc.T @ yc)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, "1/2 convention"),
    ("ch01.ridge_with_bias", "forgets_the_bias", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            return np.linalg.solve(X.T @ X + n * lam * np.eye(d), X.T @ y), 0.0
        """, "fit it too"),
    ("ch01.ridge_with_bias", "bias_is_mean_of_y", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(d), Xc.T @ yc)
            return w, float(y.mean())
        """, "absorbs the means of X AND of y"),
    # ---- ch01.choose_lambda
    ("ch01.choose_lambda", "chooses_on_test", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            return float(lambdas[np.argmin(test_errors.mean(axis=0))])
        """, "test set must not choose anything"),
    ("ch01.choose_lambda", "chooses_on_train", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            return float(lambdas[np.argmin(train_errors.mean(axis=0))])
        """, "training error"),
    ("ch01.choose_lambda", "lowest_mean", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            return float(lambdas[np.argmin(val_errors.mean(axis=0))])
        """, "ONE standard error"),
    ("ch01.choose_lambda", "std_not_standard_error", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean, std = val_errors.mean(axis=0), val_errors.std(axis=0, ddof=1)
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + std[best]].max())
        """, "std(ddof=1) / sqrt(S)"),
    ("ch01.choose_lambda", "smallest_within_one_se", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + se[best]].min())
        """, "LARGEST"),
    ("ch01.choose_lambda", "population_std", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0) / np.sqrt(len(val_errors))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + se[best]].max())
        """, "ddof=1"),
    ("ch01.choose_lambda", "own_standard_error", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            best = np.argmin(mean)
            return float(lambdas[mean - se <= mean[best]].max())
        """, "standard error of the BEST lam"),
    ("ch01.choose_lambda", "first_seed_only", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            return float(lambdas[np.argmin(val_errors[0])])
        """, "average over the seeds"),
    # ---- ch01.elastic_net_step
    ("ch01.elastic_net_step", "subgradient_step", """
        def elastic_net_step(param, grad, lr, l1, l2):
            return param - lr * (grad + l1 * np.sign(param) + l2 * param)
        """, "subgradient step"),
    ("ch01.elastic_net_step", "shrinks_past_zero", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return (u - lr * l1 * np.sign(u)) / (1 + lr * l2)
        """, "stop at zero"),
]


# More plausible wrong solutions (issue 19), each written as a learner would: every one
# must lose points on every seed, with the hint for its mistake (or none: None).
MORE_MUTANTS = [
    # ---- ch01.l2_penalty
    ("ch01.l2_penalty", "skips_by_name", """
        def l2_penalty(named_params, lam):
            penalty, grads = 0.0, []
            for name, w in named_params:
                if name.endswith("bias"):
                    grads.append(np.zeros_like(w))
                else:
                    penalty += 0.5 * lam * np.sum(w * w)
                    grads.append(lam * w)
            return penalty, grads
        """, "decide by role, not by name"),
    ("ch01.l2_penalty", "decays_names_ending_in_weight", """
        def l2_penalty(named_params, lam):
            keep = [n.endswith("weight") for n, _ in named_params]
            penalty = sum(0.5 * lam * np.sum(w * w) for k, (_, w) in zip(keep, named_params) if k)
            return penalty, [lam * w if k else np.zeros_like(w)
                             for k, (_, w) in zip(keep, named_params)]
        """, "decide by role, not by name"),
    ("ch01.l2_penalty", "mean_of_squares", """
        def l2_penalty(named_params, lam):
            penalty = sum(0.5 * lam * np.mean(w ** 2) for _, w in named_params if w.ndim >= 2)
            return penalty, [lam * w if w.ndim >= 2 else np.zeros_like(w) for _, w in named_params]
        """, "not their mean"),
    ("ch01.l2_penalty", "square_of_summed_norms", """
        def l2_penalty(named_params, lam):
            total_norm = sum(np.linalg.norm(w) for _, w in named_params if w.ndim >= 2)
            return 0.5 * lam * total_norm ** 2, [lam * w if w.ndim >= 2 else np.zeros_like(w)
                                                 for _, w in named_params]
        """, "not the square of the sum"),
    ("ch01.l2_penalty", "none_for_skipped", """
        def l2_penalty(named_params, lam):
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in named_params if w.ndim >= 2)
            return penalty, [lam * w if w.ndim >= 2 else None for _, w in named_params]
        """, "not None"),
    ("ch01.l2_penalty", "l1_gradient", """
        def l2_penalty(named_params, lam):
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in named_params if w.ndim >= 2)
            return penalty, [lam * np.sign(w) if w.ndim >= 2 else np.zeros_like(w)
                             for _, w in named_params]
        """, "L1 penalty"),
    ("ch01.l2_penalty", "matrix_test_by_size", """
        def l2_penalty(named_params, lam):
            keep = [w.size > w.shape[0] for _, w in named_params]
            penalty = sum(0.5 * lam * np.sum(w * w) for k, (_, w) in zip(keep, named_params) if k)
            return penalty, [lam * w if k else np.zeros_like(w)
                             for k, (_, w) in zip(keep, named_params)]
        """, None),
    # ---- ch01.adamw_step
    ("ch01.adamw_step", "step_plus_one", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** (step + 1)), v / (1 - b2 ** (step + 1))
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "not beta**(step + 1)"),
    ("ch01.adamw_step", "no_square_root", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (vh + eps), m, v
        """, "square root of v_hat"),
    ("ch01.adamw_step", "decays_twice", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            g = grad + weight_decay * param
            m = b1 * exp_avg + (1 - b1) * g
            v = b2 * exp_avg_sq + (1 - b2) * g * g
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "decays twice"),
    ("ch01.adamw_step", "steps_with_old_moments", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            mh, vh = exp_avg / (1 - b1 ** step), exp_avg_sq / (1 - b2 ** step)
            new = param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps)
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            return new, m, v
        """, "NEW m_hat"),
    ("ch01.adamw_step", "eps_inside_the_root", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / np.sqrt(vh + eps), m, v
        """, "after the square root"),
    ("ch01.adamw_step", "eps_before_the_bias_correction", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            step_size = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            return param * (1 - lr * weight_decay) - step_size * m / (np.sqrt(v) + eps), m, v
        """, "the paper's shortcut"),
    ("ch01.adamw_step", "sqrt_v_divided_by_the_whole_correction", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            denom = np.sqrt(v) / (1 - b2 ** step) + eps
            return param * (1 - lr * weight_decay) - lr * m / (1 - b1 ** step) / denom, m, v
        """, "correct v before the square root"),
    ("ch01.adamw_step", "returns_the_corrected_moments", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), mh, vh
        """, "m and v themselves"),
    ("ch01.adamw_step", "betas_swapped", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b2, b1 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "beta1 (about 0.9) is for m"),
    ("ch01.adamw_step", "v_of_unsquared_gradient", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * np.abs(grad)
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, "SQUARED gradient"),
    ("ch01.adamw_step", "returns_the_old_moments", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), exp_avg, exp_avg_sq
        """, "return the updated moments"),
    ("ch01.adamw_step", "ascends", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) + lr * mh / (np.sqrt(vh) + eps), m, v
        """, "subtracts the update"),
    ("ch01.adamw_step", "forgets_eps", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / np.sqrt(vh), m, v
        """, "keep eps in the denominator"),
    # ---- ch01.ridge_with_bias
    ("ch01.ridge_with_bias", "standardised_features", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            mu, sd = X.mean(axis=0), X.std(axis=0)
            Z = (X - mu) / sd
            w = np.linalg.solve(Z.T @ Z + n * lam * np.eye(d), Z.T @ (y - y.mean())) / sd
            return w, float(y.mean() - mu @ w)
        """, "standardising X"),
    ("ch01.ridge_with_bias", "n_squared", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc / n + n * lam * np.eye(d), Xc.T @ yc / n)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, "not N**2 * lam"),
    ("ch01.ridge_with_bias", "features_for_examples", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + d * lam * np.eye(d), Xc.T @ yc)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, "not D, the number of features"),
    ("ch01.ridge_with_bias", "n_minus_one", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + (n - 1) * lam * np.eye(d), Xc.T @ yc)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, "not (N - 1) * lam"),
    ("ch01.ridge_with_bias", "bias_adds_the_means", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(d), Xc.T @ yc)
            return w, float(y.mean() + X.mean(axis=0) @ w)
        """, "subtracted, not added"),
    ("ch01.ridge_with_bias", "gradient_descent_not_converged", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            w, b = np.zeros(d), 0.0
            for _ in range(200):
                r = X @ w + b - y
                w, b = w - 0.01 * (X.T @ r / n + lam * w), b - 0.01 * r.mean()
            return w, float(b)
        """, frozenset({"overflow"})),  # diverges on some draws of features of scale 100
    # ---- ch01.choose_lambda
    ("ch01.choose_lambda", "returns_the_index", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            best = np.argmin(mean)
            return int(np.flatnonzero(mean <= mean[best] + se[best]).max())
        """, "not its index"),
    ("ch01.choose_lambda", "root_of_the_grid_size", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(lambdas))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + se[best]].max())
        """, "number of SEEDS"),
    ("ch01.choose_lambda", "one_se_rule_on_test", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = test_errors.mean(axis=0)
            se = test_errors.std(axis=0, ddof=1) / np.sqrt(len(test_errors))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + se[best]].max())
        """, "test set must not choose anything"),
    ("ch01.choose_lambda", "median_over_seeds", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            return float(lambdas[np.argmin(np.median(val_errors, axis=0))])
        """, "ONE standard error"),
    ("ch01.choose_lambda", "best_mean_plus_se", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            return float(lambdas[np.argmin(mean + se)])
        """, "not the lowest mean + standard error"),
    # ---- ch01.elastic_net_step
    ("ch01.elastic_net_step", "threshold_without_lr", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.sign(u) * np.maximum(np.abs(u) - l1, 0) / (1 + lr * l2)
        """, "not l1"),
    ("ch01.elastic_net_step", "hard_threshold", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.where(np.abs(u) > lr * l1, u, 0.0) / (1 + lr * l2)
        """, "soft thresholding, not hard"),
    ("ch01.elastic_net_step", "thresholds_the_old_weights", """
        def elastic_net_step(param, grad, lr, l1, l2):
            w = np.sign(param) * np.maximum(np.abs(param) - lr * l1, 0)
            return (w - lr * grad) / (1 + lr * l2)
        """, "gradient step on the data loss first"),
    ("ch01.elastic_net_step", "weight_decay_factor", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.sign(u) * np.maximum(np.abs(u) - lr * l1, 0) * (1 - lr * l2)
        """, "DIVIDES"),
    ("ch01.elastic_net_step", "forgets_l2", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.sign(u) * np.maximum(np.abs(u) - lr * l1, 0)
        """, "has an L2 part too"),
    ("ch01.elastic_net_step", "divides_before_thresholding", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = (param - lr * grad) / (1 + lr * l2)
            return np.sign(u) * np.maximum(np.abs(u) - lr * l1, 0)
        """, "threshold first, then divide"),
    ("ch01.elastic_net_step", "l2_in_the_gradient", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * (grad + l2 * param)
            return np.sign(u) * np.maximum(np.abs(u) - lr * l1, 0)
        """, "rather than adding l2*param"),
    ("ch01.elastic_net_step", "sign_of_param_not_u", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.sign(param) * np.maximum(np.abs(u) - lr * l1, 0) / (1 + lr * l2)
        """, "not of the old param"),
    ("ch01.elastic_net_step", "l2_without_lr", """
        def elastic_net_step(param, grad, lr, l1, l2):
            u = param - lr * grad
            return np.sign(u) * np.maximum(np.abs(u) - lr * l1, 0) / (1 + l2)
        """, "not (1 + l2)"),
]

# Wrong solutions written after the case generators and first graded on fresh seeds
# (12345, 777, 31337), where each lost points: held out from the design of the cases.
HELD_OUT_MUTANTS = [
    ("ch01.l2_penalty", "only_the_first_layer", """
        def l2_penalty(named_params, lam):
            name0, w0 = named_params[0]
            return 0.5 * lam * np.sum(w0 * w0), [lam * w0] + [np.zeros_like(w) for _, w in named_params[1:]]
        """, None),
    ("ch01.l2_penalty", "skips_norm_and_bias_by_name", """
        def l2_penalty(named_params, lam):
            skip = [n.endswith("bias") or "norm" in n or "bn" in n for n, _ in named_params]
            penalty = sum(0.5 * lam * np.sum(w * w) for s, (_, w) in zip(skip, named_params) if not s)
            return penalty, [np.zeros_like(w) if s else lam * w for s, (_, w) in zip(skip, named_params)]
        """, "decide by role"),
    ("ch01.adamw_step", "amsgrad_by_accident", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = np.maximum(exp_avg_sq, b2 * exp_avg_sq + (1 - b2) * grad * grad)
            mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, frozenset({"return the updated moments"})),  # where every v shrank, it did
    ("ch01.ridge_with_bias", "centred_matrix_raw_targets", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            Xc = X - X.mean(axis=0)
            w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(d), X.T @ y)
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, None),
    ("ch01.ridge_with_bias", "pseudo_inverse_no_penalty", """
        def ridge_with_bias(X, y, lam):
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            w = np.linalg.pinv(Xc) @ yc
            return w, float(y.mean() - X.mean(axis=0) @ w)
        """, None),
    ("ch01.choose_lambda", "average_standard_error", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            return float(lambdas[mean <= mean.min() + se.mean()].max())
        """, None),
    ("ch01.choose_lambda", "two_standard_errors", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            mean = val_errors.mean(axis=0)
            se = val_errors.std(axis=0, ddof=1) / np.sqrt(len(val_errors))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + 2 * se[best]].max())
        """, None),
    ("ch01.choose_lambda", "pools_validation_and_test", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            errors = np.vstack([val_errors, test_errors])
            mean = errors.mean(axis=0)
            se = errors.std(axis=0, ddof=1) / np.sqrt(len(errors))
            best = np.argmin(mean)
            return float(lambdas[mean <= mean[best] + se[best]].max())
        """, None),
    # a second batch, first graded on seeds 12345, 777, 31337 and 1000-1019
    ("ch01.l2_penalty", "scalar_zero_gradients", """
        def l2_penalty(named_params, lam):
            penalty = sum(0.5 * lam * np.sum(w * w) for _, w in named_params if w.ndim >= 2)
            return penalty, [lam * w if w.ndim >= 2 else 0.0 for _, w in named_params]
        """, "not None or the number 0"),
    ("ch01.adamw_step", "rmsprop_numerator", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            vh = v / (1 - b2 ** step)
            return param * (1 - lr * weight_decay) - lr * grad / (np.sqrt(vh) + eps), m, v
        """, None),
    ("ch01.adamw_step", "v_corrected_with_beta1", """
        def adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay):
            b1, b2 = betas
            m = b1 * exp_avg + (1 - b1) * grad
            v = b2 * exp_avg_sq + (1 - b2) * grad * grad
            mh, vh = m / (1 - b1 ** step), v / (1 - b1 ** step)
            return param * (1 - lr * weight_decay) - lr * mh / (np.sqrt(vh) + eps), m, v
        """, frozenset({"divide m by (1 - beta1**step)"})),
    ("ch01.ridge_with_bias", "median_centring", """
        def ridge_with_bias(X, y, lam):
            n, d = X.shape
            xm, ym = np.median(X, axis=0), np.median(y)
            Xc, yc = X - xm, y - ym
            w = np.linalg.solve(Xc.T @ Xc + n * lam * np.eye(d), Xc.T @ yc)
            return w, float(ym - xm @ w)
        """, None),
    ("ch01.choose_lambda", "next_lambda_after_best", """
        def choose_lambda(lambdas, train_errors, val_errors, test_errors):
            best = int(np.argmin(val_errors.mean(axis=0)))
            return float(lambdas[min(best + 1, len(lambdas) - 1)])
        """, None),
]

ALL_MUTANTS = MUTANTS + MORE_MUTANTS + HELD_OUT_MUTANTS


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch01", reference_functions, capsys)


def test_student_edition_scores_zero(capsys):
    from booktools import make_student_edition as tool
    student, stubbed = tool.student_notebook(nbformat.read(edition_path(CHAPTER), as_version=4),
                                            CHAPTER.stem)
    assert sorted(stubbed) == sorted(e.id for e in chapter_exercises("ch01"))
    functions = solutions_from([dict(cell) for cell in student.cells], "ch01")
    for exercise in chapter_exercises("ch01"):
        result = check(exercise.id, functions[exercise.id])
        assert result.status == "not_attempted" and result.points == 0, capsys.readouterr().out


def test_every_exercise_has_five_cases_and_four_more_mutants():
    for exercise in chapter_exercises("ch01"):
        assert len(exercise.cases) >= 5, exercise.id
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 2, exercise.id
        assert sum(m[0] == exercise.id for m in MORE_MUTANTS) >= 4, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", ALL_MUTANTS,
                         ids=mutant_ids(ALL_MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


def test_adamw_reference_agrees_with_mlpcore():
    """The cases' AdamW formula is mlpcore's AdamW (itself checked against PyTorch)."""
    from mlpcore.exercises.ch01 import _adamw_reference
    rng = np.random.default_rng(0)
    param = Parameter(rng.standard_normal((3, 4)))
    start = param.data.copy()
    optimizer = AdamW([param], lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.7)
    m, v, expected = np.zeros((3, 4)), np.zeros((3, 4)), start
    for step in range(1, 6):
        grad = rng.standard_normal((3, 4))
        param.grad = grad
        optimizer.step()
        expected, m, v = _adamw_reference(expected, grad, m, v, step, 0.05, (0.8, 0.99),
                                          1e-8, 0.7)
    np.testing.assert_allclose(param.data, expected, rtol=1e-12)
    assert not np.allclose(param.data, start)


def test_choose_lambda_cases_tell_the_mistakes_apart():
    """Each wrong rule differs from the right answer in at least one case, or its hint
    could never be shown."""
    from mlpcore.exercises.ch01 import _one_se_choice
    exercise = get_exercise("ch01.choose_lambda")
    rules = {
        "test": lambda l, tr, va, te: l[np.argmin(te.mean(axis=0))],
        "train": lambda l, tr, va, te: l[np.argmin(tr.mean(axis=0))],
        "lowest mean": lambda l, tr, va, te: l[np.argmin(va.mean(axis=0))],
        "std": lambda l, tr, va, te: _one_se_choice(l, va, spread="std"),
        "smallest": lambda l, tr, va, te: _one_se_choice(l, va, pick="smallest"),
        "ddof 0": lambda l, tr, va, te: _one_se_choice(l, va, ddof=0),
        "own se": lambda l, tr, va, te: _one_se_choice(l, va, own=True),
    }
    for name, rule in rules.items():
        differs = [rule(*case.make_inputs()) != _one_se_choice(case.make_inputs()[0],
                                                                case.make_inputs()[2])
                   for case in exercise.cases]
        assert any(differs), f"no case separates the rule '{name}' from the right one"


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1, 2])
def test_cases_are_deterministic_float64_and_small(seed):
    for exercise in chapter_exercises("ch01"):
        for case in exercise.cases_for(seed):
            first, second = case.make_inputs(), case.make_inputs()
            flat = lambda args: [a for arg in args for a in
                                 ([arr for _, arr in arg] if isinstance(arg, list) else [arg])]
            arrays = [a for a in flat(first) if isinstance(a, np.ndarray)]
            assert arrays and all(a.dtype.kind != "f" or a.dtype == np.float64 for a in arrays)
            assert all(a.size <= 200 for a in arrays)
            for a, b in zip(flat(first), flat(second)):
                assert np.array_equal(np.asarray(a), np.asarray(b))


def test_elastic_net_reference_is_the_proximal_map():
    """The cases' answer minimises (1/2)(w - u)^2 + lr*(l1|w| + (l2/2) w^2) entry by entry
    (checked on a fine grid around it), and for l2 = 0 it is PyTorch's softshrink."""
    from mlpcore.exercises.ch01 import _elastic_net_reference
    rng = np.random.default_rng(0)
    param, grad = rng.standard_normal(50), rng.standard_normal(50)
    lr, l1, l2 = 0.3, 0.8, 1.5
    u = param - lr * grad
    best = _elastic_net_reference(param, grad, lr, l1, l2)
    grid = best[:, None] + np.linspace(-0.5, 0.5, 2001)[None, :]
    objective = lambda w: 0.5 * (w - u[:, None]) ** 2 + lr * (l1 * np.abs(w) + l2 / 2 * w ** 2)
    assert np.all(objective(best[:, None])[:, 0] <= objective(grid).min(axis=1) + 1e-12)
    assert np.sum(best == 0) > 5 and np.sum(best != 0) > 5   # both kinds of entry occur
    torch = pytest.importorskip("torch")
    soft = torch.nn.functional.softshrink(torch.from_numpy(u), lambd=lr * l1).numpy()
    np.testing.assert_allclose(_elastic_net_reference(param, grad, lr, l1, 0.0), soft, rtol=1e-12)


def test_elastic_net_sign_of_param_is_caught_on_every_case_seed():
    """The audit's mutant (sign of the old weight, not of u) scored 6/6 on 25 of 200 case
    seeds; the case whose data step carries weights across zero catches it on all 200."""
    from mlpcore.exercises.ch01 import _elastic_net_reference
    exercise = next(e for e in chapter_exercises("ch01") if e.id == "ch01.elastic_net_step")
    def mutant(param, grad, lr, l1, l2):
        u = param - lr * grad
        return np.sign(param) * np.maximum(np.abs(u) - lr * l1, 0) / (1 + lr * l2)
    for seed in range(200):
        assert any(not np.allclose(mutant(*case.make_inputs()), _elastic_net_reference(*case.make_inputs()))
                   for case in exercise.cases_for(seed)), seed
