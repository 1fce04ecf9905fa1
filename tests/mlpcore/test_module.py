"""The core contract every layer stands on: Parameter and Module."""
import numpy as np
import pytest

from mlpcore import BatchNorm1d, Linear, ReLU, Residual, Sequential
from mlpcore.module import Module, Parameter


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Linear(4, 6, rng=rng), BatchNorm1d(6), ReLU(),
                      Residual(Sequential(Linear(6, 6, rng=rng))), Linear(6, 2, rng=rng))


def test_named_parameters_and_buffers_follow_pytorch_naming():
    model = make_model()
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "3.block.0.weight", "3.block.0.bias",
        "4.weight", "4.bias"]
    assert [name for name, _ in model.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]


def test_a_shared_parameter_is_listed_once():
    layer = Linear(3, 3, rng=np.random.default_rng(0))
    model = Sequential(layer, ReLU(), layer)
    assert len(model.parameters()) == 2


def test_state_dict_round_trip_restores_parameters_and_buffers():
    model, other = make_model(seed=0), make_model(seed=1)
    model(np.random.default_rng(2).standard_normal((5, 4)))  # moves BatchNorm's running stats
    state = model.state_dict()
    other.load_state_dict(state)
    for (name, mine), (_, theirs) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(mine.data, theirs.data, err_msg=name)
    for (name, mine), (_, theirs) in zip(model.named_buffers(), other.named_buffers()):
        np.testing.assert_array_equal(mine, theirs, err_msg=name)
    state["0.weight"][...] = 0  # a copy: editing it does not touch the model
    assert np.any(model[0].weight.data != 0)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = make_model()
    state = model.state_dict()
    del state["4.bias"]
    state["5.weight"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['4.bias'\].*unexpected keys \['5.weight'\]"):
        model.load_state_dict(state)


def test_load_state_dict_names_a_shape_mismatch():
    model = make_model()
    state = model.state_dict()
    state["0.weight"] = np.zeros((6, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"0.weight: saved shape \(6, 4\).*\(4, 6\)"):
        model.load_state_dict(state)


def test_to_double_casts_float_state_and_keeps_integer_counters():
    model = make_model().double()
    assert all(param.dtype == np.float64 for param in model.parameters())
    buffers = dict(model.named_buffers())
    assert buffers["1.running_var"].dtype == np.float64
    assert buffers["1.num_batches_tracked"].dtype.kind == "i"
    with pytest.raises(TypeError, match="float dtype"):
        model.to(np.int32)


def test_train_and_eval_reach_every_submodule():
    model = make_model().eval()
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())


def test_backward_accumulates_and_zero_grad_forgets():
    layer = Linear(3, 2, rng=np.random.default_rng(0))
    x = np.ones((4, 3), dtype=np.float32)
    layer(x)
    layer.backward(np.ones((4, 2), dtype=np.float32))
    first = layer.weight.grad.copy()
    layer(x)
    layer.backward(np.ones((4, 2), dtype=np.float32))
    np.testing.assert_allclose(layer.weight.grad, 2 * first)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_accumulate_grad_refuses_a_wrong_shape():
    param = Parameter(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\) does not match parameter of shape \(2, 3\)"):
        param.accumulate_grad(np.zeros((3, 2)))


def test_base_module_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        Module()(np.zeros(1))
