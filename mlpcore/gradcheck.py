r"""Numerical gradient checks: compare a hand-written backward with central differences.

For a module f and input x we draw a random upstream gradient G and check the
vector-Jacobian product on the scalar :math:`L(x, \theta) = \sum G \odot f(x; \theta)`:
``backward(G)`` must equal :math:`\partial L/\partial x`, and every parameter's ``.grad``
must equal :math:`\partial L/\partial\theta`, each estimated numerically with

.. math::  \frac{\partial L}{\partial u_i} \approx \frac{L(u + h e_i) - L(u - h e_i)}{2h}.

A random G (not G = 1) makes a bug that cancels in a sum (e.g. a transposed
gradient of a square matrix) visible.

Error measure, per tensor (a = analytic, n = numerical):

.. math::  \text{err} = \frac{\max_i |a_i - n_i|}{\max(\max_i |a_i| + \max_i |n_i|,\ 1)}

It is relative for gradients of size >= 1 and absolute below. CS231n divides
element-wise by max(|a_i| + |n_i|, 1e-8); that turns harmless finite-difference
rounding noise (~1e-10) into large relative errors wherever a true gradient is tiny
or zero while its numerical estimate is not (the bias of a Linear right before a
BatchNorm, whose true gradient is 0), so we floor the scale at 1 instead: with
G ~ N(0, 1) and unit-scale inputs, real gradients are of order 1. At ``tol=1e-6``
any discrepancy larger than 1e-6 (relative, or absolute for small gradients) fails.
Everything runs in float64: in float32, rounding in the two forward passes limits
central differences to errors of roughly 1e-8 to 1e-3 at the best step, depending on
the layer (chapter 0 measures it), too coarse to tell a bug from noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpcore.module import Module

__all__ = ["GradcheckReport", "gradcheck", "gradcheck_loss", "relative_error"]

DEFAULT_STEP = 1e-6
DEFAULT_TOL = 1e-6
ROUNDING_LEVEL = 1e-8
"""Errors below this are float64 rounding in the two forward passes (about 1e-16 / h per
pass at h = 1e-6, times the sums' sizes): the report shows them as "<1e-8", because their
digits change from one CPU or BLAS library to another and mean nothing."""


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """max|a - n| / max(max|a| + max|n|, 1), the measure described in the module docstring."""
    analytic, numerical = np.asarray(analytic), np.asarray(numerical)
    if analytic.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(analytic)) + np.max(np.abs(numerical))), 1.0)
    return float(np.max(np.abs(analytic - numerical))) / scale


@dataclass
class GradcheckReport:
    """Result of a gradient check: one row per tensor ("input", "weight", "0.bias", ...).

    ``errors[name]`` is the error measure, ``analytic[name]`` / ``numerical[name]`` the
    two gradients, ``upstream`` the random G; ``max_error`` is the worst error and ``passed`` means max_error < tol.
    """

    title: str
    tol: float
    step: float
    errors: dict[str, float] = field(default_factory=dict)
    analytic: dict[str, np.ndarray] = field(default_factory=dict)
    numerical: dict[str, np.ndarray] = field(default_factory=dict)
    upstream: np.ndarray | None = None  # the G of L = sum(G * f(x)), for module checks

    def add(self, name: str, analytic: np.ndarray, numerical: np.ndarray) -> None:
        self.analytic[name] = analytic
        self.numerical[name] = numerical
        self.errors[name] = relative_error(analytic, numerical)

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        """The table; errors at rounding level are shown as "<1e-8" (ROUNDING_LEVEL)."""
        width = max([len("tensor")] + [len(name) for name in self.errors])
        lines = [f"gradient check of {self.title} (float64, central differences, "
                 f"h={self.step:g}, tol={self.tol:g})",
                 f"{'tensor':<{width}}  {'shape':<12}  {'max|grad|':>9}  {'error':>8}"]
        for name, error in self.errors.items():
            shape = str(tuple(self.analytic[name].shape))
            size = float(np.max(np.abs(self.analytic[name]), initial=0.0))
            mark = "ok" if error < self.tol else "FAIL"
            lines.append(f"{name:<{width}}  {shape:<12}  {size:>9.2e}  {_shown(error):>8}  {mark}")
        verdict = "passed" if self.passed else "FAILED"
        lines.append(f"max error {_shown(self.max_error)}: {verdict}")
        return "\n".join(lines)

    __repr__ = __str__  # a notebook cell ending in a report shows the table


def _shown(error: float) -> str:
    return "<1e-8" if error < ROUNDING_LEVEL else f"{error:.1e}"


def _numerical_gradient(scalar_fn, array: np.ndarray, step: float) -> np.ndarray:
    """Central differences of ``scalar_fn()`` with respect to ``array``, perturbed in
    place one entry at a time and restored to the exact original value."""
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("gradcheck needs contiguous arrays it can perturb in place")
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + step
        plus = scalar_fn()
        flat[i] = original - step
        minus = scalar_fn()
        flat[i] = original
        grad_flat[i] = (plus - minus) / (2 * step)
    return grad


def _require_float64(what: str, arrays: dict[str, np.ndarray]) -> None:
    wrong = [f"{name} ({np.asarray(a).dtype})" for name, a in arrays.items()
             if np.asarray(a).dtype != np.float64]
    if wrong:
        raise TypeError(
            f"gradcheck of {what} needs float64 everywhere (in float32 the finite "
            f"differences are too noisy to judge); not float64: {', '.join(wrong)}. Call "
            f"module.double() and pass x.astype(np.float64).")


def _title(module: Module) -> str:
    first_line = repr(module).split("\n")[0]
    return first_line[:-1] if first_line.endswith("(") else first_line


def gradcheck(module: Module, x: np.ndarray, *, rng: np.random.Generator,
              tol: float = DEFAULT_TOL, step: float = DEFAULT_STEP) -> GradcheckReport:
    """Check ``module.backward`` (input gradient and every parameter's ``.grad``)
    against central differences, at input ``x`` (float64), in the module's current
    train/eval mode. ``rng`` draws the upstream gradient G.

    Random layers (anything with an ``rng``, such as Dropout) get their generator's
    state restored before every evaluation, so each forward draws the same masks and
    L is a deterministic function. Side effects are undone: parameter values, buffers
    (BatchNorm's running statistics move with every training forward), existing
    ``.grad`` and caches are restored; the generators end as after one forward.
    """
    x = np.array(x, copy=True)  # perturbed in place; the caller's array stays untouched
    params = dict(module.named_parameters())
    float_buffers = {name: buf for name, buf in module.named_buffers()
                     if np.asarray(buf).dtype.kind == "f"}  # num_batches_tracked is an int
    _require_float64(_title(module), {"x": x, **{name: p.data for name, p in params.items()},
                                      **float_buffers})
    saved_state = module.state_dict()
    saved_grads = {name: p.grad for name, p in params.items()}
    report = GradcheckReport(title=_title(module), tol=tol, step=step)
    generators = {id(sub.rng): sub.rng for sub in module.modules()
                  if isinstance(getattr(sub, "rng", None), np.random.Generator)}
    saved_draws = {key: gen.bit_generator.state for key, gen in generators.items()}

    def forward() -> np.ndarray:
        for key, generator in generators.items():
            generator.bit_generator.state = saved_draws[key]  # the same masks every time
        return module(x)

    try:
        for param in params.values():
            param.grad = None
        out = forward()
        upstream = rng.standard_normal(out.shape)
        report.upstream = upstream
        grad_x = module.backward(upstream.copy())
        analytic = {name: (np.zeros_like(p.data) if p.grad is None else p.grad.copy())
                    for name, p in params.items()}

        def loss() -> float:
            return float(np.sum(upstream * forward()))

        report.add("input", grad_x, _numerical_gradient(loss, x, step))
        for name, param in params.items():
            report.add(name, analytic[name], _numerical_gradient(loss, param.data, step))
    finally:
        module.load_state_dict(saved_state)
        for name, param in params.items():
            param.grad = saved_grads[name]
        for sub in module.modules():
            sub.clear_cache()
    return report


def gradcheck_loss(loss_fn: Module, pred: np.ndarray, target: np.ndarray, *,
                   grad_out: float = 1.0, tol: float = DEFAULT_TOL,
                   step: float = DEFAULT_STEP) -> GradcheckReport:
    """Check ``loss_fn.backward(grad_out)`` against central differences of
    ``grad_out * loss_fn(pred, target)`` with respect to ``pred`` (float64)."""
    pred = np.array(pred, copy=True)
    _require_float64(repr(loss_fn), {"pred": pred})
    report = GradcheckReport(title=repr(loss_fn), tol=tol, step=step)
    loss_fn(pred, target)
    analytic = loss_fn.backward(grad_out)
    numerical = _numerical_gradient(lambda: grad_out * loss_fn(pred, target), pred, step)
    loss_fn.clear_cache()
    report.add("pred", analytic, numerical)
    return report
