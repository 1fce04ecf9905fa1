"""The sandboxed child: run one exercise cell, call its function on each case's
inputs, and send back what happened. It computes; it never judges.

Started as ``python -I -S -B child.py DIR...`` (the DIRs go first on sys.path: the
folder holding this file, ``wire.py`` and mlpcore's public ``calling.py``, then the
folder holding NumPy) with the job on stdin; it answers on its stdout. Both messages
are defined in ``wire.py`` (the job, the reply, the values in them).

The cases' expected values, judges and hints never enter this process: the grader
keeps them and judges the answer. Before the learner's code runs, the child caps its
own resources (address space, CPU time, file size, open files; hard limits, which an
unprivileged process cannot raise again) and, on Linux x86-64/aarch64, installs a
seccomp filter (``SECCOMP_DENIED``) that refuses to create processes (fork, vfork,
clone without CLONE_THREAD, clone3) or execute programs, to trace or reach into
other processes (ptrace, process_vm_*, pidfd_*), and the kernel facilities that
would hold memory outside the address-space limit or escape the usual accounting
(memfd, System V shared memory, io_uring, userfaultfd, keyrings, BPF, perf).
"""
from __future__ import annotations

import linecache
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Sequence


def _modules():
    try:
        from mlpcore.exercises import calling
        from mlpgrader import wire
    except ImportError:  # inside the sandbox: the files side by side, nothing else
        import calling  # type: ignore[no-redef]
        import wire  # type: ignore[no-redef]
    return wire, calling


def run_job(job: dict) -> dict:
    """The reply to ``job`` (see wire.py), computed in this process."""
    wire, calling = _modules()
    params = tuple(job["params"])
    may_modify = tuple(name for name in job["may_modify"] if name in params)
    cell = run_cell(job["source"], job["function"], params, job["preamble"])
    reply = {"problem": cell.problem, "fatal": cell.fatal, "stub": cell.stub, "cases": []}
    if cell.fatal:
        return reply
    for encoded in job["cases"]:
        arguments = wire.decode(encoded, allow_code=True)  # from the grader: trusted
        outcome = calling.call(cell.function, arguments, params, may_modify)
        reply["cases"].append(wire.describe_call(outcome, params, may_modify))
    return reply


@dataclass
class CellOutcome:
    """What running an exercise cell gave: the function (None if not defined), and a
    one-line ``problem`` when the cell could not be compiled or run to its end.
    ``fatal`` means there is nothing to grade; ``stub`` that the cell raised
    NotImplementedError before defining the function."""
    function: Any = None
    problem: str = ""
    fatal: bool = False
    stub: bool = False
    namespace: dict = field(default_factory=dict)


def run_cell(source: str, function_name: str, params: Sequence[str], preamble: str,
             filename: str = "<exercise cell>") -> CellOutcome:
    """Run the preamble, then the cell, in a fresh namespace; find the function."""
    source = without_magics(source)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()[:120]
        shown = f": `{text}`" if text else ""
        return CellOutcome(problem=f"syntax error in the exercise cell, line {exc.lineno}: "
                                   f"{exc.msg}{shown}", fatal=True)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return CellOutcome(problem=f"the exercise cell cannot be compiled "
                                   f"({type(exc).__name__})", fatal=True)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # A stray check(...) pasted into the exercise cell must not cost the exercise.
    namespace: dict[str, Any] = {"__name__": "__exercise__", "check": lambda *a, **k: None}
    outcome = CellOutcome(namespace=namespace)
    try:
        exec(preamble, namespace)
        exec(code, namespace)
    except SystemExit as exc:
        return CellOutcome(problem=f"the exercise cell called sys.exit({repr(exc.code)[:80]})",
                           fatal=True)
    except Exception as exc:
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
                     if frame.filename == filename), None)
        where = f", line {line}" if line else ""
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        outcome.problem = f"running the exercise cell raised {type(exc).__name__}{where}: {first}"
        if function_name not in namespace:
            outcome.fatal = True
            outcome.stub = isinstance(exc, NotImplementedError)
            return outcome
    if function_name not in namespace:
        return CellOutcome(problem=f"the exercise cell does not define `{function_name}`; "
                                   f"keep `def {function_name}({', '.join(params)}):`",
                           fatal=True)
    outcome.function = namespace[function_name]
    _, calling = _modules()
    problem = calling.signature_problem(function_name, params, outcome.function)
    if problem:
        return CellOutcome(problem=problem, fatal=True)
    return outcome


def without_magics(source: str) -> str:
    """IPython magics and shell escapes (%time, !pip) are not Python: blank them out
    (keeping the line numbering) so the rest of the cell can still be graded."""
    lines = source.splitlines()
    return "\n".join(("pass  # " + line.strip()) if line.lstrip().startswith(("%", "!"))
                     and not line.startswith((" ", "\t")) else line for line in lines)


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


# seccomp: refused system calls, by name, and their numbers per architecture.
SECCOMP_DENIED = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat",   # processes, threads, programs
    "ptrace", "process_vm_readv", "process_vm_writev",          # reaching into a process
    "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",    # bypasses the filter
    "keyctl", "add_key", "request_key",                         # kernel keyrings
    "memfd_create", "memfd_secret", "shmget", "shmat",          # memory outside RLIMIT_AS
    "userfaultfd", "bpf", "perf_event_open",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot")
_NUMBERS = {
    "x86_64": {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "execve": 59, "execveat": 322, "ptrace": 101,
               "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_open": 434,
               "pidfd_send_signal": 424, "pidfd_getfd": 438, "io_uring_setup": 425,
               "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 250,
               "add_key": 248, "request_key": 249, "memfd_create": 319, "memfd_secret": 447,
               "shmget": 29, "shmat": 30, "userfaultfd": 323, "bpf": 321,
               "perf_event_open": 298, "unshare": 272, "setns": 308, "mount": 165,
               "umount2": 166, "pivot_root": 155, "chroot": 161},
    "aarch64": {"clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "ptrace": 117, "process_vm_readv": 270,
                "process_vm_writev": 271, "pidfd_open": 434, "pidfd_send_signal": 424,
                "pidfd_getfd": 438, "io_uring_setup": 425, "io_uring_enter": 426,
                "io_uring_register": 427, "keyctl": 219, "add_key": 217, "request_key": 218,
                "memfd_create": 279, "memfd_secret": 447, "shmget": 194, "shmat": 196,
                "userfaultfd": 282, "bpf": 280, "perf_event_open": 241, "unshare": 97,
                "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51},
}  # aarch64 has no fork/vfork: glibc forks with clone
# Threads are refused too (clone with CLONE_THREAD): each holds a kernel stack that no
# rlimit counts, and OpenBLAS runs with one thread, so no exercise needs one.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def _seccomp_program(machine: str) -> bytes:
    import struct
    arch = _AUDIT_ARCH[machine]
    refused = sorted(_NUMBERS[machine][name] for name in SECCOMP_DENIED
                     if name in _NUMBERS[machine])
    code: list = [("ld", 4), ("jeq", arch, None, "deny"), ("ld", 0)]
    if machine == "x86_64":  # the x32 ABI numbers its calls from 0x40000000
        code.append(("jge", 0x40000000, "deny", None))
    code += [("jeq", number, "deny", None) for number in refused]
    code += [("allow", 0x7FFF0000), ("deny", 0x00050001)]  # SECCOMP_RET_ALLOW, ERRNO(EPERM)
    labels = {item[0]: index for index, item in enumerate(code) if item[0] in ("allow", "deny")}
    opcodes = {"ld": 0x20, "jeq": 0x15, "jge": 0x35}
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
    if not sys.platform.startswith("linux") or machine not in _AUDIT_ARCH:
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
    wire, _ = _modules()
    job = wire.read_job(sys.stdin.buffer.read())
    limit_resources(job.get("limits", {}))
    if job.get("no_processes") and not forbid_new_processes():
        sys.stderr.write("the grader's child could not forbid new processes\n")
        os._exit(3)
    os.close(0)
    message = wire.dumps(run_job(job))
    with os.fdopen(reply_fd, "wb") as reply:
        reply.write(message[:wire.REPLY_LIMIT])
    os._exit(0)


if __name__ == "__main__":
    main()
