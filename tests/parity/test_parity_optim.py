"""mlpcore.optim against torch.optim (and clipping against torch.nn.utils), float64.

Both sides start from the same parameters and, at every step, get the gradient of
the same fixed function evaluated at their own current parameters (computed in
NumPy, identically on both sides). Parameters are compared after every step.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped "
                                            "(pip install torch==2.13.0 to run them)")

from mlpcore.module import Parameter  # noqa: E402
from mlpcore.optim import SGD, Adam, AdamW, clip_grad_norm_, clip_grad_value_  # noqa: E402

STEPS = 6
RTOL, ATOL = 1e-12, 1e-14
SHAPES = [(4, 3), (3,)]  # a weight and a bias


def gradient(p: np.ndarray, index: int) -> np.ndarray:
    """Gradient of an ill-conditioned, slightly non-quadratic loss (fixed coefficients),
    so every step's gradient depends on where the previous steps went."""
    curvature = np.linspace(0.05, 5.0, p.size).reshape(p.shape) * (index + 1)
    return curvature * (p - 0.3) + 0.1 * p ** 3


def start_values():
    rng = np.random.default_rng(42)
    return [rng.standard_normal(shape) for shape in SHAPES]


def compare(ours_class, torch_class, ours_kwargs, torch_kwargs=None, groups=None,
            skip_bias_at=None):
    """Run both optimisers for STEPS steps and compare the parameters after each one.

    ``groups``: list of per-group overrides (index i applies to SHAPES[i]).
    ``skip_bias_at``: a step at which the bias has no gradient (it must not move).
    """
    torch_kwargs = dict(ours_kwargs if torch_kwargs is None else torch_kwargs)
    torch_kwargs.setdefault("foreach", False)  # the single-tensor reference loop
    ours = [Parameter(value.copy()) for value in start_values()]
    theirs = [torch.nn.Parameter(torch.tensor(value.copy(), dtype=torch.float64))
              for value in start_values()]
    if groups is None:
        our_optimizer, their_optimizer = ours_class(ours, **ours_kwargs), torch_class(theirs, **torch_kwargs)
    else:
        our_optimizer = ours_class([{"params": [p], **g} for p, g in zip(ours, groups)], **ours_kwargs)
        their_optimizer = torch_class([{"params": [p], **g} for p, g in zip(theirs, groups)], **torch_kwargs)
    for step in range(STEPS):
        for index, (mine, reference) in enumerate(zip(ours, theirs)):
            if index == 1 and step == skip_bias_at:
                mine.grad, reference.grad = None, None
                continue
            mine.grad = gradient(mine.data, index)
            reference.grad = torch.from_numpy(gradient(reference.detach().numpy(), index))
        our_optimizer.step()
        their_optimizer.step()
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine.data, reference.detach().numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{ours_class.__name__} diverged from torch at step {step + 1}")
    return ours


SGD_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.2),
    dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.05),
    dict(lr=0.05, maximize=True),
    dict(lr=0.02, momentum=0.9, weight_decay=0.1, maximize=True),
    dict(lr=0.02, momentum=0.9, nesterov=True, maximize=True),
    dict(),  # every default, lr = 1e-3 included
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd_matches_torch(kwargs):
    compare(SGD, torch.optim.SGD, kwargs)


ADAM_CASES = [
    dict(),
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.05, amsgrad=True, weight_decay=0.1),
    dict(lr=0.05, betas=(0.5, 0.8), eps=1e-3),  # a large eps shows where eps is added
    dict(lr=0.05, maximize=True, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_matches_torch(kwargs):
    compare(Adam, torch.optim.Adam, kwargs)


ADAMW_CASES = [
    dict(),  # default weight_decay = 1e-2
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, weight_decay=0.1, amsgrad=True),
    dict(lr=0.05, weight_decay=0.0),
    dict(lr=0.05, betas=(0.5, 0.8), eps=1e-3, weight_decay=0.3),
    dict(lr=0.05, weight_decay=0.1, maximize=True),
]


@pytest.mark.parametrize("kwargs", ADAMW_CASES, ids=str)
def test_adamw_matches_torch(kwargs):
    compare(AdamW, torch.optim.AdamW, kwargs)


@pytest.mark.parametrize("ours_class, torch_class, kwargs", [
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    (AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
])
def test_param_groups_and_skipped_params_match_torch(ours_class, torch_class, kwargs):
    groups = [{}, {"weight_decay": 0.0, "lr": 0.01}]  # bias: no decay, its own lr
    compare(ours_class, torch_class, kwargs, groups=groups, skip_bias_at=2)


def test_default_hyperparameters_match_torch():
    p = Parameter(np.zeros(2))
    t = torch.nn.Parameter(torch.zeros(2))
    for ours, theirs in [(SGD([p]), torch.optim.SGD([t])), (Adam([p]), torch.optim.Adam([t])),
                         (AdamW([p]), torch.optim.AdamW([t]))]:
        for key, value in ours.defaults.items():
            assert theirs.defaults[key] == value, (type(ours).__name__, key)


def test_state_dict_layout_matches_torch():
    values = start_values()
    ours = [Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v.copy())) for v in values]
    our_optimizer = Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.5}], lr=0.1)
    their_optimizer = torch.optim.Adam([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.5}], lr=0.1)
    for index in range(2):
        ours[index].grad = gradient(values[index], index)
        theirs[index].grad = torch.from_numpy(gradient(values[index], index))
    our_optimizer.step()
    their_optimizer.step()
    mine, reference = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert [g["params"] for g in mine["param_groups"]] == [g["params"] for g in reference["param_groups"]]
    assert sorted(mine["state"]) == sorted(reference["state"])
    for index, state in mine["state"].items():
        assert set(state) == set(reference["state"][index])
        np.testing.assert_allclose(state["exp_avg_sq"], reference["state"][index]["exp_avg_sq"].numpy(),
                                   rtol=RTOL)


# ----- clipping ----------------------------------------------------------------------
def grad_pairs(seed, scale):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in [(5, 4), (4,), (3, 3)]:
        grad = scale * rng.standard_normal(shape)
        mine = Parameter(np.zeros(shape))
        mine.grad = grad.copy()
        reference = torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))
        reference.grad = torch.tensor(grad.copy())
        ours.append(mine)
        theirs.append(reference)
    no_grad_ours, no_grad_theirs = Parameter(np.zeros(2)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    return ours + [no_grad_ours], theirs + [no_grad_theirs]


@pytest.mark.parametrize("norm_type", [2.0, float("inf"), 1.0, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a no-op
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = grad_pairs(7, scale=2.0)
    returned = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert returned == pytest.approx(expected.item(), rel=RTOL)
    for mine, reference in zip(ours, theirs):
        if reference.grad is None:
            assert mine.grad is None
        else:
            np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = grad_pairs(8, scale=1.5)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for mine, reference in zip(ours, theirs):
        if reference.grad is not None:
            np.testing.assert_array_equal(mine.grad, reference.grad.numpy())


def test_nonfinite_norm_raises_on_both_sides():
    ours, theirs = grad_pairs(9, scale=1.0)
    ours[0].grad[0, 0] = np.inf
    theirs[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
