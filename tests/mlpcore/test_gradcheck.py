"""Every layer and loss passes the numerical gradient check, and the check catches bugs."""
import numpy as np
from numpy.random import default_rng
import pytest

from mlpcore import functional as F
from mlpcore.gradcheck import GradcheckReport, gradcheck, gradcheck_loss, relative_error
from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LayerNorm, LeakyReLU, Linear, ReLU, Residual,
                            Sequential, Sigmoid, Tanh)
from mlpcore.losses import CrossEntropyLoss, MSELoss

TOL = 1e-6


def away_from_zero(shape, seed=1):
    """Inputs with |x| >= 0.1, so no finite difference straddles a kink at 0."""
    r = default_rng(seed)
    return r.uniform(0.1, 2.0, size=shape) * r.choice([-1.0, 1.0], size=shape)


def trained_batchnorm(num_features=4, **kwargs):
    layer = BatchNorm1d(num_features, dtype=np.float64, **kwargs)
    for seed in range(3):  # move the running stats away from their initial 0 and 1
        layer(default_rng(seed).normal(1.0, 2.0, size=(6, num_features)))
    return layer


def layer_norm_with_affine(num_features):
    layer = LayerNorm(num_features, dtype=np.float64)
    layer.weight.data[:] = default_rng(7).uniform(-2.0, 2.0, num_features)  # γ varies per feature
    layer.bias.data[:] = default_rng(8).standard_normal(num_features)
    return layer


CASES = {
    "Linear": lambda: Linear(5, 4, rng=default_rng(0)),
    "Linear(bias=False)": lambda: Linear(5, 4, bias=False, rng=default_rng(0)),
    "ReLU": ReLU,
    "LeakyReLU(0.2)": lambda: LeakyReLU(0.2),
    "ELU": ELU,
    "ELU(0.5)": lambda: ELU(0.5),
    "Sigmoid": Sigmoid,
    "Tanh": Tanh,
    "Dropout(train)": lambda: Dropout(0.4, rng=default_rng(0)),
    "Dropout(eval)": lambda: Dropout(0.4, rng=default_rng(0)).eval(),
    "BatchNorm1d(train)": lambda: trained_batchnorm(5),
    "BatchNorm1d(eval)": lambda: trained_batchnorm(5).eval(),
    "BatchNorm1d(no affine, no stats)": lambda: BatchNorm1d(5, affine=False,
                                                            track_running_stats=False),
    "LayerNorm": lambda: layer_norm_with_affine(5),
    "LayerNorm(no affine)": lambda: LayerNorm(5, elementwise_affine=False),
    "Residual": lambda: Residual(Sequential(Linear(5, 5, rng=default_rng(0)), Tanh())),
    "MLP(train)": lambda: Sequential(
        Linear(5, 6, rng=default_rng(0)), BatchNorm1d(6), ReLU(),
        Dropout(0.3, rng=default_rng(1)),
        Residual(Sequential(Linear(6, 6, rng=default_rng(2)), ELU())),
        Linear(6, 3, rng=default_rng(3))),
    "MLP(eval)": lambda: Sequential(
        Linear(5, 6, rng=default_rng(0)), trained_batchnorm(6), LeakyReLU(),
        Dropout(0.3, rng=default_rng(1)), Linear(6, 3, rng=default_rng(3))).eval(),
}


@pytest.mark.parametrize("name", CASES)
def test_every_layer_passes_gradcheck(name):
    module = CASES[name]().double()
    report = gradcheck(module, away_from_zero((4, 5)), rng=default_rng(5))
    assert report.passed, f"\n{report}"
    assert "input" in report.errors
    assert set(report.errors) == {"input"} | {n for n, _ in module.named_parameters()}


def test_gradcheck_replays_the_dropout_masks():
    layer = Dropout(0.5, rng=default_rng(0)).double()
    report = gradcheck(layer, away_from_zero((4, 5)), rng=default_rng(2))
    assert report.passed
    # every evaluation drew the same mask: the one the layer kept from the last forward
    np.testing.assert_array_equal(report.analytic["input"], report.upstream * layer.mask / 0.5)
    # and the generator ends as after one forward
    twin = Dropout(0.5, rng=default_rng(0)).double()
    twin(np.ones((4, 5)))
    np.testing.assert_array_equal(layer(np.ones((4, 5))), twin(np.ones((4, 5))))


def test_gradcheck_replays_dropouts_that_share_a_generator():
    shared = default_rng(0)
    model = Sequential(Dropout(0.5, rng=shared), Linear(5, 5, rng=default_rng(1)),
                       Dropout(0.5, rng=shared)).double()
    assert gradcheck(model, away_from_zero((4, 5)), rng=default_rng(2)).passed


@pytest.mark.parametrize("loss_fn, target", [
    (CrossEntropyLoss(), np.array([0, 2, 1, 2])),
    (CrossEntropyLoss(reduction="sum"), np.array([1, 1, 0, 2])),
    (MSELoss(), default_rng(3).standard_normal((4, 3))),
    (MSELoss(reduction="sum"), default_rng(4).standard_normal((4, 3))),
], ids=["CE-mean", "CE-sum", "MSE-mean", "MSE-sum"])
def test_every_loss_passes_gradcheck(loss_fn, target):
    report = gradcheck_loss(loss_fn, default_rng(1).standard_normal((4, 3)), target, grad_out=1.7)
    assert report.passed, f"\n{report}"


# ----- the check must be able to fail ---------------------------------------------------
class LinearMissingTranspose(Linear):
    def backward(self, grad_out):
        x = self._take_cache()
        self.weight.accumulate_grad(x.T @ grad_out)
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out @ self.weight.data  # bug: W instead of W.T (square, so it runs)


class LinearTransposedWeightGrad(Linear):
    def backward(self, grad_out):
        x = self._take_cache()
        self.weight.accumulate_grad((grad_out.T @ x))  # bug: (x^T G)^T
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out @ self.weight.data.T


class DropoutWithoutScale(Dropout):
    def backward(self, grad_out):
        super().backward(grad_out)
        return grad_out * self.mask  # bug: forgot the 1/(1-p)


class BatchNormEvalFormulaInTraining(BatchNorm1d):
    def backward(self, grad_out):
        x_hat, inv_std, _ = self._take_cache()
        self.weight.accumulate_grad((grad_out * x_hat).sum(axis=0))
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out * self.weight.data * inv_std  # bug: ignores d(mu, sigma)/dx


class SigmoidWrongDerivative(Sigmoid):
    def backward(self, grad_out):
        y = F.sigmoid(self._take_cache())
        return grad_out * y  # bug: y instead of y (1 - y)


@pytest.mark.parametrize("module, wrong", [
    (LinearMissingTranspose(5, 5, rng=default_rng(0)), "input"),
    (LinearTransposedWeightGrad(5, 5, rng=default_rng(0)), "weight"),
    (DropoutWithoutScale(0.5, rng=default_rng(0)), "input"),
    (BatchNormEvalFormulaInTraining(5), "input"),
    (SigmoidWrongDerivative(), "input"),
], ids=lambda v: type(v).__name__ if not isinstance(v, str) else v)
def test_gradcheck_catches_broken_backward(module, wrong):
    report = gradcheck(module.double(), away_from_zero((4, 5)), rng=default_rng(5))
    assert not report.passed and not report
    assert report.errors[wrong] > 1e-3, f"\n{report}"
    assert "FAIL" in str(report)
    # the other tensors are still right, so the report points at the bug
    assert all(err < TOL for name, err in report.errors.items() if name != wrong)


def test_gradcheck_loss_catches_a_missing_mean():
    class CrossEntropyWithoutMean(CrossEntropyLoss):
        def backward(self, grad_out=1.0):
            n = len(self._cache)
            return super().backward(grad_out) * n  # bug: forgot the 1/N
    report = gradcheck_loss(CrossEntropyWithoutMean(), default_rng(1).standard_normal((4, 3)),
                            np.array([0, 1, 2, 0]))
    assert not report.passed


# ----- contract: float64 only, no side effects ------------------------------------------------
def test_gradcheck_requires_float64():
    layer = Linear(3, 2, rng=default_rng(0))
    with pytest.raises(TypeError, match=r"weight \(float32\).*module\.double\(\)"):
        gradcheck(layer, np.ones((2, 3)), rng=default_rng(0))
    with pytest.raises(TypeError, match=r"x \(float32\).*astype\(np\.float64\)"):
        gradcheck(layer.double(), np.ones((2, 3), dtype=np.float32), rng=default_rng(0))
    with pytest.raises(TypeError, match=r"pred \(float32\)"):
        gradcheck_loss(MSELoss(), np.ones(3, dtype=np.float32), np.zeros(3))


def test_gradcheck_leaves_no_trace():
    model = Sequential(Linear(3, 4, rng=default_rng(0)), BatchNorm1d(4), Dropout(0.5, rng=default_rng(0))).double()
    model(default_rng(1).standard_normal((5, 3)))  # some running statistics to protect
    model.backward(np.ones((5, 4)))
    state = model.state_dict()
    grads = [p.grad.copy() for p in model.parameters()]
    x = default_rng(2).standard_normal((5, 3))
    x_before = x.copy()
    gradcheck(model, x, rng=default_rng(3))
    after = model.state_dict()
    for name in state:
        np.testing.assert_array_equal(after[name], state[name], err_msg=name)
    for param, grad in zip(model.parameters(), grads):
        np.testing.assert_array_equal(param.grad, grad)
    np.testing.assert_array_equal(x, x_before)
    assert model.training and all(m.training for m in model.modules())
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones((5, 4)))  # no stale cache left behind


def test_relative_error_definition():
    n = np.array([1.0, -2.0, 3.0])
    assert relative_error(n, n) == 0.0
    assert relative_error(2 * n, n) == pytest.approx(3.0 / (6.0 + 3.0))
    # below unit scale the measure is absolute: structural zeros vs noise pass
    assert relative_error(np.zeros(3), np.full(3, 1e-10)) == pytest.approx(1e-10)
    assert relative_error(np.zeros(3), np.full(3, 1e-3)) == pytest.approx(1e-3)


def test_report_table_and_summary():
    report = gradcheck(Linear(3, 2, rng=default_rng(0)).double(), default_rng(1).standard_normal((4, 3)),
                       rng=default_rng(2))
    assert isinstance(report, GradcheckReport)
    text = repr(report)
    assert text == str(report)
    for name in ("input", "weight", "bias", "Linear(in_features=3", "passed", "tol=1e-06"):
        assert name in text
    assert report.max_error == max(report.errors.values())
    assert report.max_error < TOL


def test_report_shows_rounding_level_errors_as_a_bound_and_real_errors_in_full():
    """Digits of a rounding-level error change with the CPU; a real error's do not."""
    report = GradcheckReport(title="demo", tol=1e-6, step=1e-6)
    report.add("weight", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 3e-10]))
    report.add("bias", np.array([1.0]), np.array([0.25]))
    text = str(report)
    assert "<1e-8" in text and "3.0e-10" not in text
    assert "6.0e-01" in text and "max error 6.0e-01: FAILED" in text  # 0.75 / (1 + 0.25)
