"""The grader's child process: run one exercise cell and its cases, report JSON.

Started by ``_sandbox.run_in_child`` as ``python -I -B -c <bootstrap> ROOT`` with the
job as JSON on stdin: {"exercise", "source", "workdir", "result", "timeout"}. The
child opens the result file, limits its resources, moves into ``workdir`` (a fresh
temporary folder, also its HOME and TMPDIR), then installs an audit hook that
refuses, for the rest of its life:

- writing, creating, deleting, renaming or changing the metadata of any file
  outside ``workdir``;
- starting processes (subprocess, os.system, exec, fork, spawn), sending signals,
  and network connections.

This guards against accidents and casual abuse (a stray ``open("notes.txt", "w")``,
an ``os.remove``, a ``subprocess.run``); it is NOT a security sandbox. Code in the
same process can still reach the result file, use ctypes, or exhaust the CPU until
the parent's time limit kills it. Grade untrusted code on a machine or container you
can afford to lose.
"""
from __future__ import annotations

import io
import json
import os
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# event -> positions of the path arguments it changes, and of its dir_fd (or None)
_PATH_EVENTS = {
    "os.remove": ((0,), 1), "os.rmdir": ((0,), 1), "os.mkdir": ((0,), 2),
    "os.rename": ((0, 1), None), "os.link": ((1,), None), "os.symlink": ((1,), 2),
    "os.chmod": ((0,), 2), "os.chown": ((0,), 3), "os.truncate": ((0,), None),
    "os.utime": ((0,), 3), "os.chflags": ((0,), None), "os.lchflags": ((0,), None),
    "os.setxattr": ((0,), None), "os.removexattr": ((0,), None),
    "shutil.rmtree": ((0,), 1),
}
_REFUSED_EVENTS = {
    "subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.forkpty", "os.startfile", "pty.spawn", "os.kill", "os.killpg",
    "signal.pthread_kill", "socket.connect", "socket.bind", "socket.sendto",
    "socket.sendmsg",
}
_FILE_SIZE_LIMIT = 16 * 2 ** 20   # bytes any file written by the exercise may reach
_MEMORY_LIMIT = 4 * 2 ** 30       # address space, so a runaway allocation fails fast


class _Discard(io.TextIOBase):
    """Where the exercise's own prints go: nowhere (its output is not graded)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def _limit_resources(timeout: float) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: the parent's time limit still applies
        return
    limits = [(resource.RLIMIT_FSIZE, _FILE_SIZE_LIMIT),
              (resource.RLIMIT_CPU, int(timeout) + 2),
              (resource.RLIMIT_AS, _MEMORY_LIMIT)]
    for kind, value in limits:
        try:
            soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass


def install_guard(root: str) -> None:
    """Refuse file changes outside ``root``, new processes, signals and network."""
    root = os.path.realpath(root)
    busy = []

    def fd_path(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def inside(path, dir_fd=None) -> bool:
        if isinstance(path, int):  # an open descriptor: judge the file behind it
            try:
                path = fd_path(path)
            except OSError:
                return False
        path = os.fsdecode(path)
        if not os.path.isabs(path):
            if dir_fd is not None and dir_fd != -1:
                try:
                    path = os.path.join(fd_path(dir_fd), path)
                except OSError:
                    return False
            else:
                path = os.path.join(os.getcwd(), path)
        real = os.path.realpath(path)
        return real == root or real.startswith(root + os.sep)

    def refuse(event: str, detail: str) -> None:
        raise PermissionError(f"refused by the grader: {event}({detail}) — an exercise may "
                              f"only write inside its temporary folder and may not start "
                              f"processes or use the network")

    def hook(event: str, args: tuple) -> None:
        if busy or not (event == "open" or event in _PATH_EVENTS or event in _REFUSED_EVENTS):
            return
        busy.append(True)
        try:
            if event == "open":
                path, mode, flags = args
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                    (isinstance(flags, int) and flags & _WRITE_FLAGS)
                if writing and not isinstance(path, int) and not inside(path):
                    refuse(event, repr(path))
            elif event in _PATH_EVENTS:
                positions, dir_fd_at = _PATH_EVENTS[event]
                dir_fd = args[dir_fd_at] if dir_fd_at is not None and dir_fd_at < len(args) else None
                for position in positions:
                    if not inside(args[position], dir_fd):
                        refuse(event, repr(args[position]))
            else:
                refuse(event, "...")
        finally:
            busy.pop()

    sys.addaudithook(hook)


def main() -> None:
    job = json.loads(sys.stdin.read())
    result_file = open(job["result"], "w", encoding="utf-8")
    _limit_resources(float(job.get("timeout", 10)))
    os.chdir(job["workdir"])
    # Import everything the grading needs before the guard goes up.
    import numpy  # noqa: F401
    from mlpcore.exercises._registry import get_exercise
    from mlpcore.exercises._runner import evaluate_source
    exercise = get_exercise(job["exercise"])
    install_guard(job["workdir"])
    sys.stdout = sys.stderr = _Discard()
    result = evaluate_source(exercise, job["source"])
    result_file.write(json.dumps(result.to_dict()))
    result_file.flush()
    # Skip interpreter shutdown: threads or atexit handlers left by the exercise
    # must not hang or change the process after its result is written.
    os._exit(0)
