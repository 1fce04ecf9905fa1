"""Chapter 2's graded exercises (dropout), checked in-process as `check` runs them.

The reference solutions are read from book/02_dropout.ipynb; they must score 100 %,
and the student edition of the chapter (tools/make_student_edition.py) must score 0 %
("not attempted"). MUTANTS are plausible learner mistakes: each must lose points AND
get the hint that names its mistake, or the cases grade nothing. Random masks are
drawn from the generator the case passes in, so a correct answer drawn in another
valid way (vectorised, `binomial`) must pass too.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fixtures.exercise_checks import assert_mutant_caught, define, solutions_from
from fixtures.exercise_notebooks import edition_path
from fixtures.heldout_checks import (HELD_OUT_SEEDS, assert_every_hint_reachable,
                                     assert_loses_points_on_held_out_seeds, run_source)
from mlpgrader.notebook import load_cells
from mlpcore.exercises import (PUBLIC_CASES_SEED, chapter_exercises, check, get_exercise,
                               run_exercise)
from mlpcore.exercises import ch02

ROOT = Path(__file__).resolve().parent.parent
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
    # ---- ch02.standard_dropout
    ("ch02.standard_dropout", "inverted_scaling", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x, None
            mask = rng.random(x.shape) < keep_prob
            return x * mask / keep_prob, mask
        """, "inverted dropout"),
    ("ch02.standard_dropout", "no_test_time_scaling", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x, None
            mask = rng.random(x.shape) < keep_prob
            return x * mask, mask
        """, "multiplied by keep_prob"),
    ("ch02.standard_dropout", "keep_prob_read_as_drop", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * (1 - keep_prob), None
            mask = rng.random(x.shape) >= keep_prob
            return x * mask, mask
        """, "probability of KEEPING"),
    ("ch02.standard_dropout", "global_random_state", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = np.random.default_rng(0).random(x.shape) < keep_prob
            return x * mask, mask
        """, "from the generator `rng`"),
    ("ch02.standard_dropout", "scales_in_training_too", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = rng.random(x.shape) < keep_prob
            return x * mask * keep_prob, mask
        """, "bare mask"),
    ("ch02.standard_dropout", "multiplies_by_the_dropped_units", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = rng.random(x.shape) < keep_prob
            return x * (1 - mask), mask
        """, "marks the KEPT units"),
    ("ch02.standard_dropout", "eval_applies_a_mask", """
        def standard_dropout(x, keep_prob, training, rng):
            mask = rng.random(x.shape) < keep_prob
            return x * mask, mask
        """, "nothing is random: no mask"),
    ("ch02.standard_dropout", "one_mask_row_for_the_batch", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = rng.random(x.shape[-1]) < keep_prob
            return x * mask, np.broadcast_to(mask, x.shape)
        """, "its own coin"),
    ("ch02.standard_dropout", "the_papers_one_half", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * 0.5, None
            mask = rng.random(x.shape) < 0.5
            return x * mask, mask
        """, "not the paper's 0.5"),
    ("ch02.standard_dropout", "legacy_global_np_random", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = np.random.rand(*x.shape) < keep_prob
            return x * mask, mask
        """, "from the generator `rng`"),
    ("ch02.standard_dropout", "divides_at_test_time", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x / keep_prob, None
            mask = rng.random(x.shape) < keep_prob
            return x * mask, mask
        """, "MULTIPLY by keep_prob"),
    # ---- ch02.standard_to_inverted
    ("ch02.standard_to_inverted", "p_is_keep", """
        def standard_to_inverted(weight, bias, keep_prob):
            return keep_prob, keep_prob * weight, bias.copy()
        """, "DROP probability"),
    ("ch02.standard_to_inverted", "weights_unchanged", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, weight.copy(), bias.copy()
        """, "move into the next layer's weights"),
    ("ch02.standard_to_inverted", "wrong_direction", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, weight / keep_prob, bias.copy()
        """, "wrong direction"),
    ("ch02.standard_to_inverted", "bias_scaled", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, keep_prob * weight, keep_prob * bias
        """, "never dropped"),
    ("ch02.standard_to_inverted", "bias_divided", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, keep_prob * weight, bias / keep_prob
        """, "never dropped"),
    ("ch02.standard_to_inverted", "weights_times_drop_probability", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, (1 - keep_prob) * weight, bias.copy()
        """, "probability of KEEPING"),
    ("ch02.standard_to_inverted", "scaled_twice", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, keep_prob * (keep_prob * weight), bias.copy()
        """, "once"),
    ("ch02.standard_to_inverted", "divides_by_drop_probability", """
        def standard_to_inverted(weight, bias, keep_prob):
            p = 1 - keep_prob
            return p, weight / (1 - keep_prob), bias.copy()
        """, "not 1 / (1 - keep_prob)"),
    ("ch02.standard_to_inverted", "rounded_p", """
        def standard_to_inverted(weight, bias, keep_prob):
            return round(1 - keep_prob, 2), keep_prob * weight, bias.copy()
        """, "do not round"),
    ("ch02.standard_to_inverted", "bias_times_drop_probability", """
        def standard_to_inverted(weight, bias, keep_prob):
            return 1 - keep_prob, keep_prob * weight, (1 - keep_prob) * bias
        """, "never dropped"),
    ("ch02.standard_to_inverted", "scales_in_place", """
        def standard_to_inverted(weight, bias, keep_prob):
            weight *= keep_prob
            return 1 - keep_prob, weight, bias
        """, "`weight *= ...`"),
    # ---- ch02.mc_dropout_predict
    ("ch02.mc_dropout_predict", "no_inverted_scaling", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "1 / (1 - p)"),
    ("ch02.mc_dropout_predict", "dropout_off", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs = np.stack([e / e.sum(axis=1, keepdims=True)] * n_samples)
            return probs.mean(axis=0), probs.std(axis=0)
        """, "dropout ON"),
    ("ch02.mc_dropout_predict", "p_read_as_keep", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) < p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "DROP probability"),
    ("ch02.mc_dropout_predict", "averages_logits", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            logits = np.stack([(h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                               for _ in range(n_samples)])
            e = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs = e / e.sum(axis=-1, keepdims=True)
            z = logits.mean(axis=0)
            m = np.exp(z - z.max(axis=1, keepdims=True))
            return m / m.sum(axis=1, keepdims=True), probs.std(axis=0)
        """, "not the logits"),
    ("ch02.mc_dropout_predict", "sample_std", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0, ddof=1)
        """, "ddof=0"),
    ("ch02.mc_dropout_predict", "one_mask_for_the_batch", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape[1]) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "each example gets its own mask"),
    ("ch02.mc_dropout_predict", "softmax_overflows", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                e = np.exp((h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2)
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "maximum logit"),
    ("ch02.mc_dropout_predict", "softmax_over_examples", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=0, keepdims=True))
                probs.append(e / e.sum(axis=0, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "CLASSES of each example"),
    ("ch02.mc_dropout_predict", "mask_drawn_once", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            keep = rng.random(h.shape) >= p
            probs = []
            for _ in range(n_samples):
                z = (h * keep / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "NEW mask for every sample"),
    ("ch02.mc_dropout_predict", "variance_not_std", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.var(probs, axis=0)
        """, "square root"),
    ("ch02.mc_dropout_predict", "dropout_on_the_input", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            probs = []
            for _ in range(n_samples):
                xd = x * (rng.random(x.shape) >= p) / (1 - p)
                z = np.maximum(xd @ w1 + b1, 0) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "not on the input x"),
    ("ch02.mc_dropout_predict", "bias_rescaled_too", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            probs = []
            for _ in range(n_samples):
                z = ((h * (rng.random(h.shape) >= p)) @ w2 + b2) / (1 - p)
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "the bias b2 is added"),
    ("ch02.mc_dropout_predict", "no_relu", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = x @ w1 + b1
            probs = []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "has a ReLU"),
    ("ch02.mc_dropout_predict", "spread_of_the_logits", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            logits, probs = [], []
            for _ in range(n_samples):
                z = (h * (rng.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                logits.append(z)
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(logits, axis=0)
        """, "not of the logits"),
    ("ch02.mc_dropout_predict", "masks_from_a_new_generator", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            mine = np.random.default_rng()
            probs = []
            for _ in range(n_samples):
                z = (h * (mine.random(h.shape) >= p) / (1 - p)) @ w2 + b2
                e = np.exp(z - z.max(axis=1, keepdims=True))
                probs.append(e / e.sum(axis=1, keepdims=True))
            return np.mean(probs, axis=0), np.std(probs, axis=0)
        """, "from the generator `rng`"),
    # ---- ch02.choose_rate
    ("ch02.choose_rate", "chooses_on_test", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(test_acc.mean(axis=1)))
            tied = [r for i, r in enumerate(rates)
                    if (test_acc[best] - test_acc[i]).mean()
                    <= 2 * np.std(test_acc[best] - test_acc[i], ddof=1) / np.sqrt(test_acc.shape[1])]
            return rates[best], tied
        """, "test set must not choose"),
    ("ch02.choose_rate", "best_single_run", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.max(axis=1)))
            return rates[best], [rates[best]]
        """, frozenset({"single run", "not the only candidate"})),  # two mistakes at once
    ("ch02.choose_rate", "first_seed_only", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc[:, 0]))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "single run"),
    ("ch02.choose_rate", "ignores_the_spread", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            return rates[best], [rates[best]]
        """, "not the only candidate"),
    ("ch02.choose_rate", "unpaired_means", """
        def choose_rate(rates, val_acc, test_acc):
            means = val_acc.mean(axis=1)
            var = val_acc.var(axis=1, ddof=1)
            best = int(np.argmax(means))
            se = np.sqrt((var[best] + var) / val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, means[best] - means, se) if m <= 2 * s]
        """, "PAIRED"),
    ("ch02.choose_rate", "sd_instead_of_se", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            sd = np.std(d, axis=1, ddof=1)
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), sd) if m <= 2 * s]
        """, "standard error"),
    ("ch02.choose_rate", "leaves_out_the_chosen_rate", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for i, (r, m, s) in enumerate(zip(rates, d.mean(axis=1), se))
                                 if i != best and m <= 2 * s]
        """, "belongs to the list too"),
    ("ch02.choose_rate", "median_over_seeds", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(np.median(val_acc, axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "MEAN validation accuracy"),
    ("ch02.choose_rate", "validation_and_test_pooled", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1) + test_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "test set must not choose"),
    ("ch02.choose_rate", "ddof0_standard_error", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1) / np.sqrt(val_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "ddof=1"),
    ("ch02.choose_rate", "ties_measured_on_test", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = test_acc[best] - test_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(test_acc.shape[1])
            return rates[best], [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "not the test ones"),
    ("ch02.choose_rate", "returns_the_index", """
        def choose_rate(rates, val_acc, test_acc):
            best = int(np.argmax(val_acc.mean(axis=1)))
            d = val_acc[best] - val_acc
            se = np.std(d, axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return best, [r for r, m, s in zip(rates, d.mean(axis=1), se) if m <= 2 * s]
        """, "not its index"),
]

# Correct answers written differently from the reference: they must pass.
ALTERNATIVES = [
    ("ch02.standard_dropout", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return x * keep_prob, None
            mask = (1 - rng.uniform(size=x.shape) > 1 - keep_prob).astype(x.dtype)
            return x * mask, mask
        """),
    ("ch02.standard_to_inverted", """
        def standard_to_inverted(weight, bias, keep_prob):
            p = 1 - keep_prob
            return float(p), weight * (1 - p), np.array(bias)
        """),
    ("ch02.standard_dropout", """
        def standard_dropout(x, keep_prob, training, rng):
            if not training:
                return keep_prob * x, None
            mask = rng.binomial(1, keep_prob, size=x.shape)
            return x * mask, mask
        """),
    ("ch02.mc_dropout_predict", """
        def mc_dropout_predict(x, w1, b1, w2, b2, p, n_samples, rng):
            h = np.maximum(x @ w1 + b1, 0)
            keep = rng.random((n_samples, *h.shape)) < 1 - p      # all masks at once
            z = (h * keep / (1 - p)) @ w2 + b2
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            probs = e / e.sum(axis=-1, keepdims=True)
            return probs.mean(axis=0), probs.std(axis=0)
        """),
    ("ch02.choose_rate", """
        def choose_rate(rates, val_acc, test_acc):
            means = val_acc.mean(axis=1)
            best = int(np.argmax(means))
            d = val_acc[best] - val_acc                          # all rates at once
            se = d.std(axis=1, ddof=1) / np.sqrt(val_acc.shape[1])
            return np.float64(rates[best]), np.array(rates)[means[best] - means <= 2 * se]
        """),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    for exercise in chapter_exercises("ch02"):
        result = check(exercise.id, reference_functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def test_every_exercise_has_enough_cases_and_mutants():
    for exercise in chapter_exercises("ch02"):
        assert len(exercise.cases) >= 5, exercise.id
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 6, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    assert_mutant_caught(exercise_id, name, source, hint, capsys)


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_loses_points_on_held_out_seeds(exercise_id, name, source, hint):
    assert_loses_points_on_held_out_seeds(exercise_id, name, source)


def test_every_listed_hint_is_shown_to_some_mutant():
    assert set(ch02.HINTS) == {exercise.id for exercise in chapter_exercises("ch02")}
    assert_every_hint_reachable(ch02.HINTS, MUTANTS)


@pytest.mark.parametrize("seed", (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS + (17, 2024))
def test_reference_passes_on_every_seed(reference_functions, seed):
    for exercise in chapter_exercises("ch02"):
        result = run_exercise(exercise, reference_functions[exercise.id], seed=seed)
        assert result.status == "passed", result.summary()


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


def test_each_case_hands_the_learner_a_generator_of_its_own():
    """The generator in a case's inputs is drawn from the seed too: another seed, other masks."""
    for exercise_id in ("ch02.standard_dropout", "ch02.mc_dropout_predict"):
        exercise = get_exercise(exercise_id)
        states = {str(case.make_inputs()[-1].bit_generator.state)
                  for seed in (0, 1) for case in exercise.cases_for(seed)}
        assert len(states) == 2 * len(exercise.cases)


def test_student_edition_scores_zero(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "make_student_edition", ROOT / "tools" / "make_student_edition.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--out", str(tmp_path), str(edition_path(CHAPTER))]) == 0
    cells = exercise_cells(tmp_path / CHAPTER.name)
    assert len(cells) == len(chapter_exercises("ch02"))
    for exercise in chapter_exercises("ch02"):
        assert "### BEGIN SOLUTION" not in cells[exercise.function]
        result = check(exercise.id, define(cells[exercise.function], exercise.function))
        assert result.status == "not_attempted" and result.points == 0, capsys.readouterr().out


def test_chapter_does_not_print_the_solutions():
    nb = nbformat.read(CHAPTER, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "BEGIN SOLUTION" not in text
    outputs = "\n".join(str(output) for cell in nb.cells for output in cell.get("outputs", []))
    for function in exercise_cells(CHAPTER):
        assert f"def {function}(" not in outputs
