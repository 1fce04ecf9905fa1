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

from mlpcore import BatchNorm1d, Parameter, init
from mlpcore.clip import clip_grad_norm_
from mlpcore.exercises import PUBLIC_CASES_SEED, chapter_exercises, get_exercise, run_exercise
from mlpgrader.notebook import find_exercise_source, load_cells
from mlpcore.exercises import ch03
from tests.exercises._support import (REFERENCE_SEEDS, assert_enough_cases_and_mutants,
                                      assert_every_hint_reachable,
                                      assert_loses_points_on_held_out_seeds, assert_mutant_caught,
                                      assert_references_pass, assert_references_score_full_points,
                                      assert_student_edition_scores_zero, define, mutant_ids,
                                      run_source, solutions_from)

NOTEBOOK = Path(__file__).resolve().parents[2] / "book" / "03_vanishing_exploding_gradients.ipynb"


#: The reference rule for 3.5 that is right on every drawn case and on the chapter's own
#: 30-layer nets (the book's cell still holds the rule that checks the dead fraction first,
#: at 0.2, which calls a healthy or exploding 30-layer ReLU net "dead"). Paste this into
#: the exercise cell of book/03_vanishing_exploding_gradients.ipynb, between the solution
#: markers; test_book_holds_the_new_diagnose_rule then passes and its xfail must go.
NEW_DIAGNOSE = """
def diagnose(profile):
    \"\"\"One of "healthy", "vanishing", "exploding", "saturated", "dead".

    Self-contained: only `import numpy as np` is assumed.
    \"\"\"
    ### BEGIN SOLUTION
    std, grads = profile["act_std"], profile["grad_norm"]
    # The activation std's factor PER LAYER (a geometric mean): over 30 layers even a
    # healthy narrow net drifts by a factor 10 or more, but never by 0.8 or 1.25 a layer.
    factor = (std[-1] / std[0]) ** (1 / (len(std) - 1))
    # Saturation names itself, whatever the gradients and the loss do.
    if np.mean(profile["saturated"]) > 0.3:
        return "saturated"
    # Then the scale: a growing signal (or a huge initial loss) is an explosion, even
    # when the gradient ratio looks harmless; scaling the weights of a ReLU net with zero
    # biases does not change which units are 0, so its dead fraction is a healthy one.
    if factor > 1.25 or profile["initial_loss"] > 3 * np.log(10):
        return "exploding"
    # Depth alone kills about a fifth of a healthy ReLU stack's units at 30 layers (more
    # in its last layers): dying ReLU is a dead fraction well above that.
    if np.mean(profile["dead"]) > 0.4:
        return "dead"
    if factor < 0.8 or grads[0] < 1e-2 * grads[-1]:
        return "vanishing"
    return "healthy"
    ### END SOLUTION
"""


@pytest.fixture(scope="module")
def reference_functions():
    functions = solutions_from(load_cells(NOTEBOOK), "ch03")
    return functions


# (exercise, mutant name, source, a fragment the hint must contain)
INIT_HEAD = '''
        def init_weight(fan_in, fan_out, scheme, nonlinearity, mode, rng):
            gain = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": np.sqrt(2.0)}[nonlinearity]
'''


def _init(body: str) -> str:
    """A learner's init_weight: the gain table, then ``body`` (8 spaces of indent)."""
    return INIT_HEAD + "\n".join("            " + line for line in body.strip("\n").split("\n")) + "\n"


RIGHT_STD = '''if scheme.startswith("xavier"):
    std = gain * np.sqrt(2 / (fan_in + fan_out))
else:
    std = gain / np.sqrt(fan_in if mode == "fan_in" else fan_out)'''
RIGHT_DRAW = '''if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(-a, a, size=(fan_in, fan_out))
return rng.normal(0, std, size=(fan_in, fan_out))'''

INIT_MUTANTS = [
    ("pytorch_layout", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(-a, a, size=(fan_out, fan_in))
return rng.normal(0, std, size=(fan_out, fan_in))''', "(in, out)"),
    # PyTorch's _calculate_fan_in_and_fan_out read as if our weight were (out, in)
    ("pytorch_fans_on_our_layout", '''if scheme.startswith("xavier"):
    std = gain * np.sqrt(2 / (fan_in + fan_out))
else:
    std = gain / np.sqrt(fan_out if mode == "fan_in" else fan_in)
''' + RIGHT_DRAW, "shape[0] in the (in, out) layout"),
    ("bound_is_std", RIGHT_STD + '''
if scheme.endswith("uniform"):
    return rng.uniform(-std, std, size=(fan_in, fan_out))
return rng.normal(0, std, size=(fan_in, fan_out))''', "sqrt(3)·std, not the std itself"),
    ("bound_times_three", RIGHT_STD + '''
if scheme.endswith("uniform"):
    return rng.uniform(-3 * std, 3 * std, size=(fan_in, fan_out))
return rng.normal(0, std, size=(fan_in, fan_out))''', "the square root of 3"),
    ("gain_on_the_variance", '''if scheme.startswith("xavier"):
    std = np.sqrt(gain * 2 / (fan_in + fan_out))
else:
    std = np.sqrt(gain / (fan_in if mode == "fan_in" else fan_out))
''' + RIGHT_DRAW, "carries gain²"),
    ("no_gain", '''gain = 1.0
''' + RIGHT_STD + "\n" + RIGHT_DRAW, "you left it out"),
    ("relu_factor_twice", '''if scheme.startswith("xavier"):
    std = gain * np.sqrt(2 / (fan_in + fan_out))
else:
    std = gain * np.sqrt(2 / (fan_in if mode == "fan_in" else fan_out))
''' + RIGHT_DRAW, "no second factor 2"),
    ("xavier_with_fan_in_only", '''if scheme.startswith("xavier"):
    std = gain / np.sqrt(fan_in)
else:
    std = gain / np.sqrt(fan_in if mode == "fan_in" else fan_out)
''' + RIGHT_DRAW, "not one fan alone"),
    ("xavier_without_the_two", '''if scheme.startswith("xavier"):
    std = gain * np.sqrt(1 / (fan_in + fan_out))
else:
    std = gain / np.sqrt(fan_in if mode == "fan_in" else fan_out)
''' + RIGHT_DRAW, "harmonically"),
    ("variance_as_scale", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(-a, a, size=(fan_in, fan_out))
return rng.normal(0, std ** 2, size=(fan_in, fan_out))''', "STANDARD DEVIATION"),
    ("uniform_from_zero", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(0, 2 * a, size=(fan_in, fan_out))
return rng.normal(0, std, size=(fan_in, fan_out))''', "centred on 0"),
    ("normal_for_uniform", RIGHT_STD + '''
return rng.normal(0, std, size=(fan_in, fan_out))''', "tails beyond any bound"),
    ("uniform_for_normal", RIGHT_STD + '''
a = np.sqrt(3) * std
return rng.uniform(-a, a, size=(fan_in, fan_out))''', "stops at sqrt(3)·std"),
    ("keras_truncated_normal", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(-a, a, size=(fan_in, fan_out))
z = rng.standard_normal((fan_in, fan_out))
while np.any(np.abs(z) > 2):
    bad = np.abs(z) > 2
    z[bad] = rng.standard_normal(int(bad.sum()))
return z * std / 0.87962566103423978''', "truncated normal"),
    ("one_row_repeated", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return np.tile(rng.uniform(-a, a, size=fan_out), (fan_in, 1))
return np.tile(rng.normal(0, std, size=fan_out), (fan_in, 1))''', "independent draw"),
    ("global_np_random", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return np.random.uniform(-a, a, size=(fan_in, fan_out))
return np.random.normal(0, std, size=(fan_in, fan_out))''', "draw from the generator `rng`"),
    ("own_fixed_seed", "rng = np.random.default_rng(0)\n" + RIGHT_STD + "\n" + RIGHT_DRAW,
     "draw from the generator `rng`"),
    # the hostile-student audit's further mistakes
    # kaiming_normal_'s default nonlinearity ("leaky_relu", a=0) kept whatever the layer's is
    ("kaiming_default_gain", 'if scheme.startswith("kaiming"):\n    gain = np.sqrt(2.0)\n'
     + RIGHT_STD + "\n" + RIGHT_DRAW, "THIS layer's nonlinearity"),
    # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), a bound of 1/sqrt(fan_in)
    ("nn_linear_default", 'if scheme.startswith("kaiming"):\n    gain = np.sqrt(2 / (1 + 5))\n'
     + RIGHT_STD + "\n" + RIGHT_DRAW, "nn.Linear's own default"),
    # the geometric mean of the fans: within 6 % of the right variance when they are twice
    # apart, so no variance names it on every draw; caught (by the KS test), with no hint
    ("xavier_geometric_mean", RIGHT_STD.replace("np.sqrt(2 / (fan_in + fan_out))",
                                                "1 / (fan_in * fan_out) ** 0.25") + "\n" + RIGHT_DRAW,
     None),
    ("normal_scale_is_the_bound", RIGHT_STD + '''
a = np.sqrt(3) * std
if scheme.endswith("uniform"):
    return rng.uniform(-a, a, size=(fan_in, fan_out))
return rng.normal(0, a, size=(fan_in, fan_out))''', "is NumPy's `scale`"),
    ("relu_gain_two", 'gain = 2.0 if nonlinearity == "relu" else gain\n' + RIGHT_STD + "\n" + RIGHT_DRAW,
     "not 2"),
    ("mode_ignored", RIGHT_STD.replace('fan_in if mode == "fan_in" else fan_out', "fan_in") + "\n"
     + RIGHT_DRAW, "mode names the fan"),
    # a slightly shifted draw (a tenth of a standard deviation): not the range, the centre
    ("shifted_a_little", RIGHT_STD + '''
if scheme.endswith("uniform"):
    a = np.sqrt(3) * std
    return rng.uniform(-a, a, size=(fan_in, fan_out)) + 0.1 * std
return rng.normal(0.1 * std, std, size=(fan_in, fan_out))''', "centred on 0"),
]


CLIP_HEAD = '''
        def clip_grad_norm(grads, max_norm, norm_type):
'''


def _clip(body: str) -> str:
    return CLIP_HEAD + "\n".join("            " + line for line in body.strip("\n").split("\n")) + "\n"


RIGHT_TOTAL = '''flat = np.concatenate([np.ravel(g) for g in grads])
total = float(np.linalg.norm(flat, ord=norm_type))'''
RIGHT_SCALE = '''factor = min(1.0, max_norm / (total + 1e-6))
return [g * factor for g in grads], total'''

CLIP_MUTANTS = [
    ("per_tensor", RIGHT_TOTAL + '''
return [g * min(1.0, max_norm / (np.linalg.norm(np.ravel(g), ord=norm_type) + 1e-6))
        for g in grads], total''', "ALL gradients together"),
    ("always_scales", RIGHT_TOTAL + '''
return [g * max_norm / (total + 1e-6) for g in grads], total''', "only scale DOWN"),
    ("norm_after_clipping", RIGHT_TOTAL + '''
factor = min(1.0, max_norm / (total + 1e-6))
return [g * factor for g in grads], total * factor''', "BEFORE clipping"),
    ("value_clipping", RIGHT_TOTAL + '''
return [np.clip(g, -max_norm, max_norm) for g in grads], total''', "np.clip"),
    ("in_place", RIGHT_TOTAL + '''
for g in grads:
    g *= min(1.0, max_norm / (total + 1e-6))
return grads, total''', "an array inside `grads`"),
    ("sum_of_array_norms", '''total = float(sum(np.linalg.norm(np.ravel(g), ord=norm_type) for g in grads))
''' + RIGHT_SCALE, "not the sum of the"),
    ("largest_array_norm", '''total = float(max(np.linalg.norm(np.ravel(g), ord=norm_type) for g in grads))
''' + RIGHT_SCALE, "not just the largest"),
    ("array_norms_combined_as_l2", '''norms = [np.linalg.norm(np.ravel(g), ord=norm_type) for g in grads]
total = float(np.sqrt(sum(n ** 2 for n in norms)))
''' + RIGHT_SCALE, "with the SAME p"),
    ("norm_type_ignored", '''total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
''' + RIGHT_SCALE, "you computed the L2 norm"),
    ("no_root", '''if norm_type == np.inf:
    total = float(max(np.max(np.abs(g)) for g in grads))
else:
    total = float(sum(np.sum(np.abs(g) ** norm_type) for g in grads))
''' + RIGHT_SCALE, "ROOT"),
    ("no_absolute_value", '''if norm_type == np.inf:
    total = float(max(np.max(g) for g in grads))
else:
    total = float(sum(np.sum(g ** norm_type) for g in grads) ** (1 / norm_type))
''' + RIGHT_SCALE, "ABSOLUTE values"),
    ("root_mean_square", '''flat = np.concatenate([np.ravel(g) for g in grads])
if norm_type == np.inf:
    total = float(np.max(np.abs(flat)))
else:
    total = float(np.mean(np.abs(flat) ** norm_type) ** (1 / norm_type))
''' + RIGHT_SCALE, "root-mean-square"),
    ("inverted_factor", RIGHT_TOTAL + '''
factor = max(1.0, (total + 1e-6) / max_norm)
return [g * factor for g in grads], total''', "not its inverse"),
    ("no_eps", RIGHT_TOTAL + '''
factor = min(1.0, max_norm / total) if total > 0 else 1.0
return [g * factor for g in grads], total''', "total_norm + 1e-6"),
    # the hostile-student audit's further mistakes
    ("textbook_if_without_eps", RIGHT_TOTAL + '''
factor = max_norm / total if total > max_norm else 1.0
return [g * factor for g in grads], total''', "total_norm + 1e-6"),
    ("eps_on_max_norm_too", RIGHT_TOTAL + '''
factor = min(1.0, (max_norm + 1e-6) / (total + 1e-6))
return [g * factor for g in grads], total''', "added to total_norm only"),
    ("norm_of_the_clipped_arrays", RIGHT_TOTAL + '''
clipped = [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]
return clipped, float(np.linalg.norm(np.concatenate([np.ravel(g) for g in clipped]), ord=norm_type))''',
     "BEFORE clipping"),
    # np.linalg.norm(g, ord) on a 2-D array is a matrix norm (3-D ones raveled, as they must be)
    ("matrix_norm_per_array", '''norms = [np.linalg.norm(g, ord=norm_type) if np.ndim(g) == 2 and norm_type in (1, 2, np.inf)
         else np.linalg.norm(np.ravel(g), ord=norm_type) for g in grads]
total = float(np.linalg.norm(norms, ord=norm_type))
''' + RIGHT_SCALE, "MATRIX norm"),
    ("per_array_norm_without_ord", '''norms = [np.linalg.norm(np.ravel(g)) for g in grads]
total = float(np.linalg.norm(norms, ord=norm_type))
''' + RIGHT_SCALE, "needs the order p as well"),
]

NEW_MUTANTS = ([("ch03.init_weight", name, _init(body), hint) for name, body, hint in INIT_MUTANTS]
               + [("ch03.clip_grad_norm", name, _clip(body), hint)
                  for name, body, hint in CLIP_MUTANTS])


MUTANTS = [
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
        """, frozenset({"saturation", "the same at any weight scale", "that is vanishing",
                   "a few dead units are not a dead network"})),
    # (3.5's hints explain the network's true label: this rule is wrong on several kinds,
    # and on the saturated sigmoid only when its gradient shrinks by 100 or more)
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
    ("ch03.batchnorm_train_forward", "running_statistics_in_training", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[0]
            y = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
            return (y, (1 - momentum) * running_mean + momentum * x.mean(axis=0),
                    (1 - momentum) * running_var + momentum * x.var(axis=0) * n / (n - 1))
        """, "statistics of the current batch"),
    ("ch03.batchnorm_train_forward", "n_is_the_number_of_features", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[1]
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "BATCH size"),
    ("ch03.batchnorm_train_forward", "beta_before_dividing", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[0]
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = (gamma * (x - mean) + beta) / np.sqrt(var + eps)
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "beta is added AFTER"),
    ("ch03.batchnorm_train_forward", "one_mean_for_the_whole_batch", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[0]
            y = gamma * (x - x.mean()) / np.sqrt(x.var() + eps) + beta
            mean, var = x.mean(axis=0), x.var(axis=0)
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "PER FEATURE"),
    ("ch03.batchnorm_train_forward", "gamma_and_beta_swapped", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[0]
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = beta * (x - mean) / np.sqrt(var + eps) + gamma
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "gamma scales and beta shifts"),
    ("ch03.batchnorm_train_forward", "no_gamma_no_beta", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            n = x.shape[0]
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = (x - mean) / np.sqrt(var + eps)
            return (y, (1 - momentum) * running_mean + momentum * mean,
                    (1 - momentum) * running_var + momentum * var * n / (n - 1))
        """, "scale by gamma"),
    ("ch03.batchnorm_train_forward", "running_statistics_not_updated", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return y, running_mean.copy(), running_var.copy()
        """, "update the running mean"),
    ("ch03.batchnorm_train_forward", "running_var_not_updated", """
        def batchnorm_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps):
            mean, var = x.mean(axis=0), x.var(axis=0)
            y = gamma * (x - mean) / np.sqrt(var + eps) + beta
            return y, (1 - momentum) * running_mean + momentum * mean, running_var.copy()
        """, "update the running variance"),
    ("ch03.stable_init_std", "divides_by_fan_in_not_its_root", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, (1 + negative_slope ** 2) / 2)
            return 1 / (fan_in * np.sqrt(kept))
        """, "sqrt(fan_in), not fan_in"),
    ("ch03.stable_init_std", "multiplies_by_what_is_kept", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, (1 + negative_slope ** 2) / 2)
            return np.sqrt(kept / fan_in)
        """, "don't multiply"),
    ("ch03.stable_init_std", "slope_subtracted", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, (1 - negative_slope ** 2) / 2)
            return np.sqrt(1 / (fan_in * kept))
        """, "not (1 - slope²) / 2"),
    ("ch03.stable_init_std", "no_half", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = {"linear": 1.0, "relu": 0.5}.get(activation, 1 + negative_slope ** 2)
            return np.sqrt(1 / (fan_in * kept))
        """, "negative HALF"),
    ("ch03.stable_init_std", "slope_used_for_relu", """
        def stable_init_std(fan_in, activation, negative_slope):
            kept = 1.0 if activation == "linear" else (1 + negative_slope ** 2) / 2
            return np.sqrt(1 / (fan_in * kept))
        """, "belongs to leaky_relu only"),
    ("ch03.stable_init_std", "he_for_linear", """
        def stable_init_std(fan_in, activation, negative_slope):
            if activation == "leaky_relu":
                return np.sqrt(2 / (fan_in * (1 + negative_slope ** 2)))
            return np.sqrt(2 / fan_in)
        """, "no factor 2"),
    ("ch03.diagnose", "max_dead_over_half", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if np.max(profile["dead"]) > 0.5:
                return "dead"
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if std[-1] > 10 * std[0] or profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            if std[-1] < 0.1 * std[0] or grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            return "healthy"
        """, "a few dead units are not a dead network"),
    ("ch03.diagnose", "exploding_by_the_loss_only", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            if np.mean(profile["dead"]) > 0.4:
                return "dead"
            if std[-1] < 0.1 * std[0] or grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            return "healthy"
        """, "a small last layer can hide it"),
    ("ch03.diagnose", "sigmoid_means_vanishing", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if profile["activation"] == "sigmoid":
                return "vanishing"
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if std[-1] > 10 * std[0] or profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            if np.mean(profile["dead"]) > 0.4:
                return "dead"
            if std[-1] < 0.1 * std[0] or grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            return "healthy"
        """, "cause to name is saturation"),
    ("ch03.diagnose", "dead_before_exploding_at_a_fifth", """
        def diagnose(profile):
            std, grads = profile["act_std"], profile["grad_norm"]
            if np.mean(profile["dead"]) > 0.2:
                return "dead"
            if np.mean(profile["saturated"]) > 0.3:
                return "saturated"
            if std[-1] > 10 * std[0] or profile["initial_loss"] > 3 * np.log(10):
                return "exploding"
            if std[-1] < 0.1 * std[0] or grads[0] < 1e-2 * grads[-1]:
                return "vanishing"
            return "healthy"
        """, "the same at any weight scale"),
] + NEW_MUTANTS


def test_reference_solutions_score_full_points(reference_functions, capsys):
    assert_references_score_full_points("ch03", reference_functions, capsys)


def test_every_exercise_has_enough_cases_and_mutants():
    assert_enough_cases_and_mutants("ch03", MUTANTS, 6)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS, ids=mutant_ids(MUTANTS))
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert_every_hint_reachable("ch03", ch03.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_reference_passes_on_every_seed(reference_functions, seed):
    assert_references_pass("ch03", reference_functions, seed)


def test_book_holds_the_new_diagnose_rule():
    source = find_exercise_source(load_cells(NOTEBOOK), get_exercise("ch03.diagnose"))
    assert "np.mean(profile[\"dead\"]) > 0.4" in source


@pytest.mark.parametrize("seed", [PUBLIC_CASES_SEED, 1])
def test_cases_are_deterministic(seed):
    def same(a, b) -> bool:
        if isinstance(a, np.random.Generator):
            return a.bit_generator.state == b.bit_generator.state
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(map(same, a, b))
        return np.array_equal(np.asarray(a), np.asarray(b))
    for exercise in chapter_exercises("ch03"):
        for case in exercise.cases_for(seed):
            assert same(case.make_inputs(), case.make_inputs()), (exercise.id, case.name)


def test_student_edition_scores_zero(tmp_path, capsys):
    assert_student_edition_scores_zero(NOTEBOOK, "ch03", tmp_path, capsys)


INITIALISERS = {"xavier_uniform": init.xavier_uniform_, "xavier_normal": init.xavier_normal_,
                "kaiming_uniform": init.kaiming_uniform_, "kaiming_normal": init.kaiming_normal_}


def _draw_with(library, case_inputs, to_ours=lambda w: w):
    """The case's weight drawn by ``library``'s initialiser of that scheme, with the
    case's gain or mode (``to_ours`` turns the library's array into (in, out))."""
    fan_in, fan_out, scheme, nonlinearity, mode, rng = case_inputs
    if library is init:
        weight = np.empty((fan_in, fan_out))
        kwargs = {"rng": rng}
    else:   # torch: the same layer's weight is (out, in)
        weight = library.empty(fan_out, fan_in, dtype=library.float64)
        library = library.nn.init
        kwargs = {}
    initialiser = getattr(library, scheme + "_")
    if scheme.startswith("xavier"):
        initialiser(weight, gain=library.calculate_gain(nonlinearity), **kwargs)
    else:
        initialiser(weight, a=0, mode=mode, nonlinearity=nonlinearity, **kwargs)
    return to_ours(weight)


def test_init_judge_passes_mlpcore_init_on_many_seeds():
    """mlpcore.init's own draws pass every init case of many seeds: the DKW threshold
    (false fail <= 1e-9 per case) leaves a correct draw alone whatever the sizes."""
    for seed in range(8):
        for case in get_exercise("ch03.init_weight").cases_for(seed):
            weight = _draw_with(init, case.make_inputs())
            assert ch03._judge_init(case.make_inputs(), weight) is None, (seed, case.name)


def test_init_reference_is_pytorchs():
    """torch.nn.init's draws for the same layer, (out, in) transposed to (in, out), pass
    every case (gains, modes and the uniform bound are PyTorch's), and the gains are
    calculate_gain's."""
    torch = pytest.importorskip("torch")
    for name, gain in ch03.GAINS.items():
        assert math.isclose(torch.nn.init.calculate_gain(name), gain, rel_tol=1e-12), name
    torch.manual_seed(0)
    for seed in (PUBLIC_CASES_SEED, 3):
        for case in get_exercise("ch03.init_weight").cases_for(seed):
            weight = _draw_with(torch, case.make_inputs(), lambda w: w.numpy().T.copy())
            assert ch03._judge_init(case.make_inputs(), weight) is None, (seed, case.name)
            fan_in, fan_out, scheme, nonlinearity, mode, _ = case.make_inputs()
            if scheme.endswith("uniform"):   # the bound, to the last digit
                std = ch03._expected_std(fan_in, fan_out, scheme, nonlinearity, mode)
                assert math.sqrt(3) * std * 0.98 < np.abs(weight).max() <= math.sqrt(3) * std


def test_init_distribution_check_has_the_power_it_claims():
    """Against distributions with the right variance but the wrong shape, the large
    normal case fails them: its KS threshold is below half the distance to each."""
    case = next(case for case in get_exercise("ch03.init_weight").cases
                if "200,000" in case.name)
    fan_in, fan_out, scheme, nonlinearity, mode, _ = case.make_inputs()
    assert scheme == ch03.KAIMING_NORMAL
    threshold = ch03._dkw_threshold(fan_in * fan_out)
    assert fan_in * fan_out >= 200_000 and threshold < 0.0074
    rng = np.random.default_rng(5)
    std = ch03._expected_std(fan_in, fan_out, scheme, nonlinearity, mode)
    z = rng.standard_normal((fan_in, fan_out))
    while np.any(np.abs(z) > 2):
        bad = np.abs(z) > 2
        z[bad] = rng.standard_normal(int(bad.sum()))
    others = {"truncated (Keras)": z * std / 0.87962566103423978,
              "uniform": rng.uniform(-1, 1, (fan_in, fan_out)) * std * math.sqrt(3),
              "logistic": rng.logistic(0, std * math.sqrt(3) / math.pi, (fan_in, fan_out)),
              "laplace": rng.laplace(0, std / math.sqrt(2), (fan_in, fan_out))}
    for name, weight in others.items():
        assert ch03._ks_distance(weight, False, std ** 2) > 2 * threshold, name


def _clip_cases_inputs(seeds=(PUBLIC_CASES_SEED, 1, 2)):
    for seed in seeds:
        for case in get_exercise("ch03.clip_grad_norm").cases_for(seed):
            yield case.name, case.make_inputs()


def test_clip_reference_matches_mlpcore():
    for name, (grads, max_norm, norm_type) in _clip_cases_inputs():
        params = [Parameter(np.zeros_like(g)) for g in grads]
        for param, grad in zip(params, grads):
            param.grad = grad.copy()
        total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
        clipped, reference_total = ch03._clip_reference(grads, max_norm, norm_type)
        assert math.isclose(total, reference_total, rel_tol=1e-12, abs_tol=1e-300), name
        for param, want in zip(params, clipped):
            np.testing.assert_allclose(param.grad, want, rtol=1e-12, atol=0, err_msg=name)


def test_clip_reference_is_pytorchs():
    """torch.nn.utils.clip_grad_norm_ on the same gradients (float64): the same total
    norm before clipping (orders 1, 2, 3 and inf), the same clipped gradients, the
    1e-6 of the tiny case included."""
    torch = pytest.importorskip("torch")
    for name, (grads, max_norm, norm_type) in _clip_cases_inputs():
        params = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in grads]
        for param, grad in zip(params, grads):
            param.grad = torch.from_numpy(np.array(grad, dtype=np.float64))
        total = float(torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type))
        clipped, reference_total = ch03._clip_reference(grads, max_norm, norm_type)
        assert math.isclose(total, reference_total, rel_tol=1e-12, abs_tol=1e-300), name
        for param, want in zip(params, clipped):
            np.testing.assert_allclose(param.grad.numpy(), want, rtol=1e-12, atol=0,
                                       err_msg=name)


def test_batchnorm_reference_matches_mlpcore():
    x, gamma, beta, mean, var, momentum, eps = ch03._bn_draw(np.random.default_rng(50), 6, 3)
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


def test_diagnosis_cases_cover_every_label_in_a_seed_dependent_order():
    def labels(seed):
        return [case.judge(None, "healthy") and case.judge(None, "healthy").message.split("'")[1]
                or "healthy" for case in get_exercise("ch03.diagnose").cases_for(seed)]
    first, second = labels(PUBLIC_CASES_SEED), labels(1)
    assert sorted(first) == sorted(second) == sorted(label for label, _ in ch03.DIAGNOSIS_KINDS)
    assert set(first) == set(ch03.LABELS) and first != second


def test_diagnosis_profiles_are_real_and_of_12_to_30_layers():
    for case in get_exercise("ch03.diagnose").cases:
        profile = case.make_inputs()[0]
        assert 11 <= len(profile["act_std"]) <= 29 and len(profile["grad_norm"]) == \
            len(profile["act_std"]) + 1
        assert set(profile) >= {"activation", "act_std", "saturated", "dead", "grad_norm",
                                "initial_loss"}


CRUDE_RULES = {
    "max dead > 0.5": "max_dead_over_half",
    "exploding = loss only": "exploding_by_the_loss_only",
    "sigmoid => vanishing": "sigmoid_means_vanishing",
    "the book's old rule (dead first, at 0.2)": "dead_before_exploding_at_a_fifth",
    "gradient ratio only": "gradient_ratio_only",
}


def test_crude_diagnosis_rules_lose_points_on_ten_seeds(reference_functions):
    """The new reference is right on every case of ten seeds; each crude rule loses
    points on every one of them."""
    sources = {name: source for exercise_id, name, source, _ in MUTANTS
               if exercise_id == "ch03.diagnose"}
    exercise = get_exercise("ch03.diagnose")
    for seed in range(10):
        assert run_exercise(exercise, reference_functions["ch03.diagnose"],
                            seed=seed).status == "passed", seed
        for rule, name in CRUDE_RULES.items():
            result = run_source("ch03.diagnose", sources[name], seed)
            assert result.points < result.max_points, (rule, seed)


def test_diagnose_is_right_on_the_chapters_own_30_layer_nets(reference_functions):
    """Section 8's healthy (He) and exploding (He x 2) ReLU nets, width 64, at 30 layers,
    as the chapter builds them, over ten seeds: the reference names both right."""
    from mlpcore import Linear, ReLU, Sequential

    def chapter_net(rng, scale):
        sizes = [64] + [64] * 29 + [10]
        layers = []
        for index in range(30):
            layer = Linear(sizes[index], sizes[index + 1], rng=rng, dtype=np.float32)
            init.kaiming_normal_(layer.weight, nonlinearity="relu", rng=rng)
            init.zeros_(layer.bias)
            layer.weight.data *= scale
            layers += [layer] + ([ReLU()] if index < 29 else [])
        return Sequential(*layers)

    diagnose = reference_functions["ch03.diagnose"]
    old = define(next(source for exercise_id, name, source, _ in MUTANTS
                      if name == "dead_before_exploding_at_a_fifth"), "diagnose")
    old_wrong = 0
    for seed in range(10):
        for label, scale in (("healthy", 1.0), ("exploding", 2.0)):
            profile = ch03._layer_profile(chapter_net(np.random.default_rng(seed), scale))
            assert diagnose(profile) == label, (seed, label)
            old_wrong += old(profile) != label
    assert old_wrong >= 4, "the old rule was wrong on these nets; is the test still testing?"
