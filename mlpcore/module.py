"""Parameter and Module: the two classes every layer, loss and optimiser stands on.

The shape follows PyTorch (``parameters()``, ``named_parameters()``,
``zero_grad()``, ``train()``/``eval()``), with one difference that is the point
of the course: there is no autograd. Each module's ``forward`` caches what its
``backward`` needs, and ``backward(grad_out)`` fills ``.grad`` of its parameters
and returns the gradient with respect to its input.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from mlpcore._checks import DEFAULT_DTYPE, check_float_dtype  # noqa: F401 (DEFAULT_DTYPE: re-export)


class Parameter:
    """A trainable array: ``.data`` holds the values, ``.grad`` the gradient.

    ``grad`` is ``None`` until a backward pass writes it, and backward passes
    *accumulate* into it (as in PyTorch), so call ``zero_grad()`` between steps.
    """

    def __init__(self, data: np.ndarray):
        self.data = np.asarray(data)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def accumulate_grad(self, grad: np.ndarray) -> None:
        """Add ``grad`` to ``.grad`` (the first call takes ownership of ``grad``)."""
        if grad.shape != self.data.shape:
            raise ValueError(
                f"gradient of shape {grad.shape} does not match parameter of shape "
                f"{self.data.shape}; a backward pass computed the wrong shape")
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of layers and models.

    Subclasses implement ``forward(x)`` and ``backward(grad_out, *,
    needs_input_grad=True)``. Attributes
    that are a ``Parameter`` or a ``Module`` are found automatically, in the
    order they were assigned, so ``named_parameters()`` gives PyTorch-like names
    such as ``"0.weight"``. Arrays that are state but not trained (BatchNorm's
    running statistics) are declared with ``register_buffer``.
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        """Accumulate the parameters' gradients and return d loss / d input, given
        ``grad_out`` = d loss / d output. With ``needs_input_grad=False`` (the input is
        data, as in ``fit``) a module may skip d loss / d input and return None."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    # ----- walking the tree -------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def modules(self) -> Iterator["Module"]:
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        for name, param in self._named_parameters_all(prefix):
            if id(param) not in seen:  # a shared parameter is listed once, as in PyTorch
                seen.add(id(param))
                yield name, param

    def _named_parameters_all(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_parameters_all(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [param for _, param in self.named_parameters()]

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Store ``array`` as state that is saved and cast with the module but not trained."""
        if "_buffer_names" not in vars(self):
            self._buffer_names: list[str] = []
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, array)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name in vars(self).get("_buffer_names", []):
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    # ----- state -------------------------------------------------------------
    def zero_grad(self) -> None:
        """Forget all gradients (set them to None, PyTorch's default)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Cast every parameter and buffer to ``dtype`` in place (e.g. ``np.float64``
        for a gradient check) and drop gradients and caches of the old dtype."""
        dtype = check_float_dtype(dtype, f"{type(self).__name__}.to")
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            param.grad = None
        for module in self.modules():
            for name in vars(module).get("_buffer_names", []):
                buffer = getattr(module, name)
                if buffer.dtype.kind == "f":  # counters such as num_batches_tracked stay integers
                    setattr(module, name, buffer.astype(dtype))
            module.clear_cache()
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by name."""
        state = {name: param.data.copy() for name, param in self.named_parameters()}
        state.update({name: np.array(buf, copy=True) for name, buf in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        own = dict(self.named_parameters())
        buffers = {}  # full name -> (module that holds it, its name there)
        for module, prefix in self._modules_with_prefix():
            for local in vars(module).get("_buffer_names", []):
                buffers[prefix + local] = (module, local)
        expected = set(own) | set(buffers)
        if set(state) != expected:
            missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name, param in own.items():
            if state[name].shape != param.data.shape:
                raise ValueError(f"{name}: saved shape {state[name].shape} does not match "
                                 f"the model's {param.data.shape}")
            param.data[...] = state[name]
        for name, (module, local) in buffers.items():
            getattr(module, local)[...] = state[name]

    def _modules_with_prefix(self, prefix: str = ""):
        yield self, prefix
        for name, child in self.named_children():
            yield from child._modules_with_prefix(prefix + name + ".")

    # ----- caches --------------------------------------------------------------
    def clear_cache(self) -> None:
        """Drop what forward stored for backward (subclasses keep it in ``_cache``)."""
        self._cache = None

    def _take_cache(self):
        """Return the forward cache and free it, or explain why backward cannot run."""
        cache = vars(self).get("_cache")
        if cache is None:
            raise RuntimeError(
                f"{self!r}.backward was called before forward (or twice after one "
                f"forward): run the forward pass on a batch, then call backward once")
        self._cache = None
        return cache

    def extra_repr(self) -> str:
        return ""

    def _name(self) -> str:
        """What an error message calls this module: its repr, unless a layer has a
        shorter name (``Linear(64→128)``). Built only when a message is."""
        return repr(self)

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)
