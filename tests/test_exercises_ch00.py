"""Chapter 0's graded exercises, checked in-process (as `check` runs in a notebook).

The reference solutions come from the chapter notebook (book/00_mlp_in_numpy.ipynb
once it holds the exercise cells; until then the stand-in built from
tools/ch00_exercise_cells.py). MUTANTS are plausible learner mistakes: each must lose
points AND get the hint that names its mistake, or the cases grade nothing.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from fixtures.exercise_notebooks import chapter0_notebook
from mlpcore.exercises import chapter_exercises, check, get_exercise
from mlpcore.exercises._notebook import find_exercise_source, load_cells


def define(source: str, function: str):
    namespace: dict = {}
    exec("import numpy as np", namespace)
    exec(textwrap.dedent(source), namespace)
    return namespace[function]


@pytest.fixture(scope="module")
def reference_functions(tmp_path_factory):
    cells = load_cells(chapter0_notebook(tmp_path_factory.mktemp("ch00")))
    functions = {}
    for exercise in chapter_exercises("ch00"):
        source = find_exercise_source(cells, exercise)
        assert source is not None, f"the chapter has no exercise cell for {exercise.id}"
        functions[exercise.id] = define(source, exercise.function)
    return functions


# (exercise, mutant name, source, a fragment the hint must contain)
MUTANTS = [
    # ---- ch00.linear_backward
    ("ch00.linear_backward", "transposed_weight", """
        def linear_backward(x, weight, grad_out):
            return grad_out @ weight, x.T @ grad_out, grad_out.sum(axis=0)
        """, "weight.T"),
    ("ch00.linear_backward", "bias_grad_not_summed", """
        def linear_backward(x, weight, grad_out):
            return grad_out @ weight.T, x.T @ grad_out, grad_out
        """, "sum its gradient over the batch"),
    ("ch00.linear_backward", "bias_grad_wrong_axis", """
        def linear_backward(x, weight, grad_out):
            return grad_out @ weight.T, x.T @ grad_out, grad_out.sum(axis=1)
        """, "wrong axis"),
    ("ch00.linear_backward", "extra_one_over_n", """
        def linear_backward(x, weight, grad_out):
            n = x.shape[0]
            return grad_out @ weight.T, x.T @ grad_out / n, grad_out.sum(axis=0)
        """, "don't divide by N"),
    ("ch00.linear_backward", "weight_grad_transposed", """
        def linear_backward(x, weight, grad_out):
            return grad_out @ weight.T, grad_out.T @ x, grad_out.sum(axis=0)
        """, "x.T @ grad_out"),
    ("ch00.linear_backward", "outputs_swapped", """
        def linear_backward(x, weight, grad_out):
            return x.T @ grad_out, grad_out @ weight.T, grad_out.sum(axis=0)
        """, "in the order"),
    # ---- ch00.softmax_cross_entropy_grad
    ("ch00.softmax_cross_entropy_grad", "missing_one_over_n", """
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(p)), targets] -= 1
            return p
        """, "divide by N"),
    ("ch00.softmax_cross_entropy_grad", "softmax_over_wrong_axis", """
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits - logits.max(axis=0, keepdims=True))
            p /= p.sum(axis=0, keepdims=True)
            p[np.arange(len(p)), targets] -= 1
            return p / len(p)
        """, "ROW"),
    ("ch00.softmax_cross_entropy_grad", "forgot_one_hot", """
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            return p / len(p)
        """, "subtract the one-hot"),
    ("ch00.softmax_cross_entropy_grad", "no_max_subtraction", """
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(p)), targets] -= 1
            return p / len(p)
        """, "subtract each row's maximum"),
    ("ch00.softmax_cross_entropy_grad", "whole_row_indexing", """
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[targets] -= 1
            return p / len(p)
        """, "np.arange(N), targets"),
    ("ch00.softmax_cross_entropy_grad", "shifts_logits_in_place", """
        def softmax_cross_entropy_grad(logits, targets):
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(p)), targets] -= 1
            return p / len(p)
        """, "`logits -= ...`"),
    # ---- ch00.sgd_momentum_step
    ("ch00.sgd_momentum_step", "ema_momentum", """
        def sgd_momentum_step(param, grad, buf, lr, momentum):
            if buf is None:
                buf = np.zeros_like(grad)
            buf = momentum * buf + (1 - momentum) * grad
            return param - lr * buf, buf
        """, "(1 - momentum)"),
    ("ch00.sgd_momentum_step", "updates_param_in_place", """
        def sgd_momentum_step(param, grad, buf, lr, momentum):
            buf = grad.copy() if buf is None else momentum * buf + grad
            param -= lr * buf
            return param, buf
        """, "`param -= ...`"),
    ("ch00.sgd_momentum_step", "updates_buffer_in_place", """
        def sgd_momentum_step(param, grad, buf, lr, momentum):
            if buf is None:
                buf = grad.copy()
            else:
                buf *= momentum
                buf += grad
            return param - lr * buf, buf
        """, "`buf -= ...`"),
    ("ch00.sgd_momentum_step", "steps_with_raw_gradient", """
        def sgd_momentum_step(param, grad, buf, lr, momentum):
            new_buf = grad.copy() if buf is None else momentum * buf + grad
            return param - lr * grad, new_buf
        """, "updated buffer"),
    ("ch00.sgd_momentum_step", "first_step_scaled_by_momentum", """
        def sgd_momentum_step(param, grad, buf, lr, momentum):
            new_buf = momentum * grad if buf is None else momentum * buf + grad
            return param - lr * new_buf, new_buf
        """, "buf = grad"),
]


def test_reference_solutions_score_full_points(reference_functions, capsys):
    for exercise in chapter_exercises("ch00"):
        result = check(exercise.id, reference_functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert (result.points, result.max_points) == (exercise.max_points, exercise.max_points)
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def test_every_exercise_has_at_least_two_mutants():
    for exercise in chapter_exercises("ch00"):
        assert sum(m[0] == exercise.id for m in MUTANTS) >= 2, exercise.id


@pytest.mark.parametrize("exercise_id, name, source, hint", MUTANTS,
                         ids=[f"{m[0].split('.')[1]}-{m[1]}" for m in MUTANTS])
def test_mutant_is_caught_with_the_right_hint(exercise_id, name, source, hint, capsys):
    exercise = get_exercise(exercise_id)
    result = check(exercise_id, define(source, exercise.function))
    printed = capsys.readouterr().out
    assert result.points < result.max_points, f"mutant {name} was not caught:\n{printed}"
    failed = [case for case in result.cases if case.status != "passed"]
    assert any(hint in case.hint for case in failed), (
        f"mutant {name}: no failing case has the hint {hint!r}:\n{printed}")
    assert "Traceback" not in printed


def test_stub_reports_not_attempted_in_one_line(capsys):
    stub = define('''
        def linear_backward(x, weight, grad_out):
            """Docstring kept."""
            raise NotImplementedError("ch00.linear_backward: replace this line with your code")
        ''', "linear_backward")
    result = check("ch00.linear_backward", stub)
    printed = capsys.readouterr().out
    assert result.status == "not_attempted" and result.points == 0
    assert printed.count("\n") == 1 and "not attempted yet" in printed


def test_exception_in_learner_code_is_one_line_with_type_and_hint(capsys):
    broken = define("""
        def softmax_cross_entropy_grad(logits, targets):
            p = np.exp(logits) / np.exp(logits).sum(axis=1)
            return p
        """, "softmax_cross_entropy_grad")
    result = check("ch00.softmax_cross_entropy_grad", broken)
    printed = capsys.readouterr().out
    errors = [case for case in result.cases if case.status == "error"]
    assert errors, printed
    assert all("ValueError" in case.message and "keepdims=True" in case.hint for case in errors)
    assert "Traceback" not in printed
    assert len(printed.strip().splitlines()) == 1 + len(result.cases)


def test_wrong_signature_is_one_clear_line(capsys):
    result = check("ch00.sgd_momentum_step", define("""
        def sgd_momentum_step(param, grad, lr):
            return param, grad
        """, "sgd_momentum_step"))
    printed = capsys.readouterr().out
    assert result.status == "error" and result.points == 0
    assert "wrong signature" in printed and "sgd_momentum_step(param, grad, buf, lr, momentum)" in printed
    assert len(printed.strip().splitlines()) == 1


@pytest.mark.parametrize("returned, fragment", [
    ("None", "got None"),
    ("(grad_out @ weight.T, x.T @ grad_out)", "expected a tuple of 3 arrays"),
    ("(grad_out @ weight.T, x.T @ grad_out, grad_out.sum(axis=0)).__class__", "a type"),
    ("((grad_out @ weight.T).astype(np.float32), x.T @ grad_out, grad_out.sum(axis=0))",
     "dtype float64"),
])
def test_wrong_return_values_are_described(returned, fragment, capsys):
    function = define(f"""
        def linear_backward(x, weight, grad_out):
            return {returned}
        """, "linear_backward")
    result = check("ch00.linear_backward", function)
    printed = capsys.readouterr().out
    assert result.points == 0 and fragment in printed, printed


def test_check_output_is_deterministic(reference_functions, capsys):
    function = define(MUTANTS[0][2], "linear_backward")
    check("ch00.linear_backward", function)
    first = capsys.readouterr().out
    check("ch00.linear_backward", function)
    assert capsys.readouterr().out == first


def test_result_repr_is_short_and_silent_in_jupyter(reference_functions, capsys):
    result = check("ch00.linear_backward", reference_functions["ch00.linear_backward"])
    capsys.readouterr()
    assert repr(result) == "<ch00.linear_backward: 3/3 points, passed>"
    assert result._ipython_display_() is None
    assert capsys.readouterr().out == ""


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        check("ch00.linear_backwards", lambda x, weight, grad_out: None)
    message = str(error.value)
    assert "Did you mean 'ch00.linear_backward'" in message
    assert all(exercise.id in message for exercise in chapter_exercises("ch00"))


def test_cases_are_deterministic_float64_and_small():
    for exercise in chapter_exercises("ch00"):
        for case in exercise.cases:
            first, second = case.make_inputs(), case.make_inputs()
            arrays = [a for a in first if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
            assert arrays and all(a.dtype == np.float64 and a.size <= 64 for a in arrays)
            for a, b in zip(first, second):
                assert (a is None and b is None) or np.array_equal(np.asarray(a), np.asarray(b))
