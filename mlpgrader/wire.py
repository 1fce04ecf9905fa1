"""The values that cross the sandbox's pipe, as plain JSON (never pickle).

Both sides use this file: the grader, to send a case's inputs and read the learner's
outputs; the sandboxed child (which gets a copy of this file, the standard library
and NumPy, nothing else), to read the inputs and send the outputs. Decoding builds
only plain data: None, bool, int, float, complex, str, list, tuple, dict, NumPy
arrays and scalars of numeric dtypes, and ``np.random.Generator`` (sent as its bit
generator's state, so the child draws exactly what the judge replays). Any other
object becomes an ``Opaque`` that only remembers its type's name. Sizes and nesting
are capped on both sides.
"""
from __future__ import annotations

import base64
import json
import math
import re

import numpy as np

MAX_DEPTH = 24             # nesting of lists/tuples/dicts
MAX_ITEMS = 100_000        # entries of one list/tuple/dict
MAX_ARRAY_BYTES = 64 * 2 ** 20
MAX_TEXT = 10_000          # characters of one string
_DTYPE = re.compile(r"^[<>|=][biufc][1-9][0-9]?$")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


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
    return {"$": "array", "dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(data).decode("ascii")}


def decode(data, depth: int = 0):
    """The value ``data`` (from ``encode``) stands for; WireError if malformed."""
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
        decoded = [decode(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "dict":
        items = data.get("v")
        if not isinstance(items, dict) or len(items) > MAX_ITEMS:
            raise WireError("a malformed dict")
        return {str(key): decode(item, depth + 1) for key, item in items.items()}
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
    raise WireError(f"unknown kind {kind[:40]!r}")


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
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


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
