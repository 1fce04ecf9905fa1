"""The exercise cases agree with mlpcore's own Linear, CrossEntropyLoss and SGD.

Each mlpcore implementation is wrapped to the exercise's signature and graded with
the exercise's cases: full points means the case files' float64 references and the
library compute the same thing, so a learner who passes the checks has written what
the library (and PyTorch) does.
"""
import numpy as np

from mlpcore.exercises import get_exercise, run_exercise
from mlpcore.layers import Linear
from mlpcore.losses import CrossEntropyLoss
from mlpcore.module import Parameter
from mlpcore.optim import SGD


def linear_via_mlpcore(x, weight, grad_out):
    layer = Linear(*weight.shape, rng=np.random.default_rng(0), dtype=np.float64)
    layer.weight.data[...] = weight
    layer(x.copy())
    grad_x = layer.backward(grad_out.copy())
    return grad_x, layer.weight.grad, layer.bias.grad


def softmax_ce_via_mlpcore(logits, targets):
    loss_fn = CrossEntropyLoss()
    loss_fn(logits.copy(), targets.copy())
    return loss_fn.backward()


def sgd_via_mlpcore(param, grad, buf, lr, momentum):
    """A given buffer is produced by a first step whose gradient is that buffer, from a
    start chosen to land on ``param``; the new buffer is read from the optimiser's
    state under PyTorch's name, ``momentum_buffer``."""
    grads = [grad] if buf is None else [buf, grad]
    start = param.copy() if buf is None else param + lr * buf
    parameter = Parameter(start)
    optimizer = SGD([parameter], lr=lr, momentum=momentum)
    for g in grads:
        parameter.grad = g.copy()
        optimizer.step()
    return parameter.data.copy(), optimizer.state[parameter]["momentum_buffer"].copy()


def test_linear_backward_cases_match_mlpcore_linear():
    exercise = get_exercise("ch00.linear_backward")
    result = run_exercise(exercise, linear_via_mlpcore)
    assert result.points == exercise.max_points, result.summary()


def test_softmax_cross_entropy_cases_match_mlpcore_loss():
    exercise = get_exercise("ch00.softmax_cross_entropy_grad")
    result = run_exercise(exercise, softmax_ce_via_mlpcore)
    assert result.points == exercise.max_points, result.summary()


def test_sgd_momentum_cases_match_mlpcore_sgd():
    exercise = get_exercise("ch00.sgd_momentum_step")
    result = run_exercise(exercise, sgd_via_mlpcore)
    assert result.points == exercise.max_points, result.summary()
