"""Parity with PyTorch of what the speed work touched: ReLU at non-finite inputs, and a
training step that skips the gradient of the data (``needs_input_grad=False``), as
PyTorch does for an input with requires_grad=False. float64 on both sides."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped "
                                            "(pip install torch==2.13.0 to run them)")

from mlpcore.layers import BatchNorm1d, Linear, ReLU, Sequential  # noqa: E402
from mlpcore.losses import CrossEntropyLoss  # noqa: E402


def test_relu_forward_at_nan_and_inf_matches_torch():
    x = np.array([np.nan, -np.inf, np.inf, -1.0, 0.0, 2.0])
    ours = ReLU()(x)
    theirs = torch.relu(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ours, theirs)  # NaN propagates, as in PyTorch
    assert np.isnan(ours[0])


def test_relu_backward_gives_zero_at_dead_units_even_for_infinite_gradients():
    x = np.array([-1.0, -2.0, 3.0, 0.0])
    grad_out = np.array([np.inf, -np.inf, 5.0, np.inf])
    layer = ReLU()
    layer(x)
    ours = layer.backward(grad_out)
    leaf = torch.tensor(x, requires_grad=True)
    torch.relu(leaf).backward(torch.from_numpy(grad_out))
    np.testing.assert_array_equal(ours, leaf.grad.numpy())


def test_training_step_without_the_input_gradient_matches_torch():
    rng = np.random.default_rng(0)
    ours = Sequential(Linear(7, 6, rng=rng), BatchNorm1d(6), ReLU(), Linear(6, 3, rng=rng)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(7, 6), torch.nn.BatchNorm1d(6),
                                 torch.nn.ReLU(), torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for ours_linear, index in ((ours[0], 0), (ours[3], 3)):
            theirs[index].weight.copy_(torch.from_numpy(ours_linear.weight.data.T))
            theirs[index].bias.copy_(torch.from_numpy(ours_linear.bias.data))
    x, y = rng.standard_normal((8, 7)), rng.integers(0, 3, 8)
    loss_fn = CrossEntropyLoss()
    loss_fn(ours(x), y)
    assert ours.backward(loss_fn.backward(), needs_input_grad=False) is None
    torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    for (name, param), their_param in zip(ours.named_parameters(), theirs.parameters()):
        their_grad = their_param.grad.numpy()
        if name.endswith("weight") and param.grad.ndim == 2:
            their_grad = their_grad.T  # our Linear weight is (in, out)
        np.testing.assert_allclose(param.grad, their_grad, rtol=1e-12, atol=1e-15,
                                   err_msg=name)
