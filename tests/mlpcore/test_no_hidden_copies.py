"""No hidden copies or upcasts in a training step (the speed contract of mlpcore).

A float32 model stays float32 everywhere (outputs, gradients, parameters, buffers,
optimiser state, and no float64 temporary on the way), optimisers update
``p.data`` in place, every forward cache is freed by backward, and
``needs_input_grad=False`` really skips the gradient of the data. All checks are
exact and deterministic; none measures time.
"""
import types

import numpy as np
import pytest

import mlpcore._checks
import mlpcore.activations
import mlpcore.functional
import mlpcore.init
import mlpcore.layers
import mlpcore.losses
import mlpcore.module
import mlpcore.normalization
import mlpcore.optim
from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LeakyReLU, Linear, ReLU, Residual,
                            Sequential, Sigmoid, Tanh)
from mlpcore.losses import CrossEntropyLoss, MSELoss
from mlpcore.module import Module
from mlpcore.optim import SGD, Adam, AdamW

OPTIMIZERS = [
    (SGD, dict(lr=0.05)),
    (SGD, dict(lr=0.05, momentum=0.9, weight_decay=5e-4)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, maximize=True)),
    (SGD, dict(lr=0.05, momentum=0.5, dampening=0.1)),
    (Adam, dict(lr=1e-3, weight_decay=1e-2, amsgrad=True)),
    (AdamW, dict(lr=1e-3, maximize=True)),
]
OPTIMIZER_IDS = [f"{cls.__name__}{kwargs}" for cls, kwargs in OPTIMIZERS]


def every_layer_model(dtype=np.float32, seed: int = 0) -> Sequential:
    """One of each layer, so every forward and backward is exercised."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Linear(6, 8, rng=rng, dtype=dtype), BatchNorm1d(8, dtype=dtype), ReLU(),
        Dropout(0.25, rng=rng), Linear(8, 8, rng=rng, dtype=dtype), LeakyReLU(0.1),
        Residual(Sequential(Linear(8, 8, rng=rng, dtype=dtype), Tanh())), ELU(),
        Linear(8, 8, rng=rng, dtype=dtype), Sigmoid(), Linear(8, 3, rng=rng, dtype=dtype))


def batch(dtype=np.float32, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 6)).astype(dtype), rng.integers(0, 3, 5)


def float_arrays(optimizer) -> list[np.ndarray]:
    return [value for state in optimizer.state.values() for value in state.values()
            if isinstance(value, np.ndarray)]


# ----- dtypes -------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPTIMIZER_IDS)
@pytest.mark.parametrize("loss_name", ["cross_entropy", "mse"])
def test_float32_model_stays_float32(cls, kwargs, loss_name):
    model = every_layer_model()
    x, y = batch()
    if loss_name == "mse":
        loss_fn, target = MSELoss(), np.eye(3, dtype=np.float32)[y]
    else:
        loss_fn, target = CrossEntropyLoss(), y
    optimizer = cls(model.parameters(), **kwargs)
    for step in range(3):
        model.train(step != 1)  # an eval step too: running statistics, no dropout
        optimizer.zero_grad()
        out = x
        for layer in model:
            out = layer(out)
            assert out.dtype == np.float32, f"{layer!r} returned {out.dtype}"
        loss = loss_fn(out, target)
        assert isinstance(loss, float)
        grad_in = model.backward(loss_fn.backward())
        assert grad_in.dtype == np.float32
        for name, param in model.named_parameters():
            assert param.grad.dtype == np.float32, f"{name}.grad is {param.grad.dtype}"
        optimizer.step()
        for name, param in model.named_parameters():
            assert param.data.dtype == np.float32, f"{name} became {param.data.dtype}"
        for name, buffer in model.named_buffers():
            expected = np.int64 if name.endswith("num_batches_tracked") else np.float32
            assert buffer.dtype == expected, f"buffer {name} is {buffer.dtype}"
        for array in float_arrays(optimizer):
            assert array.dtype == np.float32, f"optimizer state is {array.dtype}"
    assert float_arrays(optimizer) or cls is SGD and "momentum" not in kwargs


# ----- in-place updates -------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_optimizer_updates_parameters_in_place(cls, kwargs):
    model = every_layer_model()
    x, y = batch()
    loss_fn = CrossEntropyLoss()
    optimizer = cls(model.parameters(), **kwargs)
    params = model.parameters()
    arrays = [param.data for param in params]
    views = [param.data.reshape(-1)[:] for param in params]  # a view, as a reader might keep
    for _ in range(2):
        before = [array.copy() for array in arrays]
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
        for param, array, view, old in zip(params, arrays, views, before):
            assert param.data is array, "the optimizer replaced p.data instead of updating it"
            assert np.shares_memory(view, param.data)
            # every weight moves; a bias before BatchNorm may not (its gradient is ~0)
            if param.data.ndim == 2:
                assert not np.array_equal(view.reshape(old.shape), old), "the view missed the step"


def test_batchnorm_updates_running_statistics_in_place():
    layer = BatchNorm1d(4)
    running_mean, running_var = layer.running_mean, layer.running_var
    layer(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert layer.running_mean is running_mean and layer.running_var is running_var
    assert running_mean.any() and not np.all(running_var == 1)


def test_linear_keeps_a_float32_input_without_copying_it():
    layer = Linear(6, 3, rng=np.random.default_rng(0))
    x, _ = batch()
    layer(x)
    assert layer._cache is x
    layer.clear_cache()
    assert layer(x.astype(np.float64)).dtype == np.float32  # float64 data: cast, not upcast


def test_float64_scalars_and_targets_do_not_upcast_a_float32_loss():
    logits = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    cross_entropy, mse = CrossEntropyLoss(), MSELoss()
    cross_entropy(logits, np.array([0, 1, 2, 1]))
    assert cross_entropy.backward(np.float64(1.0)).dtype == np.float32
    mse(logits, np.zeros((4, 3)))  # a float64 target
    assert mse.backward(np.float64(2.0)).dtype == np.float32


# ----- caches ----------------------------------------------------------------------------------
@pytest.mark.parametrize("needs_input_grad", [True, False])
def test_backward_frees_every_cache(needs_input_grad):
    model = every_layer_model()
    x, y = batch()
    loss_fn = CrossEntropyLoss()
    loss_fn(model(x), y)
    assert all(vars(module).get("_cache") is not None for module in model.modules()
               if not isinstance(module, (Sequential, Residual)))
    model.backward(loss_fn.backward(), needs_input_grad=needs_input_grad)
    for module in [*model.modules(), loss_fn]:
        assert vars(module).get("_cache") is None, f"{module!r} kept its forward cache"


# ----- skipping the gradient of the data ------------------------------------------------------
def test_needs_input_grad_false_skips_only_the_input_gradient():
    x, y = batch()
    grads = {}
    for needs_input_grad in (True, False):
        model = every_layer_model()
        loss_fn = CrossEntropyLoss()
        loss_fn(model(x), y)
        grads[needs_input_grad] = model.backward(loss_fn.backward(),
                                                 needs_input_grad=needs_input_grad)
        grads[needs_input_grad, "params"] = [p.grad for p in model.parameters()]
    assert grads[True] is not None and grads[True].shape == x.shape
    assert grads[False] is None
    for with_input, without in zip(grads[True, "params"], grads[False, "params"]):
        np.testing.assert_array_equal(with_input, without)


def test_needs_input_grad_false_does_not_compute_the_first_product(monkeypatch):
    """The first Linear must not form G Wᵀ: count the matrix products it does."""
    model = Sequential(Linear(6, 4, rng=np.random.default_rng(0)), ReLU())
    x, _ = batch()
    products = []
    original_backward = Linear.backward

    def counting_backward(self, grad_out, **kwargs):
        result = original_backward(self, grad_out, **kwargs)
        products.append(result is not None)
        return result

    monkeypatch.setattr(Linear, "backward", counting_backward)
    model(x)
    assert model.backward(np.ones((5, 4), np.float32), needs_input_grad=False) is None
    assert products == [False]


@pytest.mark.parametrize("make", [
    lambda: Linear(6, 6, rng=np.random.default_rng(0)), ReLU, lambda: LeakyReLU(0.1), ELU,
    Sigmoid, Tanh, lambda: Dropout(0.5, rng=np.random.default_rng(0)), lambda: BatchNorm1d(6),
    lambda: Residual(Linear(6, 6, rng=np.random.default_rng(0))),
    lambda: Sequential(ReLU(), Linear(6, 6, rng=np.random.default_rng(0)))],
    ids=lambda make: repr(make()).split("(")[0])
def test_every_module_accepts_needs_input_grad(make):
    """The contract fit relies on: backward(G, needs_input_grad=False) returns None and
    still gives every parameter the gradient it gets with the default (True)."""
    x, _ = batch()
    grads = {}
    for needs_input_grad in (True, False):
        module = make()
        out = module(x)
        result = module.backward(np.ones_like(out), needs_input_grad=needs_input_grad)
        assert (result is None) == (not needs_input_grad)
        grads[needs_input_grad] = [p.grad for p in module.parameters()]
    for with_input, without in zip(grads[True], grads[False]):
        np.testing.assert_array_equal(with_input, without)
    assert Sequential().backward(np.ones(3), needs_input_grad=False) is None


# ----- no float64 anywhere in a float32 step ------------------------------------------------------
class Float64Found(AssertionError):
    pass


class _NoFloat64(np.ndarray):
    """An ndarray that fails as soon as a ufunc it takes part in sees or makes float64.

    Every NumPy ufunc (arithmetic operators, in-place updates, matmul, reductions
    such as ``.sum()``) involving such an array goes through ``__array_ufunc__``."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        def plain(value):
            return value.view(np.ndarray) if isinstance(value, _NoFloat64) else value

        outs = kwargs.get("out")
        if outs is not None:
            kwargs["out"] = tuple(plain(out) for out in outs)
        result = getattr(ufunc, method)(*(plain(v) for v in inputs), **kwargs)
        seen = [*inputs, *(outs or ()), *(result if isinstance(result, tuple) else (result,))]
        for value in seen:  # Python floats are weak scalars (NEP 50): they never upcast
            if isinstance(value, (np.ndarray, np.generic)) and value.dtype == np.float64:
                raise Float64Found(f"np.{ufunc.__name__}.{method} involved float64: "
                                   f"{[getattr(v, 'dtype', type(v).__name__) for v in inputs]}")
        if outs is not None:
            return outs[0] if len(outs) == 1 else outs
        return guard(result)


def guard(value):
    """An ndarray result as a _NoFloat64 view (after checking it is not float64)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        raise Float64Found(f"a NumPy function returned a float64 array of shape {value.shape}")
    return value.view(_NoFloat64) if type(value) is np.ndarray else value


def guarded_numpy() -> types.ModuleType:
    """A stand-in for ``numpy`` whose functions (np.asarray, np.where, np.zeros_like, ...)
    return _NoFloat64 arrays, so nothing inside mlpcore escapes the check."""
    proxy = types.ModuleType("numpy_without_float64")
    for name in dir(np):
        value = getattr(np, name)
        if callable(value) and not isinstance(value, (type, np.ufunc)):
            def wrapped(*args, _function=value, **kwargs):
                return guard(_function(*args, **kwargs))
            value = wrapped
        setattr(proxy, name, value)
    return proxy


@pytest.fixture
def no_float64(monkeypatch):
    proxy = guarded_numpy()
    for module in (mlpcore._checks, mlpcore.module, mlpcore.functional, mlpcore.init,
                   mlpcore.activations, mlpcore.layers, mlpcore.normalization, mlpcore.losses,
                   mlpcore.optim):
        monkeypatch.setattr(module, "np", proxy)
    return guard


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_no_float64_inside_a_float32_step(no_float64, cls, kwargs):
    model = every_layer_model()
    for param in model.parameters():
        param.data = no_float64(param.data)
    for module in model.modules():
        for name in vars(module).get("_buffer_names", []):
            setattr(module, name, no_float64(getattr(module, name)))
    x, y = batch()
    loss_fn, mse = CrossEntropyLoss(), MSELoss()
    optimizer = cls(model.parameters(), **kwargs)
    for step in range(3):
        model.train(step != 1)
        optimizer.zero_grad()
        out = model(no_float64(x))
        if step != 2:
            # CrossEntropyLoss computes its softmax in float64 on purpose (mlpcore/losses.py:
            # the same bits on every CPU); what it hands back to the model must be float32
            loss_fn(out, y)
            grad = loss_fn.backward()
            assert grad.dtype == np.float32, grad.dtype
            grad = no_float64(grad)
        else:
            mse(out, no_float64(np.ones_like(out)))
            grad = mse.backward()
        model.backward(grad, needs_input_grad=step == 0)
        optimizer.step()


def test_the_float64_check_catches_an_upcast(no_float64):
    class Upcasting(Module):
        def forward(self, x):
            return x * np.float64(2.0)  # a NumPy float64 scalar: float32 * it is float64

        def backward(self, grad_out):
            return grad_out

    x = no_float64(np.ones((2, 3), np.float32))
    with pytest.raises(Float64Found):
        Upcasting()(x)
    with pytest.raises(Float64Found):
        mlpcore.layers.np.zeros_like(x, dtype=np.float64)
    x *= 2.0  # a Python float is weak (NEP 50): no upcast, no error
    assert x.dtype == np.float32


def test_the_float64_check_sees_inside_mlpcore(no_float64):
    layer = BatchNorm1d(3).eval()
    layer.running_mean = no_float64(np.zeros(3, np.float32))
    layer(no_float64(np.ones((2, 3), np.float32)))  # all float32: passes
    layer.running_var = np.ones(3)  # a float64 buffer, as a broken cast would leave
    with pytest.raises(Float64Found):
        layer(no_float64(np.ones((2, 3), np.float32)))
