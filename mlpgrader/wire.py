"""What crosses the sandbox's pipe, as plain JSON (never pickle): the job the grader
sends, the reply the child sends back, and the values inside them. The one home of
both formats, their size limits and their encoding and decoding.

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
REPLY_LIMIT = 32 * 2 ** 20  # bytes of the child's reply
MAX_MESSAGE_ITEMS = 200_000  # JSON values of one reply, estimated before parsing
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
        try:
            return complex(real, imag)
        except OverflowError:  # a 400-digit integer part
            raise WireError("a complex number out of range") from None
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
    except Exception as exc:  # TypeError, ValueError, KeyError, OverflowError (a -1 in it)
        raise WireError(f"a malformed generator state ({type(exc).__name__})") from None
    return np.random.Generator(bit_generator)


def dumps(value) -> bytes:
    """A JSON message (ASCII: lone surrogates and control characters are escaped)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=False).encode("ascii")


def json_items(text) -> int:
    """An upper bound on the number of values in a JSON text, counted in one cheap
    pass before parsing (every value but the first follows a comma or opens a
    container), so that a file of a million tiny items is refused before Python
    builds a million objects."""
    marks = (b",", b"[", b"{") if isinstance(text, (bytes, bytearray)) else (",", "[", "{")
    return sum(text.count(mark) for mark in marks) + 1


def loads(raw: bytes, limit: int = REPLY_LIMIT, max_items: int = MAX_MESSAGE_ITEMS):
    """Parse a JSON message of at most ``limit`` bytes and ``max_items`` values;
    WireError otherwise."""
    if len(raw) > limit:
        raise WireError(f"the message is over {limit} bytes")
    if json_items(raw) > max_items:
        raise WireError(f"the message has over {max_items} JSON values")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise WireError(f"not a valid message ({type(exc).__name__})") from None


# ------------------------------------------------------------------ job and reply
# The job, grader -> child, one JSON object:
#     {"function", "params": [name, ...], "may_modify": [name, ...], "preamble",
#      "source", "cases": [encoded argument tuple, ...], "limits": {RLIMIT_...: n},
#      "no_processes": bool}
# The reply, child -> grader, one JSON object:
#     {"problem": str, "fatal": bool, "stub": bool,
#      "cases": [{"output": encoded, "after": {name: encoded}, "changed": name | null,
#                 "warning": str, "raised": null | {"type", "bases", "message",
#                                                  "where", "exit_code"}}, ...]}
JOB_KEYS = ("function", "params", "may_modify", "preamble", "source", "cases", "limits",
            "no_processes")


def job_message(function: str, params, may_modify, preamble: str, source: str,
                cases: list, limits: dict, no_processes: bool) -> bytes:
    """The job for the child (``cases``: each case's arguments, already encoded)."""
    job = dict(zip(JOB_KEYS, (function, list(params), sorted(may_modify), preamble, source,
                              cases, dict(limits), bool(no_processes))))
    return json.dumps(job).encode("ascii")


def read_job(raw: bytes) -> dict:
    """The child's reading of a job (from the grader: trusted, only checked whole)."""
    job = json.loads(raw)
    missing = [key for key in JOB_KEYS if key not in job]
    if missing:
        raise WireError(f"the job lacks {', '.join(missing)}")
    return job


def _calling():
    try:
        from mlpcore.exercises import calling
    except ImportError:  # inside the sandbox: the file beside this one
        import calling  # type: ignore[no-redef]
    return calling


def describe_call(outcome, params, may_modify) -> dict:
    """One case of the reply, from the child's ``calling.CallOutcome``."""
    described = {"changed": outcome.changed, "warning": _text(outcome.warning),
                 "raised": None}
    if outcome.raised is not None:
        exc = outcome.raised
        bases = [cls.__name__ for cls in type(exc).__mro__
                 if cls.__module__ == "builtins" and issubclass(cls, BaseException)]
        described["raised"] = {"type": _text(type(exc).__name__, 80), "bases": bases[:12],
                               "message": _text(_safe_str(exc), 2000),
                               "where": _text(outcome.where, 300),
                               "exit_code": _text(outcome.exit_code, 200)}
        return described
    described["output"] = _encode_answer(outcome.output)
    described["after"] = {name: _encode_answer(value)
                          for name, value in zip(params, outcome.after) if name in may_modify}
    return described


def read_call(described, params, clean):
    """The parent's reading of one case of the reply: a ``calling.CallOutcome`` built
    from plain data only, every string passed through ``clean``; WireError if
    malformed. An exception comes back as one of the same name and message."""
    if not isinstance(described, dict):
        raise WireError("a malformed case")
    outcome = _calling().CallOutcome(changed=_name(described.get("changed"), clean),
                                     warning=clean(_string(described.get("warning")), 120))
    raised = described.get("raised")
    if raised is not None:
        if not isinstance(raised, dict):
            raise WireError("a malformed exception")
        outcome.raised = rebuild_exception(raised, clean)
        outcome.where = clean(_string(raised.get("where")), 200)
        outcome.exit_code = clean(_string(raised.get("exit_code")), 80)
        return outcome
    if "output" not in described:
        raise WireError("a case without an output")
    outcome.output = decode(described["output"])
    after = described.get("after") or {}
    if not isinstance(after, dict):
        raise WireError("a malformed 'after'")
    outcome.after = tuple(decode(after[name]) if isinstance(name, str) and name in after
                          else None for name in params)
    return outcome


def rebuild_exception(raised: dict, clean) -> BaseException:
    """An exception of the same name and message, built here from plain data: a
    builtin class if that is what was raised, else a stand-in class of that name
    derived from the nearest builtin base (so hints that test isinstance still work)."""
    name = clean(_string(raised.get("type")), 80) or "Exception"
    message = clean(_string(raised.get("message")), 600)
    if name == "SystemExit":
        return SystemExit()
    bases = raised.get("bases") if isinstance(raised.get("bases"), list) else []
    bases = [getattr(builtins, base, None) for base in bases[:12] if isinstance(base, str)]
    bases = [base for base in bases if isinstance(base, type) and issubclass(base, Exception)]
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except Exception:  # a builtin that wants other arguments (UnicodeDecodeError)
            pass
    base = bases[0] if bases else Exception
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "Exception"
    try:
        return type(safe, (base,), {})(message)
    except Exception:
        return type(safe, (Exception,), {})(message)


def _string(value) -> str:
    return value if isinstance(value, str) else ""


def _name(value, clean):
    return clean(value, 80) if isinstance(value, str) and value else None


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a learner's exception whose __str__ fails
        return "<the exception's message could not be printed>"


def _text(value, limit: int = 500) -> str:
    return value[:limit] if type(value) is str else ""


def _encode_answer(value):
    try:
        return encode(value)
    except Exception:  # e.g. an array over the size limit, a recursion
        return {"$": "opaque", "type": "UnsendableValue"}
