"""The sandboxed child: run one exercise cell, call its function on each case's
inputs, and send back what happened. It computes; it never judges.

Started as ``python -I -S -B child.py DIR...`` (the DIRs go first on sys.path: the
folder holding this file, ``wire.py`` and mlpcore's ``_call.py``, then the folder
holding NumPy) with the job on stdin, one JSON message::

    {"function", "params", "may_modify": [argument index, ...], "preamble", "source",
     "cases": [encoded argument tuple, ...], "limits": {...}, "no_processes": bool}

It answers on its stdout, one JSON message::

    {"problem": str, "fatal": bool, "stub": bool,
     "cases": [{"output": encoded, "after": {index: encoded}, "changed": name | null,
                "warning": str, "raised": null | {"type", "bases", "message",
                                                 "where", "exit_code"}}, ...]}

The cases' expected values, judges and hints never enter this process: the grader
keeps them and judges the answer. Before the learner's code runs, the child caps its
own resources (address space, CPU time, file size, open files; hard limits, which an
unprivileged process cannot raise again) and, on Linux x86-64/aarch64, installs a
seccomp filter that refuses to create processes (fork, vfork, clone without
CLONE_THREAD, clone3) or to execute programs, so nothing outlives or escapes the run.
"""
from __future__ import annotations

import json
import os
import sys

REPLY_LIMIT = 96 * 2 ** 20


def _modules():
    try:
        from mlpcore.exercises import _call
        from mlpgrader import wire
    except ImportError:  # inside the sandbox: the files side by side, nothing else
        import _call  # type: ignore[no-redef]
        import wire  # type: ignore[no-redef]
    return wire, _call


def run_job(job: dict) -> dict:
    """The reply to ``job`` (see the module docstring), computed in this process."""
    wire, _call = _modules()
    params = tuple(job["params"])
    may_modify = tuple(job["may_modify"])
    cell = _call.run_cell(job["source"], job["function"], params, job["preamble"])
    reply = {"problem": cell.problem, "fatal": cell.fatal, "stub": cell.stub, "cases": []}
    if cell.fatal:
        return reply
    names = tuple(params[index] for index in may_modify)
    for encoded in job["cases"]:
        arguments = wire.decode(encoded, allow_code=True)  # from the grader: trusted
        outcome = _call.call(cell.function, arguments, params, names)
        reply["cases"].append(_describe(wire, outcome, may_modify))
    return reply


def _describe(wire, outcome, may_modify: tuple) -> dict:
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
    described["output"] = _safe_encode(wire, outcome.output)
    described["after"] = {str(index): _safe_encode(wire, outcome.after[index])
                           for index in may_modify if index < len(outcome.after)}
    return described


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a learner's exception whose __str__ fails
        return "<the exception's message could not be printed>"


def _text(value, limit: int = 500) -> str:
    return value[:limit] if type(value) is str else ""


def _safe_encode(wire, value):
    try:
        return wire.encode(value)
    except Exception as exc:  # e.g. an array over the size limit
        return {"$": "opaque", "type": "UnsendableValue"}


def limit_resources(limits: dict) -> None:
    import resource
    for name, value in limits.items():
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        try:
            soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass


# seccomp: (audit arch, clone's number, syscalls refused outright)
_SECCOMP_TABLE = {"x86_64": (0xC000003E, 56, (57, 58, 59, 322)),   # fork vfork execve execveat
                  "aarch64": (0xC00000B7, 220, (221, 281))}         # execve execveat
_CLONE3, _CLONE_THREAD = 435, 0x10000


def _seccomp_program(machine: str) -> bytes:
    import struct
    arch, clone, refused = _SECCOMP_TABLE[machine]
    code: list = [("ld", 4), ("jeq", arch, None, "deny"), ("ld", 0)]
    if machine == "x86_64":  # the x32 ABI numbers its calls from 0x40000000
        code.append(("jge", 0x40000000, "deny", None))
    code += [("jeq", number, "deny", None) for number in refused]
    code += [("jeq", _CLONE3, "enosys", None),  # glibc then falls back to clone for threads
             ("jeq", clone, None, "allow"), ("ld", 16),  # clone's flags: a thread is fine
             ("jset", _CLONE_THREAD, "allow", "deny"),
             ("allow", 0x7FFF0000), ("deny", 0x00050001), ("enosys", 0x00050026)]
    labels = {item[0]: index for index, item in enumerate(code)
              if item[0] in ("allow", "deny", "enosys")}
    opcodes = {"ld": 0x20, "jeq": 0x15, "jge": 0x35, "jset": 0x45}
    program = b""
    for index, item in enumerate(code):
        if item[0] in labels:
            program += struct.pack("HBBI", 0x06, 0, 0, item[1])
        elif item[0] == "ld":
            program += struct.pack("HBBI", opcodes["ld"], 0, 0, item[1])
        else:
            jt, jf = (0 if target is None else labels[target] - index - 1
                      for target in item[2:])
            program += struct.pack("HBBI", opcodes[item[0]], jt, jf, item[1])
    return program


def forbid_new_processes() -> bool:
    """Install the seccomp filter; False where it is not available."""
    import ctypes
    import platform
    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in _SECCOMP_TABLE:
        return False
    program = _seccomp_program(machine)

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    fprog = Fprog(len(program) // 8, program)
    ulong = ctypes.c_ulong
    if libc.prctl(38, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    return libc.prctl(22, ulong(2), ctypes.byref(fprog), ulong(0), ulong(0)) == 0  # seccomp filter


def main() -> None:
    sys.path[:0] = sys.argv[1:]
    reply_fd = os.dup(1)  # the reply goes here; the learner's prints go nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")
    job = json.loads(sys.stdin.buffer.read())
    wire, _ = _modules()
    limit_resources(job.get("limits", {}))
    if job.get("no_processes") and not forbid_new_processes():
        sys.stderr.write("the grader's child could not forbid new processes\n")
        os._exit(3)
    os.close(0)
    message = wire.dumps(run_job(job))
    with os.fdopen(reply_fd, "wb") as reply:
        reply.write(message[:REPLY_LIMIT])
    os._exit(0)


if __name__ == "__main__":
    main()
