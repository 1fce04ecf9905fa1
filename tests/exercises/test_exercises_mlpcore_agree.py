"""The exercise cases agree with mlpcore's own code, and with PyTorch when it is installed.

Each implementation is wrapped to the exercise's signature and graded with the
exercise's cases: full points means the case file's float64 references and the
library compute the same thing, so a learner who passes the checks has written what
the library (and PyTorch) does.
"""
import numpy as np
import pytest

from mlpcore.exercises import get_exercise, run_exercise
from mlpcore.gradcheck import _numerical_gradient


def full_points(exercise_id: str, function) -> None:
    exercise = get_exercise(exercise_id)
    result = run_exercise(exercise, function)
    assert result.points == exercise.max_points, result.summary()


def numerical_gradient_via_mlpcore(f, x, eps):
    x = np.array(x, dtype=np.float64)
    return _numerical_gradient(lambda: f(x), x, eps)


def test_numerical_gradient_cases_match_mlpcore_central_differences():
    full_points("ch00.numerical_gradient", numerical_gradient_via_mlpcore)


def test_scale_shift_and_bce_references_pass_their_own_gradient_check():
    """Without PyTorch: each analytic reference equals mlpcore's central differences of
    the forward formula (so the cases' gradients are the derivatives of their values)."""
    for case in get_exercise("ch00.scale_shift_backward").cases:
        x, gamma, grad_out = case.make_inputs()
        beta = np.zeros_like(gamma)
        forward = lambda x_, g_, b_: np.sum(grad_out * (x_ * g_ + b_))
        expected = (_numerical_gradient(lambda: forward(x, gamma, beta), x, 1e-6),
                    _numerical_gradient(lambda: forward(x, gamma, beta), gamma, 1e-6),
                    _numerical_gradient(lambda: forward(x, gamma, beta), beta, 1e-6))
        assert case.judge((x, gamma, grad_out), expected) is None, case.name
    for case in get_exercise("ch00.bce_with_logits").cases[:4]:  # moderate logits
        logits, targets = case.make_inputs()
        mean_bce = lambda: float(np.mean(np.logaddexp(0, logits) - logits * targets))
        value = np.float64(mean_bce())
        grad = _numerical_gradient(mean_bce, logits, 1e-6)
        assert case.judge((logits, targets), (value, grad)) is None, case.name


def test_scale_shift_and_bce_cases_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity skipped "
                                                "(pip install torch==2.13.0 to run it)")

    def scale_shift_via_torch(x, gamma, grad_out):
        x_t = torch.tensor(x, requires_grad=True)
        gamma_t = torch.tensor(gamma, requires_grad=True)
        beta_t = torch.zeros_like(gamma_t, requires_grad=True)
        (x_t * gamma_t + beta_t).backward(torch.tensor(grad_out))
        return x_t.grad.numpy(), gamma_t.grad.numpy(), beta_t.grad.numpy()

    def bce_via_torch(logits, targets):
        logits_t = torch.tensor(logits, requires_grad=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits_t, torch.tensor(targets))
        loss.backward()
        return float(loss), logits_t.grad.numpy()

    full_points("ch00.scale_shift_backward", scale_shift_via_torch)
    full_points("ch00.bce_with_logits", bce_via_torch)
