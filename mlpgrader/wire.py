"""The values that cross the sandbox's pipe, as plain JSON (never pickle).

Both sides use this file: the grader, to send a case's inputs and read the learner's
outputs; the sandboxed child (which gets a copy of this file, the standard library
and NumPy, nothing else), to read the inputs and send the outputs. Decoding builds
only plain data: None, bool, int, float, complex, str, list, tuple, dict, NumPy
arrays and scalars of numeric dtypes, and ``np.random.Generator`` (sent as its bit
generator's state, so the child draws exactly what the judge replays). Any other
object becomes an ``Opaque`` that only remembers its type's name. Sizes and nesting
are capped on both sides.

One kind goes from the grader to the child only: a function given as a case input
(say, the f whose gradient a learner's ``numerical_gradient(f, x, eps)`` estimates).
It is sent as its compiled code (``marshal``; the child runs the same interpreter),
its closure and the globals it names (plain data, other such functions, or the
modules numpy and math), and rebuilt in the child. The grader never decodes code:
``decode`` refuses it unless ``allow_code`` is set, which only the child does.
"""
from __future__ import annotations

import base64
import builtins
import importlib
import json
import marshal
import math
import re
import types

import numpy as np

MAX_DEPTH = 24             # nesting of lists/tuples/dicts
MAX_ITEMS = 100_000        # entries of one list/tuple/dict
MAX_ARRAY_BYTES = 64 * 2 ** 20
MAX_TEXT = 10_000          # characters of one string
_DTYPE = re.compile(r"^[<>|=][biufc][1-9][0-9]?$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MODULES = ("numpy", "math")


class WireError(ValueError):
    """A value that cannot be sent, or a message that is not valid wire data."""


class Opaque:
    """Stands for an object that cannot cross the pipe (a function, a custom class):
    the judge sees ``a <type name>`` and the answer is simply wrong."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def opaque(type_name: str) -> Opaque:
    """An Opaque whose class bears ``type_name``, so messages say 'a Foo'."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(type_name))[:40] or "object"
    if not name[0].isalpha():
        name = "object_" + name
    return type(name, (Opaque,), {})(name)


def encode(value, depth: int = 0, strict: bool = False):
    """``value`` as JSON-ready data. ``strict``: raise WireError for what cannot be
    sent (the grader's own case inputs); otherwise send an Opaque (a learner's output)."""
    if type(value) is int and abs(value) >= 2 ** 256:
        return _refuse(value, strict, "an integer too large")
    if value is None or isinstance(value, (bool, str)) or type(value) is int:
        return value if not isinstance(value, str) else value[:MAX_TEXT]
    if type(value) is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if depth >= MAX_DEPTH:
        return _refuse(value, strict, "nested too deeply")
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        return _array(value)
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return dict(_array(np.asarray(value)), **{"$": "scalar"})
    if isinstance(value, complex):
        return {"$": "complex", "v": [encode(value.real), encode(value.imag)]}
    if isinstance(value, types.FunctionType) and strict:
        return _function(value, depth)
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        return {"$": "generator", "state": encode(state, depth + 1, strict=True)}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            return _refuse(value, strict, "too long")
        return {"$": type(value).__name__,
                "v": [encode(item, depth + 1, strict) for item in value]}
    if type(value) is dict and all(type(key) is str for key in value):
        if len(value) > MAX_ITEMS:
            return _refuse(value, strict, "too long")
        return {"$": "dict", "v": {key[:MAX_TEXT]: encode(item, depth + 1, strict)
                                   for key, item in value.items()}}
    return _refuse(value, strict, "not plain data")


def _refuse(value, strict: bool, why: str):
    name = type(value).__name__
    if strict:
        raise WireError(f"a {name} cannot be sent to the sandbox ({why}): case inputs must "
                        f"be arrays, numbers, strings, None, np.random.Generator, or "
                        f"lists/tuples/dicts of them")
    return {"$": "opaque", "type": str(name)[:40]}


def _array(array: np.ndarray) -> dict:
    if array.nbytes > MAX_ARRAY_BYTES:
        raise WireError(f"an array of {array.nbytes} bytes is over the "
                        f"{MAX_ARRAY_BYTES} byte limit")
    data = np.ascontiguousarray(array).tobytes()
    encoded = {"$": "array", "dtype": array.dtype.str, "shape": list(array.shape),
               "data": base64.b64encode(data).decode("ascii")}
    if not array.flags.writeable:  # a case that makes its inputs read-only stays so
        encoded["readonly"] = True
    return encoded


def _names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _function(function: types.FunctionType, depth: int) -> dict:
    """A case's function as code, closure and the globals it may use (see above)."""
    try:
        closure = [encode(cell.cell_contents, depth + 1, strict=True)
                   for cell in function.__closure__ or ()]
    except ValueError:  # an empty closure cell
        raise WireError(f"the function {function.__name__} has an unset closure "
                        f"variable") from None
    names = {}
    for name in sorted(_names(function.__code__)):
        if name not in function.__globals__:
            continue  # a builtin, or an attribute name (np.sum's "sum")
        value = function.__globals__[name]
        if isinstance(value, types.ModuleType):
            if value.__name__ in _MODULES:
                names[name] = {"$": "module", "name": value.__name__}
            continue
        try:
            names[name] = encode(value, depth + 1, strict=True)
        except WireError:
            continue  # most likely an attribute name that is also a global of the module
    return {"$": "function", "name": function.__name__[:80],
            "code": base64.b64encode(marshal.dumps(function.__code__)).decode("ascii"),
            "closure": closure, "globals": names,
            "defaults": encode(function.__defaults__ or (), depth + 1, strict=True)}


def decode(data, depth: int = 0, allow_code: bool = False):
    """The value ``data`` (from ``encode``) stands for; WireError if malformed.
    ``allow_code`` (the child only) accepts functions sent by the grader."""
    if data is None or isinstance(data, (bool, str)):
        return data
    if type(data) is int or type(data) is float:
        return data
    if depth >= MAX_DEPTH + 2:
        raise WireError("nested too deeply")
    if not isinstance(data, dict) or not isinstance(data.get("$"), str):
        raise WireError(f"unexpected {type(data).__name__} in the message")
    kind = data["$"]
    if kind in ("list", "tuple"):
        items = data.get("v")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError(f"a malformed {kind}")
        decoded = [decode(item, depth + 1, allow_code) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "dict":
        items = data.get("v")
        if not isinstance(items, dict) or len(items) > MAX_ITEMS:
            raise WireError("a malformed dict")
        return {str(key): decode(item, depth + 1, allow_code) for key, item in items.items()}
    if kind == "float":
        if data.get("v") not in ("nan", "inf", "-inf"):
            raise WireError("a malformed float")
        return float(data["v"])
    if kind == "complex":
        parts = data.get("v")
        if not isinstance(parts, list) or len(parts) != 2:
            raise WireError("a malformed complex number")
        real, imag = (decode(part, depth + 1) for part in parts)
        if not all(type(part) in (int, float) for part in (real, imag)):
            raise WireError("a malformed complex number")
        return complex(real, imag)
    if kind in ("array", "scalar"):
        array = _decode_array(data)
        return array if kind == "array" else array[()]
    if kind == "generator":
        return _decode_generator(decode(data.get("state"), depth + 1))
    if kind == "opaque":
        return opaque(data.get("type", "object"))
    if kind in ("function", "module"):
        if not allow_code:
            raise WireError("code is only ever sent to the sandbox, never read from it")
        return _decode_code(data, depth)
    raise WireError(f"unknown kind {kind[:40]!r}")


def _decode_code(data: dict, depth: int):
    if data["$"] == "module":
        if data.get("name") not in _MODULES:
            raise WireError("an unknown module")
        return importlib.import_module(data["name"])
    namespace = {"__builtins__": builtins}
    for name, value in data["globals"].items():
        namespace[name] = decode(value, depth + 1, allow_code=True)
    cells = tuple(types.CellType(decode(value, depth + 1, allow_code=True))
                  for value in data["closure"])
    code = marshal.loads(base64.b64decode(data["code"]))
    defaults = decode(data["defaults"], depth + 1, allow_code=True) or None
    return types.FunctionType(code, namespace, data["name"], defaults, cells or None)


def _decode_array(data: dict) -> np.ndarray:
    dtype, shape, text = data.get("dtype"), data.get("shape"), data.get("data")
    if not (isinstance(dtype, str) and _DTYPE.match(dtype) and isinstance(text, str)
            and isinstance(shape, list) and len(shape) <= 32
            and all(type(n) is int and 0 <= n for n in shape)):
        raise WireError("a malformed array")
    try:
        dtype = np.dtype(dtype)
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (TypeError, ValueError) as exc:
        raise WireError(f"a malformed array ({exc})") from None
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw) or len(raw) > MAX_ARRAY_BYTES:
        raise WireError("an array whose data does not match its shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if data.get("readonly") is True:
        array.flags.writeable = False
    return array


def _decode_generator(state) -> np.random.Generator:
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise WireError(f"an unknown bit generator {str(name)[:40]!r}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise WireError(f"a malformed generator state ({exc})") from None
    return np.random.Generator(bit_generator)


def dumps(value) -> bytes:
    """A JSON message (ASCII: lone surrogates and control characters are escaped)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=False).encode("ascii")


def loads(raw: bytes, limit: int):
    """Parse a JSON message of at most ``limit`` bytes; WireError otherwise."""
    if len(raw) > limit:
        raise WireError(f"the message is over {limit} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise WireError(f"not a valid message ({type(exc).__name__})") from None
