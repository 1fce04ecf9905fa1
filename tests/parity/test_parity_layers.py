"""Parity with PyTorch: layers and losses give the same values and gradients.

Everything runs in float64 on both sides. Tolerance: rtol=1e-12 (RTOL below) and
atol=1e-15 (ATOL, for entries that are 0 on one side and ~1e-17 on the other),
i.e. agreement to ~12 significant digits; the two libraries may order sums
differently, so bit-equality is not expected except where noted (exact 0/1 masks).
"""
import numpy as np
from numpy.random import default_rng
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped "
                                            "(pip install torch==2.13.0 to run them)")

from mlpcore import functional as F  # noqa: E402
from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LayerNorm, LeakyReLU, Linear,  # noqa: E402
                            ReLU, Sigmoid, Tanh)
from mlpcore.losses import CrossEntropyLoss, MSELoss  # noqa: E402

RTOL = 1e-12
ATOL = 1e-15


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def leaf(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def test_linear_matches_torch():
    ours = Linear(5, 4, rng=default_rng(0)).double()
    theirs = torch.nn.Linear(5, 4, dtype=torch.float64)
    with torch.no_grad():  # our W is (in, out): PyTorch's weight transposed
        theirs.weight.copy_(torch.from_numpy(ours.weight.data.T))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x = default_rng(1).standard_normal((6, 5))
    grad_out = default_rng(2).standard_normal((6, 4))
    x_t = leaf(x)
    y_t = theirs(x_t)
    y_t.backward(torch.from_numpy(grad_out))
    close(ours(x), y_t)
    close(ours.backward(grad_out), x_t.grad)
    close(ours.weight.grad, theirs.weight.grad.T)
    close(ours.bias.grad, theirs.bias.grad)


def test_linear_init_has_pytorch_bounds():
    theirs = torch.nn.Linear(50, 30)
    ours = Linear(50, 30, rng=default_rng(0))
    bound = 1 / np.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) reduces to this for the weight
    assert theirs.weight.abs().max().item() <= bound and np.abs(ours.weight.data).max() <= bound
    # same distribution: the spreads agree within sampling noise (1500 draws each)
    assert abs(ours.weight.data.std() - theirs.weight.std().item()) < 0.1 * bound


ACTIVATION_PAIRS = [
    (ReLU(), torch.nn.ReLU()),
    (LeakyReLU(), torch.nn.LeakyReLU()),
    (LeakyReLU(0.3), torch.nn.LeakyReLU(negative_slope=0.3)),
    (ELU(), torch.nn.ELU()),
    (ELU(0.4), torch.nn.ELU(alpha=0.4)),
    (ELU(2.5), torch.nn.ELU(alpha=2.5)),
    (Sigmoid(), torch.nn.Sigmoid()),
    (Tanh(), torch.nn.Tanh()),
]


@pytest.mark.parametrize("ours, theirs", ACTIVATION_PAIRS, ids=lambda m: repr(m))
def test_activation_matches_torch(ours, theirs):
    x = np.concatenate([default_rng(1).standard_normal(20) * 3, [0.0, -0.0, 1e-300, -1e-300,
                                                          -40.0, 40.0, -800.0, 800.0]])
    x = x.reshape(4, 7)  # any shape
    grad_out = default_rng(2).standard_normal(x.shape)
    x_t = leaf(x)
    y_t = theirs(x_t)
    y_t.backward(torch.from_numpy(grad_out))
    close(ours(x), y_t)
    close(ours.backward(grad_out), x_t.grad)


def test_relu_gradient_at_exactly_zero_is_zero_in_both():
    x_t = leaf(np.zeros(3))
    torch.relu(x_t).sum().backward()
    ours = ReLU()
    ours(np.zeros(3))
    grad = ours.backward(np.ones(3))
    np.testing.assert_array_equal(grad, x_t.grad.numpy())
    np.testing.assert_array_equal(grad, 0.0)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_scaling_matches_torch(p):
    # torch's random mask cannot be reproduced, so we read it off torch's output and
    # hand the same keep-mask to our kernels: then every value must agree (to rounding)
    x = default_rng(1).uniform(0.5, 2.0, size=(40, 30))
    grad_out = default_rng(2).standard_normal(x.shape)
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(p)
    x_t = leaf(x)
    y_t = theirs(x_t)
    y_t.backward(torch.from_numpy(grad_out))
    keep = (y_t.detach().numpy() != 0).astype(np.float64)  # x > 0, so zero means dropped
    assert 0 < keep.mean() < 1
    kept = keep == 1
    close(y_t.detach().numpy()[kept], x[kept] / (1 - p))  # torch's own scale is 1/(1-p)
    close(F.dropout(x, keep, p), y_t)
    close(F.dropout_backward(grad_out, keep, p), x_t.grad)


def test_dropout_eval_and_p0_identity_in_both():
    x = default_rng(1).standard_normal((5, 6))
    for theirs, ours in [(torch.nn.Dropout(0.5).eval(), Dropout(0.5, rng=default_rng(0)).eval()),
                         (torch.nn.Dropout(0.0), Dropout(0.0, rng=default_rng(0)))]:
        np.testing.assert_array_equal(theirs(torch.from_numpy(x)).numpy(), x)
        np.testing.assert_array_equal(ours(x), x)


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_matches_torch_over_training_then_eval(momentum):
    num_features = 4
    ours = BatchNorm1d(num_features, momentum=momentum, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(num_features, momentum=momentum, dtype=torch.float64)
    gamma, beta = default_rng(1).uniform(0.5, 2, num_features), default_rng(2).standard_normal(num_features)
    ours.weight.data[:] = gamma
    ours.bias.data[:] = beta
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    for step in range(4):
        for mode in ("train", "train", "eval") if step == 3 else ("train",):
            ours.train(mode == "train")
            theirs.train(mode == "train")
            x = default_rng(10 + step).normal(step, 1 + step, size=(7, num_features))
            grad_out = default_rng(20 + step).standard_normal(x.shape)
            ours.zero_grad()
            theirs.zero_grad()
            x_t = leaf(x)
            y_t = theirs(x_t)
            y_t.backward(torch.from_numpy(grad_out))
            close(ours(x), y_t)
            close(ours.backward(grad_out), x_t.grad)
            close(ours.weight.grad, theirs.weight.grad)
            close(ours.bias.grad, theirs.bias.grad)
            close(ours.running_mean, theirs.running_mean)
            close(ours.running_var, theirs.running_var)
            assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(affine):
    """torch.nn.LayerNorm(C): each row normalised over its C features, biased variance,
    eps=1e-5 inside the square root, per-feature gamma and beta; values and gradients."""
    num_features = 6
    ours = LayerNorm(num_features, elementwise_affine=affine, dtype=np.float64)
    theirs = torch.nn.LayerNorm(num_features, elementwise_affine=affine, dtype=torch.float64)
    assert ours.eps == theirs.eps == 1e-5
    if affine:
        gamma, beta = default_rng(3).uniform(-2, 2, num_features), default_rng(4).standard_normal(num_features)
        ours.weight.data[:] = gamma
        ours.bias.data[:] = beta
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(gamma))
            theirs.bias.copy_(torch.from_numpy(beta))
    x = default_rng(5).normal(2.0, 3.0, size=(5, num_features))
    x[1] = 0.25                      # a row with variance 0: eps alone keeps it finite
    grad_out = default_rng(6).standard_normal(x.shape)
    x_t = leaf(x)
    y_t = theirs(x_t)
    y_t.backward(torch.from_numpy(grad_out))
    close(ours(x), y_t)
    close(ours.backward(grad_out), x_t.grad, rtol=1e-10, atol=1e-12)
    if affine:
        close(ours.weight.grad, theirs.weight.grad)
        close(ours.bias.grad, theirs.bias.grad)
    one = ours.eval()(x[:1])          # no batch statistics: a batch of one is fine
    close(one, theirs.eval()(torch.from_numpy(x[:1])))


def test_batchnorm_batch_of_one_refused_like_torch():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        BatchNorm1d(3)(np.ones((1, 3)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_cross_entropy_matches_torch(reduction, scale):
    logits = default_rng(1).standard_normal((8, 5)) * scale
    target = default_rng(2).integers(0, 5, size=8)
    logits_t = leaf(logits)
    loss_t = torch.nn.CrossEntropyLoss(reduction=reduction)(logits_t, torch.from_numpy(target))
    loss_t.backward(torch.tensor(0.7, dtype=torch.float64))
    ours = CrossEntropyLoss(reduction=reduction)
    close(ours(logits, target), loss_t.item())
    close(ours.backward(0.7), logits_t.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(reduction):
    pred, target = default_rng(1).standard_normal((6, 3)), default_rng(2).standard_normal((6, 3))
    pred_t = leaf(pred)
    loss_t = torch.nn.MSELoss(reduction=reduction)(pred_t, torch.from_numpy(target))
    loss_t.backward()
    ours = MSELoss(reduction=reduction)
    close(ours(pred, target), loss_t.item())
    close(ours.backward(), pred_t.grad)


def test_mse_refuses_what_torch_only_warns_about():
    pred, target = np.zeros((4, 1)), np.arange(4.0)
    with pytest.warns(UserWarning, match="broadcasting"):
        torch.nn.MSELoss()(torch.from_numpy(pred), torch.from_numpy(target))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        MSELoss()(pred, target)
