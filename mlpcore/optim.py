"""Optimisers with PyTorch's names, defaults, formulas and order of operations.

``SGD`` (with momentum, dampening, Nesterov and *coupled* L2 weight decay),
``Adam`` (coupled L2, as ``torch.optim.Adam``) and ``AdamW`` (*decoupled* weight
decay). All update ``p.data`` in place and in the parameter's dtype (a float32
model stays float32), skip parameters whose ``.grad`` is None, and never modify
``.grad``. Gradient clipping lives in ``mlpcore.clip`` and is re-exported here.

Typical loop::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()

Parameter groups give each part of a model its own hyper-parameters, e.g. no
weight decay on biases::

    SGD([{"params": weights}, {"params": biases, "weight_decay": 0.0}],
        lr=0.1, weight_decay=5e-4)
"""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from mlpcore import functional as F
from mlpcore._checks import check_number
from mlpcore.clip import clip_grad_norm_, clip_grad_value_  # noqa: F401 (re-export)
from mlpcore.module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_", "clip_grad_value_"]


class Optimizer:
    """Base class: holds ``param_groups`` (list of dicts) and per-parameter ``state``.

    ``params`` is an iterable of Parameters, or of dicts (parameter groups) each
    with a ``"params"`` entry and optional overrides of the ``defaults``.
    Subclasses implement ``step()`` and ``_check_group(group)``.
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict[Parameter, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._work: dict[Parameter, list[np.ndarray]] = {}  # see _work_arrays
        name = type(self).__name__
        if isinstance(params, Module):
            raise TypeError(f"{name} got the model itself; pass model.parameters()")
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(f"{name} expects an iterable of Parameters or of dicts "
                            f"(parameter groups), got a single {type(params).__name__}; "
                            f"wrap it in a list: [param]")
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name}: optimizer got an empty parameter list, so there is nothing to "
                f"optimise. Likely causes: a generator of parameters "
                f"that was already consumed (build a list once and reuse it), or a model "
                f"with no parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group: ``{"params": [...], <hyper-parameter>: <override>, ...}``."""
        name = type(self).__name__
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: parameter group {index} must be a dict with a "
                            f"'params' entry, got {type(param_group).__name__} (do not "
                            f"mix Parameters and dicts in one list)")
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group {index} has no 'params' entry")
        unknown = sorted(set(param_group) - {"params"} - set(self.defaults))
        if unknown:
            raise ValueError(f"{name}: parameter group {index} has unknown key(s) "
                             f"{unknown}; valid keys are {['params'] + list(self.defaults)}. "
                             f"Check the spelling")
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be in an ordered collection (a "
                            f"list), not a set: a set's order changes between runs")
        elif isinstance(params, Module):
            raise TypeError(f"{name}: parameter group {index} holds a model; use "
                            f"model.parameters()")
        params = list(params)
        for param in params:
            if not isinstance(param, Parameter):
                hint = (" (model.named_parameters() gives (name, param) pairs; pass "
                        "model.parameters())" if isinstance(param, tuple) else "")
                raise TypeError(f"{name} can only optimise Parameters, but one entry is "
                                f"a {type(param).__name__}{hint}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: parameter group {index} lists the same parameter "
                             f"twice; it would be updated twice per step")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for param in params:
            if id(param) in seen:
                raise ValueError(f"{name}: some parameters appear in more than one "
                                 f"parameter group ({param!r}); each parameter must "
                                 f"belong to exactly one group")
        group = {"params": params}
        for key, default in self.defaults.items():
            group[key] = param_group.get(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate a group's hyper-parameters (overridden by each optimiser)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default) or fill them with 0."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad.fill(0)

    def step(self, closure: Callable[[], float] | None = None):
        raise NotImplementedError(f"{type(self).__name__} does not implement step")

    def _work_arrays(self, param: Parameter, count: int) -> list[np.ndarray]:
        """At least ``count`` arrays shaped like ``param.data``, the temporaries of an
        in-place update rule (its docstring says what each holds): allocated once and
        reused every step, so a step allocates no parameter-sized arrays."""
        arrays = self._work.get(param)
        data = param.data
        if (arrays is None or len(arrays) < count or arrays[0].shape != data.shape
                or arrays[0].dtype != data.dtype):  # new, or the model was cast since
            arrays = self._work[param] = [np.empty_like(data) for _ in range(count)]
        return arrays

    # ----- saving and restoring ---------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [...]}`` where
        parameters are numbered in group order. Arrays are copies."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                packed["params"].append(index_of[id(param)])
            groups.append(packed)
        state = {index_of[id(param)]: copy.deepcopy(values)
                 for param, values in self.state.items() if values}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by ``state_dict()``."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has "
                             f"{len(saved_groups)} parameter group(s), this optimiser "
                             f"has {len(self.param_groups)}")
        params_by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: a saved parameter group has "
                                 f"{len(saved['params'])} parameters, the optimiser's has "
                                 f"{len(group['params'])}")
            params_by_index.update(zip(saved["params"], group["params"]))
        for saved, group in zip(saved_groups, self.param_groups):
            candidate = {**group, **{k: v for k, v in saved.items() if k != "params"}}
            self._check_group(candidate)
            group.update(candidate)
        self.state = defaultdict(dict)
        for index, values in state_dict["state"].items():
            param = params_by_index[index]
            restored = {}
            for key, value in values.items():
                if isinstance(value, np.ndarray):
                    if value.shape != param.data.shape:
                        raise ValueError(f"{name}.load_state_dict: saved {key!r} has shape "
                                         f"{value.shape}, the parameter {param.data.shape}")
                    value = value.astype(param.data.dtype, copy=True)
                restored[key] = value
            self.state[param] = restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's algorithm and order.

    For each parameter p with gradient g (negated if ``maximize``)::

        g <- g + weight_decay * p                       (coupled L2 penalty)
        b <- g                                           (first step)
        b <- momentum * b + (1 - dampening) * g          (later steps)
        g <- g + momentum * b   if nesterov   else   g <- b
        p <- p - lr * g

    State: ``momentum_buffer`` (b) when momentum != 0.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        for key in ("lr", "momentum", "weight_decay"):
            check_number("SGD", key, group[key])
        check_number("SGD", "dampening", group["dampening"], high=1.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero "
                             f"dampening (got momentum={group['momentum']}, dampening="
                             f"{group['dampening']}); set momentum=0.9, say, or "
                             f"nesterov=False")

    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure() if given.
        The rule is ``functional.sgd_step``; its in-place twin runs here."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, momentum = float(group["lr"]), float(group["momentum"])
            dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
            nesterov, maximize = group["nesterov"], group["maximize"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                work = self._work_arrays(param, 2 if nesterov else 1)
                buf = F.sgd_step_inplace(
                    param.data, param.grad, state.get("momentum_buffer"), work[0],
                    work[1] if nesterov else None, lr=lr, momentum=momentum,
                    dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                    maximize=maximize)
                if buf is not None:
                    state["momentum_buffer"] = buf
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's formulas; weight decay is COUPLED (L2).

    For each parameter p with gradient g (negated if ``maximize``), at step t::

        g <- g + weight_decay * p            (L2: the penalty's gradient, then adapted)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)               (amsgrad only; then v_max replaces v below)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps
        p <- p - lr / (1 - beta1^t) * m / denom

    State: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (amsgrad).
    Because g is divided by ~sqrt(v), coupled decay of a weight with large gradients
    is weakened; ``AdamW`` decouples it.
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            check_number(name, key, group[key])
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2) such as "
                             f"(0.9, 0.999), got {betas!r}")
        for index, beta in enumerate(betas):
            check_number(name, f"beta parameter at index {index} (betas[{index}])", beta,
                          high=1.0, high_open=True)

    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns closure() if given.
        The rule is ``functional.adam_step`` (``adamw_step`` for AdamW); its in-place twin
        runs here."""
        loss = closure() if closure is not None else None
        rule = F.adamw_step_inplace if self._decoupled else F.adam_step_inplace
        for group in self.param_groups:
            lr, eps = float(group["lr"]), float(group["eps"])
            weight_decay = float(group["weight_decay"])
            betas = tuple(float(beta) for beta in group["betas"])
            amsgrad, maximize = group["amsgrad"], group["maximize"]
            # the rule's second work array holds g + weight_decay · p (Adam's L2) or -g
            adjusts_grad = maximize or (weight_decay != 0 and not self._decoupled)
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param.data)
                    state["exp_avg_sq"] = np.zeros_like(param.data)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(param.data)
                state["step"] += 1
                work = self._work_arrays(param, 2 if adjusts_grad else 1)
                rule(param.data, param.grad, state["exp_avg"], state["exp_avg_sq"],
                     state["step"], work[0], work[1] if adjusts_grad else None, lr=lr,
                     betas=betas, eps=eps, weight_decay=weight_decay,
                     v_max=state.get("max_exp_avg_sq"), maximize=maximize)
        return loss


class AdamW(Adam):
    """Adam with DECOUPLED weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW.

    Before the Adam step (which sees the plain gradient g)::

        p <- p * (1 - lr * weight_decay)

    so every weight shrinks by the same factor whatever its gradient's scale,
    unlike Adam's L2 term that the adaptive denominator rescales. Default
    weight_decay = 1e-2.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
